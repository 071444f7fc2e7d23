"""Live fetches end (issue 18 item 4) and read bounded answers from the service only (item 3, live
half): the real Mastodon.py and atproto clients against the local replay servers, each misbehaving
the way an attacker's or a broken server would."""

from __future__ import annotations

import json
import threading

import pytest
from social_server import LocalServer, json_reply
from test_sources_bluesky import JPEG, FakeNetwork, feed_item
from test_sources_bluesky import MAREN as BSKY_DID
from test_sources_mastodon_live import HANDLE, FakeInstance, status, timeline

from huggingtweets.errors import SourceError
from huggingtweets.sources import bluesky, mastodon
from huggingtweets.sources.handles import parse_handle
from huggingtweets.sources.live import LIMITS_HELP, MAX_PAGES

BOUND_S = 5  # an endless server is refused within this, on a 2-core machine shared with others


def bounded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a thread: its result or error, or a failure when it runs past BOUND_S."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 (handed back to the test)
            out["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(BOUND_S)
    assert not thread.is_alive(), f"still reading after {BOUND_S} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


class EndlessInstance(FakeInstance):
    """statuses answers forever: ``mode`` "same" (the same page and max_id), "same-cursor" (new ids,
    the same max_id), "fresh" (new ids and a new max_id every time)."""

    def __init__(self, mode: str) -> None:
        super().__init__(timeline())
        self.mode, self.served = mode, 0

    def __call__(self, method, path, query):
        if not path.endswith("/statuses"):
            return super().__call__(method, path, query)
        self.served += 1
        base = 0 if self.mode == "same" else 1000 * self.served
        page = [status(base + n, f"post {base + n} of an endless timeline") for n in range(40, 0, -1)]
        cursor = "5" if self.mode != "fresh" else str(10**9 - self.served)
        link = f'<{self.url}{path}?limit=40&max_id={cursor}>; rel="next"'
        return json_reply(page, headers={"Link": link})


def mastodon_fetch(url, tmp_path, *, within=None, **kwargs):
    """fetch_account with a client on ``url``; ``within``: run the fetch (not the client's setup and
    imports) through it, e.g. ``bounded``."""
    client = mastodon.MastodonPyClient(HANDLE.instance, base_url=url, **kwargs.pop("client_kwargs", {}))
    return (within or call)(
        mastodon.fetch_account, HANDLE, client=client, cache_dir=tmp_path / "cache", **kwargs
    )


def call(fn, *args, **kwargs):
    return fn(*args, **kwargs)


@pytest.mark.parametrize(
    ("mode", "reads", "said"),
    [
        ("same", 2, "social.example sent a page of posts it had sent before while reading"),
        ("same-cursor", 2, "social.example gave a page cursor it had given before (5)"),
        ("fresh", 4, "social.example still had more after 4 pages (the ceiling of one fetch)"),
    ],
)
def test_an_endless_mastodon_timeline_is_cut(tmp_path, mode, reads, said):
    app = EndlessInstance(mode)
    notes: list[str] = []
    with LocalServer(app) as server:
        app.url = server.url
        user, posts = mastodon_fetch(server.url, tmp_path, within=bounded, echo=notes.append, max_pages=4)
    assert app.served == reads
    assert len(posts) == 40 * (1 if mode == "same" else reads)
    assert len(notes) == 1 and notes[0].startswith(said) and "run fetch again later" in notes[0]
    cache = json.loads((tmp_path / "cache" / f"{HANDLE.key}.json").read_text())
    assert cache["complete"] is False  # the next fetch reads again from the start


def test_the_page_ceiling_is_said_in_help():
    assert f"stop at {MAX_PAGES:,} pages" in LIMITS_HELP and "repeats a page" in LIMITS_HELP


class EndlessFeed(FakeNetwork):
    def __init__(self) -> None:
        super().__init__()
        self.serve_repo = False
        self.served = 0
        self.avatar: str | None = None

    def __call__(self, method, path, query):
        if path.endswith("app.bsky.feed.getAuthorFeed"):
            self.served += 1
            items = [
                feed_item(f"at://{BSKY_DID}/app.bsky.feed.post/3k{n}", BSKY_DID, f"post {n}")
                for n in range(5)
            ]
            return json_reply({"feed": items, "cursor": "same-cursor-forever"})
        if path.startswith("/img/redirect/"):
            return 302, {"Location": path.replace("/img/redirect/", "/img/avatar/")}, b""
        if path.startswith("/img/away/"):
            return 302, {"Location": f"http://localhost:{self.url.rsplit(':', 1)[1]}/img/avatar/x"}, b""
        status_, headers, body = super().__call__(method, path, query)
        if path.endswith("app.bsky.actor.getProfile") and self.avatar is not None and status_ == 200:
            profile = json.loads(body)
            profile["avatar"] = self.avatar.format(url=self.url)
            return json_reply(profile)
        return status_, headers, body


def bluesky_fetch(url, tmp_path, *, within=None, **kwargs):
    client = bluesky.AtprotoClient(appview=url, plc_url=url, **kwargs.pop("client_kwargs", {}))
    handle = parse_handle("bsky:maren.example.com")
    return (within or call)(
        bluesky.fetch_account, handle, client=client, cache_dir=tmp_path / "cache", **kwargs
    )


def test_an_endless_bluesky_feed_is_cut(tmp_path):
    app = EndlessFeed()
    notes: list[str] = []
    with LocalServer(app) as server:
        app.url = server.url
        _, posts = bluesky_fetch(server.url, tmp_path, within=bounded, echo=notes.append)
    assert app.served == 2 and len(posts) == 5
    assert [n for n in notes if "sent a page of posts it had sent before" in n] != []


@pytest.mark.parametrize(
    "reset", ["9999-12-31T00:00:00+00:00", "2200-01-01T00:00:00+00:00"], ids=["year-9999", "year-2200"]
)
def test_a_mastodon_reset_centuries_away_is_one_line(tmp_path, reset):
    app = FakeInstance(timeline())
    app.fail_once = json_reply(
        {"error": "Too many requests"},
        429,
        {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    slept: list[float] = []
    with LocalServer(app) as server, pytest.raises(SourceError) as err:
        app.url = server.url
        mastodon_fetch(server.url, tmp_path, within=bounded, echo=lambda m: None, sleep=slept.append)
    message = str(err.value)
    assert slept == [] and "\n" not in message
    assert f"social.example rate-limits the reads of {HANDLE.display} until {reset[:4]}-" in message
    assert "--max-posts" in message and "run fetch again after that time" in message


@pytest.mark.parametrize("reset", ["1e12", "1000000000000", "7258118400"])
def test_a_bluesky_reset_centuries_away_is_one_line(tmp_path, reset):
    app = FakeNetwork()
    app.fail_once = json_reply(
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        429,
        {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": reset},
    )
    slept: list[float] = []
    with LocalServer(app) as server, pytest.raises(SourceError) as err:
        app.url = server.url
        bluesky_fetch(server.url, tmp_path, within=bounded, echo=lambda m: None, sleep=slept.append)
    message = str(err.value)
    assert slept == [] and "\n" not in message
    assert "Bluesky rate-limits the reads of @maren.example.com until " in message
    assert ("past the year 9999" in message) == (reset != "7258118400")
    assert "2200-01-01" in message or reset != "7258118400"
    assert "--max-posts" in message


def test_a_statuses_page_over_the_byte_cap_is_refused(tmp_path):
    app = FakeInstance(timeline())
    with LocalServer(app) as server, pytest.raises(SourceError) as err:
        app.url = server.url
        mastodon_fetch(server.url, tmp_path, echo=lambda m: None, client_kwargs={"max_page_bytes": 20_000})
    message = str(err.value)
    assert message.startswith("social.example sent an answer of ") and "more than 20,000" in message
    assert "refused" in message and "\n" not in message


def test_a_mastodon_redirect_off_the_instance_is_refused(tmp_path):
    app = FakeInstance(timeline())
    with LocalServer(app) as server, pytest.raises(SourceError) as err:
        app.url = server.url
        app.fail_once = (302, {"Location": f"http://localhost:{server.url.rsplit(':', 1)[1]}/elsewhere"}, b"")
        mastodon_fetch(server.url, tmp_path, echo=lambda m: None)
    assert "sent a redirect to localhost, off the service" in str(err.value)
    assert not any(path == "/elsewhere" for path in server.paths())


@pytest.mark.parametrize(
    ("avatar", "kwargs", "kept", "why"),
    [
        ("{url}/img/redirect/a", {}, True, None),  # a redirect on the service is followed
        ("{url}/img/away/a", {}, False, "localhost is not one of"),
        ("https://avatars.example.net/a.jpg", {}, False, "avatars.example.net is not one of"),
        ("{url}/img/avatar/a", {"avatar_max_bytes": 16}, False, "more than 16"),
    ],
    ids=["same-host-redirect", "redirect-away", "other-host", "too-large"],
)
def test_a_bluesky_avatar_is_bounded_and_from_the_service(tmp_path, avatar, kwargs, kept, why):
    app = EndlessFeed()
    app.serve_repo = True
    app.avatar = avatar
    notes: list[str] = []
    with LocalServer(app) as server:
        app.url = server.url
        user, _ = bluesky_fetch(server.url, tmp_path, echo=notes.append, client_kwargs=kwargs)
    assert (user.avatar_bytes == JPEG) is kept
    if not kept:
        assert len(notes) == 1 and why in notes[0] and notes[0].endswith("the card uses a placeholder.")


@pytest.mark.parametrize(
    ("client_kwargs", "serve_repo", "said"),
    [
        ({"max_page_bytes": 3000}, False, "sent an answer of "),  # a feed page
        ({"max_repo_bytes": 1000}, True, "sent an answer of "),  # the whole repository
        ({}, True, "sent a redirect to localhost, off the service; refused"),
    ],
    ids=["feed-page", "repository", "redirect-away"],
)
def test_bluesky_answers_are_capped_and_stay_on_the_service(tmp_path, client_kwargs, serve_repo, said):
    app = FakeNetwork()
    app.serve_repo = serve_repo
    app.feed = [
        feed_item(f"at://{BSKY_DID}/app.bsky.feed.post/3k{n}", BSKY_DID, "words " * 20) for n in range(30)
    ]
    with LocalServer(app) as server, pytest.raises(SourceError) as err:
        app.url = server.url
        if not client_kwargs:
            app.fail_once = (302, {"Location": f"http://localhost:{server.url.rsplit(':', 1)[1]}/x"}, b"")
        bluesky_fetch(server.url, tmp_path, echo=lambda m: None, client_kwargs=client_kwargs)
    message = str(err.value)
    assert said in message and "\n" not in message
    if client_kwargs:
        assert f"more than {next(iter(client_kwargs.values())):,}" in message
