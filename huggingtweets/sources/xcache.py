"""The raw cache of one X account's posts, and which stretches of its timeline it still lacks.

A cache file holds the raw tweets read so far (newest first), ``newest_id`` and ``oldest_id``, and
``holes``: the id ranges not read yet, each ``{"since_id": S, "until_id": U}`` for the posts with
S < id < U (S None: down to the oldest post the API serves). A first fetch cut short by
--max-posts leaves a hole below its oldest post; a top-up cut short leaves one between the new
posts and the older cache. ``complete`` is true when there is no hole: from ``newest_id`` down,
every post the API serves is cached. ``pending`` is the read in progress (its region, pagination
token and the tweets read so far), so an interrupted fetch resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from huggingtweets.runfolder import read_json

API_MAX_POSTS = 3200  # the timeline endpoint serves at most the 3,200 most recent posts


def empty_state() -> dict:
    return {
        "tweets": [], "users": {}, "newest_id": None, "oldest_id": None, "holes": [], "complete": False,
        "pending": None,
    }  # fmt: skip


def load_state(path: Path) -> dict:
    if not path.is_file():
        return empty_state()
    stored = read_json(path)
    state = {**empty_state(), **stored}
    if "holes" not in stored:
        # Written before holes were tracked: it cannot say whether it reached the oldest post.
        # One read below its oldest post settles it (and costs nothing when there is none).
        tweets = state["tweets"]
        state["holes"] = [{"since_id": None, "until_id": tweets[-1]["id"]}] if tweets else []
        state["oldest_id"] = tweets[-1]["id"] if tweets else None
    if state["pending"]:
        state["pending"].setdefault("until_id", None)
    return state


def new_read(since_id: str | None, until_id: str | None) -> dict:
    return {"since_id": since_id, "until_id": until_id, "token": None, "tweets": []}


def at_or_above(state: dict, until_id: str | None) -> int:
    """How many cached posts are at or above ``until_id``: those a read below it comes after."""
    if until_id is None:
        return 0
    bound = int(until_id)
    return sum(1 for t in state["tweets"] if int(t["id"]) >= bound)


def finish_read(state: dict, read: dict, *, exhausted: bool) -> None:
    """Merge a read into the cache; the part of its region left unread (if any) becomes a hole.

    ``exhausted``: the API had nothing more in the region (no next_token, or an empty page).
    """
    region = (read["since_id"], read["until_id"])
    holes = [h for h in state["holes"] if (h["since_id"], h["until_id"]) != region]
    if not exhausted:
        oldest = min((t["id"] for t in read["tweets"]), key=int, default=read["until_id"])
        if oldest is not None:
            holes.append({"since_id": read["since_id"], "until_id": oldest})
    known = {t["id"] for t in read["tweets"]}
    tweets = read["tweets"] + [t for t in state["tweets"] if t["id"] not in known]
    tweets.sort(key=lambda t: int(t["id"]), reverse=True)
    state["tweets"] = tweets
    state["newest_id"] = tweets[0]["id"] if tweets else None
    state["oldest_id"] = tweets[-1]["id"] if tweets else None
    # Below the account's 3,200 most recent posts the API serves nothing: such a hole cannot be
    # filled, and the cache is as complete as it can be.
    holes = [h for h in holes if at_or_above(state, h["until_id"]) < API_MAX_POSTS]
    holes.sort(key=lambda h: int(h["until_id"]), reverse=True)  # newest first, the order they are read
    state["holes"] = holes
    state["complete"] = bool(tweets) and not holes
    state["pending"] = None


def expected_reads(state: dict, tweet_count: int | None, limit: int) -> int:
    """An upper estimate of the posts this fetch reads, shown (priced) before any is read.

    The account's post count says how many are new since the last fetch; a cache with holes also
    lacks older ones: those the account had then (3,200 at most), less those cached, read only
    until the ``limit`` newest posts are all cached.
    """
    pending = state["pending"]
    budget = limit - (len(pending["tweets"]) if pending else 0)
    if tweet_count is None:
        return max(0, budget)
    before = int(state.get("tweet_count") or 0) if state["tweets"] else 0
    new = min(budget, max(0, tweet_count - before))
    older = 0
    if state["holes"]:
        missing = max(0, min(API_MAX_POSTS, before) - len(state["tweets"]))
        older = min(missing, max(0, limit - new - at_or_above(state, state["holes"][0]["until_id"])))
    return max(0, min(budget, new + older))
