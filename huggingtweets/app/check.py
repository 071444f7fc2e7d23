"""The app's data check (fetch + prepare) in a process of its own, bounded in time and memory.

A visitor's file is untrusted: reading it runs in a child process that is killed when it runs past
``timeout`` seconds or its resident memory passes ``max_memory_mb``, so a hostile file costs its own
visitor a one-line error and nobody else anything. Checks of different sessions run side by side
(the page lets ``MAX_CHECKS`` run at once); a session runs one at a time. Nothing here imports
gradio: the child imports only the sources and prepare.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets import errors
from huggingtweets.errors import HuggingtweetsError, InputError

DEFAULT_TIMEOUT = 600  # seconds: a live read of a large X account with its rate-limit waits fits
DEFAULT_MAX_MEMORY_MB = 1536  # the archive caps keep an honest 1 GB export well below it
MAX_CHECKS = 4  # checks of different sessions at once; more wait in the page's queue
_POLL = 0.05


@dataclass(frozen=True)
class CheckLimits:
    timeout: float = DEFAULT_TIMEOUT
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB


def fetch_and_prepare(run_dir: str, sources: dict) -> tuple[dict, list[str]]:
    """The data report, and what fetch said on the way (the X API's cost estimate, rate-limit waits)."""
    from huggingtweets.config import RunConfig
    from huggingtweets.prepare import prepare
    from huggingtweets.sources import fetch

    notes: list[str] = []
    fetch(Path(run_dir), echo=notes.append, **sources)
    defaults = RunConfig()  # the run's own cleaning settings, so Train finds this dataset as it left it
    report = prepare(
        Path(run_dir),
        seed=defaults.train.seed,
        keep_newlines=defaults.keep_newlines,
        keep_replies=defaults.keep_replies,
        detect_languages=defaults.detect_languages,
        validation=defaults.validation,
    )
    return report, notes


def _child(job_file: str) -> None:
    """In the child: run the target named in ``job_file`` and write what came of it back there."""
    import importlib
    import pickle

    with open(job_file, "rb") as f:
        module, name, args = pickle.load(f)
    try:
        answer: tuple = ("ok", getattr(importlib.import_module(module), name)(*args))
    except HuggingtweetsError as err:
        answer = ("error", type(err).__name__, err.message, err.hint)
    except BaseException as err:  # noqa: BLE001 - the parent shows one line, never a traceback
        answer = ("error", "InputError", f"the data check failed: {type(err).__name__}: {err}", None)
    with open(job_file + ".tmp", "wb") as f:
        pickle.dump(answer, f)
    os.replace(job_file + ".tmp", job_file + ".done")


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (0 where /proc is not there to say)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _rebuild(kind: str, message: str, hint: str | None) -> HuggingtweetsError:
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, HuggingtweetsError)) or cls is errors.HubError:
        cls = InputError
    return cls(message, hint=hint)


def run_check(
    run_dir: Path | str,
    sources: dict,
    *,
    limits: CheckLimits | None = None,
    target=fetch_and_prepare,
    started=None,
) -> Any:
    """``target(run_dir, sources)`` in a child process; its result, or its typed error re-raised here.

    Killed past ``limits``: an InputError naming the limit. ``target`` must be importable by name.
    ``started(process)``: called with the child (a ``Popen``) once it runs, so its session can kill it.
    The child is a fresh interpreter (``python -m huggingtweets.app.check``), neither a fork (the
    app's threads and locks stay in the app) nor multiprocessing's spawn (which runs the app's main
    script again, and a Space's app.py launches the app at import).
    """
    import pickle
    import subprocess
    import sys
    import tempfile

    limits = limits or CheckLimits()
    with tempfile.TemporaryDirectory(prefix="huggingtweets-check-") as tmp:
        job = os.path.join(tmp, "job")
        with open(job, "wb") as f:
            pickle.dump((target.__module__, target.__qualname__, (str(run_dir), sources)), f)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the app's modules
        child = subprocess.Popen(
            [sys.executable, "-m", "huggingtweets.app.check", job],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        if started is not None:
            started(child)
        began = time.monotonic()
        try:
            while child.poll() is None:
                if _rss_mb(child.pid) > limits.max_memory_mb:
                    raise InputError(
                        f"reading these files took more than {limits.max_memory_mb} MB of memory; the "
                        "check was stopped",
                        hint="upload the account export as the network wrote it, or a smaller posts file",
                    )
                if time.monotonic() - began > limits.timeout:
                    raise InputError(
                        f"the data check ran past {limits.timeout:g} s and was stopped",
                        hint="try fewer or smaller sources, or run huggingtweets fetch on your own machine",
                    )
                time.sleep(_POLL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
        try:
            with open(job + ".done", "rb") as f:
                answer = pickle.load(f)
        except OSError:
            raise InputError(
                f"the data check stopped unexpectedly (exit code {child.returncode})",
                hint="check the data again; if it happens again, the files may be damaged",
            ) from None
    if answer[0] == "ok":
        return answer[1]
    raise _rebuild(*answer[1:])


if __name__ == "__main__":
    import sys

    _child(sys.argv[1])
