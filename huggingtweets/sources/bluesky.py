"""Posts of a Bluesky account, live and without a token, through the ``atproto`` package.

1. handle -> DID with ``com.atproto.identity.resolveHandle`` on the public AppView (a DID given
   on the command line skips this); DID -> DID document (atproto's ``IdResolver``, PLC directory) ->
   the account's PDS.
2. ``app.bsky.actor.getProfile`` (AppView): display name, avatar (downloaded and stored as an
   archive's avatar is), the current handle; a deleted or taken-down account stops here.
3. the whole history in one request: ``com.atproto.sync.getRepo`` from the PDS (a CAR, read by
   ``bluesky_car``); ``getLatestCommit`` first, so an unchanged repository is not downloaded again.
   A PDS that refuses falls back to paging ``app.bsky.feed.getAuthorFeed`` (100 a page, cursor),
   which stops at the first post already cached.

``AtprotoClient`` is the seam; tests point its AppView, PLC directory and (through the DID document)
PDS URLs at a local server, so the real atproto client runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from huggingtweets.errors import SourceError
from huggingtweets.sources import livecache
from huggingtweets.sources.bluesky_car import read_car_bytes
from huggingtweets.sources.bluesky_records import posts_from_feed
from huggingtweets.sources.consent import Consent, bio_tags, decide
from huggingtweets.sources.handles import Handle, parse_handle
from huggingtweets.sources.live import (
    MAX_AVATAR_BYTES,
    MAX_PAGE_BYTES,
    MAX_REPO_BYTES,
    Pages,
    RateLimited,
    TooLarge,
    caller,
    capped_transport,
    download,
    keep_newest,
)
from huggingtweets.sources.record import Post, UserInfo, today_utc
from huggingtweets.sources.schema import Where, get

SOURCE = "bluesky"
# An app password of the account itself proves that its owner reads (createSession names its DID).
LOGIN_VARS = ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")
NO_UNAUTHENTICATED = "!no-unauthenticated"  # the self-label "hide from logged-out users"
WAYS = (
    "the person's own repository export (.car) with --archive, or {login} set to an app password of "
    "{who} itself (then it is the owner who reads)"
)
APPVIEW = "https://public.api.bsky.app"
PLC_DIRECTORY = "https://plc.directory"
PAGE_SIZE = 100  # getAuthorFeed's largest page
AVATAR_HOSTS = ("cdn.bsky.app",)
_GONE = {
    "AccountTakedown",
    "AccountDeactivated",
    "RepoTakendown",
    "RepoDeactivated",
    "RepoSuspended",
    "RepoNotFound",
}
_AVATAR_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


class Refused(Exception):
    """A service answered with an error; ``code`` is the XRPC error name (e.g. RepoTakendown)."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class AtprotoClient:
    """The reads, as plain dicts/bytes; atproto's exceptions made ``RateLimited``/``Refused``."""

    def __init__(
        self,
        appview: str = APPVIEW,
        plc_url: str = PLC_DIRECTORY,
        timeout: float = 60,
        avatar_hosts: tuple[str, ...] = AVATAR_HOSTS,
        avatar_max_bytes: int = MAX_AVATAR_BYTES,
        max_page_bytes: int = MAX_PAGE_BYTES,
        max_repo_bytes: int = MAX_REPO_BYTES,
        login: tuple[str, str] | None = None,
    ) -> None:
        import os

        from atproto import Client, IdResolver

        if login is None:
            identifier, password = (os.environ.get(var, "").strip() for var in LOGIN_VARS)
            login = (identifier, password) if identifier and password else None
        self._login = login  # never written, echoed or put in an error

        self._client_class = Client
        self._timeout = timeout
        self.appview = appview.rstrip("/")
        self.max_page_bytes, self.max_repo_bytes = max_page_bytes, max_repo_bytes
        # Avatars come from Bluesky's CDN (or the AppView itself); anything else is refused.
        self.avatar_max_bytes = avatar_max_bytes
        self.avatar_hosts = {h.lower() for h in avatar_hosts} | {
            (urlsplit(self.appview).hostname or "").lower()
        }
        self._appview = self._capped(self.appview, max_page_bytes)
        self._resolver = IdResolver(plc_url=plc_url, timeout=timeout)
        self._pds: dict[str, object] = {}  # one client per PDS: each new one costs an SSL context

    def _capped(self, base_url: str, max_bytes: int):
        """An atproto client on ``base_url`` whose answers are capped and stay on its host."""
        from atproto_client.request import Request

        host = (urlsplit(base_url).hostname or "").lower()
        request = Request(transport=capped_transport({host}, max_bytes))
        return self._client_class(base_url=base_url, request=request)

    def _pds_client(self, pds: str):
        if pds not in self._pds:
            self._pds[pds] = self._capped(pds, self.max_repo_bytes)
        return self._pds[pds]

    def _call(self, fn: Callable, *args, **kwargs):
        from atproto import exceptions as ex

        try:
            return fn(*args, **kwargs)
        except TooLarge as err:
            raise SourceError(
                f"{urlsplit(self.appview).hostname} or the account's PDS sent {err}; refused",
                hint="check the handle; use the account's repository export (.car) with --archive",
            ) from None
        except ex.RateLimitExceededError as err:
            raise RateLimited(_reset_header(err)) from None
        except ex.RequestErrorBase as err:
            response = err.response
            if response is None:  # no answer at all: DNS, connection, timeout
                cause = type(err.__cause__).__name__ if err.__cause__ else type(err).__name__
                raise SourceError(
                    f"cannot reach Bluesky ({cause})",
                    hint="check your connection, then run the same command again",
                ) from None
            content = getattr(response, "content", None)
            code = str(getattr(content, "error", "") or "")
            message = str(getattr(content, "message", "") or "")
            raise Refused(getattr(response, "status_code", None), code, message) from None
        except ex.AtProtocolError as err:
            raise Refused(None, type(err).__name__, str(err)[:200]) from None

    def _query(self, client, nsid: str, params: dict):
        """One XRPC query with the lexicon's own Params model; the raw JSON (or CAR bytes) back, so one
        shape-checking parser serves live answers, recorded pages and exports alike."""
        from atproto import models

        model = getattr(models, "".join(part[:1].upper() + part[1:] for part in nsid.split(".")))
        return self._call(client.invoke_query, nsid, params=model.Params(**params)).content

    def resolve_handle(self, handle: str) -> str:
        body = self._query(self._appview, "com.atproto.identity.resolveHandle", {"handle": handle})
        return get(body, "did", str, Where(f"{self.appview}'s resolveHandle answer"), required=True)

    def pds_of(self, did: str) -> str | None:
        doc = self._call(self._resolver.did.resolve, did)
        return doc.get_pds_endpoint() if doc is not None else None

    def profile(self, did: str) -> dict:
        return self._query(self._appview, "app.bsky.actor.getProfile", {"actor": did})

    @property
    def has_login(self) -> bool:
        return self._login is not None

    def session_did(self, pds: str) -> str | None:
        """The DID of the session the login opens on ``pds`` (``createSession``); None without a login."""
        if self._login is None:
            return None
        from atproto import models

        data = models.ComAtprotoServerCreateSession.Data(identifier=self._login[0], password=self._login[1])
        try:
            body = self._call(
                self._pds_client(pds).invoke_procedure, "com.atproto.server.createSession", data=data
            ).content
        except Refused as err:
            raise SourceError(
                f"{_host(pds)} refused the login in {' and '.join(LOGIN_VARS)} ({err.code or err.status})",
                hint="create a new app password in Bluesky's Settings > Privacy and security, or use --archive",
            ) from None
        return get(body, "did", str, Where(f"{_host(pds)}'s createSession answer"), required=True)

    def latest_rev(self, pds: str, did: str) -> str | None:
        body = self._query(self._pds_client(pds), "com.atproto.sync.getLatestCommit", {"did": did})
        return get(body, "rev", str, Where(f"{pds}'s getLatestCommit answer"))

    def get_repo(self, pds: str, did: str) -> bytes:
        data = self._query(self._pds_client(pds), "com.atproto.sync.getRepo", {"did": did})
        if not isinstance(data, bytes):
            raise Refused(None, "NotACar", "getRepo answered with something other than a CAR file")
        return data

    def author_feed(self, did: str, cursor: str | None) -> dict:
        params = {"actor": did, "limit": PAGE_SIZE, "filter": "posts_with_replies"}
        if cursor:
            params["cursor"] = cursor
        return self._query(self._appview, "app.bsky.feed.getAuthorFeed", params)

    def download(self, url: str) -> tuple[bytes, str]:
        """An avatar: at most ``MAX_AVATAR_BYTES``, from (and redirected within) ``avatar_hosts``."""
        import httpx

        try:
            return download(
                url, hosts=self.avatar_hosts, max_bytes=self.avatar_max_bytes, timeout=self._timeout
            )
        except TooLarge as err:
            raise Refused(None, "AvatarRefused", str(err)) from None
        except httpx.HTTPError as err:
            raise Refused(None, "AvatarDownload", type(err).__name__) from None


