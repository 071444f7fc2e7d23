"""Moving bytes: preupload, the NDJSON commit, the LFS batch/PUT/verify API and ``resolve`` downloads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from huggingtweets.hub.messages import HttpError, Response
from huggingtweets.hub.ndjson import NdjsonError, SpillRef, iter_lines
from huggingtweets.hub.repos import check_path, load_repo, repo_url, require_write, resolve_or_404

if TYPE_CHECKING:
    from huggingtweets.hub.messages import Request

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _writer(req: Request, repo_type: str, repo_id: str) -> dict:
    """The repo, if the caller may push to it; ``?create_pr=1`` only needs read access and a token."""
    repo = load_repo(req, repo_type, repo_id)
    if req.flag("create_pr"):
        if req.principal is None:
            raise HttpError(401, "You must be authenticated to open a pull request.")
    else:
        require_write(req, repo_id.split("/")[0])
    return repo


def preupload(req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
    repo = _writer(req, repo_type, repo_id)
    body = req.json()
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("size"), int) and f["size"] >= 0 for f in files
    ):
        raise HttpError(400, 'preupload expects {"files": [{"path": str, "sample": base64, "size": int}]}')
    head = resolve_or_404(req, repo, revision)
    storage = req.hub.storage
    tree = storage.get_commit(head)["tree"]
    threshold = req.hub.lfs_threshold
    out = []
    for f in files:
        path = check_path(f.get("path"))
        mode = "lfs" if threshold is not None and f["size"] >= threshold and f["size"] > 0 else "regular"
        entry = tree.get(path)
        oid = None
        if entry is not None:
            # The client compares this with its own oid for the mode answered now: sha256 for
            # lfs, git blob sha1 for regular, whatever mode the stored file was pushed with.
            if mode == "lfs":
                oid = entry["sha256"]
            else:
                oid = storage.blob_sha1(entry["sha256"]) if entry["lfs"] else entry["oid"]
        out.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    return Response(200, {"files": out, "commitOid": head})


class _BodyReader:
    """File-like view of the request body for the streaming NDJSON reader."""

    def __init__(self, req: Request) -> None:
        self._chunks = req.body_chunks()

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


def _text(value: object) -> object:
    return value.text() if isinstance(value, SpillRef) else value


def _add_regular(req: Request, number: int, value: dict) -> dict:
    path = check_path(value.get("path"))
    content, encoding = value.get("content"), value.get("encoding", "utf-8")
    storage = req.hub.storage
    try:
        if isinstance(content, SpillRef) and encoding == "base64":
            size, chunks = content.base64_chunks()
            sha256 = storage.put_blob_stream(chunks, None, size)
            sha1 = storage.blob_sha1(sha256)
        else:
            content = _text(content)
            if not isinstance(content, str):
                raise HttpError(400, f"commit line {number}: 'content' must be a string")
            data = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode()
            sha256, size, sha1 = storage.put_blob_bytes(data)
    except (binascii.Error, NdjsonError, ValueError):
        raise HttpError(400, f"commit line {number}: content of {path} is not valid base64") from None
    return {"op": "add", "path": path, "sha256": sha256, "size": size, "oid": sha1, "lfs": False}


def _add_lfs(number: int, value: dict) -> dict:
    """An LFS file named by its sha256; whether this repo may name it is the storage's call."""
    path = check_path(value.get("path"))
    oid = str(value.get("oid", "")).lower()
    if value.get("algo", "sha256") != "sha256" or not _SHA256.match(oid):
        raise HttpError(400, f"commit line {number}: lfsFile needs a sha256 'oid'")
    size = value.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise HttpError(400, f"commit line {number}: lfsFile 'size' must be a non-negative integer")
    return {"op": "add", "path": path, "sha256": oid, "size": size, "lfs": True}


