"""Benchmark: a real archive to a published bot, then the downstream call, on the pretrained base.

What a user waits for: ``huggingtweets run --archive ARCHIVE --base-model smollm2-135m`` with every
other setting at its default (fetch, clean, prepare, train, the card's samples, the card, the
upload to a Hub), timed stage by stage, against the project's local Hub server (started here, as
``huggingtweets demo`` starts it). Then, in a fresh process with only transformers and
``HF_ENDPOINT``, the downstream user's code: ``pipeline("text-generation", model=REPO)`` (load,
timed) and ``generator("My dream is", num_return_sequences=5)`` (the call, timed three times:
the first call pays one-off warm-up).

    python benchmarks/bench_archive_to_bot.py                    # smithjd's 1,586-post X archive
    python benchmarks/bench_archive_to_bot.py --archive DIR --handle H --base-model tiny

Goals (issue 19): archive to published bot <= 6 minutes on 2 cores; the call <= 2.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = REPO.parent / "shared" / "data" / "archives" / "smithjd-2022"
TOKEN = "hf_bench_local_only"

CONSUMER = """
import json, sys, time
started = time.perf_counter()
from transformers import pipeline
imported = time.perf_counter()
generator = pipeline("text-generation", model=sys.argv[1])
loaded = time.perf_counter()
calls, posts = [], []
for _ in range(3):
    t = time.perf_counter()
    out = generator("My dream is", num_return_sequences=5)
    calls.append(round(time.perf_counter() - t, 2))
    posts = [o["generated_text"] for o in out]
import torch
print(json.dumps({"import_s": round(imported - started, 2), "load_s": round(loaded - imported, 2),
                  "calls_s": calls, "threads": torch.get_num_threads(), "posts": posts}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--handle", default="smithjd")
    parser.add_argument("--base-model", default="smollm2-135m")
    parser.add_argument("--train", default="{}", help="JSON of training settings over the defaults")
    args = parser.parse_args()
    if not args.archive.exists():
        sys.exit(f"no archive at {args.archive} (../shared/data/archives beside the repository)")

    from huggingtweets.config import RunConfig
    from huggingtweets.demo import DEMO_ORG, DEMO_USER, hub_server_process, prepare_base
    from huggingtweets.events import StageFinished
    from huggingtweets.runner import run

    print(cpu_line(), flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    with tempfile.TemporaryDirectory(prefix="bench-a2b-") as tmp:
        work = Path(tmp)
        # The base's one-off preparation (a GGUF dequantized into the cache) is timed apart: a user
        # pays it once per machine, not per bot.
        started = time.perf_counter()
        prepare_base(args.base_model)
        base_s = time.perf_counter() - started
        with hub_server_process(
            work / "hub", [f"{TOKEN}:{DEMO_USER}:{DEMO_ORG}"], log_path=work / "hub.log"
        ) as url:
            stages: dict[str, float] = {}

            def events(event) -> None:
                if isinstance(event, StageFinished):
                    stages[event.stage] = stages.get(event.stage, 0.0) + event.seconds
                    print(f"  {event.stage}: {event.seconds:.1f} s", flush=True)

            config = RunConfig(
                archives=((str(args.archive), args.handle),),
                train={"base_model": args.base_model, **json.loads(args.train)},
                org=DEMO_ORG,
                endpoint=url,
                run_dir=str(work / "run"),
            )
            started = time.perf_counter()
            result = run(config, token=TOKEN, events=events)
            wall = time.perf_counter() - started
            summary = result.summary
            repo_id = summary["repo_id"]
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HF_")},
                "HF_ENDPOINT": url,
                "HF_HOME": str(work / "consumer-hf-home"),
                "HF_HUB_DISABLE_XET": "1",
                "HF_TOKEN": TOKEN,  # the repo is private by default: the owner's token reads it
            }
            consumer = subprocess.run(
                [sys.executable, "-c", CONSUMER, repo_id], capture_output=True, text=True, env=env, cwd=tmp
            )
            if consumer.returncode:
                sys.exit(f"the consumer failed:\n{consumer.stderr[-2000:]}")
            downstream = json.loads(consumer.stdout.strip().splitlines()[-1])
        training = json.loads((work / "run" / "training_summary.json").read_text())
    print(f"\n{args.archive.name} -> {repo_id}, base {args.base_model}")
    print(f"base preparation (once per machine): {base_s:.1f} s")
    print(f"archive to published bot: {wall:.1f} s ({wall / 60:.1f} min); by stage:")
    for stage, seconds in stages.items():
        print(f"  {stage:<10} {seconds:7.1f} s")
    hp = training["hyperparameters"]
    print(
        f"training: {training['train_tokens_per_epoch']:,} tokens an epoch, {training['epochs_completed']} epochs "
        f"(best {training['best_epoch']}), {training['tokens_per_second']} tokens/s, batch "
        f"{hp['batch_size']}x{hp['gradient_accumulation_steps']}, lr {hp['learning_rate']:g}, "
        f"checkpointing {training['gradient_checkpointing']}, allocator {training.get('allocator')}, "
        f"perplexity {training['perplexity']['initial']} -> {training['perplexity']['best']}, "
        f"phases {training['phases_s']}"
    )
    print(f"peak resident memory of the training process: {training.get('peak_memory_mb')} MB")
    print(
        f"downstream: import {downstream['import_s']} s, pipeline() load {downstream['load_s']} s, "
        f"calls {downstream['calls_s']} s ({downstream['threads']} threads)"
    )
    for post in downstream["posts"]:
        print(f"  {post!r}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
