"""The app's data check (fetch + prepare) in a process of its own, bounded in time and memory.

A visitor's file is untrusted: reading it runs in a child process that is killed when it runs past
``timeout`` seconds or its resident memory passes ``max_memory_mb``, so a hostile file costs its own
visitor a one-line error and nobody else anything. Checks of different sessions run side by side
(the page lets ``MAX_CHECKS`` run at once); a session runs one at a time. Nothing here imports
gradio: the child imports only the sources and prepare.
"""

from __future__ import annotations

import multiprocessing
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
    )
    return report, notes


def _child(conn, target, args: tuple) -> None:
    try:
        conn.send(("ok", target(*args)))
    except HuggingtweetsError as err:
        conn.send(("error", type(err).__name__, err.message, err.hint))
    except BaseException as err:  # noqa: BLE001 - the parent shows one line, never a traceback
        conn.send(("error", "InputError", f"the data check failed: {type(err).__name__}: {err}", None))
    finally:
        conn.close()


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
) -> Any:
    """``target(run_dir, sources)`` in a child process; its result, or its typed error re-raised here.

    Killed past ``limits``: an InputError naming the limit. ``target`` must be importable by name
    (the child is spawned, not forked: the app's threads and locks stay in the app).
    """
    limits = limits or CheckLimits()
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, target, (str(run_dir), sources)), daemon=True)
    child.start()
    send.close()
    started = time.monotonic()
    peak = 0.0
    try:
        while True:
            if receive.poll(_POLL):
                try:
                    answer = receive.recv()
                except EOFError:
                    answer = None
                break
            if not child.is_alive():
                answer = None
                break
            peak = max(peak, _rss_mb(child.pid))
            if peak > limits.max_memory_mb:
                raise InputError(
                    f"reading these files took more than {limits.max_memory_mb} MB of memory; the check "
                    "was stopped",
                    hint="upload the account export as the network wrote it, or a smaller posts file",
                )
            if time.monotonic() - started > limits.timeout:
                raise InputError(
                    f"the data check ran past {limits.timeout:g} s and was stopped",
                    hint="try fewer or smaller sources, or run huggingtweets fetch on your own machine",
                )
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receive.close()
    if answer is None:
        raise InputError(
            f"the data check stopped unexpectedly (exit code {child.exitcode})",
            hint="check the data again; if it happens again, the files may be damaged",
        )
    if answer[0] == "ok":
        return answer[1]
    raise _rebuild(*answer[1:])
