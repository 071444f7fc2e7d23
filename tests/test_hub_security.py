"""The local Hub against hostile requests: path traversal, LFS rights, odd request targets, crashes."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localhub import ALICE_TOKEN as ALICE
from localhub import BOB_TOKEN as BOB
from localhub import JSON, connect, hub_server, request

OID = hashlib.sha256(b"payload").hexdigest()


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
    with hub_server(tmp_path / "d", lfs_threshold=1) as srv:
        conn = connect(srv.url)
        for token, name, private in ((ALICE, "pub", False), (ALICE, "priv", True), (BOB, "secret", True)):
            body = json.dumps({"name": name, "private": private})
            resp, raw = request(conn, "POST", "/api/repos/create", body, JSON, token=token)
            assert resp.status == 200, raw
        conn.close()
        yield srv


REPO_NOT_FOUND = (404, "RepoNotFound", "Repository Not Found: expected <namespace>/<name> in the URL")
BAD_PATH = "invalid path in repo: {!r} (relative, '/'-separated, no '..', empty parts or '\\')"
TRAVERSALS = [
    # (method, path, body, (status, X-Error-Code, error)): each names a repo or file outside what the
    # URL's namespace allows, and gets exactly this refusal.
    ("POST", "/../..%2F..%2Fvictim.git/info/lfs/objects/batch", _batch(), REPO_NOT_FOUND),
    ("POST", "/alice/..%2F..%2F..%2F..%2Fvictim.git/info/lfs/objects/batch", _batch(), REPO_NOT_FOUND),
    (
        "POST",
        "/datasets/..%2F..%2F..%2Fvictim.git/info/lfs/objects/batch",
        _batch(),
        (404, None, "no such endpoint: POST /datasets/../../../victim.git/info/lfs/objects/batch"),
    ),
    ("POST", "/alice/..%2Fbob%2Fsecret.git/info/lfs/objects/batch", _batch(), REPO_NOT_FOUND),
    ("POST", "/alice/..%2Fbob%2Fsecret.git/info/lfs/objects/batch", _batch("download"), REPO_NOT_FOUND),
    ("PUT", f"/lfs-upload/models/..%2F..%2F..%2Fvictim/x/{OID}?size=7&sig=0", b"payload", REPO_NOT_FOUND),
    (
        "PUT",
        "/lfs-upload/models/alice/pub/..%2F..%2F..%2Fvictim?size=7&sig=0",
        b"payload",
        (400, None, "LFS object id '../../../victim' is not a sha256 hex digest"),
    ),
    (
        "POST",
        "/lfs-verify/models/alice/..%2Fbob%2Fsecret",
        json.dumps({"oid": OID, "size": 7}),
        REPO_NOT_FOUND,
    ),
    ("GET", "/alice/..%2Fbob%2Fsecret/resolve/main/.gitattributes", None, REPO_NOT_FOUND),
    (
        "GET",
        "/alice/pub/resolve/main/..%2F..%2F.gitattributes",
        None,
        (400, None, BAD_PATH.format("../../.gitattributes")),
    ),
    (
        "GET",
        "/alice/pub/resolve/main/sub/..%2F.gitattributes",
        None,
        (400, None, BAD_PATH.format("sub/../.gitattributes")),
    ),
    ("GET", "/api/models/alice/..%2Fbob%2Fsecret", None, REPO_NOT_FOUND),
    ("GET", "/api/models/alice/..%2Fbob%2Fsecret/tree/main", None, REPO_NOT_FOUND),
    ("GET", "/api/models/alice/pub/tree/main/..%2F..", None, (400, None, BAD_PATH.format("../.."))),
    ("POST", "/api/models/alice/..%2Fbob%2Fsecret/paths-info/main", "paths=.gitattributes", REPO_NOT_FOUND),
    (
        "POST",
        "/api/models/alice/pub/paths-info/..%2Fmain",
        "paths=.gitattributes",
        (404, "RevisionNotFound", "Invalid rev id: ../main"),
    ),
]


def test_traversal_payloads_are_refused_and_write_nothing_outside(server, tmp_path):
    # A repo record outside the data folder: the target a traversal would find and serve.
    victim = {"id": "x/victim", "type": "model", "private": False, "refs": {}, "discussions": []}
    (tmp_path / "victim.json").write_text(json.dumps(victim))
    before = _outside(tmp_path, tmp_path / "d")
    conn = connect(server.url)
    for method, path, body, refusal in TRAVERSALS:
        resp, raw = request(conn, method, path, body, JSON, token=ALICE)
        assert (resp.status, resp.getheader("X-Error-Code"), json.loads(raw)) == (
            refusal[0],
            refusal[1],
            {"error": refusal[2]},
        ), (method, path)
    assert _outside(tmp_path, tmp_path / "d") == before
    # bob's private repo is reached through its own name only
    resp, raw = request(conn, "GET", "/api/models/bob/secret", token=ALICE)
    assert resp.status == 404
    resp, raw = request(conn, "GET", "/api/models/bob/secret", token=BOB)
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
    conn = connect(server.url)
    resp, raw = request(
        conn, "POST", f"/{repo}.git/info/lfs/objects/batch", _batch(operation), JSON, token=token
    )
    assert resp.status == expected, raw
    reply = json.loads(raw)
    if expected == 200:
        actions = reply["objects"][0]["actions"]
        assert urlsplit(actions["upload"]["href"]).path == f"/lfs-upload/models/{repo}/{OID}"
    else:
        assert isinstance(reply["error"], str) and "objects" not in reply


def test_non_path_request_target_is_400_and_connection_survives(server):
    conn = connect(server.url)
    resp, raw = request(conn, "GET", "*")
    assert resp.status == 400 and "'/'" in json.loads(raw)["error"]
    assert not resp.will_close
    sock = conn.sock
    resp, raw = request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"
    assert conn.sock is sock  # same connection, kept alive
    # absolute-form targets route by their path
    host = urlsplit(server.url).netloc
    resp, raw = request(conn, "GET", f"http://{host}/api/whoami-v2")
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
    conn = connect(server.url)
    with caplog.at_level(logging.ERROR, logger="huggingtweets.hub"):
        resp, raw = request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 500
    assert resp.headers["Content-Type"].startswith("application/json")
    assert isinstance(json.loads(raw)["error"], str)
    assert b"Traceback" not in raw and b"kaboom" not in raw
    assert any(r.exc_info and "kaboom" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    resp, raw = request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"


# ---------------------------------------------------------------------------- LFS objects per repo
SECRET_BYTES = b"alice's private weights " * 100
SECRET_OID = hashlib.sha256(SECRET_BYTES).hexdigest()


def _batch_for(conn, repo: str, token: str, oid: str = SECRET_OID, size: int = len(SECRET_BYTES)) -> dict:
    body = json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": size}]})
    resp, raw = request(conn, "POST", f"/{repo}.git/info/lfs/objects/batch", body, JSON, token=token)
    assert resp.status == 200, raw
    return json.loads(raw)["objects"][0]


def _lfs_commit(conn, repo: str, token: str, oid: str = SECRET_OID, path: str = "stolen.bin"):
    lines = [
        {"key": "header", "value": {"summary": "add an LFS file"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": len(SECRET_BYTES)}},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    return request(
        conn,
        "POST",
        f"/api/models/{repo}/commit/main",
        body,
        {"Content-Type": "application/x-ndjson"},
        token=token,
    )


def _upload(conn, action: dict, data: bytes):
    href = urlsplit(action["actions"]["upload"]["href"])
    return request(conn, "PUT", f"{href.path}?{href.query}", data, token=None)


def _alice_holds_the_secret(server) -> None:
    conn = connect(server.url)
    item = _batch_for(conn, "alice/priv", ALICE)
    resp, raw = _upload(conn, item, SECRET_BYTES)
    assert resp.status == 200, raw
    resp, raw = _lfs_commit(conn, "alice/priv", ALICE, path="weights.bin")
    assert resp.status == 200, raw


def test_bob_cannot_commit_or_download_alices_private_lfs_object(server):
    _alice_holds_the_secret(server)
    conn = connect(server.url)
    bob_pub = json.dumps({"name": "pub", "private": False})
    assert request(conn, "POST", "/api/repos/create", bob_pub, JSON, token=BOB)[0].status == 200

    # The batch reply for bob's repo is the one for an object nobody has: an upload action.
    item = _batch_for(conn, "bob/pub", BOB)
    assert set(item["actions"]) == {"upload", "verify"}
    unknown = _batch_for(conn, "bob/pub", BOB, oid=hashlib.sha256(b"nobody has this").hexdigest())
    assert set(unknown["actions"]) == set(item["actions"])

    # Naming the sha256 is not enough to commit it, and the refusal reads like a never-uploaded object.
    resp, raw = _lfs_commit(conn, "bob/pub", BOB)
    assert resp.status == 422 and "never uploaded to bob/pub" in json.loads(raw)["error"]
    resp, raw = request(conn, "POST", "/lfs-verify/models/bob/pub", json.dumps({"oid": SECRET_OID, "size": len(SECRET_BYTES)}), JSON, token=BOB)  # fmt: skip
    assert resp.status == 404
    resp, raw = request(conn, "GET", "/bob/pub/resolve/main/stolen.bin", token=None)
    assert resp.status == 404 and SECRET_BYTES not in raw
    resp, raw = request(conn, "GET", "/api/models/bob/pub/tree/main", token=BOB)
    assert [e["path"] for e in json.loads(raw)] == [".gitattributes"]

    # Bytes that do not hash to the oid earn nothing either.
    resp, _ = _upload(conn, item, b"x" * len(SECRET_BYTES))
    assert resp.status == 400
    assert _lfs_commit(conn, "bob/pub", BOB)[0].status == 422


def test_an_upload_grant_is_for_its_repo_and_uploader_only(server):
    _alice_holds_the_secret(server)
    conn = connect(server.url)
    # A repo that already holds the object needs no upload: no action, and a commit may name it.
    assert "actions" not in _batch_for(conn, "alice/priv", ALICE)
    resp, raw = _lfs_commit(conn, "alice/priv", ALICE, path="copy.bin")
    assert resp.status == 200, raw
    # Another repo of alice's must receive the bytes first (the answer is per repo).
    item = _batch_for(conn, "alice/pub", ALICE)
    assert "upload" in item["actions"]
    assert _lfs_commit(conn, "alice/pub", ALICE)[0].status == 422
    # An upload URL signed for alice is alice's: changing the user in it breaks the signature.
    href = urlsplit(item["actions"]["upload"]["href"])
    forged = href.query.replace("user=alice", "user=bob")
    resp, _ = request(conn, "PUT", f"{href.path}?{forged}", SECRET_BYTES, token=None)
    assert resp.status == 403
    resp, raw = _upload(conn, item, SECRET_BYTES)
    assert resp.status == 200, raw
    resp, raw = _lfs_commit(conn, "alice/pub", ALICE)
    assert resp.status == 200, raw
    resp, raw = request(conn, "GET", "/alice/pub/resolve/main/stolen.bin", token=None)
    assert resp.status == 200 and raw == SECRET_BYTES


@pytest.mark.parametrize("name", ["a\n", "a\r", "a\x00", "a\t"])
def test_repo_names_with_control_characters_are_refused(server, name):
    conn = connect(server.url)
    resp, raw = request(conn, "POST", "/api/repos/create", json.dumps({"name": name}), JSON, token=ALICE)
    assert resp.status == 400, raw
    assert sorted(r["id"] for r in server.storage.list_repos("model")) == [
        "alice/priv",
        "alice/pub",
        "bob/secret",
    ]


@pytest.mark.parametrize("path", ["..\\..\\x", "a\\b.txt", "sub\\..\\..\\evil"])
def test_file_paths_with_backslashes_are_refused(server, path):
    conn = connect(server.url)
    lines = [
        {"key": "header", "value": {"summary": "backslash path"}},
        {"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    resp, raw = request(conn, "POST", "/api/models/alice/pub/commit/main", body, {"Content-Type": "application/x-ndjson"}, token=ALICE)  # fmt: skip
    assert resp.status == 400 and "invalid path" in json.loads(raw)["error"]
    resp, raw = request(conn, "GET", "/api/models/alice/pub/tree/main", token=ALICE)
    assert [e["path"] for e in json.loads(raw)] == [".gitattributes"]
