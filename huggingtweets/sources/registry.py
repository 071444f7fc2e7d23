"""The one table of networks and sources: everything that asks "which network, which format?" reads it.

A ``Network`` says how its accounts are spelled (handle prefixes, the parser of an unprefixed
spelling, the file-safe key, the display form) and the card's word for a repost. A ``Source`` is one
way posts arrive (``users.json`` "source"): an account export told by its content (``detects``,
``read``, ``identity``), a live service (``fetch`` with a client passed in, ``client`` the default
one), a plain posts file, or a legacy card. It carries the card's provenance text and the help line.

Readers and fetchers are named as ``"module:function"`` and imported only when used, as
transformers' auto classes do: the table costs nothing to import and imports no source module, so
``--help`` stays instant and no source module imports it back into a circle.

Adding an export format is one module with ``read(path, handle)`` (and ``detects(path, head)``) and one
``register(Source(...))`` call or entry in ``SOURCES``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError

# --------------------------------------------------------------------------- handle spellings

_X_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
# atproto handle syntax: DNS labels of letters, digits and inner hyphens; the last label (TLD)
# does not start with a digit; at most 253 characters.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?")
_DID = re.compile(r"did:(?:plc:[a-z2-7]{24}|web:" + DOMAIN.pattern + r")")
# Mastodon usernames are letters, digits and '_'; other ActivityPub servers add '.' and '-'.
_MASTODON_USER = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")


def bad_handle(text: str, why: str) -> InputError:
    return InputError(
        f"{text!r} is not a valid handle: {why}; expected {expected_handles()}",
        hint="e.g. @alice@mastodon.social",
    )


def _parse_x(text: str, value: str) -> tuple[str, str | None]:
    name = value.lstrip("@") if value.count("@") <= 1 or text != value else value
    if not _X_NAME.fullmatch(name):
        raise bad_handle(text, "an X handle is letters, digits or '_' (15 at most on X, 50 for a name)")
    return name, None


def _parse_bluesky(text: str, value: str) -> tuple[str, str | None]:
    if value.startswith("did:"):
        if not _DID.fullmatch(value):
            raise bad_handle(text, "a DID is did:plc: and 24 letters a-z/digits 2-7, or did:web:DOMAIN")
        return value, None
    value = value.lstrip("@")
    if len(value) > 253 or not DOMAIN.fullmatch(value):
        raise bad_handle(
            text, "a Bluesky handle is a domain name (letters, digits, inner '-', parts joined by '.')"
        )
    return value.lower(), None


def _parse_mastodon(text: str, value: str) -> tuple[str, str | None]:
    user, sep, instance = value.lstrip("@").partition("@")
    if not sep or not _MASTODON_USER.fullmatch(user):
        raise bad_handle(text, "a Mastodon account is USER@INSTANCE, USER letters, digits and '_'")
    if len(instance) > 253 or not DOMAIN.fullmatch(instance):
        raise bad_handle(text, f"the instance {instance!r} is not a domain name")
    return user, instance.lower()


@dataclass(frozen=True)
class Network:
    name: str  # Handle.network, users.json "network"
    title: str  # "Mastodon"
    reposts: str  # the card's word for reposts: retweets, boosts, reposts
    prefixes: tuple[str, ...]  # explicit spellings: "mastodon:alice@example.social"
    spelling: str  # how its handles are written, for error lines and --help
    # An unprefixed spelling that is this network's (checked in table order; None: the fallback).
    claims: Callable[[str], bool] | None
    parse: Callable[[str, str], tuple[str, str | None]]  # (text, value) -> (identifier, instance)
    key: Callable[[str, str | None], str]  # the raw file key, before it is made Hub-safe
    display: Callable[[str, str | None], str]

    def spec(self, identifier: str, instance: str | None) -> str:
        """The unambiguous spelling, which ``split_handle`` reads back to the same account."""
        return f"{self.prefixes[0]}:{identifier}" + (f"@{instance}" if instance else "")


NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network(
            name="mastodon",
            title="Mastodon",
            reposts="boosts",
            prefixes=("mastodon",),
            spelling="a Mastodon account (@alice@mastodon.social)",
            claims=lambda v: not v.lower().startswith("did:") and "@" in v.lstrip("@"),
            parse=_parse_mastodon,
            key=lambda ident, inst: f"{ident}_at_{inst}".lower(),
            display=lambda ident, inst: f"@{ident}@{inst}",
        ),
        Network(
            name="bluesky",
            title="Bluesky",
            reposts="reposts",
            prefixes=("bsky", "bluesky"),
            spelling="a Bluesky handle or DID (alice.bsky.social, bsky:alice.example.com, did:plc:...)",
            claims=lambda v: (
                v.lower().startswith("did:") or "." in (v.lstrip("@") if v.count("@") <= 1 else v)
            ),
            parse=_parse_bluesky,
            key=lambda ident, inst: ident.lower().replace(":", "-"),
            display=lambda ident, inst: ident if ident.startswith("did:") else f"@{ident}",
        ),
        Network(
            name="x",
            title="X",
            reposts="retweets",
            prefixes=("x", "twitter"),
            spelling="an X handle (alice, @alice, x:alice)",
            claims=None,
            parse=_parse_x,
            key=lambda ident, inst: ident,
            display=lambda ident, inst: f"@{ident}",
        ),
    )
}


def register_network(entry: Network) -> Network:
    """Add (or replace) a network. Unprefixed handles are claimed in table order, the networks
    without a ``claims`` rule (X) last."""
    NETWORKS[entry.name] = entry
    return entry


def unregister_network(name: str) -> None:
    NETWORKS.pop(name, None)


def network(name: str) -> Network:
    try:
        return NETWORKS[name]
    except KeyError:
        raise InputError(
            f"unknown network {name!r}; expected one of {', '.join(sorted(NETWORKS))}",
            hint="spell the handle with a known prefix, e.g. bsky:alice.bsky.social",
        ) from None


def expected_handles() -> str:
    order = [NETWORKS[n] for n in ("x", "bluesky", "mastodon") if n in NETWORKS]
    order += [n for n in NETWORKS.values() if n not in order]
    words = [n.spelling for n in order]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def split_handle(text: str) -> tuple[str, str, str | None]:
    """(network, identifier, instance) of a handle string, or an InputError naming it."""
    prefix, colon, rest = text.partition(":")
    if colon:
        for net in NETWORKS.values():
            if prefix.lower() in net.prefixes:
                return (net.name, *net.parse(text, rest))
    order = sorted(NETWORKS.values(), key=lambda n: n.claims is None)
    for net in order:
        if net.claims is None or net.claims(text):
            return (net.name, *net.parse(text, text))
    raise bad_handle(text, "no network spells its handles this way")


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
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as archive:
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
        try:
            with zipfile.ZipFile(path) as zf:
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
