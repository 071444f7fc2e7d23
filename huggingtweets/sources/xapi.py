"""Posts from the X API v2, through tweepy, behind one seam we own (``XClient``).

``TweepyXClient`` is the only code that talks to tweepy; tests give it a ``requests`` session that
replays recorded answers. ``fetch_user`` holds the logic: the user lookup, the estimated cost, a
raw cache per handle (``xcache``: a later fetch asks for newer posts with ``since_id``, then reads
what an earlier, limited fetch left unread with ``until_id``; an interrupted one resumes from its
pagination token), rate-limit waits and one-line errors.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from huggingtweets.errors import XApiError
from huggingtweets.runfolder import atomic_write_json
from huggingtweets.sources import livecache, xcache
from huggingtweets.sources.consent import Consent, bio_tags, decide
from huggingtweets.sources.record import Post, UserInfo
from huggingtweets.sources.schema import DATE, FLAG, ID, LANG, STR, URLS, Count, ListOf, Obj, Pattern, conform

TOKEN_VARS = ("X_BEARER_TOKEN", "TWITTER_BEARER_TOKEN")
API_MAX_POSTS = xcache.API_MAX_POSTS  # the timeline endpoint serves at most the 3,200 most recent posts
PAGE_SIZE = 100  # the endpoint's largest page
MIN_PAGE = 5  # and its smallest
DEFAULT_PRICE_PER_READ = 0.005  # USD per post read (pay-per-use pricing); a setting, not a constant
MAX_RATE_LIMIT_WAITS = livecache.MAX_RATE_LIMIT_WAITS  # one rule for every network
PROGRESS_INTERVAL_S = 3.0  # at most one "posts read" line per this many seconds, plus the last
TWEET_FIELDS = [
    "created_at", "lang", "entities", "referenced_tweets", "in_reply_to_user_id",
    "note_tweet", "edit_history_tweet_ids", "conversation_id",
]  # fmt: skip
USER_FIELDS = ["name", "username", "profile_image_url", "protected", "public_metrics", "description"]

# The parts of the API's answers that are read (fields asked for above); others pass through.
_ERRORS = ListOf(Obj({"detail": STR, "title": STR}))
# It names the cache file, so it is held to X's own rule before it is used.
USERNAME = Pattern(re.compile(r"[A-Za-z0-9_]{1,50}"), "an X username (letters, digits, _)")
USER_BODY = Obj(
    {
        "data": Obj(
            {
                "id": ID, "username": USERNAME, "name": STR, "profile_image_url": STR, "protected": FLAG,
                "public_metrics": Obj({"tweet_count": Count()}), "description": STR,
            },
            required=("id",),
        ),
        "errors": _ERRORS,
    }
)  # fmt: skip
TWEET = Obj(
    {
        "id": ID, "text": STR, "created_at": DATE, "lang": LANG, "note_tweet": Obj({"text": STR}),
        "referenced_tweets": ListOf(Obj({"type": STR, "id": ID})), "in_reply_to_user_id": ID,
        "entities": URLS, "edit_history_tweet_ids": ListOf(ID),
    },
    required=("id",),
)  # fmt: skip
PAGE_BODY = Obj(
    {
        "data": ListOf(TWEET),
        "includes": Obj({"users": ListOf(Obj({"id": ID, "username": STR}, required=("id", "username")))}),
        "meta": Obj({"next_token": STR}),
        "errors": _ERRORS,
    }
)
_HINT = "the X API answered in a shape huggingtweets does not know; try again, or use --archive"


class RateLimited(Exception):
    """The API answered 429; ``reset_at`` is the epoch second when the window reopens (or None)."""

    def __init__(self, reset_at: float | None) -> None:
        super().__init__(f"rate limited until {reset_at}")
        self.reset_at = reset_at


class XClient(Protocol):
    """The seam: two reads, each returning the API's JSON body as a dict."""

    def get_user(self, username: str) -> dict: ...

    def get_users_tweets(
        self,
        user_id: str,
        *,
        max_results: int,
        since_id: str | None,
        until_id: str | None,
        pagination_token: str | None,
    ) -> dict: ...