def _parse_commit(req: Request) -> tuple[dict, list[dict]]:
    """Header and operations from the NDJSON body, read as it arrives.

    File contents go to the blob store on the way (content-addressed, so a refused or broken
    commit leaves only unreferenced blobs); the repo itself changes only after the whole body
    has been read and checked.
    """
    header: dict | None = None
    ops: list[dict] = []
    try:
        for number, item in iter_lines(_BodyReader(req), req.hub.storage.root / "tmp"):
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                raise HttpError(400, f"commit body line {number} is not a JSON object with 'key' and 'value'")
            key, value = item.get("key"), item["value"]
            if key == "header":
                header = {k: _text(v) for k, v in value.items()}
            elif key == "file":
                ops.append(_add_regular(req, number, value))
            elif key == "lfsFile":
                ops.append(_add_lfs(number, value))
            elif key in {"deletedFile", "deletedFolder"}:
                path = value.get("path")
                check_path(path.rstrip("/") if isinstance(path, str) else path)
                ops.append({"op": "delete_file" if key == "deletedFile" else "delete_folder", "path": path})
            else:
                raise HttpError(400, f"commit line {number}: unknown key {key!r}")
    except NdjsonError as err:
        raise HttpError(400, f"commit body is not valid NDJSON: {err}") from None
    if header is None:
        raise HttpError(400, "commit body has no header line ({'key': 'header', ...})")
    return header, ops


def commit(req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
    _writer(req, repo_type, repo_id)
    create_pr = req.flag("create_pr")
    header, ops = _parse_commit(req)
    summary = header.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise HttpError(400, "commit header needs a non-empty 'summary'")
    parent = header.get("parentCommit")
    if parent is not None and not isinstance(parent, str):
        raise HttpError(400, "'parentCommit' must be a commit sha")
    oid, pr_num = req.hub.storage.commit(
        repo_type,
        repo_id,
        revision=revision,
        operations=ops,
        title=summary.strip(),
        message=str(header.get("description") or ""),
        author=req.principal.user,
        parent_commit=parent,
        create_pr=create_pr,
    )
    base = repo_url(req, repo_type, repo_id)
    body = {"commitOid": oid, "commitUrl": f"{base}/commit/{oid}", "success": True}
    if pr_num is not None:
        body["pullRequestUrl"] = f"{base}/discussions/{pr_num}"
    return Response(200, body)


# ---------------------------------------------------------------------------- LFS
def _signature(req: Request, repo_type: str, repo_id: str, oid: str, size: int, user: str) -> str:
    msg = f"{repo_type}/{repo_id}/{oid}/{size}/{user}".encode()
    return hmac.new(req.hub.secret, msg, hashlib.sha256).hexdigest()


def lfs_batch(req: Request, repo_type: str, repo_id: str) -> Response:
    """Upload actions for the objects this repo lacks; uploading needs write rights on the repo.

    The signed hrefs let the client PUT without its token, so they are the write permission
    itself: only a caller who may push to the repo gets them. Reading (``download``) needs read
    rights, and a private repo stays 404 to whoever may not read it. The answer is per repo: an
    object stored for another repo still gets an upload action, so the reply says nothing about
    what other repos hold, and only sending the bytes lets this repo use them.
    """
    repo = load_repo(req, repo_type, repo_id)
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
        raise HttpError(400, 'LFS batch expects {"operation": "upload", "objects": [{"oid", "size"}]}')
    if body.get("operation", "upload") != "upload":
        raise HttpError(400, "this LFS endpoint only serves uploads; download files through /resolve/")
    require_write(req, repo_id.split("/")[0])
    user = req.principal.user
    objects = body["objects"]
    out = []
    for obj in objects:
        oid = str(obj.get("oid", "")).lower() if isinstance(obj, dict) else ""
        size = obj.get("size") if isinstance(obj, dict) else None
        if not _SHA256.match(oid) or not isinstance(size, int) or size < 0:
            out.append(
                {
                    "oid": str(oid),
                    "size": size if isinstance(size, int) else 0,
                    "error": {"code": 422, "message": "oid must be a sha256 hex digest and size an int"},
                }
            )
            continue
        item = {"oid": oid, "size": size, "authenticated": True}
        storage = req.hub.storage
        if not (storage.may_reference(repo, oid, user) and storage.has_blob(oid, size)):
            kind = f"{repo_type}s/{repo_id}"
            sig = _signature(req, repo_type, repo_id, oid, size, user)
            query = f"size={size}&user={quote(user, safe='')}&sig={sig}"
            item["actions"] = {
                "upload": {"href": f"{req.base_url}/lfs-upload/{kind}/{oid}?{query}"},
                "verify": {"href": f"{req.base_url}/lfs-verify/{kind}"},
            }
        out.append(item)
    return Response(
        200,
        {"transfer": "basic", "objects": out, "hash_algo": "sha256"},
        {"Content-Type": "application/vnd.git-lfs+json"},
    )


def lfs_put(req: Request, repo_type: str, repo_id: str, oid: str) -> Response:
    # Checked first: the oid (unquoted from the URL) names the blob's path in the store.
    if not _SHA256.match(oid):
        raise HttpError(400, f"LFS object id {oid[:80]!r} is not a sha256 hex digest")
    try:
        size = int(req.param("size") or "")
    except ValueError:
        raise HttpError(400, "LFS upload URL lacks its size") from None
    user = req.param("user") or ""
    expected = _signature(req, repo_type, repo_id, oid, size, user)
    if not hmac.compare_digest(expected, req.param("sig") or ""):
        raise HttpError(403, "LFS upload URL is not valid (ask the batch endpoint for a new one)")
    length = req.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) != size:
        raise HttpError(400, f"upload of {length} bytes, expected {size}")
    storage = req.hub.storage
    # Hashed even when the store has this object already: the grant below is for having sent
    # these exact bytes, not for naming their sha256.
    storage.put_blob_stream(req.body_chunks(), oid, size)
    storage.grant_upload(repo_type, repo_id, oid, user)
    return Response(200, {})


