"""Running the pipeline for the app: a worker thread, its events in a queue, and a cancel switch.

The Gradio handler that starts a training is a generator: it starts a ``TrainJob`` and then
drains the job's events to redraw the progress bar and the loss curve, until the job ends. The
runner itself knows nothing about Gradio; it only calls the ``events`` callback and checks the
``CancelToken`` it was given (``huggingtweets.events``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from huggingtweets.events import CancelToken, Event


@dataclass
class Progress:
    """What the page shows of a training, folded from the events as they come."""

    stage: str = ""
    stage_index: int = 0
    stage_total: int = 0
    reason: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    tokens_per_second: float = 0.0
    eta_seconds: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    epochs_done: list[dict[str, Any]] = field(default_factory=list)  # validation per epoch
    log: list[str] = field(default_factory=list)

    def apply(self, event: Event) -> None:
        kind = event.kind
        if kind == "stage_started":
            self.stage, self.stage_index, self.stage_total = event.stage, event.index, event.total
            self.reason = event.reason
            self.log.append(f"{event.stage}: {event.reason}" if event.reason else event.stage)
        elif kind == "stage_finished":
            if not event.skipped:
                self.log.append(f"{event.stage}: done in {event.seconds:.1f} s")
        elif kind == "train_step":
            self.step, self.total_steps = event.step, event.total_steps
            self.epoch, self.epochs = event.epoch, event.epochs
            self.tokens_per_second, self.eta_seconds = event.tokens_per_second, event.eta_seconds
            self.losses.append((event.step, event.loss))
        elif kind == "epoch_end":
            self.epochs_done.append(
                {
                    "epoch": event.epoch,
                    "validation_loss": event.validation_loss,
                    "perplexity": event.perplexity,
                    "train_loss": event.train_loss,
                }
            )
        elif kind == "message":
            self.log.append(event.text)


class TrainJob:
    """``runner.run(config, events=..., cancel=...)`` in a worker thread."""

    def __init__(self, config, *, token: str | None = None) -> None:
        self.config = config
        self.cancel_token = CancelToken()
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.result = None  # the RunResult when it finished
        self.error: BaseException | None = None
        self._token = token
        self._thread = threading.Thread(target=self._work, name="huggingtweets-app-train", daemon=True)

    def start(self) -> TrainJob:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        from huggingtweets.runner import run

        try:
            self.result = run(
                self.config, token=self._token, events=self.events.put, cancel=self.cancel_token
            )
        except BaseException as err:  # handed to the page; a worker thread has no one else to tell
            self.error = err
        finally:
            self.events.put(None)

    def follow(self, progress: Progress, every: float = 0.5) -> Iterator[Progress]:
        """Fold events into ``progress``; yield it at most every ``every`` seconds, and at the end."""
        done = False
        while not done:
            try:
                event = self.events.get(timeout=every)
            except queue.Empty:
                yield progress
                continue
            batch = [event]
            while True:  # take what has piled up, so a fast trainer does not flood the page
                try:
                    batch.append(self.events.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
                if item is None:
                    done = True
                else:
                    progress.apply(item)
            yield progress
