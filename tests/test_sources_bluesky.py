"""Bluesky: the repository export (.car, built by tools/make_bluesky_car.py from the repository spec)
and the live path, with the real atproto client against a local server (AppView, PLC directory and
PDS in one), answering with the fixture CAR and real recorded getAuthorFeed items."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from social_server import LocalServer, json_reply

from huggingtweets.errors import SourceError
from huggingtweets.sources import export_kind, read_export
from huggingtweets.sources.bluesky import AtprotoClient, fetch_account
from huggingtweets.sources.handles import parse_handle

FIXTURES = Path(__file__).parent / "fixtures" / "bluesky"
CAR = FIXTURES / "repo.car"
MAREN = "did:plc:ferrypiltmarensolbergxa2"
DENSINIUM = "did:plc:nixzpkoldlyfbw36jcr42ybs"
JPEG = b"\xff\xd8\xff\xe0" + bytes(60)


# --------------------------------------------------------------------------- the .car export


def test_car_export_holds_every_kind():
    from atproto_core.car import CAR as AtprotoCAR

    assert len(AtprotoCAR.from_bytes(CAR.read_bytes()).blocks) == 91  # atproto's own reader takes it
    assert export_kind(CAR) == "bluesky"
    user, posts = read_export(CAR, "bsky:maren.example.com")
    assert (user.handle, user.display, user.name, user.network) == (
        "maren.example.com",
        "@maren.example.com",
        "Maren Solberg",
        "bluesky",
    )
    assert len(posts) == 64 + 6 + 2  # posts, the edge cases, two reposts; the like is no post
    by_kind = {
        "reposts": [p for p in posts if p.is_retweet],
        "quotes": [p for p in posts if p.is_quote],
        "threads": [p for p in posts if p.is_self_thread],
        "replies": [p for p in posts if p.is_reply and not p.is_self_thread],
        "media_only": [p for p in posts if not p.text and not p.is_retweet],
    }
    assert {k: len(v) for k, v in by_kind.items()} == {
        "reposts": 2,
        "quotes": 1,
        "threads": 1,
        "replies": 1,
        "media_only": 1,
    }
    assert (
        by_kind["quotes"][0].text
        == "This is exactly how the harbour looked this morning, worth reading in full."
    )
    assert by_kind["replies"][0].reply_to == "did:plc:abcdefghijklmnopqrstuvwx"
    link = next(p for p in posts if p.urls)
    # the shortened link text is replaced by the facet's full URI, which cleaning then removes
    assert link.urls == ["https://example.com/timetables/winter-2026"]
    assert (
        "example.com/timetables/wi..." not in link.text
        and "https://example.com/timetables/winter-2026" in link.text
    )
    assert all(p.id.startswith(f"at://{MAREN}/app.bsky.feed.") for p in posts)


def test_car_without_handle_is_named_by_its_did():
    user, _ = read_export(CAR)
    assert user.handle == "did-plc-ferrypiltmarensolbergxa2" and user.display == MAREN


def test_car_of_another_did_is_refused():
    with pytest.raises(SourceError, match=f"is the repository of {MAREN}, not of did:plc:"):
        read_export(CAR, "did:plc:abcdefghijklmnopqrstuvwx")


@pytest.mark.parametrize("cut", [40, 2000, 20000])
def test_corrupt_car_is_one_line(tmp_path, cut):
    broken = tmp_path / "export.car"
    broken.write_bytes(CAR.read_bytes()[:cut])
    with pytest.raises(SourceError) as err:
        read_export(broken, "bsky:maren.example.com")
    assert "export.car" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- live


def feed_item(uri: str, did: str, text: str, **record) -> dict:
    """A feedViewPost as app.bsky.feed.getAuthorFeed returns it (lexicon app.bsky.feed.defs)."""
    return {
        "post": {
            "uri": uri,
            "cid": "bafyreib2rxk3rh6kzwq",
            "author": {"did": did, "handle": "maren.example.com"},
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "2026-02-01T10:00:00.000Z",
                "langs": ["en"],
                **record,
            },
            "indexedAt": "2026-02-01T10:00:01.000Z",
        }
    }


class FakeNetwork:
    """resolveHandle, the PLC directory, getProfile, getLatestCommit, getRepo, getAuthorFeed, an avatar."""

    def __init__(self) -> None:
        self.url = ""
        self.handles = {"maren.example.com": MAREN, "densinium.bsky.social": DENSINIUM}
        self.profiles = {MAREN: "Maren Solberg", DENSINIUM: "Densinium / Yuki"}
        self.serve_repo = True
        self.feed: list[dict] = []
        self.page = 20
        self.gone: dict | None = None
        self.fail_once: tuple | None = None
        self.rev = "3mbf2tlev2222"

    def __call__(self, method: str, path: str, query: dict):
        if self.fail_once:
            reply, self.fail_once = self.fail_once, None
            return reply
        name = path.rsplit("/", 1)[-1]
        if name == "com.atproto.identity.resolveHandle":
            did = self.handles.get(query.get("handle"))
            return (
                json_reply({"did": did})
                if did
                else json_reply({"error": "InvalidRequest", "message": "Unable to resolve handle"}, 400)
            )
        if path.startswith("/did:plc:"):
            return json_reply(
                {
                    "@context": ["https://www.w3.org/ns/did/v1"],
                    "id": path[1:],
                    "alsoKnownAs": [],
                    "verificationMethod": [],
                    "service": [
                        {
                            "id": "#atproto_pds",
                            "type": "AtprotoPersonalDataServer",
                            "serviceEndpoint": self.url,
                        }
                    ],
                }
            )
        if name == "app.bsky.actor.getProfile":
            if self.gone:
                return json_reply(self.gone, 400)
            did = query["actor"]
            return json_reply(
                {
                    "did": did,
                    "handle": next(h for h, d in self.handles.items() if d == did),
                    "displayName": self.profiles[did],
                    "avatar": f"{self.url}/img/avatar/{did}@jpeg",
                }
            )
        if path.startswith("/img/avatar/"):
            return 200, {"Content-Type": "image/jpeg"}, JPEG
        if name == "com.atproto.sync.getLatestCommit":
            if not self.serve_repo:
                return json_reply({"error": "MethodNotImplemented", "message": "not served here"}, 501)
            return json_reply(
                {"cid": "bafyreif6itqd5kynioigothsmh2wppdvjnoxk2cijnoi2zb62gcisdzkyi", "rev": self.rev}
            )
        if name == "com.atproto.sync.getRepo":
            return 200, {"Content-Type": "application/vnd.ipld.car"}, CAR.read_bytes()
        if name == "app.bsky.feed.getAuthorFeed":
            start = int(query.get("cursor") or 0)
            items = self.feed[start : start + self.page]
            body = {"feed": items}
            if start + self.page < len(self.feed):
                body["cursor"] = str(start + self.page)
            return json_reply(body)
        return json_reply({"error": "MethodNotImplemented"}, 501)


@pytest.fixture
def network():
    app = FakeNetwork()
    with LocalServer(app) as server:
        app.url = server.url
        yield app, server


def fetch(server, handle: str, tmp_path, **kwargs):
    client = AtprotoClient(appview=server.url, plc_url=server.url)
    return fetch_account(
        parse_handle(handle),
        client=client,
        cache_dir=tmp_path / "cache",
        echo=kwargs.pop("echo", lambda m: None),
        **kwargs,
    )


def test_live_reads_the_whole_repository_then_only_when_it_changed(network, tmp_path):
    app, server = network
    user, posts = fetch(server, "bsky:maren.example.com", tmp_path)
    assert len(posts) == 72 and sum(p.is_retweet for p in posts) == 2
    assert user.name == "Maren Solberg" and user.avatar_bytes == JPEG and user.avatar_ext == ".jpg"
    host = server.url.removeprefix("http://")
    assert (
        user.instance == host
        and user.source_detail == f"{host}'s repository export (com.atproto.sync.getRepo)"
    )
    assert server.paths().count("/xrpc/com.atproto.sync.getRepo") == 1
    server.requests.clear()
    _, again = fetch(server, "bsky:maren.example.com", tmp_path)  # same rev: nothing downloaded
    assert "/xrpc/com.atproto.sync.getRepo" not in server.paths() and len(again) == 72
    app.rev = "3mbf2tlev3333"
    fetch(server, "bsky:maren.example.com", tmp_path)
    assert server.paths().count("/xrpc/com.atproto.sync.getRepo") == 1


def test_a_did_on_the_command_line_is_named_by_its_current_handle(network, tmp_path):
    _, server = network
    user, _ = fetch(server, MAREN, tmp_path)
    assert (
        user.handle == "maren.example.com"
        and "/xrpc/com.atproto.identity.resolveHandle" not in server.paths()
    )


def test_pds_that_refuses_falls_back_to_the_feed_pages(network, tmp_path, shared_dir):
    # The real recorded page (README: 50 items, 29 replies, fr 27 / en 23), served 20 at a time.
    app, server = network
    app.serve_repo = False
    recorded = json.loads(
        (shared_dir / "data/archives/bluesky-densinium-2026/getAuthorFeed.json").read_text()
    )
    app.feed = recorded["feed"]
    said = []
    user, posts = fetch(server, "densinium.bsky.social", tmp_path, echo=said.append)
    feed_reads = [q for p, q in server.requests if p.endswith("getAuthorFeed")]
    assert [q.get("cursor") for q in feed_reads] == [None, "20", "40"] and feed_reads[0]["limit"] == "100"
    assert any("does not serve the repository" in s for s in said)
    assert len(posts) == 50 and sum(p.is_reply for p in posts) == 29
    assert sorted({p.lang for p in posts}) == ["en", "fr"] and sum(p.lang == "fr" for p in posts) == 27
    assert user.name == "Densinium / Yuki" and user.source_detail.endswith("'s public API")
    # a second fetch stops at the first post it already has
    app.feed = [
        feed_item(f"at://{DENSINIUM}/app.bsky.feed.post/3new", DENSINIUM, "Une nouvelle note ce matin")
    ] + app.feed
    server.requests.clear()
    _, again = fetch(server, "densinium.bsky.social", tmp_path)
    assert len([p for p, _ in server.requests if p.endswith("getAuthorFeed")]) == 1 and len(again) == 51


def test_feed_reposts_and_quotes(network, tmp_path):
    app, server = network
    app.serve_repo = False
    other = "did:plc:abcdefghijklmnopqrstuvwx"
    repost = feed_item(f"at://{other}/app.bsky.feed.post/3abc", other, "someone else's words")
    repost["reason"] = {
        "$type": "app.bsky.feed.defs#reasonRepost",
        "by": {"did": MAREN, "handle": "maren.example.com"},
        "indexedAt": "2026-02-02T09:00:00.000Z",
    }
    quote = feed_item(
        f"at://{MAREN}/app.bsky.feed.post/3def",
        MAREN,
        "Look at this, from the harbour",
        embed={
            "$type": "app.bsky.embed.record",
            "record": {"uri": f"at://{other}/app.bsky.feed.post/3abc", "cid": "bafyreib2rxk3rh6kzwq"},
        },
    )
    app.feed = [repost, quote]
    _, posts = fetch(server, "bsky:maren.example.com", tmp_path)
    assert [(p.is_retweet, p.is_quote, p.text) for p in posts] == [
        (True, False, ""),
        (False, True, "Look at this, from the harbour"),
    ]


def test_rate_limit_waits_with_a_message(network, tmp_path):
    app, server = network
    reset = int(time.time()) + 40
    app.fail_once = json_reply(
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        429,
        {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)},
    )
    said, slept = [], []
    _, posts = fetch(server, "bsky:maren.example.com", tmp_path, echo=said.append, sleep=slept.append)
    assert len(posts) == 72 and len(said) == 1 and said[0].startswith("Bluesky rate limit reached; waiting")
    assert 30 <= slept[0] <= 41


def test_handle_that_does_not_resolve(network, tmp_path):
    _, server = network
    with pytest.raises(SourceError) as err:
        fetch(server, "bsky:nobody.example.com", tmp_path)
    assert "@nobody.example.com does not resolve to a Bluesky account" in str(err.value)
    assert "Unable to resolve handle" in str(err.value) and "did:plc" in str(err.value)


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "AccountTakedown", "message": "Account has been suspended"},
        {"error": "AccountDeactivated", "message": "Account is deactivated"},
        {"error": "InvalidRequest", "message": "Profile not found"},
    ],
)
def test_deleted_or_taken_down_account(network, tmp_path, answer):
    app, server = network
    app.gone = answer
    with pytest.raises(SourceError) as err:
        fetch(server, "bsky:maren.example.com", tmp_path)
    message = str(err.value)
    assert (
        "@maren.example.com is deleted, deactivated or taken down" in message and answer["message"] in message
    )
    assert "--archive" in message and "\n" not in message


def test_feed_of_the_wrong_shape_is_a_source_error(network, tmp_path):
    app, server = network
    app.serve_repo = False
    app.feed = [feed_item(f"at://{MAREN}/app.bsky.feed.post/3x", MAREN, "fine", langs="en", facets={"a": 1})]
    with pytest.raises(
        SourceError, match=r"feed\[0\].post.record: field `facets` is an object of 1, expected a list"
    ):
        fetch(server, "bsky:maren.example.com", tmp_path)


def test_no_answer_at_all_says_so(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    client = AtprotoClient(appview=url, plc_url=url, timeout=5)
    with pytest.raises(SourceError, match=r"cannot reach Bluesky \(ConnectError\)"):
        fetch_account(
            parse_handle("bsky:maren.example.com"), client=client, cache_dir=tmp_path, echo=lambda m: None
        )
