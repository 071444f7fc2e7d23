"""The run folder: where every stage reads its inputs and writes its outputs.

Writes are atomic (temp path, then ``os.replace``) so a crash or a bad input never leaves a
half-written file or folder behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import StageError

RUNS_ROOT = Path("runs")
MAX_REPO_NAME = 96  # the Hub's limit on the name part of a repo id


def bot_name(handles: Iterable[str]) -> str:
    """A bot's name: its people's handles without ``@``, lower-cased, sorted, joined by ``-``.

    The one place this is computed: the default run folder, the default repo id and the
    publishing pre-flight all use it, so they always agree.
    """
    names = sorted({str(h).strip().lstrip("@").lower() for h in handles if h and str(h).strip().lstrip("@")})
    if not names:
        raise ValueError("a bot name needs at least one handle")
    # keys joined, '--'/'..' made single and bounded to the Hub's 96 characters with a digest
    return repo_name(names)


# Every path of a run folder, and the stage (and command) that makes it: the one table that names
# them. A missing input is one error: "DIR/users.json is missing: run stage fetch first".
LAYOUT: dict[str, tuple[str, str]] = {
    "users": ("users.json", "fetch"),
    "raw": ("raw", "fetch"),
    "dataset": ("dataset", "prepare"),
    "data_report": ("data_report.json", "prepare"),
    "model": ("model", "train"),
    "model_config": ("model/config.json", "train"),
    "training_summary": ("training_summary.json", "train"),
    "checkpoints": ("checkpoints", "train"),
    "predictions": ("predictions.json", "generate"),
    "card": ("model/README.md", "card"),
    "metadata": ("model/huggingtweets.json", "card"),
    "preview": ("model/predictions.png", "card"),
    "run_summary": ("run_summary.json", "run"),
    "stages": (".stages", "run"),
}


@dataclass(frozen=True)
class RunFolder:
    """A run folder's paths, each named once in ``LAYOUT`` with the stage that makes it."""

    root: Path

    def __init__(self, root: Path | str) -> None:
        object.__setattr__(self, "root", Path(root))

    def path(self, name: str) -> Path:
        return self.root / LAYOUT[name][0]

    def __getattr__(self, name: str) -> Path:
        if name in LAYOUT:
            return self.path(name)
        raise AttributeError(name)

    @staticmethod
    def made_by(stage: str) -> tuple[str, ...]:
        """The relative paths ``stage`` writes (in LAYOUT order)."""
        return tuple(rel for rel, maker in LAYOUT.values() if maker == stage)

    @staticmethod
    def maker(name: str) -> str:
        return LAYOUT[name][1]

    def require(self, name: str, *, needed_by: str = "") -> Path:
        """``path(name)`` when it exists, else the one "missing input" error naming its stage."""
        path = self.path(name)
        if not path.exists():
            raise missing(path, LAYOUT[name][1], self.root, needed_by=needed_by)
        return path

    def read(self, name: str, *, needed_by: str = "") -> Any:
        """The JSON file ``name``; missing or unreadable is one error naming the stage that makes it."""
        path = self.require(name, needed_by=needed_by)
        try:
            return read_json(path)
        except ValueError as err:
            stage = LAYOUT[name][1]
            raise StageError(
                f"{path} is not valid JSON ({err})",
                hint=f"re-run: huggingtweets {stage} --run-dir {self.root}",
            ) from err


# The command that runs a stage on its own, where it is not just the stage's name: bare `generate`
# prints posts, `--for-card` writes the card's samples.
STAGE_COMMANDS = {"generate": "generate --for-card"}


def missing(path: Path, stage: str, root: Path, *, needed_by: str = "") -> StageError:
    """The one "missing input, run stage X" error."""
    why = f" ({needed_by} needs it)" if needed_by else ""
    return StageError(
        f"{path} is missing{why}: run stage {stage} first",
        hint=f"run: huggingtweets {STAGE_COMMANDS.get(stage, stage)} --run-dir {root}",
    )


def hub_safe(raw: str) -> str:
    """``raw`` as a repo-name part: runs of '-'/'.' made single (the Hub refuses '--' and '..'), and a
    short digest added when that changed it, so two accounts never share a key."""
    safe = re.sub(r"[-.]{2,}", lambda m: m.group(0)[0], raw).strip("-.")
    if safe != raw:
        safe = f"{safe}_{hashlib.sha256(raw.encode()).hexdigest()[:6]}"
    return safe


def repo_name(keys: Iterable[str]) -> str:
    """The bot's repo name: the keys sorted, lower-cased, joined by '-', always a valid Hub name.

    Too long a name keeps a readable start and ends with a digest of the whole, so two bots of
    different accounts never share one.
    """
    parts = sorted({str(k).lower() for k in keys if k})
    if not parts:
        raise ValueError("repo_name needs at least one handle")
    name = hub_safe("-".join(parts))
    if len(name) > MAX_REPO_NAME:
        digest = hashlib.sha256("-".join(parts).encode()).hexdigest()[:10]
        name = name[: MAX_REPO_NAME - len(digest) - 1].rstrip("-._") + "_" + digest
    return name


def default_run_dir(handles: Iterable[str], root: Path | str = RUNS_ROOT) -> Path:
    """``runs/<bot name>`` (see ``bot_name``)."""
    return Path(root) / bot_name(handles)


# Exclusive create: never follow or reuse an existing path. The mode passed to os.open/os.mkdir
# goes through the process umask in the kernel, so temp files get the mode a plain open() or
# mkdir() would give, without reading the umask (os.umask sets it, and a thread creating a file
# in between would get mode 0777/0666 unmasked).
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_BINARY", 0)
)


def _temp_beside(path: Path, create: Any) -> Path:
    """A fresh ``.<name>.<random>.tmp`` beside ``path``, made by ``create(tmp)`` (which must fail if
    the name exists)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            create(tmp)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    tmp = _temp_beside(path, lambda t: fds.append(os.open(t, _OPEN_FLAGS, 0o666)))
    try:
        with os.fdopen(fds[0], "wb") as fh:
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
    # Not mkdtemp (0700): a run folder gets the usual permissions, the kernel applying the umask.
    tmp = _temp_beside(final, lambda t: os.mkdir(t, 0o777))
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


# The GGUF files of a bot's model folder (``export gguf``, ``publish --gguf``): the one fact the card
# and publish both read, kept here on the ground floor so neither imports the exporter.
MODELFILE = "Modelfile"  # Ollama's file name, beside the .gguf it runs


def bot_gguf(model_dir: Path | str) -> dict | None:
    """What the card records about the .gguf files in DIR/model/ (None: there are none)."""
    model_dir = Path(model_dir)
    files = sorted(p.name for p in model_dir.glob("*.gguf") if p.is_file() and not p.name.startswith("."))
    if not files:
        return None
    modelfile = model_dir / MODELFILE
    if not modelfile.is_file():
        return {"files": files, "main": files[0], "modelfile": None}
    # The file the card's commands use: the one the Modelfile runs (the last exported).
    lines = modelfile.read_text(encoding="utf-8").splitlines()
    named = [line[len("FROM ./") :].strip() for line in lines if line.startswith("FROM ./")]
    main = next((f for f in named if f in files), files[0])
    return {"files": files, "main": main, "modelfile": MODELFILE}
