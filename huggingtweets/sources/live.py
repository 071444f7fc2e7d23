"""The skeleton the free live sources (Mastodon, Bluesky) share: pages read through the rate-limit
waiter and bounded, the cut to ``--max-posts``, the "no posts" error, and the byte caps on what a
service may send.

A live service decides how long a fetch runs: it may repeat the same page and cursor forever, or
answer 429 with a reset in the year 9999. ``Pages`` stops on a repeated cursor, on a page that holds
no id not seen before, and at ``MAX_PAGES``; ``livecache.Waiter`` waits out a reset up to
``livecache.MAX_WAIT_S`` and otherwise ends with one line naming the reset time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from huggingtweets.errors import SourceError
from huggingtweets.sources.livecache import Waiter
from huggingtweets.sources.record import Post

# Pages one fetch reads at most: 40 statuses a page on Mastodon (200,000 statuses), 100 posts a page
# on Bluesky's feed (500,000). The largest real accounts hold about 150,000 posts.
MAX_PAGES = 5000
MAX_PAGE_BYTES = 8 << 20  # one page of statuses or posts; a real one of 40-100 posts is under 1 MB
MAX_REPO_BYTES = 512 << 20  # a whole repository (getRepo); the largest real ones are a few hundred MB
MAX_AVATAR_BYTES = 5 << 20  # Mastodon and Bluesky resize avatars to well under 2 MB
MAX_REDIRECTS = 3

LIMITS_HELP = (
    f"Without it, live Mastodon and Bluesky reads stop at {MAX_PAGES:,} pages (200,000 Mastodon "
    "statuses, 500,000 Bluesky posts) or when the service repeats a page."
)


class RateLimited(Exception):
    """A 429; ``reset_at`` is the epoch second the service names (None: it names none)."""

    def __init__(self, reset_at: float | None) -> None:
        super().__init__(f"rate limited until {reset_at}")
        self.reset_at = reset_at


class TooLarge(Exception):
    """A service sent more bytes than a page or an avatar may hold, or pointed off the service."""


def caller(waiter: Waiter) -> Callable[..., Any]:
    """``call(fn, *args)``: ``fn(*args)``, waiting out each ``RateLimited`` with ``waiter``."""

    def call(fn: Callable, *args, **kwargs):
        while True:
            try:
                return fn(*args, **kwargs)
            except RateLimited as err:
                waiter.wait(err.reset_at)

    return call


class Pages:
    """The pages of a timeline, newest first, each cut to the items not seen before.

    ``read_page(cursor)`` returns ``(items, next cursor or None)``. Iteration ends when the service
    has no more (``complete``), at ``max_posts``, or when the service misbehaves: a cursor it gave
    before, a page with nothing new, ``max_pages`` pages (``stopped`` says which, and a line is echoed).
    """

    def __init__(
        self,
        read_page: Callable[[Any], tuple[list, Any]],
        id_of: Callable[[Any], str],
        *,
        service: str,
        who: str,
        echo: Callable[[str], None],
        max_posts: int | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.read_page, self.id_of = read_page, id_of
        self.service, self.who, self.echo = service, who, echo
        self.max_posts, self.max_pages = max_posts, max_pages
        self.complete = False
        self.stopped: str | None = None
        self.read = 0

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.echo(
            f"{self.service} {why} while reading {self.who}: stopped after {self.read:,} posts "
            f"(run fetch again later for the rest)."
        )

    def __iter__(self) -> Iterator[list]:
        seen: set[str] = set()
        cursors: set[Any] = set()
        cursor = None
        for _ in range(self.max_pages):
            page, next_cursor = self.read_page(cursor)
            if not page:
                self.complete = True
                return
            new = [item for item in page if self.id_of(item) not in seen]
            if not new:
                self._stop("sent a page of posts it had sent before")
                return
            seen.update(self.id_of(item) for item in new)
            self.read += len(new)
            yield new
            if next_cursor is None:
                self.complete = True
                return
            if self.max_posts and self.read >= self.max_posts:
                return
            if next_cursor == cursor or next_cursor in cursors:
                self._stop(f"gave a page cursor it had given before ({str(next_cursor)[:40]})")
                return
            cursors.add(next_cursor)
            cursor = next_cursor
        self._stop(f"still had more after {self.max_pages:,} pages (the ceiling of one fetch)")


def keep_newest(posts: list[Post], max_posts: int | None, *, who: str, where: str) -> list[Post]:
    """``posts`` (newest first) cut to ``max_posts``; a SourceError when there are none."""
    if max_posts:
        posts = posts[:max_posts]
    if not posts:
        raise SourceError(
            f"{who} has no public posts on {where}", hint="expected an account that has posted publicly"
        )
    return posts


def same_service(url: str, hosts: set[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and (parts.hostname or "").lower() in hosts


def download(url: str, *, hosts: set[str], max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """The bytes and content type at ``url``, following redirects only to ``hosts``, at most
    ``max_bytes`` (``TooLarge`` otherwise, without reading the rest)."""
    import httpx

    for _ in range(MAX_REDIRECTS + 1):
        if not same_service(url, hosts):
            raise TooLarge(f"{urlsplit(url).hostname or url} is not one of {', '.join(sorted(hosts))}")
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.is_redirect:
                url = str(response.url.join(response.headers.get("location", "")))
                continue
            response.raise_for_status()
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"{int(declared):,} bytes, more than {max_bytes:,}")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise TooLarge(f"more than {max_bytes:,} bytes")
            return bytes(data), response.headers.get("content-type", "")
    raise TooLarge(f"more than {MAX_REDIRECTS} redirects")


def capped_session(hosts: set[str], max_bytes: int = MAX_PAGE_BYTES):
    """A ``requests`` session (Mastodon.py's transport) that reads at most ``max_bytes`` of an answer
    and follows redirects only to ``hosts``; ``TooLarge`` otherwise."""
    import requests

    def check(response, *args, **kwargs):
        if response.is_redirect:
            target = requests.compat.urljoin(response.url, response.headers.get("location", ""))
            if not same_service(target, hosts):
                response.close()
                raise TooLarge(f"a redirect to {urlsplit(target).hostname or target}, off the service")
            return response
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            response.close()
            raise TooLarge(f"an answer of {int(declared):,} bytes, more than {max_bytes:,}")
        data = bytearray()
        for chunk in response.raw.stream(1 << 16, decode_content=True):
            data += chunk
            if len(data) > max_bytes:
                response.close()
                raise TooLarge(f"an answer of more than {max_bytes:,} bytes")
        response._content = bytes(data)  # read here, capped, instead of whole by requests
        response._content_consumed = True
        return response

    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    session.hooks["response"].append(check)
    return session


def capped_transport(hosts: set[str], max_bytes: int):
    """An ``httpx`` transport (atproto's) that reads at most ``max_bytes`` of an answer and refuses a
    redirect off ``hosts``; ``TooLarge`` otherwise."""
    import httpx

    class Capped(httpx.SyncByteStream):
        def __init__(self, stream) -> None:
            self.stream, self.read = stream, 0

        def __iter__(self):
            for chunk in self.stream:
                self.read += len(chunk)
                if self.read > max_bytes:
                    raise TooLarge(f"an answer of more than {max_bytes:,} bytes")
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Transport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            location = response.headers.get("location")
            if response.status_code in (301, 302, 303, 307, 308) and location:
                target = str(request.url.join(location))
                if not same_service(target, hosts):
                    response.close()
                    raise TooLarge(f"a redirect to {urlsplit(target).hostname or target}, off the service")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                response.close()
                raise TooLarge(f"an answer of {int(declared):,} bytes, more than {max_bytes:,}")
            response.stream = Capped(response.stream)
            return response

    return Transport()
