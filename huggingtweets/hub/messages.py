"""What the HTTP layer hands to endpoints and gets back: ``Request``, ``Response``, ``HttpError``."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol

from huggingtweets.hub.auth import Principal
from huggingtweets.hub.storage import CHUNK, Storage


class Hub(Protocol):
    """What a request's handlers read of the server (``hub.server.HubServer`` is one): declared here so
    this module, which the server imports, never imports it back."""

    storage: Storage
    url: str
    lfs_threshold: int | None
    page_size: int
    secret: bytes
    unknown_routes: deque[str]


# Bodies parsed in memory (JSON, forms); commits and LFS uploads are streamed instead.
MAX_JSON_BODY = 64 * 1024 * 1024
# An unread body larger than this is not drained after an early error: the connection closes.
MAX_DRAIN = 4 * 1024 * 1024


class HttpError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able value, bytes, or None
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None  # stream this file's bytes [start, end) instead of ``body``
    start: int = 0
    end: int = 0


@dataclass
class Request:
    method: str
    segments: list[str]  # URL path split on "/" then each part unquoted
    query: dict[str, list[str]]
    headers: Any
    principal: Principal | None
    hub: Hub
    handler: BaseHTTPRequestHandler
    _remaining: int | None = 0
    _chunked: bool = False
    _done: bool = False
    _broken: bool = False  # the body cannot be parsed: the connection must close after the reply

    @property
    def base_url(self) -> str:
        """The URL this client reached us by (Host header), for links and upload hrefs.

        Bound to 0.0.0.0, ``hub.url`` would name an address a remote client cannot use.
        """
        host = self.headers.get("Host")
        if host and all(c.isalnum() or c in ".-:[]_" for c in host):
            return f"http://{host}"
        return self.hub.url

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() in {"1", "true", "yes"}

    def body_chunks(self) -> Iterator[bytes]:
        """The request body in chunks of at most 1 MB (Content-Length or chunked encoding)."""
        rfile = self.handler.rfile
        if self._chunked:
            while not self._done:
                line = rfile.readline(1024)
                if not line:
                    raise ConnectionError("client closed the connection mid-body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self._broken = True
                    raise HttpError(400, "malformed chunked request body") from None
                if size == 0:
                    while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    return
                while size:
                    data = rfile.read(min(size, CHUNK))
                    if not data:
                        raise ConnectionError("client closed the connection mid-body")
                    size -= len(data)
                    yield data
                rfile.readline(1024)
            return
        while self._remaining:
            data = rfile.read(min(self._remaining, CHUNK))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            self._remaining -= len(data)
            yield data
        self._done = True

    def read_body(self, limit: int = MAX_JSON_BODY) -> bytes:
        if self._remaining is not None and self._remaining > limit:
            raise HttpError(413, f"request body over {limit} bytes")
        parts, total = [], 0
        for chunk in self.body_chunks():
            total += len(chunk)
            if total > limit:
                raise HttpError(413, f"request body over {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def json(self) -> Any:
        raw = self.read_body()
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as err:
            raise HttpError(400, f"request body is not valid JSON: {err}") from None

    def drain(self) -> bool:
        """Read what is left of the body (keep-alive needs it). False when too much is left."""
        if self._done:
            return True
        if self._broken:
            return False
        if self._remaining is not None and not self._chunked and self._remaining > MAX_DRAIN:
            return False
        try:
            total = 0
            for chunk in self.body_chunks():
                total += len(chunk)
                if total > MAX_DRAIN:
                    return False
        except (ConnectionError, ValueError, OSError, HttpError):
            return False
        return True