def _reset_header(err) -> float | None:
    """The epoch second of ``ratelimit-reset``, read from the header itself: atproto's ``reset_at``
    fails on a reset past the year 9999 (``1e12``: ValueError: year 33658)."""
    import math

    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        reset = float(headers.get("ratelimit-reset", ""))
    except (TypeError, ValueError):
        return None
    return reset if math.isfinite(reset) else None


def default_client(handle: Handle | None = None) -> AtprotoClient:
    """The real client on the public AppView and PLC directory (the registry's factory)."""
    return AtprotoClient()


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def signals(profile: dict, did: str, where: Where) -> list[str]:
    """The opt-out signals of a profile as ``app.bsky.actor.getProfile`` returns it: the account's own
    ``!no-unauthenticated`` label (``src`` its DID) and the tags in its description."""
    found = []
    for i, label in enumerate(get(profile, "labels", list, where) or []):
        at = where.at(f"labels[{i}]")
        if get(label, "val", str, at) == NO_UNAUTHENTICATED and get(label, "src", str, at) in (did, None):
            signal = f"the {NO_UNAUTHENTICATED} self-label"
            if get(label, "neg", bool, at) is not True and signal not in found:
                found.append(signal)
    return found + bio_tags(get(profile, "description", str, where), "description")


def read_consent(handle: Handle, client: AtprotoClient, profile: dict | None = None) -> Consent:
    """The basis on which ``handle`` may be read (``OptedOut`` when its signals say no): the registry's
    consent hook. ``profile``: the getProfile answer when already read (its ``did`` names the account)."""
    if profile is None:
        did = handle.identifier
        if not did.startswith("did:"):
            did = client.resolve_handle(did)
        profile = client.profile(did)
    where = Where(f"{_host(client.appview)}'s profile of {handle.display}")
    did = get(profile, "did", str, where, required=True)
    owner = False
    if client.has_login:
        pds = client.pds_of(did)
        owner = bool(pds) and client.session_did(pds) == did
    ways = WAYS.format(login=" and ".join(LOGIN_VARS), who=handle.display)
    return decide(handle.display, signals(profile, did, where), owner=owner, ways=ways)


