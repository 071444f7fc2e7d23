"""Benchmark: LoRA at two ranks against the full fine-tune, same base, posts, threads and precision.

Each contender trains with ``huggingtweets.train.train`` in a subprocess of its own (so peak
resident memory is its own: ``ru_maxrss``), one after the other, on the same run folder's dataset:
- full:     every weight trains (``--lora-r 0``), the pretrained default learning rate 1.372e-4
- lora-R:   rank-R adapters on the family's modules (Llama: attention and MLP projections),
            alpha 2R, learning rate ``--lora-lr`` (adapters start at zero and want ~10x the rate)

Throughput is the trainer's own (real tokens over the training loop's wall time, evaluation and
saving left out); best validation perplexity is the best epoch's (the saved one). The base is the
offline SmolLM2-135M preset (dequantized once, before any contender, so no contender pays it), the
posts the bundled sample archive (or ``--archive`` for a real one). Ratios are against the full
fine-tune measured in the same run. The load average before and after is printed: the figures are
only comparable within one run when other work shares the cores.

    python benchmarks/bench_lora.py          # 120 posts of the sample archive, 2 epochs: ~15 min on 2 loaded cores
    python benchmarks/bench_lora.py --max-posts 0 --block-size 256 --epochs 3       # the whole archive
    python benchmarks/bench_lora.py --archive ../shared/data/archives/smithjd-2022 --max-posts 0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FULL_LEARNING_RATE = 1.372e-4  # TrainConfig's default for a pretrained base


def load_archive_posts(archive: Path) -> list[str]:
    """Posts of an archive (any format the sources read) through the real fetch/prepare code."""
    from datasets import load_from_disk

    from huggingtweets.prepare import prepare
    from huggingtweets.sources import fetch

    with tempfile.TemporaryDirectory() as tmp:
        fetch(tmp, archives=[(archive, None)], echo=lambda *_: None)
        prepare(tmp, seed=0)
        return list(load_from_disk(str(Path(tmp) / "dataset"))["train"]["text"])


def worker(args) -> None:
    """One contender: train, print the figures as one JSON line."""
    from huggingtweets.train import TrainConfig, train

    lora = args.worker != "full"
    config = TrainConfig(
        base_model=args.base,
        epochs=args.epochs,
        batch_size=args.batch_size,
        block_size=args.block_size,
        mixed_precision=args.precision,
        cpu_threads=args.threads,
        checkpoint_every=0,
        patience=0,  # every contender runs every epoch: best perplexity over the same horizon
        seed=0,
        lora_r=int(args.worker.split("-")[1]) if lora else 0,
        lora_dropout=0.05,
        learning_rate=args.lora_lr if lora else FULL_LEARNING_RATE,
    )
    summary = train(Path(args.run), config)
    print(
        json.dumps(
            {
                "tokens_per_second": summary["tokens_per_second"],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "best_perplexity": summary["perplexity"]["best"],
                "initial_perplexity": summary["perplexity"]["initial"],
                "best_epoch": summary["best_epoch"],
                "trainable": (summary.get("lora") or {}).get("trainable_parameters"),
                "mixed_precision": summary["mixed_precision"],
                "train_s": summary["phases_s"].get("train"),
            }
        )
    )


def resolve_base(name: str) -> str:
    """The preset's dequantized folder (made once, here, before any contender is timed)."""
    from huggingtweets.train.base import resolve_base_model

    base = resolve_base_model(name, tiny_dir=Path("unused"), tiny_texts=lambda: [])
    return str(base.folder)


def run_contender(name: str, args, run: Path, base: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--run", str(run), "--base", base]
    for flag in ("epochs", "batch_size", "block_size", "precision", "threads", "lora_lr"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="smollm2-135m")
    parser.add_argument("--archive", type=Path, help="a real archive (default: the bundled sample)")
    parser.add_argument("--ranks", default="8,32", help="the two LoRA ranks, comma-separated")
    parser.add_argument(
        "--max-posts", type=int, default=120, help="posts used (0 = all); keeps the run short"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--precision", default="no", help="mixed_precision for every contender")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lora-lr", type=float, default=1e-3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    sys.path.insert(0, str(REPO))
    from bench_train import load_posts, make_run_dir

    print(cpu_line())
    posts = load_archive_posts(args.archive) if args.archive else load_posts()
    if args.max_posts:
        posts = posts[: args.max_posts]
    base = resolve_base(args.base_model)
    load_before = os.getloadavg()
    names = ["full"] + [f"lora-{int(r)}" for r in args.ranks.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run_dir(Path(tmp), posts, validation=max(20, len(posts) // 6))
        for name in names:
            results[name] = run_contender(name, args, run, base)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    load_after = os.getloadavg()
    print(
        f"base {args.base_model}, {len(posts)} posts ({args.archive.name if args.archive else 'sample archive'}), "
        f"{args.epochs} epochs, batch {args.batch_size} x block {args.block_size}, {args.threads} threads, "
        f"precision {results['full']['mixed_precision']}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (2 cores shared with other work)"
    )
    full = results["full"]
    print(
        "| contender | trainable params | tokens/s | peak RSS (MB) | best val. ppl (epoch) | tok/s vs full | RSS vs full | ppl vs full |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['trainable'] or 'all'} | {r['tokens_per_second']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['best_perplexity']:.2f} ({r['best_epoch']}) | {r['tokens_per_second'] / full['tokens_per_second']:.2f}x | "
            f"{r['peak_rss_mb'] / full['peak_rss_mb']:.2f}x | {r['best_perplexity'] / full['best_perplexity']:.3f}x |"
        )


if __name__ == "__main__":
    main()
