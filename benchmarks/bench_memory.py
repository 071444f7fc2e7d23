"""Benchmark: where the memory of a full fine-tune goes, phase by phase (issue 19 item 5).

Each variant runs in a process of its own (the allocator setting and torch threads are process-wide)
and does what one training step of huggingtweets.train does, on the same base and batch shape:
load the base in float32, build fused AdamW, then a few steps of forward (loss), backward and
optimizer step, inside ``train.speed.keep_freed_memory`` unless ``--no-keep``. After each phase it
prints the process's resident memory (psutil RSS), glibc's heap in use (mallinfo2().uordblks: what
torch holds) and the peak RSS so far (getrusage). tracemalloc would see none of it: torch
allocates outside Python.

Variants: ``standard`` (transformers' loss: full logits, upcast to float32), ``chunked`` (the loss
from the last hidden states, a chunk of rows at a time: benchmarks/chunked_loss.py), ``ckpt``
(activation checkpointing), and the batch shape given.

    python benchmarks/bench_memory.py                                   # smollm2-135m, batch 8 x 256
    python benchmarks/bench_memory.py --variants standard,chunked --batch-size 4 --steps 2
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

GB = 1024**3


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
        + ("uordblks", "fordblks", "keepcost")
    ]


def memory() -> dict:
    import psutil

    out = {
        "rss_gb": psutil.Process().memory_info().rss / GB,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB,
    }
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
        out["heap_in_use_gb"] = (info.uordblks + info.hblkhd) / GB
        out["heap_free_kept_gb"] = info.fordblks / GB
    except (OSError, AttributeError):
        pass
    return out


def child(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from huggingtweets.train.base import resolve_base_model
    from huggingtweets.train.runtime import make_optimizer, resolve_mixed_precision
    from huggingtweets.train.speed import keep_freed_memory

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chunked_loss import causal_lm_loss

    torch.set_num_threads(args.threads or torch.get_num_threads())
    rows = []

    def mark(phase: str) -> None:
        rows.append({"phase": phase, **{k: round(v, 3) for k, v in memory().items()}})

    mark("start (torch imported)")
    base = resolve_base_model(args.base, tiny_dir=Path(args.tmp), tiny_texts=lambda: ["a b c"] * 50)
    model = AutoModelForCausalLM.from_pretrained(base.folder, dtype=torch.float32, **base.overrides(0.0))
    model.loss_type = "ForCausalLM"
    if args.variant == "ckpt":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    mark("model loaded (fp32)")

    class _Config:
        weight_decay = 0.0

    optimizer = make_optimizer(model, _Config(), 1e-4)
    precision = resolve_mixed_precision("auto")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    keep = _allocator(args.allocator, keep_freed_memory)
    started = time.perf_counter()
    with keep:
        for step in range(1, args.steps + 1):
            ids = torch.randint(0, vocab, (args.batch_size, args.block_size), generator=generator)
            with autocast:
                if args.variant == "chunked":
                    hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state
                    loss = causal_lm_loss(hidden, model.get_output_embeddings().weight, ids)
                else:
                    loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            mark(f"step {step}: forward")
            loss.backward()
            mark(f"step {step}: backward")
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if args.allocator == "trim":
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            mark(f"step {step}: optimizer step")
    seconds = time.perf_counter() - started
    tokens = args.steps * args.batch_size * args.block_size
    print(json.dumps({"rows": rows, "tokens_per_second": tokens / seconds, "precision": precision}))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _allocator(name: str, keep_freed_memory):
    """keep: the trainer's keep_freed_memory; default: glibc's own; trim: glibc's, malloc_trim(0)
    after each step; return: the trainer's return_freed_memory (big blocks mmapped, returned on free)."""
    if name == "keep":
        return keep_freed_memory()
    if name == "return":
        from huggingtweets.train.speed import return_freed_memory

        return return_freed_memory()
    return _nothing()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="smollm2-135m")
    parser.add_argument("--variants", default="standard,chunked,ckpt")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--allocator",
        choices=["keep", "default", "trim", "return"],
        default="keep",
        help="keep: mmap off, no trim (the trainer's choice for small bases); default: glibc's; trim: "
        "glibc's plus malloc_trim after each step; return: big blocks mmapped and returned on free",
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default="/tmp/bench-memory-tiny", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return
    print(cpu_line(), flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for variant in args.variants.split(","):
        cmd = [sys.executable, __file__, "--variant", variant, "--base", args.base]
        cmd += ["--batch-size", str(args.batch_size), "--block-size", str(args.block_size)]
        cmd += ["--steps", str(args.steps), "--threads", str(args.threads)] + ["--allocator", args.allocator]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{variant}: failed\n{done.stderr[-2000:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"\n== {variant}, batch {args.batch_size} x block {args.block_size}, {result['precision']}, "
            f"allocator: {args.allocator}: {result['tokens_per_second']:.0f} tokens/s"
        )
        print(f"{'phase':28} {'RSS GB':>7} {'peak GB':>8} {'heap in use':>12} {'heap kept free':>15}")
        for row in result["rows"]:
            print(
                f"{row['phase']:28} {row['rss_gb']:7.2f} {row['peak_gb']:8.2f} "
                f"{row.get('heap_in_use_gb', float('nan')):12.2f} {row.get('heap_free_kept_gb', float('nan')):15.2f}"
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