def fetch_account(
    handle: Handle,
    *,
    client: AtprotoClient | None = None,
    max_posts: int | None = None,
    cache_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    max_pages: int | None = None,
) -> tuple[UserInfo, list[Post]]:
    client = client or default_client(handle)
    call = caller(livecache.Waiter("Bluesky", handle.display, echo=echo, sleep=sleep, clock=clock))
    appview = _host(client.appview)

    def gone(err: Refused, where: str) -> SourceError:
        detail = f"{err.code}: {err.message}" if err.message else err.code or f"HTTP {err.status}"
        return SourceError(
            f"{handle.display} is deleted, deactivated or taken down ({where} answered {detail})",
            hint="check the handle on bsky.app, or use the account's own repository export (.car) with --archive",
        )

    if handle.identifier.startswith("did:"):
        did = handle.identifier
    else:
        try:
            did = call(client.resolve_handle, handle.identifier)
        except Refused as err:
            raise SourceError(
                f"{handle.display} does not resolve to a Bluesky account ({appview} answered "
                f"{err.code or err.status}: {err.message or 'no DID'})",
                hint="check the spelling; a custom-domain handle needs its _atproto DNS record, or give the DID (did:plc:...)",
            ) from None
    try:
        profile = call(client.profile, did)
    except Refused as err:
        if err.status in (400, 404) or err.code in _GONE:
            raise gone(err, appview) from None
        raise SourceError(
            f"{appview} failed to give the profile of {handle.display} ({err})", hint="try again later"
        ) from None
    where = Where(f"{appview}'s profile of {handle.display}")
    current = get(profile, "handle", str, where)
    if handle.identifier.startswith("did:") and current and current != "handle.invalid":
        try:
            handle = parse_handle("bsky:" + current)
        except SourceError:
            pass
    # Its own word first: nothing of an account that says no is read or cached.
    consent = read_consent(handle, client, {**profile, "did": did})
    path = (cache_dir or livecache.cache_root("bluesky")) / f"{did.replace(':', '-')}.json"
    state = livecache.load(path)
    posts, instance, detail = None, appview, f"{appview}'s public API"
    try:
        pds = call(client.pds_of, did)
    except Refused:
        pds = None
    if pds:
        try:
            rev = call(client.latest_rev, pds, did)
            if not (rev and state["complete"] and state["since"] == rev and state.get("mode") == "repo"):
                _, _, fresh = read_car_bytes(
                    call(client.get_repo, pds, did), f"the repository of {handle.display}", SOURCE
                )
                state.update(posts=[p.to_dict() for p in fresh], since=rev, complete=True, mode="repo")
                livecache.save(path, state)
            posts = [Post(**p) for p in state["posts"]]
            instance, detail = _host(pds), f"{_host(pds)}'s repository export (com.atproto.sync.getRepo)"
        except Refused as err:
            if err.code in _GONE:
                raise gone(err, _host(pds)) from None
            echo(
                f"{_host(pds)} does not serve the repository of {handle.display} ({err.code or err.status}); "
                f"reading its public feed from {appview} instead."
            )
    if posts is None:
        posts = _read_feed(client, call, did, handle, state, path, max_posts, gone, echo, max_pages)
    posts = keep_newest(posts, max_posts, who=handle.display, where="Bluesky")
    avatar_url = get(profile, "avatar", str, where)
    avatar_bytes, ext = None, ".jpg"
    if avatar_url:
        try:
            avatar_bytes, kind = client.download(avatar_url)
            ext = _AVATAR_TYPES.get(kind.split(";")[0].strip(), ".jpg")
        except Refused as err:
            why = f" ({err.message})" if err.code == "AvatarRefused" else ""
            echo(f"could not download the avatar of {handle.display}{why}; the card uses a placeholder.")
    return (
        UserInfo(
            handle=handle.key,
            name=get(profile, "displayName", str, where) or handle.identifier,
            source=SOURCE,
            source_detail=detail,
            avatar_url=avatar_url,
            avatar_bytes=avatar_bytes,
            avatar_ext=ext,
            network="bluesky",
            instance=instance,
            display=handle.display,
            live_since=state.get("since"),
            fetched_on=today_utc(),
            consent=consent.to_dict(),
        ),
        posts,
    )


