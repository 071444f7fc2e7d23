"""Progress as events: what the stages report, and the one interface they report it through.

The library never prints progress itself. A stage that has something to say (it started, a
training step finished, an epoch was evaluated, bytes were uploaded) builds one of the small frozen
records below and hands it to the ``Events`` callback it was given. Whoever called the library
decides what to do with them: the CLI renders a live display on a terminal and plain lines in a
log, the web app feeds its progress bar and loss curve, tests collect them in a list.

Events are plain data (every field JSON-serializable), so they can also cross a process boundary
as one JSON object per line (``to_dict`` / ``from_dict``).

Cancelling is the other direction: the caller hands a ``CancelToken`` in, and long-running work
(the training loop) checks it between steps, saves what it has (a checkpoint) and raises
``huggingtweets.errors.Cancelled``. The next run resumes from that checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "CancelToken",
    "EpochEnd",
    "Event",
    "Events",
    "Message",
    "StageFinished",
    "StageStarted",
    "TrainStep",
    "Upload",
    "event_from_dict",
    "ignore",
]


@dataclass(frozen=True)
class Event:
    """Base class. ``kind`` names the event type in serialized form."""

    kind = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class StageStarted(Event):
    """A pipeline stage begins. ``index`` counts from 1 up to ``total``."""

    stage: str
    index: int
    total: int
    reason: str = ""  # why it runs: "starting", "settings changed (epochs 4 -> 5)", "resuming", ...

    kind = "stage_started"


@dataclass(frozen=True)
class StageFinished(Event):
    """A pipeline stage ended: ran to completion, or was skipped because it was already done."""

    stage: str
    index: int
    total: int
    skipped: bool = False
    seconds: float = 0.0  # wall time of the stage (0 when skipped)
    result: dict[str, Any] = field(default_factory=dict)  # the stage's small result (counts, ids)

    kind = "stage_finished"


@dataclass(frozen=True)
class TrainStep(Event):
    """One optimizer step of training finished."""

    step: int  # optimizer steps done so far (1-based), resumed steps included
    total_steps: int
    epoch: int  # 1-based epoch this step belongs to
    epochs: int
    loss: float  # training loss of this step's last micro-batch
    learning_rate: float
    tokens_per_second: float  # trained tokens per second of training time in this session
    eta_seconds: float | None = None  # time left for training at the current rate

    kind = "train_step"


@dataclass(frozen=True)
class EpochEnd(Event):
    """An epoch ended and the validation split was evaluated."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float | None
    validation_loss: float
    perplexity: float

    kind = "epoch_end"


@dataclass(frozen=True)
class Upload(Event):
    """Bytes of a publish went to the Hub."""

    bytes_done: int
    bytes_total: int
    path: str = ""  # the file in the repo, when known

    kind = "upload"


@dataclass(frozen=True)
class Message(Event):
    """One line for the user: a stage's note, a warning, a rate-limit wait."""

    text: str
    level: str = "info"  # info | warning

    kind = "message"


Events = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The ``Events`` callback that drops everything (the default of library functions)."""


_KINDS: dict[str, type[Event]] = {
    cls.kind: cls for cls in (StageStarted, StageFinished, TrainStep, EpochEnd, Upload, Message)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The inverse of ``Event.to_dict`` (for events read back from JSON lines)."""
    cls = _KINDS.get(data.get("kind", ""))
    if cls is None:
        raise ValueError(f"unknown event kind {data.get('kind')!r}; expected one of {', '.join(_KINDS)}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class CancelToken:
    """Set from any thread to ask long-running work to stop at its next safe point."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
