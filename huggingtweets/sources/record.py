"""The one normalized record every source produces (see notes/INTERFACES.md).

A source returns a ``UserInfo`` and a list of ``Post``; ``fetch`` writes them as
``raw/<handle>.jsonl`` (one ``Post.to_dict()`` per line) and ``users.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone


@dataclass
class Post:
    id: str
    created_at: str | None  # "YYYY-MM-DDTHH:MM:SSZ" (UTC) or None when the source has no date
    text: str  # raw text as the source gave it; cleaning happens in prepare
    is_retweet: bool = False
    is_reply: bool = False
    reply_to: str | None = None  # handle the post answers, when it is a reply
    is_self_thread: bool = False  # a reply to the author's own post: part of a thread, not a conversation
    lang: str | None = None
    urls: list[str] = field(default_factory=list)  # expanded URLs
    source: str = "archive"
    # Quotes another post; the quoted words are not the author's, so they are never in ``text``.
    is_quote: bool = False

    def to_dict(self) -> dict:
        out = asdict(self)
        if not out["is_quote"]:
            del out["is_quote"]  # only quote posts carry it: other posts keep their earlier shape
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


@dataclass
class UserInfo:
    handle: str  # as the source spells it (lookups are case-insensitive)
    name: str
    source: str
    source_detail: str  # archive file name / "X API v2" / posts file name; never an absolute path
    avatar_url: str | None = None
    avatar_file: str | None = None  # path relative to the run folder, set by fetch
    # Avatar bytes found in an archive; fetch writes them next to the raw posts.
    avatar_bytes: bytes | None = field(default=None, repr=False)
    avatar_ext: str = ".jpg"
    network: str = "x"
    instance: str | None = None  # the Mastodon server or Bluesky PDS/AppView host the posts came from
    display: str | None = None  # how people write the account: @alice@fosstodon.org
    # Posts seen but never read, by visibility (followers_only, direct): counted for the report.
    left_out: dict[str, int] = field(default_factory=dict)
    # What the reader ignored and the user should know (a path outside the archive): the data report's
    # warnings.
    notes: list[str] = field(default_factory=list)
    live_since: str | None = None  # the newest post id a live source has read (refresh starts there)
    fetched_on: str | None = None  # YYYY-MM-DD (UTC) a live source was read, for the card's provenance
    # A live read's basis (``consent.Consent.to_dict()``): the owner's token or a public account
    # without opt-out signals; exports and files get theirs from their source's kind.
    consent: dict | None = None

    def to_dict(self) -> dict:
        out = {
            "handle": self.handle,
            "name": self.name,
            "avatar_url": self.avatar_url,
            "avatar_file": self.avatar_file,
            "source": self.source,
            "source_detail": self.source_detail,
        }
        # X accounts keep the users.json of earlier versions; the other networks say where they live.
        if self.network != "x" or self.left_out or self.live_since:
            out.update(
                network=self.network,
                instance=self.instance,
                display=self.display or "@" + self.handle,
                left_out=dict(self.left_out),
                live_since=self.live_since,
                fetched_on=self.fetched_on,
            )
        if self.notes:
            out["notes"] = list(self.notes)
        if self.consent:
            out["consent"] = dict(self.consent)
        return out


def today_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def iso_utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: object) -> str | None:
    """Any date a source gives (X's "Wed Oct 19 20:07:25 +0000 2022", ISO 8601) -> ISO UTC or None."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    # OverflowError: a date UTC cannot hold (year 1 at +14:00) is as unreadable as a malformed one.
    try:
        return iso_utc(datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y"))
    except (ValueError, OverflowError):
        pass
    try:
        return iso_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None
