"""What an account says about itself before it is read live, and on which basis its posts are used.

Each live network reads its own signals (``consent`` in its ``sources.registry`` entry): Mastodon's
``noindex``, ``indexable: false``, ``discoverable: false``; Bluesky's ``!no-unauthenticated``
self-label; and on every network ``#nobot``, ``#nobots`` or ``#noai`` in the bio. An account that
signals "no" is not read (``OptedOut``), unless the reader proves to be its owner: a token of that
very account (Mastodon ``verify_credentials``, a Bluesky session with its DID). The person's own
export is always read: only they can download it.

The basis a bot's posts were used on (``Consent.basis``) travels in ``users.json`` and the
``huggingtweets.json`` of the bot, and the card states it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from huggingtweets.errors import SourceError
from huggingtweets.sources.record import today_utc

# The tags people put in their bio to say "no bots, no AI training" (case-insensitive, whole tag).
NO_TAGS = ("nobot", "nobots", "noai")
_TAG = re.compile(r"(?<![\w#])#(" + "|".join(NO_TAGS) + r")(?![\w])", re.IGNORECASE)

EXPORT, OWNER, PUBLIC, FILE = "export", "owner", "public", "file"
# The card's sentence per basis ({checked_on}: the date the signals were read).
BASIS_TEXT = {
    EXPORT: "the person's own account export",
    OWNER: "the person's own authenticated account (the reader's token is that account's)",
    PUBLIC: "a public account that showed no opt-out signal (checked on {checked_on})",
    FILE: "a file of posts the publisher vouches for",
}
# Bots read live before the signals were checked: nothing is claimed beyond the public read.
UNCHECKED, UNKNOWN = "unchecked", "unknown"
OTHER_TEXT = {
    UNCHECKED: "a public account, read before huggingtweets checked opt-out signals",
    UNKNOWN: "not recorded (a source this huggingtweets does not know)",
}


@dataclass(frozen=True)
class Consent:
    basis: str  # EXPORT, OWNER, PUBLIC or FILE
    checked_on: str | None = None  # YYYY-MM-DD (UTC) the live account's signals were read
    signals: tuple[str, ...] = ()  # opt-out signals present (only ever with OWNER: the owner reads)

    def to_dict(self) -> dict:
        return {"basis": self.basis, "checked_on": self.checked_on, "signals": list(self.signals)}


class OptedOut(SourceError):
    """An account's own signals say it is not to be read; ``signals`` names them."""

    def __init__(self, display: str, signals: list[str], ways: str) -> None:
        super().__init__(
            f"{display} asks not to be read by bots ({'; '.join(signals)}), so it was not read",
            hint=f"what works: {ways}",
        )
        self.display, self.signals = display, tuple(signals)


def bio_tags(text: str | None, where: str = "bio") -> list[str]:
    """The opt-out tags in ``text`` (plain text), each once, as "#nobot in the bio"."""
    found = dict.fromkeys(m.group(1).lower() for m in _TAG.finditer(text or ""))
    return [f"#{tag} in the {where}" for tag in found]


def decide(display: str, signals: list[str], *, owner: bool, ways: str) -> Consent:
    """The basis of a live read: OWNER when the reader proved to be the account, PUBLIC when the account
    shows no signal; ``OptedOut`` otherwise."""
    if owner:
        return Consent(OWNER, today_utc(), tuple(signals))
    if signals:
        raise OptedOut(display, signals, ways)
    return Consent(PUBLIC, today_utc())


def basis_of(user: dict, kind: str) -> dict:
    """The consent record of a users.json entry: its own, or the one its source's kind implies
    (``kind``: the registry's "export", "file", "live", "legacy"; anything else: "unknown")."""
    recorded = user.get("consent")
    if isinstance(recorded, dict) and recorded.get("basis") in BASIS_TEXT:
        return {
            "basis": recorded["basis"],
            "checked_on": recorded.get("checked_on"),
            "signals": [str(s) for s in recorded.get("signals") or []],
        }
    basis = {"export": EXPORT, "file": FILE, "live": UNCHECKED, "legacy": UNCHECKED}.get(kind, UNKNOWN)
    return {"basis": basis, "checked_on": None, "signals": []}


def basis_text(record: dict) -> str:
    """The card's sentence for a consent record (``basis_of``)."""
    template = BASIS_TEXT.get(str(record.get("basis")))
    if template is None:
        return OTHER_TEXT.get(str(record.get("basis")), OTHER_TEXT[UNKNOWN])
    return template.format(checked_on=record.get("checked_on") or "an unrecorded date")
