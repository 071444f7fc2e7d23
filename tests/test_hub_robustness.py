"""The local Hub under stress: concurrent commits, clients that die mid-upload, malformed requests."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from localhub import ALICE_TOKEN as ALICE
from localhub import TOKENS, connect, request

from huggingtweets.hub.server import HubServer


def _api(url, token=ALICE):
    from huggingface_hub import HfApi

    return HfApi(endpoint=url, token=token)


def _send_half_and_close(url: str, head: str, body: bytes) -> None:
    """A client that announces the whole body, sends half of it, then dies."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.format(length=len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2])
    time.sleep(0.05)


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _chain(storage, head):
    """Commits from head to root following first parents (the history is linear if this covers all)."""
    out = []
    while head:
        commit = storage.get_commit(head)
        out.append(commit)
        head = commit["parents"][0] if commit["parents"] else None
    return out


def test_eight_concurrent_commits_all_land_with_linear_history(hub):
    from huggingface_hub import CommitOperationAdd

    _api(hub.url).create_repo("alice/busy")
    errors = []

    def push(i):
        try:
            _api(hub.url).create_commit(
                "alice/busy",
                operations=[CommitOperationAdd(f"f{i}.txt", str(i).encode())],
                commit_message=f"commit {i}",
            )
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    storage = hub.server.storage
    repo = storage.get_repo("model", "alice/busy")
    chain = _chain(storage, repo["refs"]["main"])
    assert len(chain) == 9  # initial commit + 8, each on top of the previous one
    assert sorted(c["title"] for c in chain[:-1]) == sorted(f"commit {i}" for i in range(8))
    # no lost update: every commit keeps all files of its parent
    for newer, older in zip(chain, chain[1:], strict=False):
        assert set(older["tree"]) < set(newer["tree"])
    assert {f"f{i}.txt" for i in range(8)} <= set(_api(hub.url).list_repo_files("alice/busy"))


