"""Posts of a Mastodon account, live, through Mastodon.py: ``accounts/lookup`` then
``accounts/:id/statuses`` (40 per page, older pages through the Link header, ``since_id`` for what is
new since the cached posts).

``MastodonPyClient`` is the only code that talks to Mastodon.py (the seam); tests point it at a
local HTTP server through ``api_base_url``. Most instances serve public posts without a token; an
instance that demands one gets a one-line error, and ``MASTODON_ACCESS_TOKEN`` is used when set
(never written anywhere or echoed).

Boosts are read too (not ``exclude_reblogs``) so that they are counted as X's retweets are; they
carry no text of the author and are never trained on. Followers-only and direct statuses, which a
token may reveal, are counted and never kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from huggingtweets.errors import SourceError
from huggingtweets.sources import livecache
from huggingtweets.sources.consent import Consent, bio_tags, decide
from huggingtweets.sources.handles import Handle
from huggingtweets.sources.live import (
    MAX_PAGE_BYTES,
    Pages,
    RateLimited,
    TooLarge,
    caller,
    capped_session,
    keep_newest,
)
from huggingtweets.sources.mastodon_text import LEFT_OUT_NAMES, USED_VISIBILITIES, html_to_text
from huggingtweets.sources.record import Post, UserInfo, iso_utc, parse_date, today_utc
from huggingtweets.sources.schema import Where, get

SOURCE = "mastodon"
PAGE_SIZE = 40  # the endpoint's largest page
TOKEN_VAR = "MASTODON_ACCESS_TOKEN"


class MastodonPyClient:
    """Two reads (lookup, one page of statuses) as plain dicts; Mastodon.py's errors made ours."""

    def __init__(
        self,
        instance: str,
        *,
        base_url: str | None = None,
        token: str | None = None,
        max_page_bytes: int = MAX_PAGE_BYTES,
    ) -> None:
        from urllib.parse import urlsplit

        from mastodon import Mastodon

        self.instance = instance
        base_url = base_url or f"https://{instance}"
        token = token if token is not None else (os.environ.get(TOKEN_VAR, "").strip() or None)
        self.has_token = bool(token)
        # "throw": we wait ourselves, with a message the user sees, instead of Mastodon.py's silent sleep.
        # Answers are read capped, and redirects followed only on the instance itself.
        self._api = Mastodon(
            api_base_url=base_url,
            access_token=token,
            ratelimit_method="throw",
            version_check_mode="none",
            request_timeout=60,
            session=capped_session({(urlsplit(base_url).hostname or instance).lower()}, max_page_bytes),
        )

    def _call(self, what: str, fn: Callable, *args, **kwargs):
        import mastodon as m

        try:
            return fn(*args, **kwargs)
        except m.MastodonRatelimitError:
            raise RateLimited(self._api.ratelimit_reset) from None
        except m.MastodonUnauthorizedError:
            if self.has_token:
                raise SourceError(
                    f"{self.instance} refused the token in {TOKEN_VAR} while reading {what} (401)",
                    hint=f"create a new read-only token on {self.instance}, or use the account's archive with --archive",
                ) from None
            raise SourceError(
                f"{self.instance} demands a logged-in token to read {what} (401: the instance does not serve "
                "public posts to anonymous readers)",
                hint=f"set {TOKEN_VAR} to a read-only token from {self.instance}'s Development settings, "
                "or use the account's archive with --archive",
            ) from None
        except m.MastodonNotFoundError:
            raise SourceError(
                f"{what} does not exist on {self.instance} (404: never created, moved or deleted)",
                hint="check the handle's spelling and its instance",
            ) from None
        except m.MastodonAPIError as err:
            status = err.args[1] if len(err.args) > 1 else "?"
            if status == 410:
                raise SourceError(
                    f"{what} was suspended or deleted on {self.instance} (410 Gone)",
                    hint="pick another account",
                ) from None
            raise SourceError(
                f"{self.instance} failed while reading {what} (HTTP {status})", hint="try again later"
            ) from None
        except m.MastodonNetworkError as err:
            if isinstance(err.__context__, TooLarge):  # raised in our session's hook, wrapped
                raise SourceError(
                    f"{self.instance} sent {err.__context__} while reading {what}; refused",
                    hint="check the instance name; use the account's archive with --archive",
                ) from None
            raise SourceError(
                f"cannot reach {self.instance} to read {what} (no answer)",
                hint="check the instance name and your connection",
            ) from None
        except m.MastodonError as err:
            raise SourceError(
                f"cannot read {what} from {self.instance} ({type(err).__name__}: {str(err)[:120]})",
                hint="check the instance name and your connection",
            ) from None

    def lookup(self, handle: Handle) -> dict:
        return dict(self._call(handle.display, self._api.account_lookup, handle.identifier))

    def token_account_id(self) -> str | None:
        """The id of the account the token belongs to (``verify_credentials``); None without a token."""
        if not self.has_token:
            return None
        me = self._call("the account of the token", self._api.account_verify_credentials)
        return None if me.get("id") is None else str(me["id"])

    def statuses(
        self, account_id: str, *, since_id: str | None, cursor: str | None = None
    ) -> tuple[list[dict], str | None]:
        """One page (newest first) and the cursor of the next older page: the ``max_id`` of the Link
        header's next page (None: no more). Only the id is taken from the link, never its host."""
        who = f"the posts of account {account_id}"
        page = self._call(
            who, self._api.account_statuses, account_id, limit=PAGE_SIZE, since_id=since_id, max_id=cursor
        )
        if not page:
            return [], None
        following = getattr(page, "_pagination_next", None) or {}
        max_id = following.get("max_id") if isinstance(following, dict) else None
        return [_plain(s) for s in page], None if max_id is None else str(max_id)


