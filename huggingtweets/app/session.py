"""Per-browser-session folders: uploads and the run folder of one visitor, deleted when they leave.

An uploaded archive and a run folder hold a person's posts, so neither may outlive the browser
session that made them: the app deletes a session's folder when the page is closed (Gradio's
``unload`` event) and, for tabs that vanish without saying goodbye, once it has been idle for
``ttl`` seconds (a sweeper thread). Nothing here imports gradio; the UI passes session ids in.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TTL = 2 * 60 * 60  # idle seconds before a session's files go; a gpt2 run on CPU can take an hour
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Session:
    """One visitor's files and state. ``job`` is the training job in flight (or the last one)."""

    id: str
    root: Path
    last_seen: float = field(default_factory=time.monotonic)
    sources: dict[str, Any] | None = None  # what the data check accepted: handles, archives, posts_files
    job: Any = None
    # this visitor's files in Gradio's cache: uploads, and the copies the page serves (preview, zip)
    foreign_files: set[Path] = field(default_factory=set)
    checking: threading.Lock = field(default_factory=threading.Lock)  # one data check at a time
    check_process: Any = None  # the data check's process (a Popen) while it runs

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def busy(self) -> bool:
        return self.job is not None and self.job.running


class SessionStore:
    """The sessions of one app, each in its own folder under ``base``."""

    def __init__(self, base: Path | str | None = None, *, ttl: float = DEFAULT_TTL) -> None:
        self._own_base = base is None
        self.base = Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="huggingtweets-app-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def get(self, session_id: str) -> Session:
        """The session of this id, created (with an empty folder) on first use."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                name = _SAFE_ID.sub("_", session_id)[:64] or "anonymous"
                root = self.base / name
                root.mkdir(parents=True, exist_ok=True)
                session = Session(id=session_id, root=root)
                self._sessions[session_id] = session
            session.touch()
            return session

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def end(self, session_id: str) -> None:
        """The visitor left: stop their training and delete their files."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            _discard(session)

    def sweep(self, now: float | None = None) -> list[str]:
        """End every session idle for longer than ``ttl`` (a running training counts as activity)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            stale = [s for s in self._sessions.values() if not s.busy() and now - s.last_seen > self.ttl]
            for session in stale:
                del self._sessions[session.id]
        for session in stale:
            _discard(session)
        return [s.id for s in stale]

    def start_sweeper(self, every: float = 60.0) -> None:
        def loop() -> None:
            while not self._stop.wait(every):
                self.sweep()

        self._sweeper = threading.Thread(target=loop, name="huggingtweets-app-sweeper", daemon=True)
        self._sweeper.start()

    def close(self) -> None:
        """End every session (the app is shutting down) and remove a base folder made here."""
        self._stop.set()
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            _discard(session)
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)


def _discard(session: Session) -> None:
    check = session.check_process
    if check is not None and check.poll() is None:
        check.kill()  # else it would write the visitor's posts into the folder deleted below
        check.wait()
    job = session.job
    if job is not None and job.running:
        job.cancel()
        job.wait(timeout=60)  # the trainer stops at its next step; its files go right after
    shutil.rmtree(session.root, ignore_errors=True)
    for path in session.foreign_files:
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # Gradio keeps each upload in a folder of its own
        except OSError:
            pass
