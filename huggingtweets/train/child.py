"""Training in a process of its own: the pipeline's parent side and the child's side of one channel.

Training changes process-wide state (torch's thread count, glibc's allocator settings, library
logger levels, accelerate's singletons and process group). The pipeline, the web app's server
and a notebook must not inherit any of it, so ``train_in_child`` starts
``python -m huggingtweets train --child ...`` (or ``accelerate launch ... -m huggingtweets train
--child ...`` for several processes) and reads what it reports, one JSON object per line on the
child's stdout:

    {"event": {...}, "reply": bool}                a progress event (``Event.to_dict``)
    {"summary": {...}}                             training finished (or stopped early)
    {"error": {"type": ..., "message": ..., "hint": ...}}   a typed error (``huggingtweets.errors``)

Anything else the child (or a library in it) writes goes to its stderr, of which the parent keeps
the last lines for the one-line error of a crash. Cancelling is SIGINT to the child: it saves a
checkpoint at its next step and reports ``Cancelled``; the parent raises that again. A single
training process also waits, after each step's event, for the parent's answer on its stdin ("go"
or "stop"), so a cancel asked for while the parent handles step N's event stops it right after
step N, as it did in-process; its stdin closing (the parent died) stops it the same way.

``huggingtweets.train.train`` itself still trains in the calling process, for library users and
tests that want that (and accept its process-wide changes).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingtweets import errors
from huggingtweets.events import CancelToken, Events, TrainStep, event_from_dict, ignore
from huggingtweets.redact import redact

if TYPE_CHECKING:
    from huggingtweets.train.config import TrainConfig

TAIL_LINES = 12  # of the child's stderr, in the error of a crash
CANCEL_GRACE_S = 300  # a cancelled child gets this long to write its checkpoint before it is killed
# What a launcher (torchrun, accelerate launch, mpirun) leaves in the environment of the processes it
# started. A child of such a process must not see them: it would try to join the outer group.
LAUNCHER_PREFIXES = ("TORCHELASTIC_", "ACCELERATE_", "OMPI_", "PMI_")
LAUNCHER_VARS = (
    "RANK",
    "LOCAL_RANK",
    "GROUP_RANK",
    "ROLE_RANK",
    "ROLE_NAME",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_WORLD_SIZE",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "OMP_NUM_THREADS",
)


def launched_rank() -> tuple[int, int]:
    """(rank, world size) this process was started with by a launcher; (0, 1) when started alone."""
    return int(os.environ.get("RANK", "0") or 0), int(os.environ.get("WORLD_SIZE", "1") or 1)


def child_command(run_dir: Path, config_file: Path, *, resume: bool, num_processes: int) -> list[str]:
    train = [
        "-m",
        "huggingtweets",
        "train",
        "--child",
        "--run-dir",
        str(run_dir),
        "--config",
        str(config_file),
    ]
    if resume:
        train.append("--resume")
    if num_processes <= 1:
        return [sys.executable, *train]
    # Same arguments as the documented two-process launch; on a CPU-only machine the trainer asks
    # accelerate for its gloo backend (runtime.distributed_on_cpu). Port 0: a free one.
    launch = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes)]
    launch += ["--num_machines", "1", "--main_process_port", "0", "--dynamo_backend", "no"]
    launch += ["--mixed_precision", "no"]  # the trainer passes its own precision to Accelerator()
    return [sys.executable, *launch, *train]


REPLIES_VAR = "HUGGINGTWEETS_TRAIN_REPLIES"  # set for a single child process: it waits for answers


def child_env(endpoint: str | None, *, replies: bool = False) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith(LAUNCHER_PREFIXES)
    }
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    env["PYTHONUNBUFFERED"] = "1"
    if replies:
        env[REPLIES_VAR] = "1"
    return env


def train_in_child(
    run_dir: Path | str,
    config: TrainConfig,
    *,
    resume: bool = False,
    events: Events = ignore,
    cancel: CancelToken | None = None,
    endpoint: str | None = None,
    num_processes: int = 1,
) -> dict[str, Any]:
    """``train.train`` with the same arguments and result, run in a child process (or ``num_processes``
    processes under ``accelerate launch``); events come back to ``events`` as they happen."""
    run_dir = Path(run_dir)
    with tempfile.TemporaryDirectory(prefix="huggingtweets-train-") as tmp:
        config_file = Path(tmp) / "train.json"
        config_file.write_text(json.dumps(dataclasses.asdict(config)))
        proc = subprocess.Popen(
            child_command(run_dir, config_file, resume=resume, num_processes=num_processes),
            # One process answers each step on its stdin; a launcher's workers may not inherit it.
            stdin=subprocess.PIPE if num_processes <= 1 else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(endpoint, replies=num_processes <= 1),
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own session: a Ctrl-C in the terminal reaches only the parent, which passes it on once.
            start_new_session=True,
        )
        return _follow_child(proc, events, cancel)


def _follow_child(proc: subprocess.Popen, events: Events, cancel: CancelToken | None) -> dict[str, Any]:
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    readers = [threading.Thread(target=_keep_tail, args=(proc.stderr, tail), daemon=True)]
    finished = threading.Event()
    if cancel is not None:
        readers.append(threading.Thread(target=_pass_cancel, args=(proc, cancel, finished), daemon=True))
    for thread in readers:
        thread.start()
    summary: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        for line in proc.stdout:
            message = _parse(line)
            if message is None:
                tail.append(line.rstrip("\n"))
            elif "event" in message:
                events(event_from_dict(message["event"]))
                if message.get("reply"):
                    _answer(proc, "stop" if cancel is not None and cancel.cancelled else "go")
            elif "summary" in message:
                summary = message["summary"]
            elif "error" in message and error is None:
                error = message["error"]
        proc.wait()
    except BaseException:
        # Ctrl-C in the parent (or its events callback failed): the child saves a checkpoint and
        # stops, so the same command resumes; it is killed if it takes longer than the grace time.
        _interrupt(proc)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # one waiting for an answer reads the end: it stops the same way
        with contextlib.suppress(BaseException):
            for _ in proc.stdout:  # drained, so the child never blocks on a full pipe
                pass
        with contextlib.suppress(BaseException):
            proc.wait(timeout=CANCEL_GRACE_S)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        finished.set()
        readers[0].join(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    if error is not None:
        raise _typed_error(error)
    if proc.returncode == 0 and summary is not None:
        return summary
    raise errors.TrainingError(
        f"the training process {_how_it_ended(proc.returncode)}; its last lines: "
        + (redact(" | ".join(line.strip() for line in tail if line.strip())) or "(none)"),
        hint="set HUGGINGTWEETS_DEBUG=1 and run `huggingtweets train --run-dir DIR` to see all of its output",
    )


def _parse(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _answer(proc: subprocess.Popen, word: str) -> None:
    with contextlib.suppress(OSError):  # the child is gone: its exit code tells the rest
        proc.stdin.write(word + "\n")
        proc.stdin.flush()


def _keep_tail(stream, tail: collections.deque) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))


def _pass_cancel(proc: subprocess.Popen, cancel: CancelToken, finished: threading.Event) -> None:
    while not finished.wait(0.1):
        if cancel.cancelled:
            _interrupt(proc)
            return


def _interrupt(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else -returncode
        memory = " (out of memory?)" if returncode == -signal.SIGKILL else ""
        return f"was killed by signal {name}{memory}"
    if returncode == 0:
        return "ended without a result"
    return f"exited with code {returncode}"


def _typed_error(error: dict[str, Any]) -> errors.HuggingtweetsError:
    cls = getattr(errors, str(error.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.HuggingtweetsError)):
        cls = errors.TrainingError
    hint = error.get("hint")
    if cls is errors.HubError:
        return errors.HubError(str(error.get("message")), hint=hint, status=error.get("status"))
    return cls(str(error.get("message")), hint=hint)


# ---------------------------------------------------------------- the child's side


def serve(run_dir: Path, config: TrainConfig, *, resume: bool) -> int:
    """The child: train, report on the channel (the real stdout), return the exit code.

    Library output meant for stdout goes to stderr instead, so the channel carries only JSON lines.
    The first SIGINT asks for a checkpoint and a clean stop; a second one interrupts at once.
    """
    from huggingtweets.train.loop import train

    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    cancel = CancelToken()

    def on_sigint(_signum, _frame) -> None:
        cancel.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, on_sigint)

    def send(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")

    replies = os.environ.get(REPLIES_VAR) == "1"

    def report(event) -> None:
        # The loop checks ``cancel`` right after a step's event: the parent's answer comes first.
        reply = replies and isinstance(event, TrainStep)
        send({"event": event.to_dict(), "reply": reply})
        if reply and sys.stdin.readline().strip() != "go":  # "stop", or the parent is gone
            cancel.cancel()

    try:
        summary = train(run_dir, config, resume=resume, events=report, cancel=cancel)
    except errors.HuggingtweetsError as err:
        error = {"type": type(err).__name__, "message": redact(err.message), "hint": err.hint}
        if isinstance(err, errors.HubError):
            error["status"] = err.status
        send({"error": error})
        return err.exit_code
    finally:
        channel.flush()
    if summary:  # the other processes of a launch return nothing: one report, from the main process
        send({"summary": summary})
    channel.close()
    return 0
