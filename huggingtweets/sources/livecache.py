"""The per-account cache of a free live source (Mastodon, Bluesky), and the rate-limit wait both share.

A cache file holds the normalized posts read so far (newest first), the ``since`` cursor (the newest
post id, or a repo revision) and what was left out; a later fetch asks only for newer posts and
merges them in. Unlike the X cache it keeps no holes: reads are free, so a fetch cut short by
``--max-posts`` is simply read again in full by the next fetch without a limit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from huggingtweets.errors import HuggingtweetsError, SourceError
from huggingtweets.runfolder import atomic_write_json, read_json

MAX_RATE_LIMIT_WAITS = 10
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
        delay = max(1.0, (reset_at or now + 60) - now)
        until = datetime.fromtimestamp(now + delay, tz=timezone.utc).strftime("%H:%M:%S UTC")
        self.echo(
            f"{self.service} rate limit reached; waiting {delay:.0f} s (until {until}) before going on."
        )
        self.sleep(delay)
