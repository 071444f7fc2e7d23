"""Benchmark: this machine's ceilings (matmul GFLOP/s fp32/bf16, memory read GB/s) and the trainer's
step cost per lever (precision, threads, batch x block, chunked loss, torch.compile), interleaved.

    python benchmarks/bench_ceiling.py                  # ceilings + tiny-shape levers, ~2 min
    python benchmarks/bench_ceiling.py --gpt2-124m      # also the 124M shape (slow on 2 cores)
    python benchmarks/bench_ceiling.py --cpu-kind avx2  # as on an AVX2-only CPU (fp32 contenders)

Every contender runs in its own subprocess (its own allocator state: several models stepping in
one process fault each other's freed memory back in, which measured the allocator, not the
lever), and the contenders take turns (``--rounds`` rounds, A/B/C/A/B/C), so a change in the
machine's load hits them alike; each figure is the median of its rounds. The load average is
printed with each figure. ``kept memory`` is the trainer's allocator setting
(huggingtweets.train.speed.keep_freed_memory); contenders without it run with glibc's defaults. Nothing here is asserted: it informs the defaults in
huggingtweets/train/speed.py and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

TINY = dict(vocab_size=4096, n_layer=4, n_embd=256, n_head=4, n_positions=256)
GPT2_124M = dict(vocab_size=50257, n_layer=12, n_embd=768, n_head=12, n_positions=1024)
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def matmul_gflops(dtype, n: int = 1024, seconds: float = 1.5) -> float:
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        done += 1
    return 2 * n**3 * done / (time.perf_counter() - started) / 1e9


def read_gbps(mib: int = 512, seconds: float = 1.5) -> float:
    """Bytes read per second by a reduction over a buffer far larger than the caches."""
    import torch

    x = torch.ones(mib * 2**20 // 4, dtype=torch.float32)
    x.sum()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        x.sum()
        done += 1
    return x.numel() * 4 * done / (time.perf_counter() - started) / 1e9


def ceilings() -> dict:
    import torch

    out = {
        "threads": torch.get_num_threads(),
        "fp32_gflops": matmul_gflops(torch.float32),
        "bf16_gflops": matmul_gflops(torch.bfloat16),
        "read_gbps": read_gbps(),
    }
    print(
        f"ceilings ({out['threads']} threads): matmul fp32 {out['fp32_gflops']:.0f} GFLOP/s, "
        f"bf16 {out['bf16_gflops']:.0f} GFLOP/s; memory read {out['read_gbps']:.1f} GB/s; {load()}",
        flush=True,
    )
    return out


def step_flops(shape: dict, batch: int, block: int) -> float:
    """Training FLOPs of one step: 6 x params x tokens + attention (PaLM appendix B, 12 L T^2 d)."""
    d, layers, vocab = shape["n_embd"], shape["n_layer"], shape["vocab_size"]
    params = layers * 12 * d * d + vocab * d  # blocks + the (tied) lm_head matmul
    tokens = batch * block
    return 6 * params * tokens + 12 * layers * block * d * tokens


SHAPES = {"tiny": TINY, "gpt2-124m": GPT2_124M}


class Contender:
    """One way of taking a training step; built and timed in a worker subprocess (``run``)."""

    def __init__(
        self, name, shape, batch, block, precision, threads, chunked=False, compiled=False, kept=True
    ):
        self.name, self.shape, self.threads, self.precision = name, shape, threads, precision
        self.batch_size, self.block = batch, block
        self.chunked, self.compiled, self.kept = chunked, compiled, kept
        self.tokens = batch * block
        self.flops = step_flops(SHAPES[shape], batch, block)
        self.seconds: list[float] = []
        self.shares: list[float] = []  # achieved / the matmul ceiling measured in the same round

    def spec(self) -> str:
        keys = ("name", "shape", "batch_size", "block", "precision", "threads", "chunked", "compiled", "kept")
        return json.dumps({k: getattr(self, k) for k in keys})

    def run(self, steps: int) -> dict:
        """In a fresh subprocess: first step (compilation included), then the median of ``steps``."""
        cmd = [sys.executable, __file__, "--worker", self.spec(), "--steps", str(steps)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{self.name} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def worker(spec: dict, steps: int) -> None:
    import torch
    from chunked_loss import causal_lm_loss
    from transformers import GPT2Config, GPT2LMHeadModel

    from huggingtweets.train.runtime import make_optimizer
    from huggingtweets.train.speed import keep_freed_memory

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    shape = SHAPES[spec["shape"]]
    config = GPT2Config(**shape, attn_pdrop=0.0, activation_function="gelu_pytorch_tanh")
    config.loss_type = "ForCausalLM"
    model = GPT2LMHeadModel(config).train()
    optimizer = make_optimizer(model, argparse.Namespace(weight_decay=0.0), 1e-4)
    batch = torch.randint(0, shape["vocab_size"], (spec["batch_size"], spec["block"]))
    forward = torch.compile(model) if spec["compiled"] else model
    bf16 = spec["precision"] == "bf16"

    def step() -> float:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if spec["chunked"]:
                hidden = model.transformer(input_ids=batch, use_cache=False).last_hidden_state
                loss = causal_lm_loss(hidden, model.lm_head.weight, batch)
            else:
                loss = forward(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - started

    with keep_freed_memory() if spec["kept"] else contextlib.nullcontext():
        first = step()
        # The ceiling is measured in the same process just before and after the timed steps: on a
        # shared VM it moves by 1.5x between minutes (bf16 595-947 GFLOP/s in one session).
        dtype = torch.bfloat16 if bf16 else torch.float32
        before = matmul_gflops(dtype, seconds=1.0)
        median = statistics.median(step() for _ in range(steps))
        ceiling = (before + matmul_gflops(dtype, seconds=1.0)) / 2
    print(json.dumps({"first": first, "median": median, "ceiling_gflops": ceiling}))


def race(contenders: list[Contender], rounds: int, steps: int) -> None:
    for r in range(rounds):
        for c in contenders:
            result = c.run(steps)
            c.seconds.append(result["median"])
            c.shares.append(c.flops / result["median"] / 1e9 / result["ceiling_gflops"])
            if r == 0:
                print(f"  {c.name}: first step {result['first']:.2f} s", flush=True)
    base = contenders[0].tokens / statistics.median(contenders[0].seconds)
    for c in contenders:
        s = statistics.median(c.seconds)
        kind = "bf16" if c.precision == "bf16" else "fp32"
        print(
            f"  {c.name:<44} {c.tokens / s:>9,.0f} tok/s  {c.tokens / s / base:>5.2f}x  "
            f"{c.flops / s / 1e9:>6.0f} GFLOP/s = {statistics.median(c.shares):>4.0%} of {kind} matmul peak "
            f"(measured in the same process); {load()}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="turns each contender takes")
    parser.add_argument("--steps", type=int, default=3, help="steps per turn (median)")
    parser.add_argument("--gpt2-124m", action="store_true", help="also the GPT-2 124M shape")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow first step)")
    parser.add_argument("--threads", type=int, default=0, help="124M threads (0 = the trainer's auto rule)")
    parser.add_argument("--skip-tiny", action="store_true", help="only the ceilings (and --gpt2-124m)")
    parser.add_argument(
        "--cpu-kind",
        choices=["native", "avx2"],
        default="native",
        help="avx2: oneDNN and ATen capped at AVX2, as on a CPU without native bf16 (bf16 contenders left out)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker), args.steps)
    if args.cpu_kind == "avx2" and os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2":
        # The caps are read when torch loads: start again with them, workers inherit them.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
    print(cpu_line())
    cores = len(os.sched_getaffinity(0))
    ceilings()
    native = "bf16" if cpu_has_bf16() and args.cpu_kind == "native" else "no"

    if not args.skip_tiny:
        race_tiny(args, cores)
    if args.gpt2_124m:
        from huggingtweets.train.config import TrainConfig
        from huggingtweets.train.speed import auto_cpu_threads

        n = args.threads or auto_cpu_threads()  # a 124M step on threads other work holds takes minutes
        b, t = TrainConfig().batch_size, TrainConfig().block_size  # the trainer's defaults
        print(f"\nGPT-2 124M shape, {n} threads, batch x block as named; {load()}")
        big = [
            Contender("original: fp32, batch 1 x block 1024", "gpt2-124m", 1, 1024, "no", n, kept=False),
            Contender(f"ours fp32: batch {b} x block {t}", "gpt2-124m", b, t, "no", n),
            Contender(f"ours {native}: batch {b} x block {t}", "gpt2-124m", b, t, native, n),
            Contender(
                f"{native} {b} x {t}, glibc default allocator", "gpt2-124m", b, t, native, n, kept=False
            ),
            Contender(f"{native} {b} x {t}, chunked loss", "gpt2-124m", b, t, native, n, chunked=True),
            Contender("original shape with kept memory", "gpt2-124m", 1, 1024, "no", n),
        ]
        race(big, max(1, args.rounds - 1), 2)


def race_tiny(args, cores: int) -> None:
    print(f"\ntiny shape {TINY}, batch 8 x block 256 unless named; {load()}")
    tiny = [
        Contender(f"fp32, {cores} threads", "tiny", 8, 256, "no", cores),
        Contender("fp32, 1 thread", "tiny", 8, 256, "no", 1),
        Contender(f"bf16 autocast, {cores} threads", "tiny", 8, 256, "bf16", cores),
        Contender("fp32, glibc default allocator", "tiny", 8, 256, "no", cores, kept=False),
        Contender("fp32, chunked loss", "tiny", 8, 256, "no", cores, chunked=True),
        Contender("fp32, batch 16", "tiny", 16, 256, "no", cores),
        Contender("fp32, batch 1 x block 128", "tiny", 1, 128, "no", cores),
    ]
    if args.compile:
        tiny.append(Contender("fp32, compiled", "tiny", 8, 256, "no", cores, compiled=True))
        tiny.append(Contender("bf16, compiled", "tiny", 8, 256, "bf16", cores, compiled=True))
    if args.cpu_kind == "avx2":  # emulated bf16 runs at ~1 GFLOP/s there; the precision rule says fp32
        tiny = [c for c in tiny if c.precision != "bf16"]
    race(tiny, args.rounds, args.steps)


def cpu_has_bf16() -> bool:
    from huggingtweets.train.runtime import cpu_supports_bf16

    return cpu_supports_bf16()


if __name__ == "__main__":
    main()
