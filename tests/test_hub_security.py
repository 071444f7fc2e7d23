"""The local Hub against hostile requests: path traversal, LFS rights, odd request targets, crashes."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from huggingtweets.hub.server import HubServer

ALICE = "hf_test_alice_write"
BOB = "hf_test_bob_write"
TOKENS = [f"{ALICE}:alice:huggingtweets", f"{BOB}:bob"]
JSON = {"Content-Type": "application/json"}
OID = hashlib.sha256(b"payload").hexdigest()


def _conn(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def _request(conn, method, path, body=None, token=ALICE, headers=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp, resp.read()


def _batch(operation: str = "upload") -> str:
    return json.dumps({"operation": operation, "objects": [{"oid": OID, "size": 7}]})


def _outside(root: Path, data: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and data not in p.parents
    }


@pytest.fixture
def server(tmp_path):
    with HubServer(tmp_path / "d", tokens=TOKENS, lfs_threshold=1) as srv:
        conn = _conn(srv.url)
        for token, name, private in ((ALICE, "pub", False), (ALICE, "priv", True), (BOB, "secret", True)):
            body = json.dumps({"name": name, "private": private})
            resp, raw = _request(conn, "POST", "/api/repos/create", body, token, JSON)
            assert resp.status == 200, raw
        conn.close()
        yield srv


TRAVERSALS = [
    # (method, path, body): each names a repo or file outside what the URL's namespace allows
    ("POST", "/../..%2F..%2Fvictim.git/info/lfs/objects/batch", _batch()),
    ("POST", "/alice/..%2F..%2F..%2F..%2Fvictim.git/info/lfs/objects/batch", _batch()),
    ("POST", "/datasets/..%2F..%2F..%2Fvictim.git/info/lfs/objects/batch", _batch()),
    ("POST", "/alice/..%2Fbob%2Fsecret.git/info/lfs/objects/batch", _batch()),
    ("POST", "/alice/..%2Fbob%2Fsecret.git/info/lfs/objects/batch", _batch("download")),
    ("PUT", f"/lfs-upload/models/..%2F..%2F..%2Fvictim/x/{OID}?size=7&sig=0", b"payload"),
    ("PUT", "/lfs-upload/models/alice/pub/..%2F..%2F..%2Fvictim?size=7&sig=0", b"payload"),
    ("POST", "/lfs-verify/models/alice/..%2Fbob%2Fsecret", json.dumps({"oid": OID, "size": 7})),
    ("GET", "/alice/..%2Fbob%2Fsecret/resolve/main/.gitattributes", None),
    ("GET", "/alice/pub/resolve/main/..%2F..%2F.gitattributes", None),
    ("GET", "/alice/pub/resolve/main/sub/..%2F.gitattributes", None),
    ("GET", "/api/models/alice/..%2Fbob%2Fsecret", None),
    ("GET", "/api/models/alice/..%2Fbob%2Fsecret/tree/main", None),
    ("GET", "/api/models/alice/pub/tree/main/..%2F..", None),
    ("POST", "/api/models/alice/..%2Fbob%2Fsecret/paths-info/main", "paths=.gitattributes"),
    ("POST", "/api/models/alice/pub/paths-info/..%2Fmain", "paths=.gitattributes"),
]


def test_traversal_payloads_are_refused_and_write_nothing_outside(server, tmp_path):
    # A repo record outside the data folder: the target a traversal would find and serve.
    victim = {"id": "x/victim", "type": "model", "private": False, "refs": {}, "discussions": []}
    (tmp_path / "victim.json").write_text(json.dumps(victim))
    before = _outside(tmp_path, tmp_path / "d")
    conn = _conn(server.url)
    for method, path, body in TRAVERSALS:
        resp, raw = _request(conn, method, path, body, ALICE, JSON)
        assert 400 <= resp.status < 500, (method, path, resp.status, raw)
        reply = json.loads(raw)
        assert isinstance(reply["error"], str) and "actions" not in raw.decode()
        assert b"secret" not in raw or b"Not Found" in raw
    assert _outside(tmp_path, tmp_path / "d") == before
    # bob's private repo is reached through its own name only
    resp, raw = _request(conn, "GET", "/api/models/bob/secret", token=ALICE)
    assert resp.status == 404
    resp, raw = _request(conn, "GET", "/api/models/bob/secret", token=BOB)
    assert resp.status == 200 and json.loads(raw)["id"] == "bob/secret"


@pytest.mark.parametrize(
    ("token", "repo", "operation", "expected"),
    [
        (ALICE, "alice/pub", "upload", 200),
        (BOB, "alice/pub", "upload", 403),  # a token is not enough: write rights on the repo
        (None, "alice/pub", "upload", 401),
        (BOB, "alice/priv", "upload", 404),  # private: not even its existence shows
        (None, "alice/priv", "download", 404),
        (BOB, "alice/priv", "download", 404),
        (None, "alice/pub", "download", 400),  # readable, but downloads go through /resolve/
        (ALICE, "alice/priv", "download", 400),
    ],
)
def test_lfs_batch_rights(server, token, repo, operation, expected):
    conn = _conn(server.url)
    resp, raw = _request(conn, "POST", f"/{repo}.git/info/lfs/objects/batch", _batch(operation), token, JSON)
    assert resp.status == expected, raw
    reply = json.loads(raw)
    if expected == 200:
        actions = reply["objects"][0]["actions"]
        assert urlsplit(actions["upload"]["href"]).path == f"/lfs-upload/models/{repo}/{OID}"
    else:
        assert isinstance(reply["error"], str) and "objects" not in reply


def test_non_path_request_target_is_400_and_connection_survives(server):
    conn = _conn(server.url)
    resp, raw = _request(conn, "GET", "*")
    assert resp.status == 400 and "'/'" in json.loads(raw)["error"]
    assert not resp.will_close
    sock = conn.sock
    resp, raw = _request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"
    assert conn.sock is sock  # same connection, kept alive
    # absolute-form targets route by their path
    host = urlsplit(server.url).netloc
    resp, raw = _request(conn, "GET", f"http://{host}/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"


def _crash(*_args, **_kwargs):
    raise RuntimeError("kaboom-internal-detail")


@pytest.mark.parametrize("where", ["handler", "token lookup"])
def test_unexpected_exception_is_json_500_without_traceback(server, monkeypatch, caplog, where):
    from huggingtweets.hub import api

    if where == "handler":
        monkeypatch.setattr(api, "whoami", _crash)
    else:
        monkeypatch.setattr(server.tokens, "lookup", _crash)
    conn = _conn(server.url)
    with caplog.at_level(logging.ERROR, logger="huggingtweets.hub"):
        resp, raw = _request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 500
    assert resp.headers["Content-Type"].startswith("application/json")
    assert isinstance(json.loads(raw)["error"], str)
    assert b"Traceback" not in raw and b"kaboom" not in raw
    assert any(r.exc_info and "kaboom" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    resp, raw = _request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"
