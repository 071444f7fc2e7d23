"""Who may name which LFS object in a commit (a mixin of ``storage.Storage``).

Blobs are shared by content, access is not: a commit may name an LFS object only if the repo
already holds it (in a commit reachable from its refs) or the committing user uploaded its bytes
to this repo in this upload session (a grant file, kept for ``GRANT_TTL_S``). Knowing a sha256 is
not knowing the bytes, so it must never be enough to copy another repo's file.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from pathlib import Path

from huggingtweets.runfolder import atomic_write_bytes

# An upload session: from the LFS PUT to the commit that names the object. A day covers a slow
# multi-GB upload followed by a retried commit.
GRANT_TTL_S = 24 * 3600.0


class LfsAccess:
    """Upload grants (``grants/<type>s/<ns>/<name>/<sha256>-<user>``, fresh by mtime) and what a
    repo holds. Uses the Storage it is mixed into: ``root``, ``_repo_path``, ``_reachable``,
    ``get_commit``, ``_held_cache``."""

    def _grant_dir(self, repo_type: str, repo_id: str) -> Path:
        self._repo_path(repo_type, repo_id)  # checks the names
        return self.root / "grants" / f"{repo_type}s" / repo_id

    def grant_upload(self, repo_type: str, repo_id: str, sha256: str, user: str) -> None:
        """``user`` sent the bytes of ``sha256`` to this repo: they may now commit it here."""
        atomic_write_bytes(self._grant_dir(repo_type, repo_id) / f"{sha256}-{user}", b"")

    def has_grant(self, repo_type: str, repo_id: str, sha256: str, user: str | None = None) -> bool:
        """A fresh upload grant for ``sha256`` in this repo (by ``user``, or by anyone when None)."""
        folder = self._grant_dir(repo_type, repo_id)
        names = [f"{sha256}-{user}"] if user is not None else [p.name for p in folder.glob(f"{sha256}-*")]
        for name in names:
            with contextlib.suppress(OSError):
                if time.time() - (folder / name).stat().st_mtime < GRANT_TTL_S:
                    return True
        return False

    def _drop_grants(self, repo_type: str, repo_id: str, sha256s: Iterable[str], user: str) -> None:
        folder = self._grant_dir(repo_type, repo_id)
        for sha256 in sha256s:
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{sha256}-{user}").unlink()

    def holds(self, repo: dict, sha256: str) -> bool:
        """Whether a commit reachable from the repo's refs has a file with this content."""
        for head in repo["refs"].values():
            held = self._held_cache.get(head)
            if held is None:
                held = frozenset(
                    e["sha256"]
                    for oid in self._reachable(head)
                    for e in self.get_commit(oid)["tree"].values()
                )
                if len(self._held_cache) > 4096:
                    self._held_cache.clear()
                self._held_cache[head] = held
            if sha256 in held:
                return True
        return False

    def may_reference(self, repo: dict, sha256: str, user: str | None) -> bool:
        return self.holds(repo, sha256) or self.has_grant(repo["type"], repo["id"], sha256, user)