def bearer_token_from_env() -> str:
    for var in TOKEN_VARS:
        token = os.environ.get(var, "").strip()
        if token:
            return token
    raise XApiError(
        "no X API bearer token found in X_BEARER_TOKEN or TWITTER_BEARER_TOKEN",
        hint="export X_BEARER_TOKEN=<your app's bearer token>, or use --archive with your X archive",
    )


class _RedactBearer(logging.Filter):
    """Blanks bearer tokens in the records of tweepy's client logger.

    ``tweepy.Client.request`` logs every request's headers at DEBUG, ``Authorization: Bearer
    <token>`` included. A filter on that logger runs before any handler sees the record, whatever
    level or handlers an application sets later, where raising the logger's level could be undone.
    """

    _BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+")

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._BEARER.sub(r"\1[redacted]", message)
        for token in self.tokens:
            redacted = redacted.replace(token, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _redact_in_logs(token: str) -> None:
    logger = logging.getLogger("tweepy.client")
    found = [f for f in logger.filters if isinstance(f, _RedactBearer)]
    redact = found[0] if found else _RedactBearer()
    if not found:
        logger.addFilter(redact)
    redact.tokens.add(token)


class TweepyXClient:
    """``XClient`` on ``tweepy.Client``; turns tweepy's exceptions into ours. Never logs the token."""

    def __init__(self, bearer_token: str, *, session: Any = None) -> None:
        import tweepy

        _redact_in_logs(bearer_token)
        self._tweepy = tweepy
        self._client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        if session is not None:
            self._client.session = session

    def _call(self, what: str, fn: Callable, *args, **kwargs) -> dict:
        tw = self._tweepy
        try:
            return fn(*args, **kwargs)
        except tw.TooManyRequests as err:
            raise RateLimited(err.reset_time) from None
        except tw.Unauthorized:
            raise XApiError(
                f"X API refused the bearer token (401 Unauthorized) while reading {what}",
                hint="set X_BEARER_TOKEN to a valid bearer token from developer.x.com",
            ) from None
        except tw.Forbidden as err:
            raise XApiError(
                f"X API answered 403 Forbidden for {what}: this app's access tier cannot read timelines "
                f"({_detail(err)})",
                hint="upgrade the app's access at developer.x.com, or use --archive with your X archive",
            ) from None
        except tw.NotFound:
            raise XApiError(f"X API has no {what} (404 Not Found)", hint="check the handle") from None
        except tw.HTTPException as err:
            raise XApiError(
                f"X API failed while reading {what} ({_detail(err)})", hint="try again later"
            ) from None
        except tw.TweepyException as err:
            raise XApiError(f"cannot reach the X API while reading {what} ({type(err).__name__})") from None
        except OSError as err:  # requests' connection errors are OSErrors
            raise XApiError(f"cannot reach the X API while reading {what} ({type(err).__name__})") from None

    def get_user(self, username: str) -> dict:
        return self._call(f"@{username}", self._client.get_user, username=username, user_fields=USER_FIELDS)

    def get_users_tweets(
        self,
        user_id: str,
        *,
        max_results: int,
        since_id: str | None,
        until_id: str | None = None,
        pagination_token: str | None = None,
    ) -> dict:
        params: dict[str, Any] = {
            "max_results": max_results,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["in_reply_to_user_id"],
            "user_fields": ["username"],
        }
        if since_id:
            params["since_id"] = since_id
        if until_id:
            params["until_id"] = until_id
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._call(f"the posts of user id {user_id}", self._client.get_users_tweets, user_id, **params)


def _detail(err: Exception) -> str:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", "?")
    messages = [m for m in getattr(err, "api_messages", []) or [] if m][:1]
    # X's details run to several sentences; the first one says what happened.
    first = messages[0].split(". ")[0].rstrip(".")[:200] if messages else ""
    return f"HTTP {status}" + (f": {first}" if first else "")


def cache_root() -> Path:
    home = os.environ.get("HUGGINGTWEETS_HOME")
    if home:
        return Path(home) / "x-api"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huggingtweets" / "x-api"


def _check_user(handle: str, body: dict) -> dict:
    body = conform(body, USER_BODY, f"X API answer for user @{handle}", hint=_HINT)
    user = body.get("data")
    if user:
        if user.get("protected"):
            raise XApiError(
                f"@{handle} is a protected account: its posts are visible only to approved followers",
                hint="ask the account owner for their X archive and use --archive",
            )
        return user
    errors = body.get("errors") or [{}]
    detail = str(errors[0].get("detail") or errors[0].get("title") or "no user in the answer")
    if "suspend" in detail.lower():
        raise XApiError(f"@{handle} is suspended on X ({detail})", hint="pick another account")
    if "authoriz" in detail.lower() or "protected" in detail.lower():
        raise XApiError(f"@{handle} is a protected account ({detail})", hint="use the owner's X archive")
    raise XApiError(f"@{handle} is not an X user ({detail})", hint="check the spelling of the handle")


def avatar_400(url: str | None) -> str | None:
    """The 400x400 variant of ``profile_image_url`` (the API gives the 48x48 ``_normal`` one)."""
    if not url:
        return None
    return url.replace("_normal.", "_400x400.")


def _to_posts(tweets: list[dict], users: dict[str, str], user_id: str, where: str) -> list[Post]:
    # The cache may predate these checks, or have been edited: check what it holds too.
    tweets = [conform(t, TWEET, where, record=f"tweets[{i}]", hint=_HINT) for i, t in enumerate(tweets)]
    # A post edited later is served with the newest version only, but a cache filled before the
    # edit still has the old one: keep the last id of each edit history.
    superseded = {i for t in tweets for i in (t.get("edit_history_tweet_ids") or [])[:-1]}
    posts = []
    for t in tweets:
        if t["id"] in superseded:
            continue
        text = (t.get("note_tweet") or {}).get("text") or t.get("text") or ""
        kinds = {r.get("type") for r in t.get("referenced_tweets") or []}
        reply_user = t.get("in_reply_to_user_id")
        is_reply = bool(reply_user) or "replied_to" in kinds
        posts.append(
            Post(
                id=t["id"],
                created_at=t.get("created_at"),
                text=text,
                is_retweet=text.startswith("RT @") or "retweeted" in kinds,
                is_reply=is_reply,
                reply_to=users.get(str(reply_user)) if reply_user else None,
                is_self_thread=bool(is_reply and reply_user and str(reply_user) == str(user_id)),
                lang=t.get("lang"),
                urls=[
                    u["expanded_url"]
                    for u in (t.get("entities") or {}).get("urls") or []
                    if u.get("expanded_url")
                ],
                source="x-api",
            )
        )
    return posts


# An app's bearer token reads as the app, never as a person: on X only the archive proves the owner.
WAYS = "the person's own X archive with --archive (only they can download it)"


def read_consent(handle, client: XClient, user: dict | None = None) -> Consent:
    """The basis on which ``handle`` may be read: the tags in its bio (``description``, which the user
    lookup returns), ``OptedOut`` when one is there; the registry's consent hook."""
    name = getattr(handle, "key", handle).lstrip("@")
    if user is None:
        user = _check_user(name, client.get_user(name))
    return decide(
        f"@{user.get('username') or name}", bio_tags(user.get("description")), owner=False, ways=WAYS
    )


def fetch_user(
    handle: str,
    client: XClient,
    *,
    max_posts: int | None = None,
    price_per_read: float = DEFAULT_PRICE_PER_READ,
    cache_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    progress: bool = True,
) -> tuple[UserInfo, list[Post]]:
    """Fetch (or top up from the cache) the recent posts of one handle."""
    clock = clock or time.time
    handle = handle.lstrip("@")
    limit = min(API_MAX_POSTS, max_posts) if max_posts else API_MAX_POSTS
    waiter = livecache.Waiter("X API", f"@{handle}", echo=echo, sleep=sleep, clock=clock, error=XApiError)

    def call(fn: Callable, *args, **kwargs) -> dict:
        while True:
            try:
                return fn(*args, **kwargs)
            except RateLimited as err:
                waiter.wait(err.reset_at)

    user = _check_user(handle, call(client.get_user, handle))
    consent = read_consent(handle, client, user)  # before the first (paid) read of its posts
    handle = user.get("username") or handle
    path = (cache_dir or cache_root()) / f"{handle.lower()}.json"
    state = xcache.load_state(path)
    state["user"] = user
    count = (user.get("public_metrics") or {}).get("tweet_count")
    expected = xcache.expected_reads(state, None if count is None else int(count), limit)
    echo(
        f"@{handle}: up to {expected:,} post reads x USD {price_per_read:g} = about USD "
        f"{expected * price_per_read:,.2f} (set --max-posts / --price-per-read to change)"
    )
    # Progress goes through ``echo`` as plain lines (a log or the runner's events), thinned so that
    # thousands of posts are a handful of lines.
    read_so_far = 0
    last_line_at: float | None = None
    last_count: int | None = None

    def report(final: bool = False) -> None:
        nonlocal last_line_at, last_count
        now = clock()
        due = last_line_at is None or now - last_line_at >= PROGRESS_INTERVAL_S
        if progress and read_so_far != last_count and (final or due):
            last_line_at, last_count = now, read_so_far
            echo(f"@{handle}: {read_so_far:,} of ~{expected:,} posts read")

    def read(region: dict, cap: int) -> None:
        """Page through one id region until it runs out or ``cap`` posts of it are read."""
        nonlocal read_so_far
        todo = cap - len(region["tweets"])
        exhausted = False
        while todo > 0:
            body = call(
                client.get_users_tweets,
                user["id"],
                max_results=max(MIN_PAGE, min(PAGE_SIZE, todo)),
                since_id=region["since_id"],
                until_id=region["until_id"],
                pagination_token=region["token"],
            )
            # Checked before anything of it reaches the cache, which later fetches build on.
            body = conform(body, PAGE_BODY, f"X API answer for the posts of @{handle}", hint=_HINT)
            if body.get("errors") and not body.get("data"):
                _check_user(handle, {"errors": body["errors"]})
            answered = body.get("data") or []
            page = answered[:todo]
            region["tweets"].extend(page)
            state["users"].update(
                {u["id"]: u["username"] for u in (body.get("includes") or {}).get("users", [])}
            )
            todo -= len(page)
            read_so_far += len(page)
            report()
            region["token"] = (body.get("meta") or {}).get("next_token")
            state["pending"] = region
            if not region["token"] or not page:
                # The region ran out, unless posts of the last page were left out for the limit.
                exhausted = len(page) == len(answered)
                break
            atomic_write_json(path, state)  # after every page, so an interruption resumes here
        xcache.finish_read(state, region, exhausted=exhausted)
        atomic_write_json(path, state)

    def read_all() -> None:
        # First what an interrupted fetch left, then the posts newer than the cache, then the
        # holes, newest first, until the `limit` newest posts are all cached: reads in one fetch
        # never exceed `limit`.
        pending = state["pending"]
        if pending:
            read(pending, limit - xcache.at_or_above(state, pending["until_id"]))
        if not pending or pending["until_id"] is not None:
            read(xcache.new_read(state["newest_id"], None), limit)
        for hole in list(state["holes"]):
            cap = limit - xcache.at_or_above(state, hole["until_id"])
            if cap <= 0:
                break
            read(xcache.new_read(hole["since_id"], hole["until_id"]), cap)

    read_all()
    report(final=True)
    if count is not None:
        state["tweet_count"] = int(count)
    atomic_write_json(path, state)

    tweets = state["tweets"][:limit] if max_posts else state["tweets"]
    posts = _to_posts(tweets, state["users"], user["id"], f"X API cache {path.name}")
    if not posts:
        raise XApiError(
            f"@{handle} has no posts the X API can read", hint="expected an account that has posted"
        )
    info = UserInfo(
        handle=handle,
        name=user.get("name") or handle,
        source="x-api",
        source_detail="X API v2",
        avatar_url=avatar_400(user.get("profile_image_url")),
        consent=consent.to_dict(),
    )
    return info, posts


def default_client(handle=None) -> TweepyXClient:
    """The real X API client, with the bearer token from the environment (the registry's factory)."""
    return TweepyXClient(bearer_token_from_env())


def fetch_account(handle, *, client: XClient, **kwargs) -> tuple[UserInfo, list[Post]]:
    """``fetch_user`` for a parsed ``Handle`` (the registry's live-source signature)."""
    return fetch_user(handle.key, client, **kwargs)