def default_client(handle: Handle) -> MastodonPyClient:
    """The real client of ``handle``'s instance (the registry's factory)."""
    return MastodonPyClient(handle.instance)


WAYS = (
    "the person's own Mastodon archive with --archive, or {token} set to a token of {who} itself "
    "(then it is the owner who reads)"
)


def signals(account: dict, where: Where) -> list[str]:
    """The opt-out signals of an account as ``accounts/lookup`` returns it (Mastodon's field names)."""
    found = []
    if get(account, "noindex", bool, where) is True:
        found.append("noindex: true")
    for key in ("indexable", "discoverable"):  # null: never set, which is no answer
        if get(account, key, bool, where) is False:
            found.append(f"{key}: false")
    found += bio_tags(html_to_text(get(account, "note", str, where) or "")[0])
    for i, field in enumerate(get(account, "fields", list, where) or []):
        value = get(field, "value", str, where.at(f"fields[{i}]"))
        found += [tag for tag in bio_tags(html_to_text(value or "")[0], "profile fields") if tag not in found]
    return found


def read_consent(handle: Handle, client: MastodonPyClient, account: dict | None = None) -> Consent:
    """The basis on which ``handle`` may be read (``OptedOut`` when its signals say no): the registry's
    consent hook. ``account``: the lookup answer when already read."""
    if account is None:
        account = client.lookup(handle)
    where = Where(f"{handle.instance}'s answer for {handle.display}")
    account_id = str(get(account, "id", (str, int), where, required=True))
    found = signals(account, where)
    owner = client.token_account_id() == account_id if getattr(client, "has_token", False) else False
    return decide(handle.display, found, owner=owner, ways=WAYS.format(token=TOKEN_VAR, who=handle.display))


def id_order(value: object) -> tuple[int, str]:
    """Sort key of status ids: Mastodon's are decimal strings of growing length, other servers'
    (GoToSocial's ULIDs) fixed-length strings that sort as text; (length, text) orders both."""
    text = str(value if value is not None else "")
    return len(text), text


