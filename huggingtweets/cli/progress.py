"""The CLI's view of ``huggingtweets.events``: one live display on a terminal, plain lines elsewhere.

On a terminal (stderr is a TTY) one tqdm line shows the current stage and, while training, a bar
with loss, tokens/s and the time left; notes and finished stages are written above it. Anywhere
else (a CI log, a pipe, a file) each event is one plain line with no carriage return, and training
steps are thinned to one line every few seconds plus the last step, so a log stays readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

from huggingtweets.events import EpochEnd, Event, Message, StageFinished, StageStarted, TrainStep, Upload

STEP_LINE_INTERVAL_S = 3.0  # plain output: at most one training-step line per this many seconds


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def step_text(e: TrainStep) -> str:
    return (
        f"step {e.step}/{e.total_steps}, epoch {e.epoch}/{e.epochs}, loss {e.loss:.4f}, "
        f"lr {e.learning_rate:.2e}, {e.tokens_per_second:,.0f} tok/s, ETA {_clock(e.eta_seconds)}"
    )


def epoch_text(e: EpochEnd) -> str:
    parts = [f"train: epoch {e.epoch}/{e.epochs} done"]
    if e.train_loss is not None:
        parts.append(f"train loss {e.train_loss:.4f}")
    if e.validation_loss is not None:
        parts.append(f"validation loss {e.validation_loss:.4f}, perplexity {e.perplexity:.2f}")
    return ", ".join(parts)


def stage_text(e: StageStarted | StageFinished) -> str:
    head = f"[{e.index}/{e.total}] {e.stage}:"
    if isinstance(e, StageStarted):
        return f"{head} {e.reason}"
    return f"{head} done in {e.seconds:.1f} s"


class PlainLines:
    """One event per line, for logs and pipes."""

    def __init__(
        self,
        stream: IO[str],
        *,
        interval: float = STEP_LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.interval, self.clock = stream, interval, clock
        self._last_at: dict[str, float] = {}  # when the last line of each rate-limited kind went out

    def _line(self, text: str) -> None:
        self.stream.write(" ".join(text.split()) + "\n")  # one line, whatever the text holds
        self.stream.flush()

    def _due(self, kind: str, last: bool) -> bool:
        """A rate-limited line: the first, the last, and otherwise one per ``interval``."""
        now = self.clock()
        if last or kind not in self._last_at or now - self._last_at[kind] >= self.interval:
            self._last_at[kind] = now
            return True
        return False

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self._last_at.pop("step", None)
            self._line(stage_text(event))
        elif isinstance(event, StageFinished):
            if not event.skipped:  # a skipped stage said so when it "started"
                self._line(stage_text(event))
        elif isinstance(event, TrainStep):
            if self._due("step", event.step >= event.total_steps):
                self._line("train: " + step_text(event))
        elif isinstance(event, EpochEnd):
            self._line(epoch_text(event))
        elif isinstance(event, Upload):
            if self._due("upload", event.bytes_done >= event.bytes_total):
                self._line(
                    f"upload: {event.bytes_done:,} of {event.bytes_total:,} bytes {event.path}".rstrip()
                )
        elif isinstance(event, Message):
            self._line(("warning: " if event.level == "warning" else "") + event.text)

    def close(self) -> None:
        pass


class LiveDisplay:
    """One tqdm line that follows the stages and the training; everything else is written above it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar = None

    def _write(self, text: str) -> None:
        from tqdm.auto import tqdm

        tqdm.write(text, file=self.stream)

    def _open(self, desc: str):
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(
            total=None,
            desc=desc,
            file=self.stream,
            leave=False,
            dynamic_ncols=True,
            bar_format="{desc} [{elapsed}]",
        )

    def _open_bytes(self, total: int) -> None:
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(
            total=total,
            desc="huggingtweets upload",
            file=self.stream,
            leave=False,
            dynamic_ncols=True,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
        )

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            if event.reason == "already done, skipped":
                self._write(stage_text(event))
                return
            self._write(stage_text(event))
            self._open(f"huggingtweets [{event.index}/{event.total}] {event.stage}")
        elif isinstance(event, StageFinished):
            if not event.skipped:
                self.close()
                self._write(stage_text(event))
        elif isinstance(event, TrainStep):
            if self.bar is None:
                self._open("huggingtweets train")
            bar = self.bar
            if bar.total != event.total_steps:
                bar.total = event.total_steps
                bar.bar_format = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {postfix}"
            bar.n = event.step
            bar.set_postfix_str(
                f"loss {event.loss:.3f}, {event.tokens_per_second:,.0f} tok/s, "
                f"ETA {_clock(event.eta_seconds)}",
                refresh=False,
            )
            bar.refresh()
        elif isinstance(event, EpochEnd):
            self._write(epoch_text(event))
        elif isinstance(event, Upload):
            if self.bar is None or self.bar.unit != "B" or self.bar.total != event.bytes_total:
                self._open_bytes(event.bytes_total)
            self.bar.n = event.bytes_done
            self.bar.set_postfix_str(event.path, refresh=False)
            self.bar.refresh()
        elif isinstance(event, Message):
            self._write(("warning: " if event.level == "warning" else "") + event.text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def renderer(stream: IO[str] | None = None) -> PlainLines | LiveDisplay:
    """The display for ``stream`` (stderr by default): live on a terminal, plain lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return LiveDisplay(stream) if isatty is not None and isatty() else PlainLines(stream)
