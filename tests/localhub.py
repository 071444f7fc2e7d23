"""The local Hub for tests, written once: its tokens, a server factory, and raw HTTP requests to it.

``conftest.hub``, the web app's harness and the Hub's own tests build their servers here; tests
that speak HTTP below the client (hostile requests, half-sent bodies) use ``connect``/``request``.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

ALICE_TOKEN = "hf_test_alice_write"  # user alice, member of org huggingtweets
BOB_TOKEN = "hf_test_bob_write"  # user bob
TOKENS = [f"{ALICE_TOKEN}:alice:huggingtweets", f"{BOB_TOKEN}:bob"]
JSON = {"Content-Type": "application/json"}


def hub_server(data_dir: Path, **options):
    """A HubServer for alice and bob on a free loopback port (not started)."""
    from huggingtweets.hub.server import HubServer

    return HubServer(data_dir=data_dir, tokens=TOKENS, host="127.0.0.1", port=0, **options)


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def request(conn, method, path, body=None, headers=None, *, token=ALICE_TOKEN):
    """One request on ``conn`` (kept open); returns ``(response, body bytes)``."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp, resp.read()
