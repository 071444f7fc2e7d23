"""X API v2 through our tweepy seam, replayed from cassettes (no network)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_data import TEST_TOKEN

from huggingtweets.errors import XApiError
from huggingtweets.sources import xapi
from huggingtweets.sources.xapi import bearer_token_from_env, fetch_user

HANDLE = "wren_at_gullstone"
FIELDS = {
    "tweet.fields": [",".join(xapi.TWEET_FIELDS)],
    "expansions": ["in_reply_to_user_id"],
    "user.fields": ["username"],
}


def queries(client):
    return [(urlsplit(r.url).path, parse_qs(urlsplit(r.url).query)) for r in client.adapter.requests]


def run(client, tmp_path, handle=HANDLE, **kwargs):
    lines: list[str] = []
    sleeps: list[float] = []
    kwargs.setdefault("clock", lambda: 1_700_000_000.0)
    user, posts = fetch_user(
        handle,
        client,
        cache_dir=tmp_path / "cache",
        echo=lines.append,
        sleep=sleeps.append,
        progress=False,
        **kwargs,
    )
    return user, posts, lines, sleeps


def test_pages_rate_limit_and_normalized_posts(replay, xapi_fixtures, tmp_path):
    client = replay(xapi_fixtures / "pages_with_rate_limit.yaml")
    user, posts, lines, sleeps = run(client, tmp_path)
    assert (user.handle, user.name, user.source, user.source_detail) == (
        HANDLE,
        "Wren Callister",
        "x-api",
        "X API v2",
    )
    assert user.avatar_url == "https://pbs.twimg.com/profile_images/123/lamp_400x400.jpg"
    assert [p.id for p in posts] == ["1007", "1006", "1005", "1004", "1003", "1002", "1001"]
    by = {p.id: p for p in posts}
    assert by["1006"].is_retweet
    assert (by["1005"].is_reply, by["1005"].reply_to, by["1005"].is_self_thread) == (
        True,
        "harbourmaster_ida",
        False,
    )
    assert by["1004"].is_self_thread
    assert by["1003"].text.startswith("A note that is much longer")  # note_tweet replaces the cut text
    assert by["1002"].urls == ["https://bakery.example/rye"]
    assert by["1001"].created_at == "2022-10-02T08:00:00Z"
    # The 429 waited until the window reset (x-rate-limit-reset 1700000900, clock 1700000000).
    assert sleeps == [900.0]
    assert any("rate limit" in line and "900 s" in line for line in lines)
    # The estimate comes before any post is read.
    assert lines[0].startswith(f"@{HANDLE}: up to 7 post reads x USD 0.005")
    paths = [path for path, _ in queries(client)]
    assert paths == ["/2/users/by/username/wren_at_gullstone"] + ["/2/users/900/tweets"] * 4
    tweet_queries = [q for _, q in queries(client)[1:]]
    assert [q.get("pagination_token") for q in tweet_queries] == [None, ["PAGE2"], ["PAGE2"], ["PAGE3"]]
    assert all(q["max_results"] == ["100"] for q in tweet_queries)
    assert all(r.headers["Authorization"] == f"Bearer {TEST_TOKEN}" for r in client.adapter.requests)
    assert not client.adapter.pending


def test_second_fetch_asks_only_for_newer_posts(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "pages_with_rate_limit.yaml"), tmp_path)
    client = replay(xapi_fixtures / "since_id.yaml")
    _, posts, lines, _ = run(client, tmp_path)
    _, query = queries(client)[1]
    assert query["since_id"] == ["1007"] and "pagination_token" not in query
    assert lines[0].startswith(f"@{HANDLE}: up to 2 post reads")
    ids = [p.id for p in posts]
    # 1009 is the edit of 1007: only the last version of an edit history is kept.
    assert ids == ["1009", "1008", "1006", "1005", "1004", "1003", "1002", "1001"]


def test_interrupted_fetch_resumes_from_pagination_token(replay, xapi_fixtures, tmp_path):
    with pytest.raises(XApiError, match=r"X API failed while reading the posts of user id 900 \(HTTP 503"):
        run(replay(xapi_fixtures / "interrupted.yaml"), tmp_path)
    cache = json.loads((tmp_path / "cache" / f"{HANDLE}.json").read_text())
    assert cache["pending"]["token"] == "PAGE2" and len(cache["pending"]["tweets"]) == 3
    client = replay(xapi_fixtures / "resume.yaml")
    _, posts, _, _ = run(client, tmp_path)
    assert [q.get("pagination_token") for _, q in queries(client)[1:]] == [["PAGE2"], ["PAGE3"]]
    assert len(posts) == 7
    cache = json.loads((tmp_path / "cache" / f"{HANDLE}.json").read_text())
    assert cache["pending"] is None and cache["newest_id"] == "1007"


def test_max_posts_with_shared_recordings(replay, shared_dir, tmp_path):
    recorded = shared_dir / "data" / "x-api-recorded"
    client = replay(recorded / "test_client_get_user.yaml", recorded / "test_client_get_users_tweets.yaml")
    user, posts, lines, _ = run(client, tmp_path, handle="Twitter", max_posts=2, price_per_read=0.01)
    assert (user.handle, user.name, user.avatar_url) == ("Twitter", "Twitter", None)
    assert [p.id for p in posts] == ["1577730467436138524", "1565318587736285184"]
    assert posts[0].text.startswith("whoa, it works")
    assert lines[0].startswith("@Twitter: up to 2 post reads x USD 0.01 = about USD 0.02")
    # The API's smallest page is 5; the next_token is not followed once max_posts is reached.
    assert queries(client)[1][1]["max_results"] == ["5"]
    assert len(client.adapter.requests) == 2


@pytest.mark.parametrize(
    ("cassette", "handle", "message"),
    [
        ("unauthorized.yaml", HANDLE, r"X API refused the bearer token \(401 Unauthorized\)"),
        ("forbidden_tier.yaml", HANDLE, r"403 Forbidden .* access tier cannot read timelines"),
        ("missing_user.yaml", "no_such_keeper", r"@no_such_keeper is not an X user"),
        ("suspended_user.yaml", "banned_keeper", r"@banned_keeper is suspended on X"),
        ("protected_user.yaml", "private_keeper", r"@private_keeper is a protected account"),
    ],
)
def test_clear_one_line_errors(replay, xapi_fixtures, tmp_path, cassette, handle, message):
    with pytest.raises(XApiError, match=message) as info:
        run(replay(xapi_fixtures / cassette), tmp_path, handle=handle)
    text = str(info.value)
    assert "\n" not in text and TEST_TOKEN not in text


def test_bearer_token_from_env(monkeypatch):
    with pytest.raises(XApiError, match="X_BEARER_TOKEN") as info:
        bearer_token_from_env()
    assert "\n" not in str(info.value)
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "old-name")
    assert bearer_token_from_env() == "old-name"
    monkeypatch.setenv("X_BEARER_TOKEN", "new-name")
    assert bearer_token_from_env() == "new-name"


def test_rate_limit_gives_up_after_many_waits(replay, xapi_fixtures, tmp_path):
    from fixtures_data import load_cassette

    interactions = load_cassette(xapi_fixtures / "pages_with_rate_limit.yaml")
    assert interactions[2]["response"]["status"]["code"] == 429
    client = replay(xapi_fixtures / "unauthorized.yaml")  # any client; its adapter is refilled below
    client.adapter.pending = [interactions[0]] + [interactions[2]] * (xapi.MAX_RATE_LIMIT_WAITS + 1)
    for rec in client.adapter.pending[1:]:
        rec["request"]["uri"] = "https://api.twitter.com/2/users/900/tweets"
    with pytest.raises(XApiError, match="kept rate-limiting"):
        run(client, tmp_path)


def test_bearer_token_never_reaches_the_logs(replay, xapi_fixtures, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    run(replay(xapi_fixtures / "pages_with_rate_limit.yaml"), tmp_path)
    with pytest.raises(XApiError):
        run(replay(xapi_fixtures / "unauthorized.yaml"), tmp_path / "other")
    requests = [
        r for r in caplog.records if r.name == "tweepy.client" and "Making API request" in r.getMessage()
    ]
    assert len(requests) == 6 and all("Bearer [redacted]" in r.getMessage() for r in requests)
    assert all(TEST_TOKEN not in r.getMessage() for r in caplog.records)
    assert TEST_TOKEN not in caplog.text


def cache_of(tmp_path):
    return json.loads((tmp_path / "cache" / f"{HANDLE}.json").read_text())


def test_fetch_after_a_limited_one_reads_the_older_posts(replay, xapi_fixtures, tmp_path):
    _, posts, lines, _ = run(replay(xapi_fixtures / "limited_first.yaml"), tmp_path, max_posts=5)
    assert [p.id for p in posts] == ["1012", "1011", "1010", "1009", "1008"]
    assert lines[0].startswith(f"@{HANDLE}: up to 5 post reads")
    cache = cache_of(tmp_path)
    assert (cache["complete"], cache["oldest_id"]) == (False, "1008")
    assert cache["holes"] == [{"since_id": None, "until_id": "1008"}]

    client = replay(xapi_fixtures / "older_posts.yaml")
    _, posts, lines, _ = run(client, tmp_path)
    # The newer posts first, then the older ones below the cache, paginated.
    assert [q for _, q in queries(client)[1:]] == [
        {"since_id": ["1012"], "max_results": ["100"], **FIELDS},
        {"until_id": ["1008"], "max_results": ["100"], **FIELDS},
        {"until_id": ["1008"], "pagination_token": ["OLD2"], "max_results": ["100"], **FIELDS},
    ]
    # The estimate counts both: 1 new post and the 7 older ones the cache lacks.
    assert lines[0].startswith(f"@{HANDLE}: up to 8 post reads x USD 0.005 = about USD 0.04")
    assert [p.id for p in posts] == [str(i) for i in range(1013, 1000, -1)]
    cache = cache_of(tmp_path)
    assert (cache["complete"], cache["holes"], cache["oldest_id"], cache["newest_id"]) == (
        True,
        [],
        "1001",
        "1013",
    )
    assert not client.adapter.pending


def test_limited_fetch_twice_reads_no_older_posts(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "limited_first.yaml"), tmp_path, max_posts=5)
    client = replay(xapi_fixtures / "older_posts.yaml")
    _, posts, lines, _ = run(client, tmp_path, max_posts=5)
    # Five posts were asked for: the new one and the four newest cached; nothing older is paid for.
    assert [q.get("until_id") for _, q in queries(client)[1:]] == [None]
    assert lines[0].startswith(f"@{HANDLE}: up to 1 post reads")
    assert [p.id for p in posts] == ["1013", "1012", "1011", "1010", "1009"]
    assert cache_of(tmp_path)["holes"] == [{"since_id": None, "until_id": "1008"}]


def test_interrupted_read_of_older_posts_resumes(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "limited_first.yaml"), tmp_path, max_posts=5)
    with pytest.raises(XApiError, match=r"HTTP 503"):
        run(replay(xapi_fixtures / "older_interrupted.yaml"), tmp_path)
    cache = cache_of(tmp_path)
    assert cache["newest_id"] == "1013"  # the newer posts were read and kept
    assert cache["pending"]["until_id"] == "1008" and cache["pending"]["token"] == "OLD2"
    assert len(cache["pending"]["tweets"]) == 4
    client = replay(xapi_fixtures / "older_resume.yaml")
    _, posts, _, _ = run(client, tmp_path)
    assert [
        (q.get("pagination_token"), q.get("until_id"), q.get("since_id")) for _, q in queries(client)[1:]
    ] == [
        (["OLD2"], ["1008"], None),
        (None, None, ["1013"]),
    ]
    assert [p.id for p in posts] == [str(i) for i in range(1013, 1000, -1)]
    assert cache_of(tmp_path)["complete"] is True


def test_top_up_cut_by_the_limit_leaves_a_gap_read_later(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "pages_with_rate_limit.yaml"), tmp_path)
    assert cache_of(tmp_path)["complete"] is True
    client = replay(xapi_fixtures / "topup_over_limit.yaml")
    _, posts, lines, _ = run(client, tmp_path, max_posts=5)
    assert lines[0].startswith(f"@{HANDLE}: up to 5 post reads")
    assert [p.id for p in posts] == ["1015", "1014", "1013", "1012", "1011"]
    assert cache_of(tmp_path)["holes"] == [{"since_id": "1007", "until_id": "1011"}]

    client = replay(xapi_fixtures / "topup_gap.yaml")
    _, posts, lines, _ = run(client, tmp_path)
    assert [(q.get("since_id"), q.get("until_id")) for _, q in queries(client)[1:]] == [
        (["1015"], None),
        (["1007"], ["1011"]),  # only the gap: the posts cached before it are not read again
    ]
    assert lines[0].startswith(f"@{HANDLE}: up to 3 post reads")
    assert [p.id for p in posts] == [str(i) for i in range(1015, 1000, -1)]
    assert cache_of(tmp_path)["complete"] is True and not client.adapter.pending


def test_cache_from_before_holes_were_tracked_checks_below_its_oldest_post(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "limited_first.yaml"), tmp_path, max_posts=5)
    path = tmp_path / "cache" / f"{HANDLE}.json"
    old = {k: v for k, v in cache_of(tmp_path).items() if k not in ("holes", "complete", "oldest_id")}
    path.write_text(json.dumps(old))
    client = replay(xapi_fixtures / "older_posts.yaml")
    _, posts, _, _ = run(client, tmp_path)
    assert [q.get("until_id") for _, q in queries(client)[1:]] == [None, ["1008"], ["1008"]]
    assert len(posts) == 13


def test_cache_is_complete_once_the_api_cap_is_cached(monkeypatch):
    from huggingtweets.sources import xcache

    monkeypatch.setattr(xcache, "API_MAX_POSTS", 5)
    state = xcache.empty_state()
    region = xcache.new_read(None, None)
    region["tweets"] = [{"id": str(i)} for i in range(1005, 1000, -1)]
    xcache.finish_read(state, region, exhausted=False)  # a next_token was left, but nothing is below the cap
    assert (state["complete"], state["holes"], state["oldest_id"]) == (True, [], "1001")
    state = xcache.empty_state()
    region = xcache.new_read(None, None)
    region["tweets"] = [{"id": "1005"}, {"id": "1004"}]
    xcache.finish_read(state, region, exhausted=False)
    assert (state["complete"], state["holes"]) == (False, [{"since_id": None, "until_id": "1004"}])


def test_posts_cut_from_the_last_page_are_a_hole_not_the_end(replay, xapi_fixtures, tmp_path):
    run(replay(xapi_fixtures / "pages_with_rate_limit.yaml"), tmp_path)
    # since_id.yaml answers 1009 and 1008 on one page without a next_token; only one is wanted.
    _, posts, _, _ = run(replay(xapi_fixtures / "since_id.yaml"), tmp_path, max_posts=1)
    assert [p.id for p in posts] == ["1009"]
    cache = cache_of(tmp_path)
    assert (cache["complete"], cache["holes"]) == (False, [{"since_id": "1007", "until_id": "1009"}])


class PagedClient:
    """The XClient seam with a long timeline: 25 pages of 100 posts, newest first."""

    def __init__(self, posts: int = 2500) -> None:
        self.ids = [str(10_000 + n) for n in range(posts, 0, -1)]

    def get_user(self, username: str) -> dict:
        return {
            "data": {
                "id": "42",
                "username": username,
                "name": "Paged",
                "public_metrics": {"tweet_count": 3200},
            }
        }

    def get_users_tweets(self, user_id, *, max_results, since_id, until_id, pagination_token) -> dict:
        start = int(pagination_token or 0)
        page = self.ids[start : start + max_results]
        data = [{"id": i, "text": f"post number {i}", "created_at": "2024-01-01T00:00:00.000Z"} for i in page]
        end = start + len(page)
        return {"data": data, "meta": {"next_token": str(end)} if end < len(self.ids) else {}}


def test_fetch_progress_is_a_few_plain_echoed_lines_ending_with_the_count(tmp_path):
    lines: list[str] = []
    now = [0.0]

    def clock() -> float:
        now[0] += 0.5  # each read takes half a second: 25 pages take about 13 s
        return now[0]

    _, posts = fetch_user("paged", PagedClient(), cache_dir=tmp_path, echo=lines.append, clock=clock)
    assert len(posts) == 2500
    assert not any("\r" in line or "\n" in line for line in lines)
    counts = [line for line in lines if line.endswith("posts read")]
    assert 2 <= len(counts) <= 8  # thinned: one every few seconds, not one per page (25)
    assert counts[-1] == "@paged: 2,500 of ~3,200 posts read"
    read = [int(line.split()[1].replace(",", "")) for line in counts]
    assert read == sorted(read)


def test_fetch_prints_no_carriage_return_to_stderr(tmp_path, capfd):
    fetch_user("paged", PagedClient(300), cache_dir=tmp_path, echo=lambda _line: None)
    captured = capfd.readouterr()
    assert "\r" not in captured.err + captured.out
