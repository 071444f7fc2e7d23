"""The per-account cache of a free live source (Mastodon, Bluesky), and the rate-limit wait both share.

A cache file holds the normalized posts read so far (newest first), the ``since`` cursor (the newest
post id, or a repo revision) and what was left out; a later fetch asks only for newer posts and
merges them in. Unlike the X cache it keeps no holes: reads are free, so a fetch cut short by
``--max-posts`` is simply read again in full by the next fetch without a limit.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from huggingtweets.errors import HuggingtweetsError, SourceError
from huggingtweets.runfolder import atomic_write_json, read_json

MAX_RATE_LIMIT_WAITS = 10
# The longest rate-limit wait a fetch sits out (X's window is 15 minutes; Mastodon's and Bluesky's 5).
# A reset further away (a server asking for the year 9999) ends the fetch with one line instead.
MAX_WAIT_S = 20 * 60
CACHE_VERSION = 1


def cache_root(network: str) -> Path:
    home = os.environ.get("HUGGINGTWEETS_HOME")
    if home:
        return Path(home) / network
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huggingtweets" / network


def load(path: Path) -> dict:
    empty = {"version": CACHE_VERSION, "posts": [], "since": None, "left_out": {}, "complete": False}
    if not path.is_file():
        return empty
    try:
        stored = read_json(path)
    except Exception:  # a cache is only a shortcut: a broken one is read again from the network
        return empty
    if not isinstance(stored, dict) or stored.get("version") != CACHE_VERSION:
        return empty
    return {**empty, **stored}


def merge(state: dict, new_posts: list[dict], *, newest_first_key: Callable[[dict], object]) -> None:
    known = {p["id"] for p in new_posts}
    posts = new_posts + [p for p in state["posts"] if p["id"] not in known]
    posts.sort(key=newest_first_key, reverse=True)
    state["posts"] = posts


def save(path: Path, state: dict) -> None:
    atomic_write_json(path, state)


class Waiter:
    """Waits out a rate limit with a visible message; gives up after ``MAX_RATE_LIMIT_WAITS``."""

    def __init__(
        self,
        service: str,
        who: str,
        *,
        echo: Callable[[str], None],
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        error: type[HuggingtweetsError] = SourceError,
    ) -> None:
        self.service, self.who, self.echo, self.error = service, who, echo, error
        self.sleep = sleep or time.sleep
        self.clock = clock or time.time
        self.waits = 0

    def wait(self, reset_at: float | None) -> None:
        self.waits += 1
        if self.waits > MAX_RATE_LIMIT_WAITS:
            raise self.error(
                f"{self.service} kept rate-limiting the reads of {self.who}", hint="run fetch again later"
            )
        now = self.clock()
        if reset_at is None or not math.isfinite(reset_at):
            reset_at = now + 60
        delay = max(1.0, reset_at - now)
        if delay > MAX_WAIT_S:
            raise self.error(
                f"{self.service} rate-limits the reads of {self.who} until {moment(reset_at)}, "
                f"{delay:,.0f} s from now: longer than fetch waits ({MAX_WAIT_S // 60} min)",
                hint="run fetch again after that time, or read fewer posts with --max-posts N",
            )
        until = datetime.fromtimestamp(now + delay, tz=timezone.utc).strftime("%H:%M:%S UTC")
        self.echo(
            f"{self.service} rate limit reached; waiting {delay:.0f} s (until {until}) before going on."
        )
        self.sleep(delay)


def moment(epoch: float) -> str:
    """``epoch`` as a UTC date and time, also when it lies past what ``datetime`` holds."""
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"{epoch:.4g} s after 1970 (past the year 9999)"
