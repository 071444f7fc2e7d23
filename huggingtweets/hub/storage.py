"""The local Hub's data folder: content-addressed blobs and per-repo commit history.

Layout under ``root``::

    blobs/<aa>/<sha256>          file contents, named by their sha256 (shared by all repos)
    blobs/<aa>/<sha256>.json     {"size", "sha1"}: size and git blob sha1 of the content
    commits/<aa>/<oid>.json      one commit: parents, full flat tree {path: entry}, message, date
    repos/<type>s/<ns>/<name>.json  repo record: private flag, refs {branch|refs/pr/N: oid}, PRs
    grants/<type>s/<ns>/<name>/<sha256>-<user>  that user uploaded this LFS object to this repo
    tmp/                         uploads in flight (removed on failure; stale ones at start)

Every file is written to a temp path and renamed into place, and a commit becomes visible only
when its repo record (holding the ref) is replaced, last. A crash or a dropped client at any
point leaves the repo at its previous commit; at worst an unreferenced blob or commit remains.
Commits to one repo are serialized by a per-repo lock, so concurrent writers get a linear
history and no lost update.

Blobs are shared by content, access is not: see ``lfsaccess`` for who may name which LFS object.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from huggingtweets.hub.auth import valid_name
from huggingtweets.hub.lfsaccess import LfsAccess
from huggingtweets.runfolder import atomic_write_bytes

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
GITATTRIBUTES = (
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.h5 filter=lfs diff=lfs merge=lfs -text\n"
    "*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    "*.pt filter=lfs diff=lfs merge=lfs -text\n"
    "*.pth filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.zip filter=lfs diff=lfs merge=lfs -text\n"
)
CHUNK = 1024 * 1024
REPO_TYPES = ("model", "dataset", "space")


class StorageError(Exception):
    """A request the data folder cannot satisfy; ``status`` and ``code`` become the HTTP reply."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return LFS_POINTER.format(oid=sha256, size=size).encode()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Storage(LfsAccess):
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        for sub in ("blobs", "commits", "repos", "grants", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._repos_guard = threading.Lock()
        self._reach_cache: dict[str, tuple[str, ...]] = {}
        self._held_cache: dict[str, frozenset[str]] = {}

    def remove_stale_uploads(self) -> None:
        """Uploads in flight when a previous server died are garbage (call with the folder lock held)."""
        for stale in (self.root / "tmp").iterdir():
            with contextlib.suppress(OSError):
                stale.unlink() if stale.is_file() else shutil.rmtree(stale)

    # ------------------------------------------------------------------ blobs
    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        path = self.blob_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def blob_sha1(self, sha256: str) -> str:
        """Git blob sha1 of a stored blob (computed once, then kept beside it)."""
        meta_path = self.blob_path(sha256).with_suffix(".json")
        with contextlib.suppress(FileNotFoundError, ValueError):
            return json.loads(meta_path.read_text())["sha1"]
        path = self.blob_path(sha256)
        size = path.stat().st_size
        h = hashlib.sha1(b"blob %d\0" % size)
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        atomic_write_bytes(meta_path, _dumps({"size": size, "sha1": h.hexdigest()}))
        return h.hexdigest()

    def put_blob_bytes(self, data: bytes) -> tuple[str, int, str]:
        """Store ``data``; returns (sha256, size, git sha1)."""
        sha256 = hashlib.sha256(data).hexdigest()
        sha1 = git_blob_sha1(data)
        if not self.has_blob(sha256, len(data)):
            atomic_write_bytes(self.blob_path(sha256), data)
        meta = self.blob_path(sha256).with_suffix(".json")
        if not meta.exists():
            atomic_write_bytes(meta, _dumps({"size": len(data), "sha1": sha1}))
        return sha256, len(data), sha1

    def put_blob_stream(self, chunks: Iterable[bytes], expect_sha256: str | None, expect_size: int) -> str:
        """Stream chunks to a temp file, check size (and sha256 if given), rename into the store.

        Never holds the content in memory; returns the sha256. Raises StorageError(400) on a
        mismatch; a failure or an exception from ``chunks`` (client gone) removes the temp file
        and stores nothing.
        """
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix="upload-")
        try:
            h256 = hashlib.sha256()
            h1 = hashlib.sha1(b"blob %d\0" % expect_size)
            size = 0
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    size += len(chunk)
                    if size > expect_size:
                        raise StorageError(400, f"upload is larger than the announced {expect_size} bytes")
                    h256.update(chunk)
                    h1.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha256 = h256.hexdigest()
            if size != expect_size:
                raise StorageError(400, f"upload has {size} bytes, expected {expect_size}")
            if expect_sha256 is not None and sha256 != expect_sha256:
                raise StorageError(400, f"upload sha256 is {sha256}, expected {expect_sha256}")
            dest = self.blob_path(sha256)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
            atomic_write_bytes(dest.with_suffix(".json"), _dumps({"size": size, "sha1": h1.hexdigest()}))
            return sha256
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # ------------------------------------------------------------------ repos
    def _repo_path(self, repo_type: str, repo_id: str) -> Path:
        # Routes check names already; this keeps any future caller from reaching outside the folder.
        parts = repo_id.split("/")
        if repo_type not in REPO_TYPES or len(parts) != 2 or not all(valid_name(p) for p in parts):
            raise StorageError(404, f"Repository Not Found for {repo_id[:200]!r}", "RepoNotFound")
        return self.root / "repos" / f"{repo_type}s" / f"{repo_id}.json"

    @contextlib.contextmanager
    def repo_lock(self, repo_type: str, repo_id: str) -> Iterator[None]:
        key = f"{repo_type}/{repo_id}"
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def get_repo(self, repo_type: str, repo_id: str) -> dict | None:
        try:
            return json.loads(self._repo_path(repo_type, repo_id).read_text())
        except FileNotFoundError:
            return None

    def _save_repo(self, repo: dict) -> None:
        atomic_write_bytes(self._repo_path(repo["type"], repo["id"]), _dumps(repo))

    def list_repos(self, repo_type: str) -> list[dict]:
        base = self.root / "repos" / f"{repo_type}s"
        out = []
        for path in sorted(base.glob("*/*.json")):
            with contextlib.suppress(FileNotFoundError, ValueError):
                out.append(json.loads(path.read_text()))
        return out

    def create_repo(self, repo_type: str, repo_id: str, *, private: bool, author: str) -> dict:
        with self._repos_guard, self.repo_lock(repo_type, repo_id):
            if self.get_repo(repo_type, repo_id) is not None:
                raise StorageError(409, f"You already created this {repo_type} repo: {repo_id}")
            sha256, size, sha1 = self.put_blob_bytes(GITATTRIBUTES.encode())
            tree = {".gitattributes": {"sha256": sha256, "size": size, "oid": sha1, "lfs": False}}
            created = now_iso()
            oid = self._write_commit([], tree, "initial commit", "", author, created, repo_id)
            repo = {
                "id": repo_id,
                "type": repo_type,
                "private": bool(private),
                "createdAt": created,
                "refs": {"main": oid},
                "discussions": [],
            }
            self._save_repo(repo)
            return repo

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        with self._repos_guard, self.repo_lock(repo_type, repo_id):
            try:
                self._repo_path(repo_type, repo_id).unlink()
            except FileNotFoundError:
                raise StorageError(404, f"Repository {repo_id} not found", "RepoNotFound") from None
            # A repo created later under the same name starts with no uploads of its own.
            shutil.rmtree(self._grant_dir(repo_type, repo_id), ignore_errors=True)

    def update_repo(self, repo_type: str, repo_id: str, **fields: Any) -> dict:
        with self.repo_lock(repo_type, repo_id):
            repo = self.get_repo(repo_type, repo_id)
            if repo is None:
                raise StorageError(404, f"Repository {repo_id} not found", "RepoNotFound")
            repo.update(fields)
            self._save_repo(repo)
            return repo

    # ------------------------------------------------------------------ commits
    def _commit_path(self, oid: str) -> Path:
        return self.root / "commits" / oid[:2] / f"{oid}.json"

    def _write_commit(self, parents, tree, title, message, author, date, repo_id) -> str:
        body = {
            "parents": parents,
            "tree": tree,
            "title": title,
            "message": message,
            "authors": [author],
            "date": date,
            "repo": repo_id,
        }
        raw = _dumps(body)
        oid = hashlib.sha1(raw).hexdigest()
        atomic_write_bytes(self._commit_path(oid), raw)
        return oid

    def get_commit(self, oid: str) -> dict:
        commit = json.loads(self._commit_path(oid).read_text())
        commit["id"] = oid
        return commit

    def resolve(self, repo: dict, revision: str) -> str | None:
        """Branch, ``refs/heads/<b>``, ``refs/pr/N`` or a commit sha (7-40 hex) -> commit oid."""
        refs = repo["refs"]
        if revision.startswith("refs/heads/"):
            revision = revision[len("refs/heads/") :]
        if revision in refs:
            return refs[revision]
        low = revision.lower()
        if 7 <= len(low) <= 40 and all(c in "0123456789abcdef" for c in low):
            # Only commits reachable from this repo's refs: a sha from another (or a deleted) repo
            # must not resolve here.
            for head in refs.values():
                for oid in self._reachable(head):
                    if oid.startswith(low):
                        return oid
        return None

    def _reachable(self, head: str) -> tuple[str, ...]:
        # Commits are immutable, so what a head reaches never changes: cache it per head.
        cached = self._reach_cache.get(head)
        if cached is None:
            cached = tuple(self.history([head]))
            if len(self._reach_cache) > 4096:
                self._reach_cache.clear()
            self._reach_cache[head] = cached
        return cached

    def history(self, heads: Iterable[str]) -> list[str]:
        """Commit oids reachable from ``heads``, newest first along first parents, deduplicated."""
        seen: list[str] = []
        for head in heads:
            oid: str | None = head
            while oid and oid not in seen:
                seen.append(oid)
                parents = self.get_commit(oid)["parents"]
                oid = parents[0] if parents else None
        return seen

    def commit(
        self,
        repo_type: str,
        repo_id: str,
        *,
        revision: str,
        operations: list[dict],
        title: str,
        message: str,
        author: str,
        parent_commit: str | None = None,
        create_pr: bool = False,
    ) -> tuple[str, int | None]:
        """Apply ``operations`` all or nothing on top of ``revision``; returns (oid, PR number|None).

        Operations: {"op": "add", "path", "sha256", "size", "oid", "lfs": False} (content sent in
        this commit, already stored), {"op": "add", "path", "sha256", "size": int|None, "lfs": True}
        (an LFS object named by its sha256: see the module docstring for who may name which),
        {"op": "delete_file"|"delete_folder", "path"}.
        """
        with self.repo_lock(repo_type, repo_id):
            repo = self.get_repo(repo_type, repo_id)
            if repo is None:
                raise StorageError(404, f"Repository {repo_id} not found", "RepoNotFound")
            head = self.resolve(repo, revision)
            if head is None:
                raise StorageError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            if revision not in repo["refs"] and not create_pr:
                raise StorageError(400, f"Cannot commit to {revision}: not a branch or pull request ref")
            if parent_commit is not None and parent_commit != head:
                raise StorageError(
                    409,
                    f"A commit has happened since. Please refresh and try again. (parentCommit {parent_commit}"
                    f" is not the head {head} of {revision})",
                )
            tree = dict(self.get_commit(head)["tree"])
            granted = []
            for op in operations:
                path = op["path"]
                if op["op"] == "add" and op["lfs"]:
                    tree[path] = self._lfs_entry(repo, op, author)
                    granted.append(op["sha256"])
                elif op["op"] == "add":
                    if not self.has_blob(op["sha256"], op["size"]):
                        raise StorageError(422, f"the content of {path} was lost before the commit")
                    tree[path] = {k: op[k] for k in ("sha256", "size", "oid", "lfs")}
                elif op["op"] == "delete_file":
                    if tree.pop(path, None) is None:
                        raise StorageError(
                            404, f"A file with this name doesn't exist: {path}", "EntryNotFound"
                        )
                else:
                    prefix = path.rstrip("/") + "/"
                    doomed = [p for p in tree if p.startswith(prefix)]
                    if not doomed:
                        raise StorageError(
                            404, f"A folder with this name doesn't exist: {path}", "EntryNotFound"
                        )
                    for p in doomed:
                        del tree[p]
            oid = self._write_commit([head], tree, title, message, author, now_iso(), repo_id)
            pr_num = None
            if create_pr:
                pr_num = len(repo["discussions"]) + 1
                repo["discussions"].append(self._pr_record(pr_num, title, message, author, revision))
                repo["refs"][f"refs/pr/{pr_num}"] = oid
            else:
                repo["refs"][revision] = oid
            # The ref moves here, last: until this rename the repo still shows the previous commit.
            self._save_repo(repo)
            # The repo holds these objects now; the upload session that granted them is over.
            self._drop_grants(repo_type, repo_id, granted, author)
            return oid, pr_num

    def _lfs_entry(self, repo: dict, op: dict, author: str) -> dict:
        sha256, path = op["sha256"], op["path"]
        # One answer whether the object exists elsewhere or nowhere: no oracle for other repos' files.
        if not self.may_reference(repo, sha256, author) or not self.has_blob(sha256):
            raise StorageError(
                422,
                f"LFS object {sha256} for {path} was never uploaded to {repo['id']} (use the LFS batch API)",
            )
        actual = self.blob_path(sha256).stat().st_size
        if op["size"] is not None and op["size"] != actual:
            raise StorageError(
                422, f"lfsFile {path}: size {op['size']} does not match the uploaded {actual} bytes"
            )
        return {
            "sha256": sha256,
            "size": actual,
            "oid": git_blob_sha1(lfs_pointer(sha256, actual)),
            "lfs": True,
        }

    @staticmethod
    def _pr_record(num: int, title: str, description: str, author: str, base: str) -> dict:
        return {
            "num": num,
            "title": title,
            "description": description,
            "author": author,
            "isPullRequest": True,
            "status": "open",
            "createdAt": now_iso(),
            "base": base,
        }

    def open_pull_request(
        self, repo_type: str, repo_id: str, *, title: str, description: str, author: str, pull_request: bool
    ) -> int:
        """A new discussion (or PR whose ref starts at ``main``'s head); returns its number."""
        with self.repo_lock(repo_type, repo_id):
            repo = self.get_repo(repo_type, repo_id)
            if repo is None:
                raise StorageError(404, f"Repository {repo_id} not found", "RepoNotFound")
            num = len(repo["discussions"]) + 1
            record = self._pr_record(num, title, description, author, "main")
            record["isPullRequest"] = pull_request
            repo["discussions"].append(record)
            if pull_request:
                repo["refs"][f"refs/pr/{num}"] = repo["refs"]["main"]
            self._save_repo(repo)
            return num
