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

import re
from dataclasses import dataclass

from huggingtweets.runfolder import hub_safe, repo_name  # noqa: F401 (repo_name: re-exported)
from huggingtweets.sources.networks import bad_handle, split_handle
from huggingtweets.sources.networks import network as network_entry

MAX_REPO_NAME = 96  # the Hub's limit on the name part of a repo id

# A Hub repo name: letters, digits, '-', '_', '.', not starting or ending with '-' or '.'.
_REPO_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")


@dataclass(frozen=True)
class Handle:
    network: str  # a key of sources.registry.NETWORKS: "x", "bluesky", "mastodon"
    identifier: str  # X username, Bluesky handle or DID, Mastodon username
    instance: str | None = None  # the Mastodon server's domain

    @property
    def key(self) -> str:
        """File-safe, Hub-safe, lower-case except for X names (which keep the source's spelling)."""
        return hub_safe(network_entry(self.network).key(self.identifier, self.instance))

    @property
    def display(self) -> str:
        """How people write the account: @alice, @alice.bsky.social, @alice@fosstodon.org."""
        return network_entry(self.network).display(self.identifier, self.instance)

    @property
    def spec(self) -> str:
        """The unambiguous spelling; ``parse_handle(h.spec) == h``."""
        return network_entry(self.network).spec(self.identifier, self.instance)

    def __str__(self) -> str:
        return self.display


def parse_handle(text: object) -> Handle:
    """The one place a handle string becomes a ``Handle``; an InputError naming it otherwise.
    Each network's spellings are its entry in ``sources.registry``."""
    if not isinstance(text, str) or not text.strip():
        raise bad_handle(str(text), "it is empty")
    if any(c.isspace() for c in text):
        raise bad_handle(text, "it holds white space")
    return Handle(*split_handle(text))


def is_valid_key(key: object) -> bool:
    """Whether ``key`` can name a file and be part of a Hub repo name (as ``Handle.key`` always can)."""
    return (
        isinstance(key, str)
        and 0 < len(key) <= MAX_REPO_NAME
        and _REPO_NAME.fullmatch(key) is not None
        and "--" not in key
        and ".." not in key
    )
