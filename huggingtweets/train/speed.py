"""Speed decisions of the trainer, each backed by a measurement in benchmarks/ (see RESULTS.md).

Kept apart from the loop so the loop stays a top-to-bottom read: where the time went (phases),
how many threads, whether to compile, whether the chunked loss applies.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict


class Phases:
    """Seconds per phase of a training command: setup, train, eval, checkpoint, save.

    ``split()`` is what goes into training_summary.json (``phases_s``) and the CLI's summary line,
    so a user sees where the wall time went and not only the training loop's tokens/s.
    """

    ORDER = ("setup", "train", "eval", "checkpoint", "save")

    def __init__(self) -> None:
        self._seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[name] += time.perf_counter() - started

    def add(self, name: str, seconds: float) -> None:
        self._seconds[name] += seconds

    def split(self) -> dict[str, float]:
        return {name: round(self._seconds[name], 2) for name in self.ORDER if name in self._seconds}


def format_phases(phases: dict[str, float]) -> str:
    """``setup 3.0 s, train 40.0 s, eval 1.0 s, ...`` for the summary line, in the order they run."""
    return ", ".join(f"{name} {phases[name]:.1f} s" for name in Phases.ORDER if name in phases)


def cpu_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the host's count)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def auto_cpu_threads(cores: int | None = None, load: float | None = None) -> int:
    """Torch threads for ``cpu_threads: 0``: every core that other work is not already using.

    On an idle 2-core machine two threads train the tiny model 1.74x faster than one (the issue's
    measurement; the same held for GPT-2 124M). With other work on the cores, torch's threads spin
    at every barrier waiting for the one that was descheduled: measured here at load 6 on 2 cores,
    one thread trained 1.53x faster than two, and generation collapsed from ~10 s to 100 s a call.
    The 1-minute load average, read before our own work starts, says how many cores are taken.
    """
    import os

    cores = cores or cpu_cores()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform: assume the cores are ours
            load = 0.0
    return max(1, min(cores, cores - int(load + 0.25)))
