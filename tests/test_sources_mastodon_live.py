"""The live Mastodon path: the real Mastodon.py client against a local server that answers with real
recorded payloads (tests/fixtures/mastodon/api_recorded.json, from Mastodon.py's own test cassettes)."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from social_server import LocalServer, json_reply

from huggingtweets.errors import SourceError
from huggingtweets.sources.handles import parse_handle
from huggingtweets.sources.mastodon import MastodonPyClient, fetch_account

RECORDED = json.loads(
    (Path(__file__).parent / "fixtures/mastodon/api_recorded.json").read_text(encoding="utf-8")
)
ACCOUNT_ID = RECORDED["account"]["id"]
HANDLE = parse_handle("@mastodonpy_test@social.example")


def status(n: int, text: str | None = None, *, kind: str = "reply_parent", **overrides) -> dict:
    """A real recorded status with its id, date and text replaced (ids grow with n)."""
    s = copy.deepcopy(RECORDED[kind])
    s["id"] = str(117020590000000000 + n)
    s["created_at"] = (
        (datetime(2026, 8, 1, tzinfo=timezone.utc) + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
    )
    if text is not None:
        s["content"] = f"<p>{text}</p>"
    s.update(overrides)
    return s


def timeline() -> list[dict]:
    posts = [status(n, f"Post number {n} about the lighthouse and the long winter nights") for n in range(90)]
    posts += [
        status(100 + i, kind=k)
        for i, k in enumerate(["content_warning", "private", "direct", "boost", "poll", "reply", "quote"])
    ]
    return posts


class FakeInstance:
    """accounts/lookup and accounts/:id/statuses as Mastodon serves them, Link header included."""

    def __init__(self, statuses: list[dict]) -> None:
        self.statuses = statuses
        self.url = ""
        self.status_override: tuple[int, dict, bytes] | None = None
        self.fail_once: tuple[int, dict, bytes] | None = None

    def __call__(self, method: str, path: str, query: dict):
        if self.status_override:
            return self.status_override
        if self.fail_once:
            reply, self.fail_once = self.fail_once, None
            return reply
        if path == "/api/v1/accounts/lookup":
            if query.get("acct") == "mastodonpy_test":
                return json_reply(RECORDED["account"])
            return json_reply(RECORDED["account_not_found"], 404)
        match = re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path)
        if not match or match[1] != ACCOUNT_ID:
            return json_reply({"error": "Record not found"}, 404)
        rows = sorted(self.statuses, key=lambda s: int(s["id"]), reverse=True)
        if "since_id" in query:
            rows = [s for s in rows if int(s["id"]) > int(query["since_id"])]
        if "max_id" in query:
            rows = [s for s in rows if int(s["id"]) < int(query["max_id"])]
        limit = int(query.get("limit", 20))
        page, more = rows[:limit], len(rows) > limit
        headers = {}
        if page and more:
            headers["Link"] = (
                f'<{self.url}{path}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{self.url}{path}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return json_reply(page, headers=headers)


@pytest.fixture
def instance():
    app = FakeInstance(timeline())
    with LocalServer(app) as server:
        app.url = server.url
        yield app, server


def fetch(server, tmp_path, **kwargs):
    client = MastodonPyClient(HANDLE.instance, base_url=server.url)
    return fetch_account(
        HANDLE, client=client, cache_dir=tmp_path / "cache", echo=kwargs.pop("echo", lambda m: None), **kwargs
    )


def test_pages_through_the_whole_timeline_and_sorts_each_kind(instance, tmp_path):
    app, server = instance
    user, posts = fetch(server, tmp_path)
    status_reads = [q for p, q in server.requests if p.endswith("/statuses")]
    assert len(status_reads) == 3 and status_reads[0]["limit"] == "40"  # 97 statuses, 40 a page
    assert "max_id" in status_reads[1] and "max_id" in status_reads[2]
    by_id = {p.id: p for p in posts}
    # followers-only and direct statuses are counted, never kept
    assert user.left_out == {"followers_only": 1, "direct": 1}
    assert len(posts) == 97 - 2
    cw, boost, poll, reply, quote = (by_id[str(117020590000000000 + n)] for n in (100, 103, 104, 105, 106))
    assert cw.text == "Toot!"  # the content warning stays out of the text
    assert boost.is_retweet and boost.text == ""
    assert poll.text == "nice"
    assert (
        reply.is_reply and reply.text == "@mastodonpy_test_2 same!" and reply.reply_to == "mastodonpy_test_2"
    )
    assert quote.is_quote and quote.text == "yoooooooo"  # neither the quoted post nor the RE: link
    assert user.name == "John Lennon" and user.handle == "mastodonpy_test_at_social.example"
    assert user.display == "@mastodonpy_test@social.example" and user.network == "mastodon"
    assert user.source_detail == "social.example's public API"
    assert posts[0].created_at > posts[-1].created_at


def test_second_fetch_asks_only_for_new_posts(instance, tmp_path):
    app, server = instance
    _, first = fetch(server, tmp_path)
    app.statuses.append(status(500, "A brand new post written after the first fetch was done"))
    server.requests.clear()
    user, posts = fetch(server, tmp_path)
    reads = [q for p, q in server.requests if p.endswith("/statuses")]
    assert len(reads) == 1 and reads[0]["since_id"] == str(117020590000000000 + 106)
    assert (
        len(posts) == len(first) + 1
        and posts[0].text == "A brand new post written after the first fetch was done"
    )
    assert user.left_out == {"followers_only": 1, "direct": 1}  # still counted from the cache
    assert user.live_since == str(117020590000000000 + 500)


def test_max_posts_stops_reading(instance, tmp_path):
    _, server = instance
    user, posts = fetch(server, tmp_path, max_posts=40)
    assert len([p for p, _ in server.requests if p.endswith("/statuses")]) == 1
    # 40 statuses read: the newest 7 special ones (2 never kept) and 33 plain posts
    assert len(posts) == 38 and user.left_out == {"followers_only": 1, "direct": 1}


def test_rate_limit_waits_with_a_message(instance, tmp_path):
    app, server = instance
    reset = datetime.now(timezone.utc) + timedelta(seconds=30)
    app.fail_once = json_reply(
        {"error": "Too many requests"},
        429,
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.isoformat(),
            "Date": format_datetime(datetime.now(timezone.utc), usegmt=True),
        },
    )
    said, slept = [], []
    _, posts = fetch(server, tmp_path, echo=said.append, sleep=slept.append)
    assert len(posts) == 95
    assert len(said) == 1 and said[0].startswith("social.example rate limit reached; waiting")
    assert len(slept) == 1 and 20 <= slept[0] <= 31


def test_instance_that_demands_a_token(instance, tmp_path, monkeypatch):
    app, server = instance
    app.status_override = json_reply({"error": "This API requires an authenticated user"}, 401)
    with pytest.raises(SourceError) as err:
        fetch(server, tmp_path)
    message = str(err.value)
    assert "social.example demands a logged-in token" in message and "MASTODON_ACCESS_TOKEN" in message
    assert "--archive" in message and "\n" not in message
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "secret-mastodon-token-123")
    with pytest.raises(SourceError) as err:
        fetch(server, tmp_path)
    assert "refused the token" in str(err.value) and "secret-mastodon-token-123" not in str(err.value)


def test_unknown_and_deleted_accounts(instance, tmp_path):
    app, server = instance
    with pytest.raises(SourceError, match=r"@nobody@social.example does not exist on social.example \(404"):
        fetch_account(
            parse_handle("@nobody@social.example"),
            client=MastodonPyClient("social.example", base_url=server.url),
            cache_dir=tmp_path,
        )
    app.status_override = json_reply({"error": "Gone"}, 410)
    with pytest.raises(SourceError, match="suspended or deleted on social.example"):
        fetch(server, tmp_path)


def test_a_status_of_the_wrong_shape_is_a_source_error(instance, tmp_path):
    app, server = instance
    # Mastodon.py turns most odd scalars into strings; what it passes through must still be checked.
    app.statuses.append(status(600, reblog=3))
    with pytest.raises(
        SourceError, match=r"status\[0\]: field `reblog` is a number \(3\), expected an object"
    ):
        fetch(server, tmp_path)
    app.statuses[-1] = status(600, poll="yes")
    with pytest.raises(
        SourceError, match=r"status\[0\]: field `poll` is a string \('yes'\), expected an object"
    ):
        fetch(server, tmp_path)


def test_an_instance_that_does_not_answer(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(
        SourceError, match=r"^cannot reach social.example to read @mastodonpy_test@social.example"
    ):
        fetch_account(
            HANDLE,
            client=MastodonPyClient("social.example", base_url=url),
            cache_dir=tmp_path,
            echo=lambda m: None,
        )


def test_status_ids_sort_as_their_servers_mean_them():
    from huggingtweets.sources.mastodon import id_order

    assert sorted(["117020590000000010", "9", "10", "117020590000000009"], key=id_order) == [
        "9",
        "10",
        "117020590000000009",
        "117020590000000010",
    ]  # Mastodon: decimal, growing length
    ulids = ["01HZY3M8Q4T0000000000000B2", "01HZY3M8Q4T0000000000000A9", "01HZX000000000000000000000"]
    assert sorted(ulids, key=id_order) == sorted(ulids)  # GoToSocial: ULIDs, text order


@pytest.mark.parametrize("visibility", ["<missing>", "", None, "limited", "mutuals"])
def test_a_status_that_does_not_say_it_is_public_is_never_read(visibility):
    from huggingtweets.sources.mastodon import statuses_to_posts

    hidden = status(1, "the door code is 4711, do not share")
    boost = status(2, kind="boost")
    for s in (hidden, boost):
        if visibility == "<missing>":
            del s["visibility"]
        else:
            s["visibility"] = visibility
    shown = status(3, "the ferry runs late today", visibility="unlisted")
    posts, left_out = statuses_to_posts([hidden, boost, shown], ACCOUNT_ID, "statuses")
    assert [p.id for p in posts] == [shown["id"]]
    reason = "followers_only" if visibility == "limited" else "visibility_unknown"
    assert left_out == {reason: 2}
