"""A local HTTP server for the live-source tests: the real Mastodon.py and atproto clients talk to it
through their base-URL settings, so no test touches the network.

``LocalServer(app)`` serves ``app(method, path, query) -> (status, headers, body)`` on 127.0.0.1 (port
0) in a thread; ``requests`` lists what was asked as (path, query dict) pairs. A POST (an XRPC
procedure such as ``createSession``) reaches the app as ``("POST", path, its JSON body)``; the
``Authorization`` header of each request is in ``auth`` (None when it sent none), in the same order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

App = Callable[[str, str, dict], tuple[int, dict, bytes]]


def json_reply(body: object, status: int = 200, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return (
        status,
        {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        json.dumps(body).encode(),
    )


class LocalServer:
    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[tuple[str, dict]] = []
        self.auth: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                self._answer("GET", parts.path, query)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("latin-1")}
                self._answer("POST", urlsplit(self.path).path, body)

            def _answer(self, method: str, path: str, query: dict) -> None:
                server.requests.append((path, query))
                server.auth.append(self.headers.get("Authorization"))
                status, headers, body = server.app(method, path, query)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll: shutdown() waits for the loop to notice, up to one interval (0.5 s by default).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]
