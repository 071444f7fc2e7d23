"""The one table of networks and sources: everything that asks "which network, which format?" reads it.

A ``Network`` (its half of the table is ``sources.networks``, re-exported here) says how its accounts
are spelled (handle prefixes, the parser of an unprefixed spelling, the file-safe key, the display
form) and the card's word for a repost. A ``Source`` is one
way posts arrive (``users.json`` "source"): an account export told by its content (``detects``,
``read``, ``identity``), a live service (``fetch`` with a client passed in, ``client`` the default
one, ``consent`` its own opt-out signals), a plain posts file, or a legacy card. It carries the card's
provenance text and the help line.

Readers and fetchers are named as ``"module:function"`` and imported only when used, as
transformers' auto classes do: the table costs nothing to import and imports no source module, so
``--help`` stays instant and no source module imports it back into a circle.

Adding an export format is one module with ``read(path, handle)`` (and ``detects(path, head)``) and one
``register(Source(...))`` call or entry in ``SOURCES``.
"""

from __future__ import annotations

import hashlib
import importlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError
from huggingtweets.sources.networks import (  # noqa: F401 (the registry's network half, re-exported)
    NETWORKS,
    Network,
    bad_handle,
    expected_handles,
    network,
    register_network,
    split_handle,
    unregister_network,
)

# --------------------------------------------------------------------------- sources


