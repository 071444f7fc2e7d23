"""Benchmark `cards regenerate` on the local Hub: N bots with 0 changes (the baseline), then with K.

    .venv/bin/python benchmarks/bench_regenerate.py [--bots 500] [--changes 50] [--workers 4]

Prints repos/s, HTTP API calls per repo and the ratio of the K-change run to the 0-change run
(both measured in this process, on this machine). Pacing is lifted during the measurement so it
shows the tool's own cost; the last line says how long the Hub's default budget (1,000 calls per
5 minutes) would make the same run take.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_RUN = ROOT / "tests" / "fixtures" / "card" / "run"
OLD_TEMPLATE = ROOT / "tests" / "fixtures" / "card" / "templates" / "minimal.md.j2"
ORG = "huggingtweets"
TOKEN = "hf_bench_alice"


def bot_meta(base: dict, i: int) -> dict:
    meta = json.loads(json.dumps(base))
    handle = f"bot{i:04d}"
    meta["users"] = [
        dict(meta["users"][0], handle=handle, name=f"Bot {i}", avatar_file=f"avatars/{handle}.png")
    ]
    meta["data_report"]["users"] = {handle: base["data_report"]["users"]["ada_l"]}
    meta["data_report"]["oversampled"] = {}
    meta["repo_id"] = f"{ORG}/{handle}"
    return meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=500)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument(
        "--seed-threads", type=int, default=8, help="parallel uploads while seeding (untimed)"
    )
    args = parser.parse_args()

    from huggingface_hub import CommitOperationAdd, HfApi

    from huggingtweets.card import build_metadata, render
    from huggingtweets.hub.server import HubServer
    from huggingtweets.regenerate import UNCHANGED, UPDATED, regenerate

    base = build_metadata(FIXTURE_RUN, repo_id=f"{ORG}/base")
    metas = [bot_meta(base, i) for i in range(args.bots)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        HubServer(Path(tmp) / "hub", tokens=[f"{TOKEN}:alice:{ORG}"]) as hub,
    ):
        api = HfApi(endpoint=hub.url, token=TOKEN)

        def seed(meta: dict, template=None) -> None:
            api.create_repo(meta["repo_id"], exist_ok=True)
            files = {"README.md": render(meta, template), "huggingtweets.json": json.dumps(meta)}
            ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d.encode()) for p, d in files.items()]
            api.create_commit(meta["repo_id"], ops, commit_message="seed")

        t = time.perf_counter()
        with ThreadPoolExecutor(args.seed_threads) as pool:
            list(pool.map(seed, metas))
        print(f"seeded {args.bots} bots in {time.perf_counter() - t:.1f} s", file=sys.stderr)

        def run(label: str) -> dict:
            report = regenerate(
                ORG,
                endpoint=hub.url,
                token=TOKEN,
                max_calls_per_5min=None,
                max_commits_per_hour=None,
            )
            assert not report.failed, report.failed[:3]
            return {
                "label": label,
                "repos": len(report.outcomes),
                "updated": report.count(UPDATED),
                "unchanged": report.count(UNCHANGED),
                "seconds": report.seconds,
                "repos_per_s": len(report.outcomes) / report.seconds,
                "calls": report.api_calls,
                "calls_per_repo": report.api_calls / len(report.outcomes),
            }

        baseline = run("0 changes")
        with ThreadPoolExecutor(args.seed_threads) as pool:
            stale = metas[:: max(1, args.bots // args.changes)][: args.changes]
            list(pool.map(lambda m: seed(m, OLD_TEMPLATE), stale))
        changed = run(f"{len(stale)} changes")

    print(
        f"{'run':<12} {'repos':>6} {'updated':>8} {'seconds':>8} {'repos/s':>8} {'calls':>6} {'calls/repo':>10}"
    )
    for r in (baseline, changed):
        print(
            f"{r['label']:<12} {r['repos']:>6} {r['updated']:>8} {r['seconds']:>8.2f} {r['repos_per_s']:>8.1f}"
            f" {r['calls']:>6} {r['calls_per_repo']:>10.2f}"
        )
    print(
        f"ratio {changed['label']} / 0 changes: time x{changed['seconds'] / baseline['seconds']:.2f}, "
        f"calls x{changed['calls'] / baseline['calls']:.2f}"
    )
    # A sliding window lets the first 1,000 calls through at once; each further 1,000 waits 5 minutes.
    paced = (max(baseline["calls"], changed["calls"]) - 1) // 1000 * 300
    print(f"under the Hub's default budget (1,000 calls / 5 min) the larger run would wait >= {paced} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
