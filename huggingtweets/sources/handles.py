"""One account handle, parsed once at the edge: which network, which account, which instance.

Accepted spellings (``parse_handle``):

- X: ``alice``, ``@alice``, ``x:alice`` (letters, digits, ``_``; X allows 15, plain-file names 50);
- Bluesky: ``bsky:alice.bsky.social``, ``alice.bsky.social`` (any name with a dot and no ``@``),
  ``bsky:alice.example.com`` for a custom domain, a DID (``did:plc:...``, ``did:web:...``);
- Mastodon: ``@alice@mastodon.social``, ``alice@mastodon.social``, ``mastodon:alice@mastodon.social``.

Every later stage uses ``Handle.key``: the account's name in file names (``raw/<key>.jsonl``), run
folders and repo names. Keys of different networks cannot collide (X names have no dot, Bluesky
domains no ``_``, Mastodon keys hold ``_at_``), and every key is a valid Hub repo name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from huggingtweets.errors import InputError

NETWORKS = ("x", "bluesky", "mastodon")
MAX_REPO_NAME = 96  # the Hub's limit on the name part of a repo id

_X_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
# atproto handle syntax: DNS labels of letters, digits and inner hyphens; the last label (TLD)
# does not start with a digit; at most 253 characters.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?")
_DID = re.compile(r"did:(?:plc:[a-z2-7]{24}|web:" + _DOMAIN.pattern + r")")
# Mastodon usernames are letters, digits and '_'; other ActivityPub servers add '.' and '-'.
_MASTODON_USER = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")
# A Hub repo name: letters, digits, '-', '_', '.', not starting or ending with '-' or '.'.
_REPO_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")

EXPECTED = (
    "an X handle (alice, @alice, x:alice), a Bluesky handle or DID (alice.bsky.social, "
    "bsky:alice.example.com, did:plc:...) or a Mastodon account (@alice@mastodon.social)"
)


@dataclass(frozen=True)
class Handle:
    network: str  # "x", "bluesky" or "mastodon"
    identifier: str  # X username, Bluesky handle or DID, Mastodon username
    instance: str | None = None  # the Mastodon server's domain

    @property
    def key(self) -> str:
        """File-safe, Hub-safe, lower-case except for X names (which keep the source's spelling)."""
        if self.network == "x":
            raw = self.identifier
        elif self.network == "mastodon":
            raw = f"{self.identifier}_at_{self.instance}".lower()
        else:
            raw = self.identifier.lower().replace(":", "-")
        return _hub_safe(raw)

    @property
    def display(self) -> str:
        """How people write the account: @alice, @alice.bsky.social, @alice@fosstodon.org."""
        if self.network == "mastodon":
            return f"@{self.identifier}@{self.instance}"
        if self.identifier.startswith("did:"):
            return self.identifier
        return f"@{self.identifier}"

    @property
    def spec(self) -> str:
        """The unambiguous spelling; ``parse_handle(h.spec) == h``."""
        if self.network == "x":
            return f"x:{self.identifier}"
        if self.network == "mastodon":
            return f"mastodon:{self.identifier}@{self.instance}"
        return f"bsky:{self.identifier}"

    def __str__(self) -> str:
        return self.display


def _hub_safe(raw: str) -> str:
    """``raw`` as a repo-name part: runs of '-'/'.' made single (the Hub refuses '--' and '..'), and a
    short digest added when that changed it, so two accounts never share a key."""
    safe = re.sub(r"[-.]{2,}", lambda m: m.group(0)[0], raw).strip("-.")
    if safe != raw:
        safe = f"{safe}_{hashlib.sha256(raw.encode()).hexdigest()[:6]}"
    return safe


def _bad(text: str, why: str) -> InputError:
    return InputError(
        f"{text!r} is not a valid handle: {why}; expected {EXPECTED}", hint="e.g. @alice@mastodon.social"
    )


def _bluesky(text: str, value: str) -> Handle:
    if value.startswith("did:"):
        if not _DID.fullmatch(value):
            raise _bad(text, "a DID is did:plc: and 24 letters a-z/digits 2-7, or did:web:DOMAIN")
        return Handle("bluesky", value)
    value = value.lstrip("@")
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise _bad(
            text, "a Bluesky handle is a domain name (letters, digits, inner '-', parts joined by '.')"
        )
    return Handle("bluesky", value.lower())


def _mastodon(text: str, value: str) -> Handle:
    user, sep, instance = value.lstrip("@").partition("@")
    if not sep or not _MASTODON_USER.fullmatch(user):
        raise _bad(text, "a Mastodon account is USER@INSTANCE, USER letters, digits and '_'")
    if len(instance) > 253 or not _DOMAIN.fullmatch(instance):
        raise _bad(text, f"the instance {instance!r} is not a domain name")
    return Handle("mastodon", user, instance.lower())


def parse_handle(text: object) -> Handle:
    """The one place a handle string becomes a ``Handle``; an InputError naming it otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), "it is empty")
    if any(c.isspace() for c in text):
        raise _bad(text, "it holds white space")
    value = text
    prefix, colon, rest = value.partition(":")
    if colon and prefix.lower() in ("x", "twitter"):
        name = rest.lstrip("@")
        if not _X_NAME.fullmatch(name):
            raise _bad(text, "an X handle is letters, digits or '_' (15 at most on X, 50 for a name)")
        return Handle("x", name)
    if colon and prefix.lower() in ("bsky", "bluesky"):
        return _bluesky(text, rest)
    if colon and prefix.lower() == "mastodon":
        return _mastodon(text, rest)
    if prefix.lower() == "did" and colon:
        return _bluesky(text, value)
    if "@" in value.lstrip("@"):
        return _mastodon(text, value)
    name = value.lstrip("@") if value.count("@") <= 1 else value
    if "." in name:
        return _bluesky(text, name)
    if not _X_NAME.fullmatch(name):
        raise _bad(text, "an X handle is letters, digits or '_' (15 at most on X, 50 for a name)")
    return Handle("x", name)


def is_valid_key(key: object) -> bool:
    """Whether ``key`` can name a file and be part of a Hub repo name (as ``Handle.key`` always can)."""
    return (
        isinstance(key, str)
        and 0 < len(key) <= MAX_REPO_NAME
        and _REPO_NAME.fullmatch(key) is not None
        and "--" not in key
        and ".." not in key
    )


def repo_name(keys: Iterable[str]) -> str:
    """The bot's repo name: the keys sorted, lower-cased, joined by '-', always a valid Hub name.

    Too long a name keeps a readable start and ends with a digest of the whole, so two bots of
    different accounts never share one.
    """
    parts = sorted({str(k).lower() for k in keys if k})
    if not parts:
        raise ValueError("repo_name needs at least one handle")
    name = _hub_safe("-".join(parts))
    if len(name) > MAX_REPO_NAME:
        digest = hashlib.sha256("-".join(parts).encode()).hexdigest()[:10]
        name = name[: MAX_REPO_NAME - len(digest) - 1].rstrip("-._") + "_" + digest
    return name
