"""HTTP layer of the local Hub: ``HubServer``, request parsing, replies, routing.

Stack: the standard library's ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive. It adds no
dependency, starts in milliseconds on port 0 inside a test process, and a thread per connection
is plenty for a local Hub (a few clients, a handful of connections each). Large bodies are
streamed to and from disk in 1 MB chunks, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

try:
    import fcntl
except ImportError:  # Windows: no advisory lock, one server per folder is then the user's care
    fcntl = None

from huggingtweets.errors import HubError
from huggingtweets.hub.auth import TokenTable
from huggingtweets.hub.messages import HttpError, Request, Response
from huggingtweets.hub.storage import CHUNK, Storage, StorageError

log = logging.getLogger("huggingtweets.hub")


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` can end keep-alive ones and join every thread."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_guard = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_guard:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_guard:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.sockets_guard:
            open_now = list(self.open_sockets)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "huggingtweets-hub"
    # Small JSON replies otherwise wait ~40 ms for the client's delayed ACK (Nagle).
    disable_nagle_algorithm = True
    hub: HubServer  # set on the subclass made per server

    # A client that connects and then stalls must not hold a thread forever.
    timeout = 300

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (bad request line, unknown method, huge headers) as JSON, like ours."""
        body = json.dumps({"error": message or HTTPStatus(code).phrase}).encode()
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass
        log.info("bad request from %s: %d %s", self.address_string(), code, message or "")

    def _dispatch(self) -> None:
        started = time.monotonic()
        # Not urlsplit: a path starting with "//" would be taken for a host name.
        raw_path, _, raw_query = self.path.partition("?")
        raw_path = raw_path.partition("#")[0]
        if raw_path[:8].lower().startswith(("http://", "https://")):
            # absolute-form target (RFC 9112 3.2.2): only the path part routes
            raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
        req: Request | None = None
        principal = None
        try:
            req, presented = self._request(raw_path, raw_query)
            principal = req.principal
            if req._broken:
                raise HttpError(
                    400, f"invalid Content-Length header {self.headers.get('Content-Length')[:40]!r}"
                )
            if presented and principal is None:
                raise HttpError(401, "Invalid credentials in Authorization header")
            from huggingtweets.hub.routes import route

            resp = route(req)
        except HttpError as err:
            resp = _error(err.status, err.message, err.code, err.headers)
        except StorageError as err:
            resp = _error(err.status, str(err), err.code)
        except (ConnectionError, TimeoutError) as err:
            log.info("%s %s: client gone (%s)", self.command, raw_path[:200], err)
            self.close_connection = True
            return
        except Exception:
            # The traceback goes to the server's log only; the client gets one JSON line.
            log.exception("%s %s failed", self.command, raw_path[:200])
            resp = _error(500, "internal error in the local Hub (see its log)")
        if req is None or not req.drain():
            self.close_connection = True
        try:
            self._send(resp)
        except OSError:
            self.close_connection = True
        except Exception:
            log.exception("%s %s: reply failed", self.command, raw_path[:200])
            self.close_connection = True
        who = principal.user if principal else "-"
        # Tokens are never logged: only the user they map to.
        log.info(
            "%s %s %d %s %.0fms",
            self.command,
            raw_path[:200],
            resp.status,
            who,
            (time.monotonic() - started) * 1000,
        )

    def _request(self, raw_path: str, raw_query: str) -> tuple[Request, bool]:
        """The parsed request and whether a token was presented at all."""
        # Each segment is unquoted after the split, so one may hold "/" ("%2F"): every route
        # checks names and paths itself (repos.split_repo, repos.check_path).
        # A target that is not a path ("*") gives no segments: the router answers 400.
        segments = [unquote(s) for s in raw_path.split("/")[1:]] if raw_path.startswith("/") else []
        length = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        principal, presented = self.hub.tokens.lookup(self.headers.get("Authorization"))
        req = Request(
            method=self.command,
            segments=segments,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers=self.headers,
            principal=principal,
            hub=self.hub,
            handler=self,
            _remaining=None if chunked else int(length) if (length or "").isdigit() else 0,
            _chunked=chunked,
            _broken=length is not None and not length.isdigit() and not chunked,
        )
        return req, presented

    def _send(self, resp: Response) -> None:
        fh = None
        if resp.file is not None:
            # Opened before any header goes out: a lost blob can still be answered as a JSON 500.
            try:
                fh = open(resp.file, "rb")
            except OSError as err:
                log.error("cannot read %s: %s", resp.file, err)
                resp = _error(500, "the local Hub cannot read a stored file (see its log)")
        try:
            self._send_open(resp, fh)
        finally:
            if fh is not None:
                fh.close()

    def _send_open(self, resp: Response, fh: Any) -> None:
        headers = dict(resp.headers)
        if fh is not None:
            length = resp.end - resp.start
        else:
            if resp.body is None:
                payload = b""
            elif isinstance(resp.body, bytes):
                payload = resp.body
            else:
                payload = json.dumps(resp.body).encode()
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            length = len(payload)
        headers.setdefault("Content-Length", str(length))
        if self.close_connection:
            headers["Connection"] = "close"
        self.send_response(resp.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if fh is None:
            self.wfile.write(payload)
            return
        fh.seek(resp.start)
        left = length
        while left > 0:
            data = fh.read(min(left, CHUNK))
            if not data:
                # The file shrank under us: the promised length cannot be kept, end the connection.
                self.close_connection = True
                break
            self.wfile.write(data)
            left -= len(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch


def _error(status: int, message: str, code: str | None = None, extra: dict | None = None) -> Response:
    headers = {"X-Error-Message": message.splitlines()[0][:500].encode("ascii", "replace").decode()}
    if code:
        headers["X-Error-Code"] = code
    headers.update(extra or {})
    return Response(status, {"error": message}, headers)


class HubServer:
    """A local Hugging Face Hub on ``host:port`` (port 0 picks a free one), data in ``data_dir``.

    ``tokens``: ``"TOKEN:USER[:ORG,...]"`` specs. ``lfs_threshold``: files of at least this many
    bytes are answered ``lfs`` at preupload (only for clients with ``HF_HUB_DISABLE_XET=1``: a
    client at its defaults would pick Xet, which this server does not speak); None (default) answers
    ``regular`` for every file, which every client can do. ``page_size``: items per listing page.
    """

    def __init__(
        self,
        data_dir: Path | str,
        tokens: list[str] | tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lfs_threshold: int | None = None,
        page_size: int = 1000,
    ) -> None:
        try:
            self.storage = Storage(data_dir)
        except OSError as err:
            raise HubError(
                f"cannot use {data_dir} as the local Hub's data folder: {err.strerror or err}",
                hint="pass a writable --data-dir",
            ) from None
        self.tokens = TokenTable(list(tokens))
        self.host = host
        self.port = port
        self.lfs_threshold = lfs_threshold
        self.page_size = page_size
        # Requests that matched no route, newest last: what a client needs that this server lacks.
        self.unknown_routes: deque[str] = deque(maxlen=100)
        # Signs LFS upload URLs (the client PUTs to them without its token).
        self.secret = secrets.token_bytes(32)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock_fh: Any = None
        self.url = ""

    def _lock_data_dir(self) -> None:
        """One server per data folder: a second one would break the per-repo commit lock."""
        if fcntl is None or self._lock_fh is not None:
            return
        fh = open(self.storage.root / ".lock", "a+b")  # held until stop()
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise HubError(
                f"the data folder {self.storage.root} is already served by another local Hub process",
                hint="stop that server or pass another --data-dir",
            ) from None
        self._lock_fh = fh
        self.storage.remove_stale_uploads()

    def _unlock_data_dir(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()  # closing the file releases the flock
            self._lock_fh = None

    def _make_httpd(self) -> _HTTPServer:
        handler = type("HubHandler", (_Handler,), {"hub": self})
        self._lock_data_dir()
        try:
            httpd = _HTTPServer((self.host, self.port), handler)
        except OSError as err:
            self._unlock_data_dir()
            raise HubError(
                f"cannot listen on {self.host}:{self.port}: {err.strerror or err}",
                hint="pass another --port, or --port 0 for a free one",
            ) from None
        host, port = httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        self.url = f"http://{shown}:{port}"
        return httpd

    def start(self) -> HubServer:
        """Serve in a background thread; returns self (``.url`` is set)."""
        self._httpd = self._make_httpd()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="hub-server", daemon=True
        )
        self._thread.start()
        log.info("local Hub serving %s", self.url)
        return self

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in this thread until ``stop()`` or KeyboardInterrupt (the CLI's mode)."""
        self._httpd = self._make_httpd()
        if on_ready:
            on_ready(self.url)
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
            self._unlock_data_dir()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        # Keep-alive connections would hold their threads forever: end them, then join all.
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = self._thread = None
        self._unlock_data_dir()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
