"""Stage records of a run folder: fingerprints, ``DIR/.stages/<stage>.json``, the run summary, the team of
processes under ``accelerate launch``. Used by ``huggingtweets.runner``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError, StageError
from huggingtweets.runfolder import atomic_write_json, read_json

STAGES = ("fetch", "prepare", "train", "generate", "card", "publish")
RECORDS = ".stages"
# What must exist for a finished stage to count as finished (someone may have deleted it).
OUTPUTS = {
    "fetch": ("users.json", "raw"),
    "prepare": ("dataset", "data_report.json"),
    "train": ("model/config.json", "training_summary.json"),
    "generate": ("predictions.json",),
    "card": ("model/README.md", "model/huggingtweets.json"),
    "publish": (),
}
# Stages that run even when their record matches. Publish leaves nothing local to check: the repo may
# have been deleted (`huggingtweets delete`, a wiped demo Hub) since, so "already done" would print a
# dead URL. Re-publishing is cheap: an unchanged folder makes no commit.
ALWAYS_RUN = frozenset({"publish"})


def file_identity(path: str | Path) -> dict:
    """What a stage's input file *is*: its name and a hash of its content.

    Content, not modification time: a copied or re-downloaded archive with the same posts must not
    re-train, and an edited posts file must. Archives can be gigabytes of media, so a zip is
    identified by its table of contents (every member's name, size and CRC-32) and a folder by its
    ``.js`` data files and profile media (the avatar); any other file is hashed whole.
    """
    import zipfile

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; expected an archive or posts file",
                         hint="check the path given to --archive / --posts-file")
    digest = hashlib.sha256()
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\n".encode())
        return {"name": path.name, "zip_toc_sha256": digest.hexdigest()}
    if path.is_dir():  # the data files and the avatar, not the media of every post
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and (p.suffix == ".js" or "profile_media" in p.relative_to(path).parts))
    else:
        files = [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return {"name": path.name, "sha256": digest.hexdigest()}


def fingerprint(name: str, settings: dict, upstream: str) -> str:
    """A stage's identity: its settings plus the token of the output it reads (``upstream``)."""
    blob = json.dumps({"stage": name, "settings": settings, "upstream": upstream}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_path(run_dir: Path | str, name: str) -> Path:
    return Path(run_dir) / RECORDS / f"{name}.json"


def read_record(run_dir: Path | str, name: str) -> dict | None:
    try:
        record = read_json(record_path(run_dir, name))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def write_record(run_dir: Path, name: str, status: str, fp: str, settings: dict, **extra: Any) -> None:
    atomic_write_json(record_path(run_dir, name),
                      {"stage": name, "status": status, "fingerprint": fp, "settings": settings, **extra})


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One ``run`` per run folder at a time: a second one would interleave writes and records.

    An OS lock (flock), so a crashed or killed run never leaves a stale lock behind.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs there are not guarded
        yield
        return
    path = Path(run_dir) / RECORDS / "run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another `huggingtweets run` is using {run_dir}",
                             hint="wait for it to finish, or give this one another --run-dir") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def outputs_present(run_dir: Path, name: str) -> bool:
    return all((run_dir / rel).exists() for rel in OUTPUTS[name])


def changes(old: dict, new: dict) -> str:
    """The first few settings that differ, for the message that says why a stage re-runs."""
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:3])


class Team:
    """The processes of one ``accelerate launch``; one process (WORLD_SIZE unset) is a team of one.

    The main process runs the pipeline; the others only join training, where accelerate splits
    the batches. The main process tells them what to do in ``DIR/.stages/team.json`` before the
    barrier in front of training (the run folder must be on storage all processes share). There is
    no barrier after training: the trainer syncs before saving and its ``end_training`` ends the
    process group, after which the other processes simply exit.
    """

    def __init__(self) -> None:
        self.state = None
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
            from accelerate import PartialState

            from huggingtweets.train.runtime import distributed_on_cpu

            # The same backend the trainer's Accelerator will ask for (gloo on a CPU-only machine):
            # accelerate's state is shared, so the first one created decides for both.
            self.state = PartialState(cpu=distributed_on_cpu())

    @property
    def is_main(self) -> bool:
        return self.state is None or self.state.is_main_process

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def plan_path(self, run_dir: Path) -> Path:
        return Path(run_dir) / RECORDS / "team.json"

    def announce(self, run_dir: Path, action: str, resume: bool = False) -> None:
        """Main process: "run" / "skip" training, or "abort"; then meet the others at the barrier."""
        if self.state is None:
            return
        atomic_write_json(self.plan_path(run_dir), {"train": action, "resume": resume})
        self.barrier()

    def follow(self, run_dir: Path) -> dict:
        """Other processes: wait for the main one's plan."""
        self.barrier()
        return read_json(self.plan_path(run_dir))


def build_summary(run_dir: Path, results: dict[str, dict], *, ran: list[str], skipped: list[str]) -> dict:
    """Counts kept per user, validation perplexity, memorization rate, repo URL, three sample posts."""
    def load(rel: str) -> dict:
        path = run_dir / rel
        return read_json(path) if path.is_file() else {}

    report, training, predictions = load("data_report.json"), load("training_summary.json"), \
        load("predictions.json")
    publish = results.get("publish") or {}
    return {
        "users": {h: {"downloaded": u.get("downloaded"), "kept": u.get("kept")}
                  for h, u in (report.get("users") or {}).items()},
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


def stage_status(run_dir: Path | str) -> dict[str, str]:
    """Each stage's recorded status in a run folder ("done", "running", "failed", or "not run")."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StageError(f"run folder {run_dir} does not exist", hint="run `huggingtweets run ...` first")
    return {name: (read_record(run_dir, name) or {}).get("status", "not run") for name in STAGES}
