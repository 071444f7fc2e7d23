"""The networks of ``sources.registry``: how each spells its accounts (handle prefixes, the parser of an
unprefixed spelling, the file-safe key, the display form) and the card's word for a repost.

``sources.handles`` turns a string into a ``Handle`` with this table; adding a network is one entry
(``register_network``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from huggingtweets.errors import InputError

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
