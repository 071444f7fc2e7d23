"""Benchmark: `huggingtweets train` end to end (the whole command's wall time) against its own
training loop and against the original set-up's tokens/s, on a real ~1,500-post archive.

    python benchmarks/bench_e2e.py [--archive DIR --handle H] [--epochs 1] [--runs 2]

The archive defaults to /work/shared/data/archives/smithjd-2022 (1,758 posts, 1,586 kept) where
it exists, else the bundled sample archive. fetch + prepare run once; then, taking turns, the
command `huggingtweets train --base-model tiny --epochs N` (a fresh process, imports included)
and the original set-up (transformers Trainer, batch 1, fp32, 128-token blocks, on the same
posts, ~8k tokens) run ``--runs`` times each. Reported: the command's wall time, its phases
(setup / train / eval / checkpoint / save from training_summary.json), wall over
training-loop time, and end-to-end tokens/s (tokens trained / command wall time) over the
original set-up's steady tokens/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

SHARED_ARCHIVE = Path("/work/shared/data/archives/smithjd-2022")
HT = [sys.executable, "-m", "huggingtweets"]


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:5])} failed:\n{out.stderr[-3000:]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, help="an X archive folder or .zip")
    parser.add_argument("--handle", help="the archive's account, where it does not name one")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="turns of each (median)")
    args = parser.parse_args()
    if args.archive is None:
        if SHARED_ARCHIVE.is_dir():
            args.archive, args.handle = SHARED_ARCHIVE, args.handle or "smithjd"
        else:
            from huggingtweets.paths import sample_archive

            args.archive = sample_archive()
    started = time.perf_counter()
    print(cpu_line(), flush=True)
    from huggingtweets.runfolder import read_json
    from huggingtweets.train.speed import auto_cpu_threads

    threads = auto_cpu_threads()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "HOME": str(root / "home"), "HUGGINGTWEETS_HOME": str(root / "ht-home")}
        env["TOKENIZERS_PARALLELISM"] = "false"
        run_dir = root / "run"
        fetch = [*HT, "fetch", "--archive", str(args.archive), "--run-dir", str(run_dir)]
        run(fetch + (["--handle", args.handle] if args.handle else []), env)
        prepared = run([*HT, "prepare", "--run-dir", str(run_dir)], env).stdout.strip().splitlines()
        print(prepared[0] if prepared else "", flush=True)

        commands, originals = [], []
        for _ in range(args.runs):
            cmd = [*HT, "train", "--run-dir", str(run_dir), "--base-model", "tiny"]
            cmd += ["--epochs", str(args.epochs), "--config", str(write_threads(root, threads))]
            t = time.perf_counter()
            out = run(cmd, env)
            wall = time.perf_counter() - t
            summary = read_json(run_dir / "training_summary.json")
            commands.append({"wall": wall, "summary": summary, "load": os.getloadavg()[0]})
            print(
                f"  train command: {wall:.1f} s; {out.stdout.splitlines()[1]}; load {commands[-1]['load']:.1f}"
            )

            budget = argparse.Namespace(token_budget=8192, epochs=1, precision="no", threads=threads)
            original = run_original(run_dir, budget)
            originals.append({**original, "load": os.getloadavg()[0]})
            print(
                f"  original set-up: {original['tokens_per_second']:,.0f} tokens/s; load {originals[-1]['load']:.1f}"
            )

    wall = statistics.median(c["wall"] for c in commands)
    best = min(commands, key=lambda c: abs(c["wall"] - wall))
    phases, tokens = best["summary"]["phases_s"], best["summary"]["tokens_seen"]
    original_tps = statistics.median(o["tokens_per_second"] for o in originals)
    print(f"\nend to end, tiny base, {args.epochs} epoch(s), {tokens:,} tokens; {threads} thread(s)")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    other = wall - sum(phases.values())
    print(f"imports, CLI and exit (outside train()): {other:.1f} s")
    print(
        f"command wall {wall:.1f} s = {wall / phases['train']:.2f}x its training loop ({phases['train']:.1f} s)"
    )
    print(
        f"end-to-end {tokens / wall:,.0f} tokens/s vs original set-up {original_tps:,.0f} tokens/s: "
        f"{tokens / wall / original_tps:.2f}x; loop {best['summary']['tokens_per_second']:,.0f} tokens/s: "
        f"{best['summary']['tokens_per_second'] / original_tps:.2f}x"
    )
    print(f"total {time.perf_counter() - started:.0f} s")


def write_threads(root: Path, threads: int) -> Path:
    """The same thread count for the command as for the original set-up."""
    path = root / "threads.yaml"
    path.write_text(f"cpu_threads: {threads}\n")
    return path


def run_original(run_dir: Path, budget) -> dict:
    """The original set-up (Trainer, batch 1, fp32, 128-token blocks) in a fresh process."""
    import json
    import shutil

    work = run_dir.parent / "original"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(run_dir / "dataset", work / "dataset")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve().parent / "bench_train.py"),
        "--worker",
        "original-128",
    ]
    cmd += [
        "--run-dir",
        str(work),
        "--base",
        str(run_dir / "base-tiny"),
        "--token-budget",
        str(budget.token_budget),
    ]
    cmd += ["--threads", str(budget.threads), "--precision", "no"]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    )
    if out.returncode != 0:
        sys.exit(f"original set-up failed:\n{out.stderr[-3000:]}")
    return json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[7:])


if __name__ == "__main__":
    main()
