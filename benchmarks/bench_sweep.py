"""Benchmark: the sweep that chose the trainer's epochs and learning-rate defaults per base kind.

For each base (a pretrained one, ``smollm2-135m``, and ``tiny``, trained from scratch), each learning
rate of its grid and each person (real archives in ../shared/data/archives, prepared as
bench_quality.py prepares them), one training of ``--epochs`` epochs with patience 0, so every
epoch's validation perplexity is a figure. A run's best epoch is where a default of that many
epochs would stop, since the trainer keeps the best epoch's weights. Printed per (base, rate):
the perplexity after each epoch, per person, and the mean over people of the perplexity relative
to that person's best of the whole grid (1.00 = the best anyone reached), with the training time.

The defaults in ``train/config.py`` (``PRETRAINED_*``, ``TINY_*``) name the row of this table they
come from (benchmarks/RESULTS.md).

    python benchmarks/bench_sweep.py                                     # both bases, ~25 min on 2 cores
    python benchmarks/bench_sweep.py --bases tiny --epochs 8             # tiny only, a few minutes
    python benchmarks/bench_sweep.py --people smithjd --max-posts 0      # one whole archive (slow)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import ARCHIVES, PEOPLE, prepare_person  # noqa: E402
from cpuinfo import cpu_line  # noqa: E402

# The grids: the original huggingtweets' rate (1.372e-4) and multiples of it for a pretrained base;
# around the tiny base's current 1e-3 (measured best of 1.4e-4..6e-3 earlier) for a from-scratch one.
GRIDS = {
    "smollm2-135m": (1.372e-4, 2.744e-4, 5.488e-4),
    "tiny": (5e-4, 1e-3, 2e-3),
}


def train_once(run_dir: Path, base: str, learning_rate: float, args) -> dict:
    from huggingtweets.train.config import TrainConfig
    from huggingtweets.train.loop import train

    config = TrainConfig(
        base_model=base,
        epochs=args.epochs,
        learning_rate=learning_rate,
        block_size=args.block_size,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.accumulation,
        patience=0,  # every epoch is measured; the best one is where a default would stop
        checkpoint_every=0,
        cpu_threads=args.threads,
        seed=args.seed,
    )
    started = time.perf_counter()
    summary = train(run_dir, config)
    perplexities = [summary["perplexity"]["initial"]] + [
        round(math.exp(min(h["validation_loss"], 50.0)), 2) for h in summary["history"]
    ]
    return {
        "perplexity": perplexities,
        "best_epoch": summary["best_epoch"],
        "seconds": round(time.perf_counter() - started, 1),
        "tokens_per_second": summary["tokens_per_second"],
        "steps": summary["hyperparameters"]["total_steps"],
    }


def table(results: dict, people: list[str], args) -> str:
    lines = []
    for base, rates in results.items():
        best = {p: min(min(r[p]["perplexity"][1:]) for r in rates.values()) for p in people}
        lines.append(f"\n{base}: validation perplexity zero-shot -> each epoch, per person")
        lines.append(
            "| rate | "
            + " | ".join(people)
            + " | mean best / grid best (epoch) | mean of each epoch / grid best | train s |"
        )
        lines.append("|---" * (len(people) + 4) + "|")
        for rate, by_person in rates.items():
            cells = [" -> ".join(f"{x:g}" for x in by_person[p]["perplexity"]) for p in people]
            per_epoch = [
                sum(by_person[p]["perplexity"][e] / best[p] for p in people) / len(people)
                for e in range(1, args.epochs + 1)
            ]
            best_epoch = min(range(args.epochs), key=lambda e: per_epoch[e])
            seconds = sum(by_person[p]["seconds"] for p in people)
            lines.append(
                f"| {rate:g} | "
                + " | ".join(cells)
                + f" | {per_epoch[best_epoch]:.3f} ({best_epoch + 1}) | "
                + ", ".join(f"{x:.3f}" for x in per_epoch)
                + f" | {seconds:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", default="smollm2-135m,tiny", help="comma-separated, keys of GRIDS")
    parser.add_argument("--people", default="smithjd,ricard", help=f"comma-separated, of {', '.join(PEOPLE)}")
    parser.add_argument(
        "--rates", default="", help="comma-separated learning rates (default: the base's grid)"
    )
    parser.add_argument("--max-posts", type=int, default=300, help="newest raw posts per person (0 = all)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--accumulation", type=int, default=1, help="gradient accumulation steps")
    parser.add_argument("--validation", choices=("random", "newest"), default="random")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = the trainer's auto)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not ARCHIVES.is_dir():
        sys.exit(f"needs the real archives in {ARCHIVES} (../shared/data/archives beside the repository)")
    print(cpu_line(), flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    people = [p.strip() for p in args.people.split(",") if p.strip()]
    results: dict = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        runs = {p: prepare_person(Path(tmp) / "prepared", p, args) for p in people}
        people = [p for p, run in runs.items() if run is not None]
        for base in [b.strip() for b in args.bases.split(",") if b.strip()]:
            rates = [float(r) for r in args.rates.split(",") if r.strip()] or GRIDS[base]
            results[base] = {}
            for rate in rates:
                results[base][rate] = {}
                for person in people:
                    import shutil

                    work = Path(tmp) / f"{base}-{rate:g}-{person}"
                    shutil.copytree(runs[person], work)
                    row = train_once(work, base, rate, args)
                    results[base][rate][person] = row
                    print(
                        f"  {base} lr {rate:g} {person}: "
                        + " -> ".join(f"{x:g}" for x in row["perplexity"])
                        + f" (best epoch {row['best_epoch']}, {row['seconds']} s, {row['tokens_per_second']} tok/s,"
                        f" {row['steps']} steps; load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
                    shutil.rmtree(work, ignore_errors=True)
    print(table(results, people, args))
    print(f"\n{time.perf_counter() - started:.0f} s; load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