def lfs_verify(req: Request, repo_type: str, repo_id: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("oid"), str):
        raise HttpError(400, 'LFS verify expects {"oid": sha256, "size": int}')
    oid, storage = body["oid"].lower(), req.hub.storage
    user = req.principal.user if req.principal else None
    if not (
        _SHA256.match(oid)
        and storage.may_reference(repo, oid, user)
        and storage.has_blob(oid, body.get("size"))
    ):
        raise HttpError(404, f"LFS object {body['oid']} was not uploaded (or has another size)")
    return Response(200, {})


# ---------------------------------------------------------------------------- downloads
def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> [start, end); None means the whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(size - n, 0), size) if n > 0 else (size, size)
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    return start, end


def resolve(req: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    # The path comes from unquoted URL segments ("%2F" is a "/" here): the same rules as a commit's.
    check_path(path)
    head = resolve_or_404(req, repo, revision)
    storage = req.hub.storage
    entry = storage.get_commit(head)["tree"].get(path)
    if entry is None:
        raise HttpError(
            404, f"Entry not found: {path} at {revision}", "EntryNotFound", {"X-Repo-Commit": head}
        )
    size = entry["size"]
    etag = entry["sha256"] if entry["lfs"] else entry["oid"]
    headers = {
        "X-Repo-Commit": head,
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
    }
    if entry["lfs"]:
        headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)})
    blob = storage.blob_path(entry["sha256"])
    if not blob.is_file():
        raise HttpError(500, f"the data folder lost the content of {path} (blob {entry['sha256']})")
    rng = _byte_range(req.headers.get("Range"), size)
    if rng is None:
        return Response(200, None, headers, file=blob, start=0, end=size)
    start, end = rng
    if start >= size or start >= end:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(416, {"error": f"range not satisfiable for a {size}-byte file"}, headers)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return Response(206, None, headers, file=blob, start=start, end=end)