def _plain(value: Any) -> Any:
    """Mastodon.py's attribute dicts and datetimes -> JSON-ready values for the cache."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    return value


def _status_post(status: dict, account_id: str, where: Where) -> tuple[Post | None, str | None]:
    """(post, None), or (None, what was left out) for a status that is never read."""
    sid = str(get(status, "id", (str, int), where, required=True))
    created = parse_date(get(status, "created_at", str, where))
    # Fail closed: a status that does not say it is public or unlisted (boosts too) is never read.
    seen = get(status, "visibility", str, where) or ""
    if seen not in USED_VISIBILITIES:
        # a fixed vocabulary for the report, whatever word a server (or a fork: "local") sends
        return None, LEFT_OUT_NAMES.get(seen, "visibility_unknown")
    if get(status, "reblog", dict, where) is not None:
        return Post(id=sid, created_at=created, text="", is_retweet=True, source=SOURCE), None
    text, urls = html_to_text(get(status, "content", str, where) or "")
    get(status, "spoiler_text", str, where)  # the content warning: never part of the text
    poll = get(status, "poll", dict, where)
    if poll is not None:
        get(poll, "options", list, where.at(where.record + ".poll"))
    reply_account = get(status, "in_reply_to_account_id", (str, int), where)
    reply_id = get(status, "in_reply_to_id", (str, int), where)
    quote = get(status, "quote", dict, where)
    mentions = get(status, "mentions", list, where) or []
    reply_to = next(
        (m.get("acct") for m in mentions if isinstance(m, dict) and str(m.get("id")) == str(reply_account)),
        None,
    )
    return (
        Post(
            id=sid,
            created_at=created,
            text=text,
            is_reply=reply_id is not None,
            reply_to=reply_to if isinstance(reply_to, str) else None,
            is_self_thread=reply_id is not None and str(reply_account) == str(account_id),
            lang=get(status, "language", str, where),
            urls=urls,
            source=SOURCE,
            is_quote=quote is not None,
        ),
        None,
    )


def statuses_to_posts(statuses: list[dict], account_id: str, label: str) -> tuple[list[Post], dict[str, int]]:
    posts: list[Post] = []
    left_out: dict[str, int] = {}
    for i, status in enumerate(statuses):
        post, reason = _status_post(status, account_id, Where(label, f"status[{i}]"))
        if post is None:
            left_out[reason] = left_out.get(reason, 0) + 1
        else:
            posts.append(post)
    return posts, left_out


def fetch_account(
    handle: Handle,
    *,
    client: MastodonPyClient | None = None,
    max_posts: int | None = None,
    cache_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    max_pages: int | None = None,
) -> tuple[UserInfo, list[Post]]:
    """The account's public and unlisted posts, newest first; only what is new since the cache is read.
    Reading stops at ``max_pages`` (``live.MAX_PAGES``) or when the instance repeats itself."""
    client = client or default_client(handle)
    call = caller(livecache.Waiter(f"{handle.instance}", handle.display, echo=echo, sleep=sleep, clock=clock))
    account = call(client.lookup, handle)
    where = Where(f"{handle.instance}'s answer for {handle.display}")
    account_id = str(get(account, "id", (str, int), where, required=True))
    if get(account, "suspended", bool, where):
        raise SourceError(f"{handle.display} is suspended on {handle.instance}", hint="pick another account")
    moved = get(account, "moved", dict, where)
    if moved is not None:
        raise SourceError(
            f"{handle.display} has moved to @{moved.get('acct')}", hint=f"fetch @{moved.get('acct')} instead"
        )
    # Its own word first: nothing of an account that says no is read or cached.
    consent = read_consent(handle, client, account)
    path = (cache_dir or livecache.cache_root("mastodon")) / f"{handle.key}.json"
    state = livecache.load(path)
    since = state["since"] if state["complete"] else None
    limit = max_posts or None

    def read_page(cursor):
        page, following = call(client.statuses, account_id, since_id=since, cursor=cursor)
        return [s for s in page if since is None or id_order(s.get("id")) > id_order(since)], following

    pages = Pages(
        read_page,
        lambda s: str(s.get("id")) if isinstance(s, dict) else repr(s),
        service=handle.instance,
        who=handle.display,
        echo=echo,
        max_posts=limit,
        **({"max_pages": max_pages} if max_pages else {}),
    )
    new_statuses = [status for page in pages for status in page]
    new_posts, left_out = statuses_to_posts(
        new_statuses, account_id, f"{handle.instance} statuses of {handle.display}"
    )
    if since is None:
        state["posts"], state["left_out"] = [], {}
    livecache.merge(state, [p.to_dict() for p in new_posts], newest_first_key=lambda p: id_order(p["id"]))
    for reason, n in left_out.items():
        state["left_out"][reason] = state["left_out"].get(reason, 0) + n
    ids = [str(s["id"]) for s in new_statuses if isinstance(s, dict) and s.get("id") is not None]
    if ids:
        state["since"] = max(ids + ([since] if since else []), key=id_order)
    state["complete"] = state["complete"] or pages.complete
    livecache.save(path, state)
    posts = keep_newest([Post(**p) for p in state["posts"]], limit, who=handle.display, where=handle.instance)
    avatar = get(account, "avatar", str, where)
    return (
        UserInfo(
            handle=handle.key,
            name=get(account, "display_name", str, where) or handle.identifier,
            source=SOURCE,
            source_detail=f"{handle.instance}'s public API",
            avatar_url=avatar if avatar and "/missing" not in avatar else None,
            network="mastodon",
            instance=handle.instance,
            display=handle.display,
            left_out=dict(state["left_out"]),
            live_since=state["since"],
            fetched_on=today_utc(),
            consent=consent.to_dict(),
        ),
        posts,
    )