def _read_feed(client, call, did, handle, state, path, max_posts, gone, echo, max_pages) -> list[Post]:
    """Page getAuthorFeed until a known post, the end, or ``max_posts``; merge into the cache."""
    # A cache cut short by --max-posts lacks older posts: read everything again (reads are free).
    known = {p["id"] for p in state["posts"]} if state.get("mode") == "feed" and state["complete"] else set()
    if not known:
        state.update(posts=[], complete=False)
    label = f"{_host(client.appview)}'s feed of {handle.display}"

    def read_page(cursor):
        try:
            body = call(client.author_feed, did, cursor)
        except Refused as err:
            if err.status == 400 or err.code in _GONE:
                raise gone(err, _host(client.appview)) from None
            raise SourceError(
                f"{_host(client.appview)} failed to give the posts of {handle.display} ({err})",
                hint="try again later",
            ) from None
        page = posts_from_feed(get(body, "feed", list, Where(label), required=True), did, SOURCE, label)
        return page, get(body, "cursor", str, Where(label))

    pages = Pages(
        read_page,
        lambda p: p.id,
        service=_host(client.appview),
        who=handle.display,
        echo=echo,
        max_posts=max_posts,
        **({"max_pages": max_pages} if max_pages else {}),
    )
    fresh: list[Post] = []
    seen_known = False
    for page in pages:
        new = [p for p in page if p.id not in known]
        fresh.extend(new)
        if len(new) < len(page):
            seen_known = True
            break
    livecache.merge(state, [p.to_dict() for p in fresh], newest_first_key=lambda p: p["created_at"] or "")
    state["complete"] = state["complete"] or seen_known or pages.complete
    state["mode"] = "feed"
    state["since"] = state["posts"][0]["id"] if state["posts"] else None
    livecache.save(path, state)
    return [Post(**p) for p in state["posts"]]