def _load(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _digest_files(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(str(f.relative_to(root).as_posix()).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def content_identity(path: Path, keep: Callable[[Path], bool] | None = None) -> dict:
    """What an input *is*, by content: a zip by its table of contents (every member's name, size and
    CRC-32: archives can be gigabytes of media), a folder by the files ``keep`` accepts (relative
    path), any other file hashed whole."""
    if path.is_file() and zipfile.is_zipfile(path):
        from huggingtweets.sources.safezip import open_zip

        digest = hashlib.sha256()
        with open_zip(path, path.name) as archive:  # its table of contents within the caps
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\n".encode())
        return {"name": path.name, "zip_toc_sha256": digest.hexdigest()}
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and (keep is None or keep(p.relative_to(path)))]
        return {"name": path.name, "sha256": _digest_files(path, files)}
    return {"name": path.name, "sha256": _digest_files(path.parent, [path])}


@dataclass(frozen=True)
class Source:
    name: str  # users.json "source"
    network: str  # a key of NETWORKS
    kind: str  # "export" (--archive), "live" (a handle), "file" (--posts-file), "legacy" (old cards)
    help: str  # one line for --help
    short: str  # the card's provenance in a sentence: {handle}, {instance}, {fetched_on}, {detail}
    long: str  # the card's provenance paragraph (same fields, and {title}: the network's name)
    detects: Callable[[Path, bytes], bool] | None = None  # export: (path, first 64 bytes) -> is it mine
    read: str | None = None  # export/file: "module:function" (path, handle or None) -> (UserInfo, posts)
    fetch: str | None = None  # live: "module:function" (handle, *, client, max_posts, echo, sleep)
    client: str | None = None  # live: "module:function" (handle) -> the real client
    # What a folder export is made of, for its fingerprint (not the media of every post).
    identity_files: Callable[[Path], bool] | None = None
    paid: bool = False  # live reads that cost money are made last, after every free source has read
    # live: "module:function" (handle, client) -> consent.Consent: the account's own opt-out signals
    # (and whether the client's token is the account's), ``consent.OptedOut`` when they say no. The
    # fetcher runs the same check before reading posts; ``refresh`` runs it before re-training.
    consent: str | None = None

    def make_client(self, handle):
        """The real client of a live source (Mastodon.py, atproto, tweepy behind our seam)."""
        if self.client is None:
            raise InputError(f"{self.name} has no live client", hint="give its export with --archive")
        return _load(self.client)(handle)

    def identity(self, path: Path) -> dict:
        return content_identity(Path(path), self.identity_files)

    def read_export(self, path: Path, handle: str | None = None):
        if self.read is None:
            raise InputError(f"{self.name} is not read from a file", hint="give its handle instead")
        return _load(self.read)(path, handle)

    def check_consent(self, handle, *, client=None):
        """What ``handle`` says about being read (one profile lookup); ``OptedOut`` when it says no."""
        if self.consent is None:
            raise InputError(f"{self.name} is not read live", hint="give its export with --archive")
        if client is None:
            client = self.make_client(handle)
        return _load(self.consent)(handle, client)

    def fetch_account(self, handle, *, client=None, **kwargs):
        if self.fetch is None:
            raise InputError(f"{self.name} is not read live", hint="give its export with --archive")
        if client is None:
            client = self.make_client(handle)
        return _load(self.fetch)(handle, client=client, **kwargs)


def _is_mastodon_export(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return (path / "outbox.json").is_file() and not (path / "data").is_dir()
    if head.lstrip()[:1] == b"{":
        return True  # outbox.json given on its own
    if head[:2] == b"PK" and zipfile.is_zipfile(path):
        from huggingtweets.sources.safezip import open_zip

        try:
            with open_zip(path, path.name) as zf:
                names = {Path(n).name for n in zf.namelist()}
        except (zipfile.BadZipFile, OSError):
            return False
        return "outbox.json" in names and not any(n.endswith(".js") for n in names)
    return False


def _is_car(path: Path, head: bytes) -> bool:
    # A CARv1 starts with a varint length and a DAG-CBOR map holding "roots" and "version".
    return len(head) > 2 and head[1] in (0xA2, 0xA1) and b"roots" in head and b"version" in head


_OWN_EXPORT = (
    "the account's own data export ({detail}, {title}).\n  Only the account holder can download it, so "
    "whoever published this bot either is {handle} or was\n  given the export by them. Only public and "
    "unlisted posts were read."
)
_LIVE_SHORT = "{handle}, read from {instance}'s public API on {fetched_on}"
_LIVE_LONG = (
    "public posts read from {instance}'s public API on {fetched_on} ({detail}).\n"
    "  Public posts are not consent: {handle} did not necessarily agree to this bot."
)

SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add (or replace) a source; exports are tried in the order they were registered, X's archive
    last (it is the fallback for what no other export claims)."""
    if source.network not in NETWORKS:
        raise InputError(f"source {source.name!r} names unknown network {source.network!r}")
    if source.kind == "live" and source.consent is None:
        raise InputError(
            f"live source {source.name!r} has no consent hook",
            hint="name the function that reads the account's opt-out signals: Source(consent='module:function')",
        )
    SOURCES[source.name] = source
    return source


def unregister(name: str) -> None:
    SOURCES.pop(name, None)


for _entry in (
    Source(
        name="bluesky-car",
        network="bluesky",
        kind="export",
        help="a Bluesky repository export (.car, from Settings > Export my data)",
        short="{handle} from their own Bluesky repository export",
        long=_OWN_EXPORT,
        detects=_is_car,
        read="huggingtweets.sources.exports:read_bluesky_export",
    ),
    Source(
        name="mastodon-archive",
        network="mastodon",
        kind="export",
        help="a Mastodon archive (.zip, its unpacked folder, or outbox.json)",
        short="{handle} from their own Mastodon archive",
        long=_OWN_EXPORT,
        detects=_is_mastodon_export,
        read="huggingtweets.sources.exports:read_mastodon_export",
        # outbox.json, actor.json and the avatar; not the media of every post
        identity_files=lambda rel: "media_attachments" not in rel.parts,
    ),
    Source(
        name="archive",
        network="x",
        kind="export",
        help="an X archive (.zip or its unpacked folder)",
        short="{handle} from their own X archive",
        long=(
            "the account's own data export ({detail}). Only the account holder can download\n"
            "  that archive, so whoever published this bot either is {handle} or was given the archive by them."
        ),
        detects=lambda path, head: True,  # the fallback: the X reader names what it lacks
        read="huggingtweets.sources.exports:read_x_export",
        identity_files=lambda rel: rel.suffix == ".js" or "profile_media" in rel.parts,
    ),
    Source(
        name="x-api",
        network="x",
        kind="live",
        help="an X account read through the X API v2 (paid; X_BEARER_TOKEN)",
        short="{handle} through the X API",
        long=(
            "public posts read through the X API ({detail}). Public posts are not consent:\n"
            "  {handle} did not necessarily agree to this bot."
        ),
        fetch="huggingtweets.sources.xapi:fetch_account",
        client="huggingtweets.sources.xapi:default_client",
        consent="huggingtweets.sources.xapi:read_consent",
        paid=True,
    ),
    Source(
        name="mastodon",
        network="mastodon",
        kind="live",
        help="a Mastodon account read live from its instance's public API (free)",
        short=_LIVE_SHORT,
        long=_LIVE_LONG,
        fetch="huggingtweets.sources.mastodon:fetch_account",
        client="huggingtweets.sources.mastodon:default_client",
        consent="huggingtweets.sources.mastodon:read_consent",
    ),
    Source(
        name="bluesky",
        network="bluesky",
        kind="live",
        help="a Bluesky account read live from its repository or public feed (free)",
        short=_LIVE_SHORT,
        long=_LIVE_LONG,
        fetch="huggingtweets.sources.bluesky:fetch_account",
        client="huggingtweets.sources.bluesky:default_client",
        consent="huggingtweets.sources.bluesky:read_consent",
    ),
    Source(
        name="file",
        network="x",
        kind="file",
        help="a plain posts file (.txt one post a line, .csv or .jsonl with a text column)",
        short="{handle} from a file of posts",
        long=(
            "a file of posts supplied by the publisher ({detail}); the publisher vouches that\n"
            "  the posts are {handle}'s and that they may be used."
        ),
        read="huggingtweets.sources.files:read_posts_file",
    ),
    Source(
        name="twitter-api",
        network="x",
        kind="legacy",
        help="a bot made by the original huggingtweets (its card read back)",
        short="{handle} through the Twitter API, by the original huggingtweets",
        long=(
            "public tweets downloaded through the Twitter API by the original huggingtweets; {handle}\n"
            "  did not necessarily agree to this bot."
        ),
    ),
):
    register(_entry)

UNKNOWN = Source(
    name="unknown",
    network="x",
    kind="legacy",
    help="",
    short="{handle} from a source this huggingtweets does not know ({source})",
    long=(
        "a source this version of huggingtweets does not know ({detail}); nothing is claimed about\n"
        "  how the posts were collected, and {handle} did not necessarily agree to this bot."
    ),
)


def source(name: str) -> Source:
    """The entry of ``name``; unknown names get ``UNKNOWN``, which claims no provenance."""
    return SOURCES.get(name, UNKNOWN)


def exports() -> list[Source]:
    """The export formats in the order they are tried, X's archive (the fallback) last."""
    found = [s for s in SOURCES.values() if s.kind == "export"]
    return sorted(found, key=lambda s: s.name == "archive")


def live_source(network_name: str) -> Source:
    for s in SOURCES.values():
        if s.kind == "live" and s.network == network_name:
            return s
    raise InputError(
        f"{NETWORKS[network_name].title if network_name in NETWORKS else network_name} accounts cannot be read live",
        hint="give the account's export with --archive",
    )


def export_for(path: Path) -> Source:
    """The export format of ``path``, told by its content, not its name."""
    path = Path(path)
    head = b""
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                head = fh.read(64)
        except OSError:
            pass  # the fallback reader names the unreadable path
    for entry in exports():
        if entry.detects is not None and entry.detects(path, head):
            return entry
    return SOURCES["archive"]


def export_help() -> str:
    """What --archive accepts, one line (for the options' help)."""
    return "An account export: " + "; ".join(s.help for s in exports()) + "; told by its content."


def live_help() -> str:
    """What --max-posts says: which sources read live, and where a live read stops without it."""
    from huggingtweets.sources.live import LIMITS_HELP

    titles = list(dict.fromkeys(NETWORKS[s.network].title for s in SOURCES.values() if s.kind == "live"))
    names = ", ".join(titles[:-1]) + " or " + titles[-1] if len(titles) > 1 else "".join(titles)
    return f"At most this many posts per user read live ({names}). {LIMITS_HELP}"


def handle_help() -> str:
    """What a handle argument accepts, one line (for the commands' help)."""
    return f"Accounts to read live: {expected_handles()}."


def live_spec(user: dict) -> str | None:
    """The handle that reads ``user`` (a users.json entry) live again, or None when it came from an
    export or a file, or its spelling cannot be read back."""
    entry = SOURCES.get(str(user.get("source")))
    if entry is None or entry.kind != "live":
        return None
    net = NETWORKS[entry.network]
    display, key = str(user.get("display") or ""), str(user.get("handle") or "")
    for text in (display, f"{net.prefixes[0]}:{display.lstrip('@')}", f"{net.prefixes[0]}:{key}"):
        try:
            name, identifier, instance = split_handle(text)
        except InputError:
            continue
        if name == net.name:
            return net.spec(identifier, instance)
    return None


def network_words(networks: set[str]) -> dict[str, str]:
    """The card table's words: X's own (tweets, retweets) on X-only cards; "posts" and each network's
    name for reposts (Bluesky: reposts, Mastodon: boosts) as soon as another network is in."""
    if networks <= {"x"}:
        return {"posts": "Tweets", "reposts": "Retweets"}
    known = [n for n in NETWORKS.values() if n.name in networks]
    known.sort(
        key=lambda n: (
            ("x", "bluesky", "mastodon").index(n.name) if n.name in ("x", "bluesky", "mastodon") else 3
        )
    )
    words = [n.reposts for n in known]
    if len(known) < len(networks):
        words.append("reposts")  # a network this version does not know: the plain word
    shared = list(dict.fromkeys(words))
    label = shared[0] if len(shared) == 1 else ", ".join(shared[:-1]) + " and " + shared[-1]
    return {"posts": "Posts", "reposts": label[:1].upper() + label[1:]}