def test_interrupted_lfs_put_and_commit_leave_previous_commit(tmp_path):
    with HubServer(tmp_path / "d", tokens=TOKENS, lfs_threshold=10) as server:
        api = _api(server.url)
        api.create_repo("alice/crash")
        before = api.upload_file(
            path_or_fileobj=b"stable content", path_in_repo="a.txt", repo_id="alice/crash"
        )

        data = os.urandom(200_000)
        oid = hashlib.sha256(data).hexdigest()
        conn = connect(server.url)
        resp, raw = request(
            conn,
            "POST",
            "/alice/crash.git/info/lfs/objects/batch",
            json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}),
            {"Content-Type": "application/json"},
        )
        assert resp.status == 200
        href = urlsplit(json.loads(raw)["objects"][0]["actions"]["upload"]["href"])
        _send_half_and_close(
            server.url,
            f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {{length}}",
            data,
        )
        assert _wait_until(lambda: not any((tmp_path / "d" / "tmp").iterdir()))
        assert not server.storage.has_blob(oid)

        # a commit naming the never-completed object is refused whole, even with a good file beside it
        lines = [
            {"key": "header", "value": {"summary": "uses a missing object"}},
            {
                "key": "file",
                "value": {
                    "path": "ok.txt",
                    "content": base64.b64encode(b"ok").decode(),
                    "encoding": "base64",
                },
            },
            {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        resp, _ = request(
            conn,
            "POST",
            "/api/models/alice/crash/commit/main",
            body,
            {"Content-Type": "application/x-ndjson"},
        )
        assert resp.status == 422

        # half a commit body, then the client dies
        _send_half_and_close(
            server.url,
            "POST /api/models/alice/crash/commit/main HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {ALICE}\r\nContent-Type: application/x-ndjson\r\n"
            "Content-Length: {length}",
            body[:-1] + b" " * 5000 + b"\n",
        )
        assert _wait_until(lambda: not any((tmp_path / "d" / "tmp").iterdir()))
        info = api.model_info("alice/crash")
        assert info.sha == before.oid and sorted(s.rfilename for s in info.siblings) == [
            ".gitattributes",
            "a.txt",
        ]

        # and the server still takes a real upload of the same object
        done = api.upload_file(path_or_fileobj=data, path_in_repo="big.bin", repo_id="alice/crash")
        assert server.storage.blob_path(oid).read_bytes() == data and done.oid != before.oid


def test_malformed_requests_get_4xx_json_and_keep_alive_survives(hub):
    _api(hub.url).create_repo("alice/bad")
    conn = connect(hub.url)  # one keep-alive connection for everything below
    ndjson = {"Content-Type": "application/x-ndjson"}
    header = json.dumps({"key": "header", "value": {"summary": "s"}}) + "\n"
    cases = [
        ("POST", "/api/repos/create", b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", "/api/repos/create", b"[1, 2]", {"Content-Type": "application/json"}, 400),
        ("POST", "/api/models/alice/bad/commit/main", b"this is not json\n", ndjson, 400),
        (
            "POST",
            "/api/models/alice/bad/commit/main",
            (header + '{"key": "nope", "value": {}}\n').encode(),
            ndjson,
            400,
        ),
        (
            "POST",
            "/api/models/alice/bad/commit/main",
            (
                header
                + json.dumps({"key": "file", "value": {"path": "x", "content": "!!!", "encoding": "base64"}})
                + "\n"
            ).encode(),
            ndjson,
            400,
        ),
        (
            "POST",
            "/api/models/alice/bad/commit/main",
            (
                header
                + json.dumps(
                    {"key": "file", "value": {"path": "../escape", "content": "", "encoding": "base64"}}
                )
                + "\n"
            ).encode(),
            ndjson,
            400,
        ),
        ("POST", "/api/models/alice/bad/commit/main", b'{"key": "file", "value": {}}\n', ndjson, 400),
        ("POST", "/api/models/alice/bad/preupload/main", b'{"files": "nope"}', {}, 400),
        ("POST", "/api/models/alice/bad/preupload/nobranch", b'{"files": []}', {}, 404),
        ("POST", "/alice/bad.git/info/lfs/objects/batch", b"\xff\xfe", {}, 400),
        ("GET", "/api/models?limit=abc", None, {}, 400),
        ("GET", "/api/nothing/here", None, {}, 404),
        ("DELETE", "/api/models/alice/bad", None, {}, 404),
    ]
    for method, path, body, headers, expected in cases:
        resp, raw = request(conn, method, path, body, headers)
        assert resp.status == expected, (method, path, raw)
        assert resp.headers["Content-Type"].startswith("application/json")
        assert isinstance(json.loads(raw)["error"], str)
    # a refused request whose body was not needed (no token) must not break the next one
    resp, _ = request(
        conn, "POST", "/api/models/alice/bad/commit/main", (header * 50).encode(), ndjson, token=None
    )
    assert resp.status == 401
    resp, raw = request(conn, "GET", "/api/whoami-v2")
    assert resp.status == 200 and json.loads(raw)["name"] == "alice"
    assert len(_api(hub.url).list_repo_commits("alice/bad")) == 1


def test_chunked_request_body_is_accepted(hub):
    _api(hub.url).create_repo("alice/chunks")
    lines = [
        {"key": "header", "value": {"summary": "chunked"}},
        {
            "key": "file",
            "value": {"path": "c.txt", "content": base64.b64encode(b"chunky").decode(), "encoding": "base64"},
        },
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    conn = connect(hub.url)
    conn.putrequest("POST", "/api/models/alice/chunks/commit/main")
    conn.putheader("Authorization", f"Bearer {ALICE}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for i in range(0, len(body), 7):
        piece = body[i : i + 7]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 200 and len(json.loads(resp.read())["commitOid"]) == 40
    assert "c.txt" in _api(hub.url).list_repo_files("alice/chunks")


def test_stop_ends_keep_alive_connections_and_threads(tmp_path):
    before = set(threading.enumerate())
    server = HubServer(tmp_path / "d", tokens=TOKENS).start()
    conn = connect(server.url)
    assert request(conn, "GET", "/api/whoami-v2")[0].status == 200  # connection stays open (keep-alive)
    server.stop()
    assert _wait_until(lambda: set(threading.enumerate()) <= before, timeout=5)
    conn.close()


def test_garbage_request_lines_get_json_errors_and_server_keeps_serving(hub):
    parts = urlsplit(hub.url)
    for raw in (b"GET /a b HTTP/1.1\r\n\r\n", b"PATCH /api/models HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(raw)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.split()[1] in {b"400", b"501"} and isinstance(json.loads(body)["error"], str)
    assert request(connect(hub.url), "GET", "/api/whoami-v2")[0].status == 200


def test_one_server_per_data_folder(hub):
    from huggingtweets.errors import HubError

    in_flight = hub.data_dir / "tmp" / "upload-in-flight"
    in_flight.write_bytes(b"partial")
    with pytest.raises(HubError, match="already served by another"):
        HubServer(hub.data_dir, tokens=TOKENS).start()
    assert in_flight.exists()  # the refused server did not clean up the running one's uploads
    hub.server.stop()
    with HubServer(hub.data_dir, tokens=TOKENS):  # the folder is free again; stale uploads are dropped
        assert not in_flight.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /api/repos/create HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}",
        b"POST /api/repos/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ],
)
def test_broken_body_framing_gets_400_and_a_closed_connection(hub, raw):
    parts = urlsplit(hub.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):  # the server closes: framing of what follows is unknown
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split()[1] == b"400" and b"Connection: close" in head
    assert isinstance(json.loads(body)["error"], str)
    assert request(connect(hub.url), "GET", "/api/whoami-v2")[0].status == 200
