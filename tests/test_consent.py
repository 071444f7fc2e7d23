"""Consent signals: every live network's own "no" is read before any post is, through the real clients
(Mastodon.py, atproto, tweepy) against the local server. For each signal: present -> one line naming
it and the ways that work, nothing written; present and read with the owner's token -> read, the card's
basis is the owner's account; absent -> read as a public account checked on a date."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from social_server import LocalServer, json_reply
from test_sources_bluesky import MAREN, FakeNetwork
from test_sources_mastodon_live import RECORDED, FakeInstance, status

from huggingtweets.errors import SourceError
from huggingtweets.sources import fetch
from huggingtweets.sources.bluesky import AtprotoClient
from huggingtweets.sources.consent import OWNER, PUBLIC, OptedOut, basis_of, basis_text, bio_tags
from huggingtweets.sources.mastodon import MastodonPyClient
from huggingtweets.sources.record import today_utc

HANDLE = "@mastodonpy_test@social.example"
OWNER_TOKEN, OTHER_TOKEN = "owner-token-0123456789", "other-token-9876543210"
# Mastodon renders a hashtag in a bio as a link (its real markup, as in the recorded statuses).
TAG_HTML = '<a href="http://localhost:3000/tags/{0}" class="mention hashtag" rel="tag">#<span>{0}</span></a>'


def _lines(err: pytest.ExceptionInfo) -> list[str]:
    return str(err.value).splitlines()


# --------------------------------------------------------------------------- Mastodon


class Instance(FakeInstance):
    """accounts/lookup with the account changed, and verify_credentials answering per token."""

    def __init__(self, **account) -> None:
        super().__init__(
            [status(n, f"Post {n} about the ferry timetable and the winter light") for n in range(5)]
        )
        self.account = {**RECORDED["account"], **account}
        me = copy.deepcopy(RECORDED["verify_credentials"])  # the recorded answer, for two tokens
        self.tokens = {OWNER_TOKEN: {**me, "id": RECORDED["account"]["id"]}, OTHER_TOKEN: me}
        self.server: LocalServer | None = None

    def __call__(self, method: str, path: str, query: dict):
        if path == "/api/v1/accounts/lookup":
            return json_reply(self.account)
        if path == "/api/v1/accounts/verify_credentials":
            token = (self.server.auth[-1] or "").removeprefix("Bearer ")
            if token in self.tokens:
                return json_reply(self.tokens[token])
            return json_reply({"error": "The access token is invalid"}, 401)
        return super().__call__(method, path, query)


def mastodon(tmp_path, token: str | None = None, **account):
    app = Instance(**account)
    server = LocalServer(app)
    app.server = server
    clients = {"mastodon": lambda h: MastodonPyClient(h.instance, base_url=server.url, token=token)}
    return app, server, clients


NOTE = "<p>Writing about boats. " + TAG_HTML.format("NoBot") + "</p>"
MASTODON_SIGNALS = [
    ({"noindex": True}, "noindex: true"),
    ({"indexable": False}, "indexable: false"),
    ({"discoverable": False}, "discoverable: false"),
    ({"note": NOTE}, "#nobot in the bio"),
    ({"note": "<p>" + TAG_HTML.format("noai") + "</p>"}, "#noai in the bio"),
    ({"note": "<p>#nobots please</p>"}, "#nobots in the bio"),
    ({"fields": [{"name": "bots", "value": TAG_HTML.format("nobot"), "verified_at": None}]}, "#nobot in the profile fields"),
]  # fmt: skip


@pytest.mark.parametrize(("account", "signal"), MASTODON_SIGNALS, ids=[s for _, s in MASTODON_SIGNALS])
def test_mastodon_signal_refuses_with_one_line_and_writes_nothing(tmp_path, account, signal):
    app, server, clients = mastodon(tmp_path, **account)
    run_dir = tmp_path / "run"
    with server, pytest.raises(OptedOut) as err:
        fetch(run_dir, handles=[HANDLE], clients=clients, echo=lambda m: None)
    assert _lines(err) == [
        f"{HANDLE} asks not to be read by bots ({signal}), so it was not read (what works: the person's own "
        f"Mastodon archive with --archive, or MASTODON_ACCESS_TOKEN set to a token of {HANDLE} itself "
        "(then it is the owner who reads))"
    ]
    assert err.value.signals == (signal,)
    assert not any(p.endswith("/statuses") for p in server.paths())  # not one post asked for
    assert not run_dir.exists()
    cache = Path(os.environ["HUGGINGTWEETS_HOME"]) / "mastodon"
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize(("account", "signal"), MASTODON_SIGNALS[:1] + MASTODON_SIGNALS[3:4])
def test_mastodon_signal_with_the_owners_token_is_read(tmp_path, account, signal):
    app, server, clients = mastodon(tmp_path, token=OWNER_TOKEN, **account)
    with server:
        [user] = fetch(tmp_path / "run", handles=[HANDLE], clients=clients, echo=lambda m: None)
    assert user["consent"] == {"basis": OWNER, "checked_on": today_utc(), "signals": [signal]}
    assert (tmp_path / "run/raw/mastodonpy_test_at_social.example.jsonl").read_text().count("\n") == 5
    assert server.auth[server.paths().index("/api/v1/accounts/verify_credentials")] == f"Bearer {OWNER_TOKEN}"


def test_mastodon_signal_with_another_accounts_token_is_refused(tmp_path):
    app, server, clients = mastodon(tmp_path, token=OTHER_TOKEN, indexable=False)
    with server, pytest.raises(OptedOut, match=r"\(indexable: false\)"):
        fetch(tmp_path / "run", handles=[HANDLE], clients=clients, echo=lambda m: None)
    assert "/api/v1/accounts/verify_credentials" in server.paths() and not (tmp_path / "run").exists()


def test_mastodon_without_signals_is_read_as_a_public_account(tmp_path):
    # the recorded account as it is: indexable true, discoverable null (never set), noindex false
    app, server, clients = mastodon(tmp_path)
    with server:
        [user] = fetch(tmp_path / "run", handles=[HANDLE], clients=clients, echo=lambda m: None)
    assert user["consent"] == {"basis": PUBLIC, "checked_on": today_utc(), "signals": []}
    assert "/api/v1/accounts/verify_credentials" not in server.paths()  # no token, nothing to prove


# --------------------------------------------------------------------------- Bluesky


class Network(FakeNetwork):
    """getProfile in the lexicon's shape (app.bsky.actor.defs#profileViewDetailed, its labels
    com.atproto.label.defs#label), and createSession for an app password."""

    def __init__(self, labels=(), description: str | None = None) -> None:
        super().__init__()
        self.labels, self.description = list(labels), description
        self.passwords = {
            ("maren.example.com", "owner-app-pass"): MAREN,
            ("other.example", "other-pass"): "did:plc:other",
        }

    def __call__(self, method: str, path: str, query: dict):
        if path.endswith("/com.atproto.server.createSession") and method == "POST":
            did = self.passwords.get((query.get("identifier"), query.get("password")))
            if did is None:
                return json_reply(
                    {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401
                )
            return json_reply(
                {"did": did, "handle": query["identifier"], "accessJwt": "a", "refreshJwt": "r"}
            )
        status_, headers, body = super().__call__(method, path, query)
        if path.endswith("/app.bsky.actor.getProfile"):
            profile = json.loads(body)
            profile["labels"] = self.labels
            if self.description is not None:
                profile["description"] = self.description
            return json_reply(profile)
        return status_, headers, body


def self_label(val: str = "!no-unauthenticated", src: str = MAREN) -> dict:
    return {
        "src": src,
        "uri": f"at://{MAREN}/app.bsky.actor.profile/self",
        "cid": "bafyreigxq6mhzslnq5eyg2vpyuy6hwrbbrgoqrh3pcqhl4nkcg6kqt3xje",
        "val": val,
        "cts": "2026-02-01T10:00:00.000Z",
    }


def bluesky(login=None, **profile):
    app = Network(**profile)
    server = LocalServer(app)
    app.url = server.url
    clients = {"bluesky": lambda h: AtprotoClient(appview=server.url, plc_url=server.url, login=login)}
    return app, server, clients


BLUESKY_SIGNALS = [
    ({"labels": [self_label()]}, "the !no-unauthenticated self-label"),
    ({"description": "Ferry pilot. #NoAI, #nobot"}, "#noai in the description; #nobot in the description"),
]


@pytest.mark.parametrize(("profile", "signal"), BLUESKY_SIGNALS, ids=["self-label", "description"])
def test_bluesky_signal_refuses_with_one_line_and_writes_nothing(tmp_path, profile, signal):
    app, server, clients = bluesky(**profile)
    with server:
        app.url = server.url
        with pytest.raises(OptedOut) as err:
            fetch(tmp_path / "run", handles=["bsky:maren.example.com"], clients=clients, echo=lambda m: None)
    assert _lines(err) == [
        f"@maren.example.com asks not to be read by bots ({signal}), so it was not read (what works: the "
        "person's own repository export (.car) with --archive, or BLUESKY_HANDLE and BLUESKY_APP_PASSWORD "
        "set to an app password of @maren.example.com itself (then it is the owner who reads))"
    ]
    assert not {"/xrpc/com.atproto.sync.getRepo", "/xrpc/app.bsky.feed.getAuthorFeed"} & set(server.paths())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("profile", [{"labels": [self_label("porn")]}, {"labels": [self_label(src="did:plc:mod")]},
                                     {"labels": [{**self_label(), "neg": True}]}, {"description": "#nobotanist"}])  # fmt: skip
def test_bluesky_without_signals_is_read(tmp_path, profile):
    # a label of another kind, one set by a labeller rather than the account, a negated one, a longer tag
    app, server, clients = bluesky(**profile)
    with server:
        app.url = server.url
        [user] = fetch(
            tmp_path / "run", handles=["bsky:maren.example.com"], clients=clients, echo=lambda m: None
        )
    assert user["consent"] == {"basis": PUBLIC, "checked_on": today_utc(), "signals": []}
    assert "/xrpc/com.atproto.server.createSession" not in server.paths()


def test_bluesky_signal_with_the_owners_session_is_read(tmp_path):
    app, server, clients = bluesky(login=("maren.example.com", "owner-app-pass"), labels=[self_label()])
    with server:
        app.url = server.url
        [user] = fetch(
            tmp_path / "run", handles=["bsky:maren.example.com"], clients=clients, echo=lambda m: None
        )
    assert user["consent"]["basis"] == OWNER
    assert user["consent"]["signals"] == ["the !no-unauthenticated self-label"]
    assert (tmp_path / "run/raw/maren.example.com.jsonl").read_text().count("\n") == 72


@pytest.mark.parametrize("login", [("other.example", "other-pass"), ("maren.example.com", "wrong-pass")])
def test_bluesky_signal_with_another_session_is_refused(tmp_path, login):
    app, server, clients = bluesky(login=login, labels=[self_label()])
    with server:
        app.url = server.url
        with pytest.raises(SourceError) as err:
            fetch(tmp_path / "run", handles=["bsky:maren.example.com"], clients=clients, echo=lambda m: None)
    assert len(_lines(err)) == 1 and login[1] not in str(err.value)  # never the password
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- X


class XApi:
    """users/by/username and users/:id/tweets in the X API v2 shape (the recorded cassettes')."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __call__(self, method: str, path: str, query: dict):
        if path == "/2/users/by/username/wren_at_gullstone":
            assert "description" in query.get("user.fields", "")
            user = {"id": "900", "name": "Wren", "username": "wren_at_gullstone", "protected": False,
                    "description": self.description, "public_metrics": {"tweet_count": 3}}  # fmt: skip
            return json_reply({"data": user})
        if path == "/2/users/900/tweets":
            tweets = [
                {"id": str(1000 + n), "text": f"Tweet {n} on the gull colony and the morning fog", "lang": "en",
                 "created_at": f"2026-01-0{n + 1}T10:00:00.000Z", "edit_history_tweet_ids": [str(1000 + n)]}
                for n in range(3)
            ]  # fmt: skip
            return json_reply({"data": tweets[::-1], "meta": {"result_count": 3}})
        return json_reply({"title": "Not Found Error"}, 404)


def x_clients(server: LocalServer):
    import requests
    from requests.adapters import HTTPAdapter

    from huggingtweets.sources.xapi import TweepyXClient

    class ToLocal(HTTPAdapter):
        def send(self, request, **kwargs):  # tweepy names api.twitter.com: the local server answers
            request.url = server.url + request.url.split("api.twitter.com", 1)[1]
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount("https://", ToLocal())
    return {"x": lambda h: TweepyXClient("test-bearer", session=session)}


def test_x_bio_tag_refuses_before_the_first_paid_read(tmp_path):
    server = LocalServer(XApi("Birds, fog and tea. #NoAI #nobot"))
    with server, pytest.raises(OptedOut) as err:
        fetch(
            tmp_path / "run", handles=["@wren_at_gullstone"], clients=x_clients(server), echo=lambda m: None
        )
    assert _lines(err) == [
        "@wren_at_gullstone asks not to be read by bots (#noai in the bio; #nobot in the bio), so it was not "
        "read (what works: the person's own X archive with --archive (only they can download it))"
    ]
    assert server.paths() == ["/2/users/by/username/wren_at_gullstone"] and not (tmp_path / "run").exists()


def test_x_without_tags_is_read(tmp_path):
    server = LocalServer(XApi("Birds, fog and tea. #nobotherdays"))
    with server:
        [user] = fetch(
            tmp_path / "run", handles=["@wren_at_gullstone"], clients=x_clients(server), echo=lambda m: None
        )
    assert user["consent"] == {"basis": PUBLIC, "checked_on": today_utc(), "signals": []}
    assert (tmp_path / "run/raw/wren_at_gullstone.jsonl").read_text().count("\n") == 3


# --------------------------------------------------------------------------- the pieces


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("#nobot", ["#nobot in the bio"]),
        ("no bots here #NOBOTS.", ["#nobots in the bio"]),
        ("#noai #noai", ["#noai in the bio"]),
        ("##nobot, a#nobot, #nobotanist, #no_ai, nobot", []),
        ("", []),
    ],
)
def test_bio_tags(text, found):
    assert bio_tags(text) == found


def test_basis_of_users_json_entries():
    assert basis_of({}, "export")["basis"] == "export" and basis_of({}, "file")["basis"] == "file"
    old_live = basis_of({"source": "mastodon"}, "live")
    assert old_live["basis"] == "unchecked" and "before huggingtweets checked" in basis_text(old_live)
    record = {"basis": PUBLIC, "checked_on": "2026-12-01", "signals": []}
    assert basis_text(basis_of({"consent": record}, "live")).endswith("(checked on 2026-12-01)")


def test_a_source_this_version_does_not_know_claims_no_basis():
    record = basis_of({"source": "carrier-pigeon"}, "unknown")
    assert record["basis"] == "unknown" and basis_text(record).startswith("not recorded")
    assert basis_text({"basis": "made-up"}).startswith("not recorded")


def test_a_live_source_without_a_consent_hook_is_refused():
    import dataclasses

    from huggingtweets.errors import InputError
    from huggingtweets.sources import registry

    bare = dataclasses.replace(registry.SOURCES["mastodon"], name="mastodon-bare", consent=None)
    with pytest.raises(InputError, match="live source 'mastodon-bare' has no consent hook"):
        registry.register(bare)
    assert "mastodon-bare" not in registry.SOURCES


_LOCAL: dict[str, str] = {}  # the local instance's URL, for the registry entry the CLI test points there


def local_mastodon_client(handle):
    return MastodonPyClient(handle.instance, base_url=_LOCAL["url"])


def test_fetch_cli_says_no_in_one_line_and_writes_no_run_folder(tmp_path, monkeypatch):
    import dataclasses

    from click.testing import CliRunner

    from huggingtweets.cli import main
    from huggingtweets.sources import registry

    app, server, _ = mastodon(tmp_path, note=NOTE)
    _LOCAL["url"] = server.url
    entry = dataclasses.replace(registry.SOURCES["mastodon"], client="test_consent:local_mastodon_client")
    monkeypatch.setitem(registry.SOURCES, "mastodon", entry)
    with server:
        result = CliRunner().invoke(main, ["fetch", HANDLE, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: {HANDLE} asks not to be read by bots (#nobot in the bio)")
    assert not (tmp_path / "run").exists()
