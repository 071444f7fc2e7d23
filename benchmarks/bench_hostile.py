"""Hostile archives through ``huggingtweets fetch``: how long and how much memory refusing them takes.

Cases (issue 18, item 3): a 310 KB zip holding a 300 MB outbox.json (Mastodon) and data/tweets.js (X),
the same Mastodon zip with its listed size rewritten to 1,000 bytes, a zip listing 200,000 empty
files (a table of contents zipfile would read whole on opening), a CAR whose MST node links to
itself, and a CAR of verified blocks in which every node links to the one below twice (2**60 paths).
Baselines, measured in the same run: fetching the honest fixture archives (tests/fixtures) the same way.

Each case runs in a fresh interpreter (tests/hostile_kit.py's driver): the wall and CPU seconds of the
command itself, and the growth of its peak RSS over the modules every fetch imports. The budget is
5 s and 200 MB per hostile input.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_hostile.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_kit import MB, bomb_zip, car, cid_of, lie_about_size, measured_cli  # noqa: E402

MASTODON = ROOT / "tests" / "fixtures" / "mastodon" / "archive"
BLUESKY = ROOT / "tests" / "fixtures" / "bluesky" / "repo.car"
HANDLE = ["--handle", "bsky:maren.example.com"]


def _commit(data: bytes) -> bytes:
    import libipld

    did = "did:plc:ferrypiltmarensolbergxa2"
    return libipld.encode_dag_cbor(
        {"did": did, "version": 3, "data": data, "rev": "3a", "prev": None, "sig": b""}
    )


def build(work: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (fetch arguments, the baseline it is compared with)."""
    import libipld

    honest = work / "mastodon.zip"
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(MASTODON.iterdir()):
            zf.write(file, file.name)
    actor = (MASTODON / "actor.json").read_bytes()
    bomb = bomb_zip(
        work / "bomb.zip", "outbox.json", mb=300, head=b'{"orderedItems": [', others={"actor.json": actor}
    )
    liar = work / "liar.zip"
    shutil.copy(bomb, liar)
    lie_about_size(liar, "outbox.json", 1000)
    x_bomb = bomb_zip(work / "x-bomb.zip", "data/tweets.js", mb=300, head=b"window.YTD.tweets.part0 = [")
    listing = work / "listing.zip"  # 200,000 empty files: zipfile would hold ~130 MB of table to open it
    with zipfile.ZipFile(listing, "w") as zf:
        zf.writestr("outbox.json", (MASTODON / "outbox.json").read_bytes())
        for i in range(200_000):
            zf.writestr(f"media_attachments/files/{i:012d}/original.png", b"")

    claimed = cid_of(b"whatever this node says it is")
    node = libipld.encode_dag_cbor({"l": claimed, "e": []})
    commit = _commit(claimed)
    (work / "cyclic.car").write_bytes(car(cid_of(commit), [(cid_of(commit), commit), (claimed, node)]))

    record = libipld.encode_dag_cbor(
        {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00Z"}
    )
    blocks, below = [(cid_of(record), record)], None
    for _ in range(60):
        node = libipld.encode_dag_cbor(
            {"l": below, "e": [{"p": 0, "k": b"app.bsky.feed.post/3a", "v": cid_of(record), "t": below}]}
        )
        blocks.append((cid_of(node), node))
        below = cid_of(node)
    commit = _commit(below)
    (work / "dag.car").write_bytes(car(cid_of(commit), [(cid_of(commit), commit), *blocks]))
    print(
        f"inputs: bomb.zip {bomb.stat().st_size / 1024:.0f} KB (300 MB inflated), cyclic.car "
        f"{(work / 'cyclic.car').stat().st_size:,} bytes, dag.car {(work / 'dag.car').stat().st_size:,} bytes"
    )
    return {
        "baseline: honest Mastodon zip": (["--archive", str(honest)], ""),
        "baseline: honest Bluesky CAR": (["--archive", str(BLUESKY), *HANDLE], ""),
        "Mastodon zip bomb (300 MB outbox.json)": (["--archive", str(bomb)], "baseline: honest Mastodon zip"),
        "Mastodon zip bomb, size listed as 1,000 B": (["--archive", str(liar)], "baseline: honest Mastodon zip"),
        "X zip bomb (300 MB data/tweets.js)": (["--archive", str(x_bomb), "--handle", "wren"], "baseline: honest Mastodon zip"),
        "zip listing 200,000 files (18 MB table)": (["--archive", str(listing)], "baseline: honest Mastodon zip"),
        "CAR: MST node links to itself": (["--archive", str(work / "cyclic.car"), *HANDLE], "baseline: honest Bluesky CAR"),
        "CAR: every node reached twice (2**60 paths)": (["--archive", str(work / "dag.car"), *HANDLE], "baseline: honest Bluesky CAR"),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is shown")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        cases = build(work)
        results: dict[str, dict] = {}
        for name, (argv, _) in cases.items():
            runs = []
            for i in range(args.repeat):
                run_dir = work / f"run-{len(results)}-{i}"
                runs.append(measured_cli(work, "fetch", *argv, "--run-dir", str(run_dir), timeout=300))
                shutil.rmtree(run_dir, ignore_errors=True)
            results[name] = min(runs, key=lambda r: r["seconds"])
        print(
            f"{'case':45} {'exit':>4} {'wall s':>7} {'cpu s':>6} {'+RSS MB':>8} {'x wall':>7}  refused with"
        )
        for name, (_, base) in cases.items():
            r = results[name]
            ratio = f"{r['seconds'] / results[base]['seconds']:.1f}" if base else "1.0"
            line = (r["stderr"].strip().splitlines() or [""])[0]
            print(f"{name:45} {r['code']:>4} {r['seconds']:>7.3f} {r['cpu_s']:>6.3f} "
                  f"{r['extra_bytes'] / MB:>8.1f} {ratio:>7}  {line[:90]}")  # fmt: skip
        bad = [
            n
            for n, (_, b) in cases.items()
            if b
            and not (
                results[n]["code"] == 1 and results[n]["seconds"] < 5 and results[n]["extra_bytes"] < 200 * MB
            )
        ]
        print("within budget (exit 1, < 5 s, < 200 MB): " + ("all" if not bad else "NOT " + ", ".join(bad)))
        return 1 if bad else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
