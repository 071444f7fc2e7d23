"""Stage records of a run folder: fingerprints, ``DIR/.stages/<stage>.json``, the run lock, the run
summary. Used by ``huggingtweets.runner`` and the stage commands.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError
from huggingtweets.redact import redact_values
from huggingtweets.runfolder import RunFolder, atomic_write_json, read_json

RECORDS = ".stages"
SMALL_FILE = 4 << 20  # outputs up to this size are identified by content, larger ones by size and mtime


def file_identity(path: str | Path) -> dict:
    """What a stage's input file *is*: its name and a hash of its content.

    Content, not modification time: a copied or re-downloaded archive with the same posts must not
    re-train, and an edited posts file must. Each export format says what it is made of (its entry's
    ``identity`` in ``sources.registry``): a zip by its table of contents, an X folder by its ``.js``
    data files and avatar, a Mastodon folder by its outbox, actor and avatar; a file is hashed whole.
    """
    from huggingtweets.sources.registry import export_for

    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path} does not exist; expected an archive or posts file",
            hint="check the path given to --archive / --posts-file",
        )
    return export_for(path).identity(path)


def fingerprint(name: str, settings: dict, upstream: str) -> str:
    """A stage's identity: its settings plus the token of the output it reads (``upstream``)."""
    blob = json.dumps({"stage": name, "settings": settings, "upstream": upstream}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_path(run_dir: Path | str, name: str) -> Path:
    return Path(run_dir) / RECORDS / f"{name}.json"


def read_record(run_dir: Path | str, name: str) -> dict | None:
    try:
        record = read_json(record_path(run_dir, name))
    except (OSError, ValueError):  # missing, unreadable, or not JSON: no record
        return None
    return record if isinstance(record, dict) else None


def write_record(run_dir: Path, name: str, status: str, fp: str, settings: dict, **extra: Any) -> None:
    """The record, with anything token-shaped masked: it says why a stage re-runs, it holds no secret."""
    record = {"stage": name, "status": status, "fingerprint": fp, "settings": settings, **extra}
    atomic_write_json(record_path(run_dir, name), redact_values(record))


def outputs_identity(run_dir: Path, outputs: Iterable[str]) -> list:
    """What a stage's outputs are now: small files by content, large ones by size and mtime.

    Recorded when the stage finishes; a different identity later means something (a stage command
    run by hand on the folder) changed them under the record, and the stage runs again.
    """
    run_dir = Path(run_dir)
    found = []
    for rel in outputs:
        top = run_dir / rel
        files = (
            sorted(p for p in top.rglob("*") if p.is_file())
            if top.is_dir()
            else [top]
            if top.is_file()
            else []
        )
        for path in files:
            stat = path.stat()
            if stat.st_size <= SMALL_FILE:
                mark = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                mark = f"{stat.st_size}:{stat.st_mtime_ns}"
            found.append([path.relative_to(run_dir).as_posix(), mark])
    return found


@contextlib.contextmanager
def run_lock(run_dir: Path | str, *, create: bool = True, discard_new: bool = False) -> Iterator[None]:
    """One writer per run folder at a time: ``run`` and every stage command that writes the folder.

    An OS lock (flock), so a crashed or killed command never leaves a stale lock behind. A folder
    that cannot be written (read-only file system, no permission, a path under a regular file)
    is a one-line error here, before any work. ``create=False`` (stages that need an earlier
    stage's folder): a missing folder is left to the stage's own "run fetch first" error.
    ``discard_new``: when the body fails, a folder this call created is removed again (bad input
    leaves nothing behind).
    """
    if not create and not Path(run_dir).is_dir():
        yield
        return
    created = not Path(run_dir).exists()
    try:
        with _locked(run_dir):
            yield
    except BaseException:
        if discard_new and created:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
        raise


@contextlib.contextmanager
def _locked(run_dir: Path | str) -> Iterator[None]:
    path = Path(run_dir) / RECORDS / "run.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")
    except OSError as err:
        raise unwritable(run_dir, err) from None
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs there are not guarded
        with fh:
            yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another huggingtweets command is writing to {run_dir}",
                hint="wait for it to finish, or give this one another --run-dir",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def unwritable(run_dir: Path | str, err: OSError) -> InputError:
    """The one-line error for a run folder that cannot be written."""
    reason = {
        errno.EROFS: "it is on a read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of its path is a file, not a folder",
        errno.EEXIST: "a file of that name is in the way",
        errno.ENOSPC: "the disk is full",
    }
    why = reason.get(err.errno, err.strerror or type(err).__name__)
    return InputError(
        f"cannot write to run folder {run_dir}: {why}", hint="pass a --run-dir in a writable place"
    )


def changes(old: dict, new: dict) -> str:
    """The first few settings that differ, for the message that says why a stage re-runs."""
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]

    def shown(value) -> str:  # an unset setting is the trainer's default for the base (epochs, rate)
        return "default" if value is None else repr(value)

    return ", ".join(f"{k} {shown(old.get(k))} -> {shown(new.get(k))}" for k in changed[:3])


def build_summary(run_dir: Path, results: dict[str, dict], *, ran: list[str], skipped: list[str]) -> dict:
    """Counts kept per user, validation perplexity, memorization rate, repo URL, three sample posts."""

    folder = RunFolder(run_dir)

    def load(name: str) -> dict:
        path = folder.path(name)
        return read_json(path) if path.is_file() else {}

    report, training, predictions = load("data_report"), load("training_summary"), load("predictions")
    publish = results.get("publish") or {}
    return {
        "users": {
            h: {"downloaded": u.get("downloaded"), "kept": u.get("kept")}
            for h, u in (report.get("users") or {}).items()
        },
        "perplexity": training.get("perplexity"),
        "validation_loss": training.get("validation_loss"),
        "memorization_rate": predictions.get("memorization_rate"),
        "repo_id": publish.get("repo_id"),
        "url": publish.get("url"),
        "commit": publish.get("commit"),
        "private": publish.get("private"),
        "card": str(run_dir / "model" / "README.md") if (run_dir / "model" / "README.md").is_file() else None,
        "samples": [s["text"] for s in (predictions.get("samples") or [])[:3]],
        "ran": ran,
        "skipped": skipped,
    }
