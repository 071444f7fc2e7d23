"""Benchmark: this machine's ceilings (matmul GFLOP/s fp32/bf16, memory read GB/s) and the trainer's
step cost per lever (precision, threads, batch x block, chunked loss, torch.compile), interleaved.

    python benchmarks/bench_ceiling.py                  # ceilings + tiny-shape levers, ~2 min
    python benchmarks/bench_ceiling.py --gpt2-124m      # also the 124M shape (slow on 2 cores)

Every lever is timed A/B/A-style: the contenders take turns (``--rounds`` rounds), so a change in
the machine's load hits them alike, and each figure is the median of its rounds. The load average
is printed with each figure. Nothing here is asserted: it informs the defaults in
huggingtweets/train/speed.py and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

TINY = dict(vocab_size=4096, n_layer=4, n_embd=256, n_head=4, n_positions=256)
GPT2_124M = dict(vocab_size=50257, n_layer=12, n_embd=768, n_head=12, n_positions=1024)


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


class Contender:
    def __init__(self, name, shape, batch, block, precision, threads, chunked=False, compiled=False):
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        from huggingtweets.train.runtime import make_optimizer

        self.name, self.threads, self.precision = name, threads, precision
        self.tokens = batch * block
        self.flops = step_flops(shape, batch, block)
        torch.manual_seed(0)
        config = GPT2Config(**shape, attn_pdrop=0.0, activation_function="gelu_pytorch_tanh")
        self.model = GPT2LMHeadModel(config).train()
        self.optimizer = make_optimizer(self.model, argparse.Namespace(weight_decay=0.0), 1e-4)
        self.batch = torch.randint(0, shape["vocab_size"], (batch, block))
        self.chunked = chunked
        self.forward = self.model
        if compiled:
            self.forward = torch.compile(self.model)
        self.seconds: list[float] = []

    def step(self) -> float:
        import torch
        from chunked_loss import causal_lm_loss

        torch.set_num_threads(self.threads)
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            if self.chunked:
                hidden = self.forward.transformer(input_ids=self.batch, use_cache=False).last_hidden_state
                loss = causal_lm_loss(hidden, self.model.lm_head.weight, self.batch)
            else:
                loss = self.forward(input_ids=self.batch, labels=self.batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - started


def race(contenders: list[Contender], rounds: int, steps: int, ceiling: dict) -> None:
    for c in contenders:  # warm-up (allocations; compilation for compiled ones, timed apart)
        first = c.step()
        print(f"  {c.name}: first step {first:.2f} s", flush=True)
    for _ in range(rounds):
        for c in contenders:
            c.seconds.append(statistics.median(c.step() for _ in range(steps)))
    base = contenders[0].tokens / statistics.median(contenders[0].seconds)
    for c in contenders:
        s = statistics.median(c.seconds)
        kind = "bf16" if c.precision == "bf16" else "fp32"
        achieved = c.flops / s / 1e9
        print(
            f"  {c.name:<34} {c.tokens / s:>9,.0f} tok/s  {c.tokens / s / base:>5.2f}x  "
            f"{achieved:>6.0f} GFLOP/s = {achieved / ceiling[kind + '_gflops']:>4.0%} of {kind} matmul peak; "
            f"{load()}",
            flush=True,
        )


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="turns each contender takes")
    parser.add_argument("--steps", type=int, default=3, help="steps per turn (median)")
    parser.add_argument("--gpt2-124m", action="store_true", help="also the GPT-2 124M shape")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow first step)")
    parser.add_argument("--threads", type=int, default=0, help="124M threads (0 = the trainer's auto rule)")
    parser.add_argument("--skip-tiny", action="store_true", help="only the ceilings (and --gpt2-124m)")
    args = parser.parse_args()
    print(cpu_line())
    cores = len(os.sched_getaffinity(0))
    ceiling = ceilings()
    native = "bf16" if cpu_has_bf16() else "no"

    if not args.skip_tiny:
        race_tiny(args, cores, ceiling)
    if args.gpt2_124m:
        print(f"\nGPT-2 124M shape, batch x block as named; {load()}")
        from huggingtweets.train.speed import auto_cpu_threads

        n = (
            args.threads or auto_cpu_threads()
        )  # a 124M step on threads that other work holds would take minutes
        big = [
            Contender(f"fp32, batch 1 x block 1024, {n} thr", GPT2_124M, 1, 1024, "no", n),
            Contender("fp32, batch 4 x block 256", GPT2_124M, 4, 256, "no", n),
            Contender(f"{native}, batch 4 x block 256", GPT2_124M, 4, 256, native, n),
            Contender(f"{native}, batch 4 x 256, chunked", GPT2_124M, 4, 256, native, n, chunked=True),
        ]
        race(big, max(1, args.rounds - 1), 1, ceiling)
    del torch


def race_tiny(args, cores: int, ceiling: dict) -> None:
    print(f"\ntiny shape {TINY}, batch 8 x block 256 unless named; {load()}")
    tiny = [
        Contender(f"fp32, {cores} threads", TINY, 8, 256, "no", cores),
        Contender("fp32, 1 thread", TINY, 8, 256, "no", 1),
        Contender(f"bf16 autocast, {cores} threads", TINY, 8, 256, "bf16", cores),
        Contender("fp32, chunked loss", TINY, 8, 256, "no", cores, chunked=True),
        Contender("fp32, batch 16", TINY, 16, 256, "no", cores),
        Contender("fp32, batch 1 x block 128", TINY, 1, 128, "no", cores),
    ]
    if args.compile:
        tiny.append(Contender("fp32, compiled", TINY, 8, 256, "no", cores, compiled=True))
    race(tiny, args.rounds, args.steps, ceiling)


def cpu_has_bf16() -> bool:
    from huggingtweets.train.runtime import cpu_supports_bf16

    return cpu_supports_bf16()


if __name__ == "__main__":
    main()
