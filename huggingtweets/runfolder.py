"""The run folder: where every stage reads its inputs and writes its outputs.

Writes are atomic (temp path, then ``os.replace``) so a crash or a bad input never leaves a
half-written file or folder behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

RUNS_ROOT = Path("runs")


def default_run_dir(handles: Iterable[str], root: Path | str = RUNS_ROOT) -> Path:
    """``runs/<handles sorted, joined by ->``, handles lower-cased and without ``@``."""
    names = sorted({h.lstrip("@").lower() for h in handles if h})
    if not names:
        raise ValueError("default_run_dir needs at least one handle")
    return Path(root) / "-".join(names)


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes 0600; give the file the mode a plain open() would have.
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """The one JSON layout for run-folder files: stable key order, UTF-8, trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def atomic_write_json(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj))


def read_json(path: Path | str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@contextlib.contextmanager
def atomic_dir(final: Path | str) -> Iterator[Path]:
    """Yield a temp folder beside ``final``; on success it replaces ``final`` whole.

    On any exception the temp folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    # mkdtemp makes 0700; a run folder should get the usual permissions (umask applies).
    os.chmod(tmp, 0o777 & ~_current_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
