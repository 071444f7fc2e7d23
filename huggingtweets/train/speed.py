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


# torch.compile's first step is paid back only by a faster step afterwards. On this project's
# 2-core CPU (benchmarks/bench_ceiling.py --compile, RESULTS.md) the compiled tiny model trained at
# 0.93-1.01x (fp32) and 0.86-0.96x (bf16) the eager one after a 25-31 s first step (7.7-8.9 s with
# a warm inductor cache): it never pays back there.
# On a GPU, where eager GPT-2 steps are bound by kernel launches, compile is worth ~1.3-1.8x per
# step (nanoGPT's reported figures; not measured here, no GPU was lent) after ~30-60 s: at ~10 ms
# saved per step that is ~5,000-10,000 steps before it is ahead.
GPU_COMPILE_MIN_STEPS = 10_000


def should_compile(setting: str, device_type: str, total_steps: int) -> bool:
    """``compile: yes|no`` as given; ``auto``: only on a GPU, for a plan long enough to pay it back."""
    if setting != "auto":
        return setting == "yes"
    return device_type == "cuda" and total_steps >= GPU_COMPILE_MIN_STEPS


def format_phases(phases: dict[str, float]) -> str:
    """``setup 3.0 s, train 40.0 s, eval 1.0 s, ...`` for the summary line, in the order they run."""
    return ", ".join(f"{name} {phases[name]:.1f} s" for name in Phases.ORDER if name in phases)


def cpu_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the host's count)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def auto_cpu_threads(cores: int | None = None, load: float | None = None) -> int:
    """The first guess for ``cpu_threads: 0`` (warm-up and evaluation; ``ThreadProbe`` then measures):
    every core that other work is not already using.

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


class ThreadProbe:
    """The automatic thread count, chosen by what measurably trains faster here and now.

    A load threshold guessed wrong both ways: a browser or an editor keeps the load average near 1
    and the threshold then took one thread of two, halving the speed (issue 19: 141 against 239
    tokens/s for SmolLM2-135M), while real contention makes extra threads spin at every barrier.
    So the first training steps are the measurement: after one warm-up step, they alternate between
    the candidates (one thread, every core), ``rounds`` times each, timed per token; the faster
    (median) is kept for the rest of the run. No step is wasted: each one trains.
    """

    def __init__(self, candidates: tuple[int, ...], rounds: int = 2):
        self.candidates = tuple(dict.fromkeys(candidates))
        self._plan = [None] + [c for _ in range(rounds) for c in self.candidates]  # None: warm-up
        self._timings: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.chosen: int | None = self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def probing(self) -> bool:
        return self.chosen is None

    def threads_for_next_step(self) -> int | None:
        """The thread count to set before the next step (None: leave it as it is)."""
        if self.chosen is not None:
            return self.chosen
        return self._plan[0]

    def step_done(self, seconds: float, tokens: int) -> None:
        if self.chosen is not None:
            return
        threads = self._plan.pop(0)
        if threads is not None and tokens:
            self._timings[threads].append(seconds / tokens)
        if not self._plan:
            self.chosen = min(
                self.candidates, key=lambda c: sorted(self._timings[c])[len(self._timings[c]) // 2]
            )

    def record(self) -> dict:
        """For the training summary: the choice and the measured seconds per 1,000 tokens."""
        return {
            "chosen": self.chosen,
            "ms_per_1k_tokens": {
                str(c): [round(t * 1e6, 1) for t in times] for c, times in self._timings.items()
            },
        }


# glibc mallopt() parameters (malloc.h) and the defaults restored after training.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_MALLOPT_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
RETURN_THRESHOLD = 1024 * 1024  # return_freed_memory: blocks from this size are mmapped and unmapped on free


@contextlib.contextmanager
def return_freed_memory():
    """Serve every block of 1 MiB+ with mmap() and give it back to the system when torch frees it.

    glibc's own rule raises its mmap threshold to the size of each big block freed (up to 32 MiB),
    so a 135M model's activations (5-13 MiB each at batch 8 x 256) land in the heap, fragment it,
    and the heap's free part grows step after step (SmolLM2-135M: 1.3 GB kept free after 3 steps
    with glibc's defaults, 2.7 GB with ``keep_freed_memory``). A fixed threshold stops that: what a
    step frees goes back, the resident size follows what torch holds. The price is page faults on
    every step's big blocks, small next to a 100M+ model's step (benchmarks/bench_memory.py).
    """
    # A fixed threshold: glibc stops sliding it up.
    with _mallopt({_M_MMAP_THRESHOLD: RETURN_THRESHOLD, _M_TRIM_THRESHOLD: RETURN_THRESHOLD}):
        yield


@contextlib.contextmanager
def keep_freed_memory():
    """While training on a CPU, serve big tensors from the heap and keep what a step frees for the next.

    glibc hands every allocation over 32 MiB to mmap() and unmaps it on free, so each training step
    faults its activations and logits in again, page by page (GPT-2 124M at batch 8 x 256: 4.5
    million page faults and 11 s of system time in a 38 s run). With mmap off and no trimming, a
    step reuses the memory the previous one freed. Measured on this project's 2-core CPU
    (benchmarks/bench_ceiling.py, one process per contender, taking turns, idle machine): GPT-2
    124M bf16 1.37x the tokens/s, the tiny model fp32 1.38x; peak memory +13% (124M: 4.3 -> 4.9
    GB). Afterwards glibc's defaults come back and the kept memory is returned to the system.
    Elsewhere than glibc (macOS, musl) this does nothing.
    """
    with _mallopt({_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: -1}):  # int -1 -> SIZE_MAX in glibc: never trim
        yield


@contextlib.contextmanager
def _mallopt(settings: dict[int, int]):
    """glibc's mallopt() ``settings`` while inside; then its defaults for them, and what the heap
    holds free is returned to the system. Elsewhere than glibc (macOS, musl) this does nothing."""
    libc = _glibc()
    if libc is None:
        yield
        return
    for param, value in settings.items():
        libc.mallopt(param, value)
    try:
        yield
    finally:
        for param in settings:
            libc.mallopt(param, _MALLOPT_DEFAULTS[param])
        libc.malloc_trim(0)


def peak_resident_mb() -> float | None:
    """This process's peak resident memory in MB (Linux VmHWM; ru_maxrss elsewhere), for the summary.

    VmHWM, not ru_maxrss, on Linux: a process started by fork + exec inherits its parent's ru_maxrss,
    so a training child would report the parent's peak when that was higher.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return round(peak / (1024**2 if sys.platform == "darwin" else 1024), 1)
    except (ImportError, OSError):
        return None


class AllocatorPolicy:
    """What happens to memory a training step frees: ``keep`` (for the next step) or ``return`` it."""

    def __init__(self, name: str):
        self.name = name

    def context(self):
        return keep_freed_memory() if self.name == "keep" else return_freed_memory()


def allocator_for(parameters: int) -> AllocatorPolicy:
    """Keep freed memory for a small base (1.37-1.38x tokens/s, measured on the tiny and GPT-2 shapes);
    return it for a large one, where the kept part grows to 2-5 GB of a 135M model's peak for a
    smaller gain (SmolLM2-135M, gradient checkpointing, batch 8, fp32: a 4.48 GB peak at 99
    tokens/s kept, 3.21 GB at 88 tokens/s returned; benchmarks/bench_memory.py, RESULTS.md)."""
    from huggingtweets.train.config import LARGE_BASE_PARAMETERS

    return AllocatorPolicy("return" if parameters >= LARGE_BASE_PARAMETERS else "keep")


def _glibc():
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None
