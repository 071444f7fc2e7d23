"""Push and pull one large file through the local Hub, in LFS mode and in regular mode.

Prints throughput (MB/s) and peak RSS of the client and of the server, each in its own process:
the server runs through the CLI (``huggingtweets hub serve``), the client is a fresh Python
process per operation with HF_ENDPOINT set before huggingface_hub is imported. The baseline is
a plain file copy of the same file measured in the same run; ratios are against it.

    .venv/bin/python benchmarks/bench_hub.py --size-mb 500

Everything lives in a temp folder (``--workdir``) that is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "hf_bench_write"
REPO = "bench/big"
CHUNK = 8 * 1024 * 1024

CLIENT = r"""
import json, os, resource, sys, time
from huggingface_hub import HfApi, hf_hub_download

op, path = sys.argv[1], sys.argv[2]
api = HfApi()
t0 = time.perf_counter()
if op == "push":
    api.create_repo("bench/big", exist_ok=True)
    api.upload_file(path_or_fileobj=path, path_in_repo="big.bin", repo_id="bench/big")
else:
    path = hf_hub_download("bench/big", "big.bin", cache_dir=path)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "path": path,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_rss_mb(pid: int) -> float:
    """The process's high-water RSS (VmHWM), exact on Linux; sampled psutil RSS elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def start_server(data_dir: Path, lfs_threshold: int | None) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "huggingtweets",
        "hub",
        "serve",
        "--data-dir",
        str(data_dir),
        "--token",
        f"{TOKEN}:bench",
        "--log-level",
        "WARNING",
    ]
    if lfs_threshold is not None:
        cmd += ["--lfs-threshold", str(lfs_threshold)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"server did not start (got {url!r})")
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def run_client(op: str, arg: str, url: str, home: Path) -> dict:
    env = dict(
        os.environ,
        HF_ENDPOINT=url,
        HF_TOKEN=TOKEN,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, op, arg], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"client {op} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def bench_mode(mode: str, src: Path, work: Path, size_mb: float, expected_sha: str) -> dict:
    data_dir, home = work / f"hub-{mode}", work / f"client-{mode}"
    threshold = 10 * 2**20 if mode == "lfs" else None
    # push: one server process, so its peak RSS is the push's
    server, url = start_server(data_dir, threshold)
    try:
        push = run_client("push", str(src), url, home)
        push["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        stop_server(server)
    # pull: a fresh server on the same data folder (also checks that the push persisted)
    server, url = start_server(data_dir, threshold)
    try:
        pull = run_client("pull", str(work / f"cache-{mode}"), url, home)
        pull["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        stop_server(server)
    if sha256_file(Path(pull["path"])) != expected_sha:
        raise SystemExit(f"{mode}: downloaded file differs from the pushed one")
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(work / f"cache-{mode}", ignore_errors=True)
    return {
        op: {
            "MB/s": size_mb / r["seconds"],
            "seconds": r["seconds"],
            "client_peak_rss_mb": r["peak_rss_mb"],
            "server_peak_rss_mb": r["server_peak_rss_mb"],
        }
        for op, r in (("push", push), ("pull", pull))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500, help="size of the file pushed and pulled")
    parser.add_argument("--modes", default="lfs,regular", help="comma-separated: lfs, regular")
    parser.add_argument("--workdir", default=None, help="temp folder (default: a new one under $TMPDIR)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-hub-", dir=args.workdir))
    try:
        src = work / "big.bin"
        with open(src, "wb") as fh:  # random bytes: nothing along the way can compress them
            for _ in range(args.size_mb):
                fh.write(os.urandom(2**20))
        size_mb = src.stat().st_size / 2**20
        expected = sha256_file(src)

        t0 = time.perf_counter()
        shutil.copyfile(src, work / "copy.bin")
        copy_mbs = size_mb / (time.perf_counter() - t0)
        (work / "copy.bin").unlink()

        print(f"file: {size_mb:.0f} MB random bytes; baseline plain file copy: {copy_mbs:.0f} MB/s")
        print(
            f"{'mode':8} {'op':5} {'MB/s':>8} {'x copy':>7} {'seconds':>8} {'client peak RSS':>16} "
            f"{'server peak RSS':>16}"
        )
        for mode in args.modes.split(","):
            for op, r in bench_mode(mode.strip(), src, work, size_mb, expected).items():
                print(
                    f"{mode:8} {op:5} {r['MB/s']:8.1f} {r['MB/s'] / copy_mbs:7.3f} {r['seconds']:8.1f} "
                    f"{r['client_peak_rss_mb']:13.0f} MB {r['server_peak_rss_mb']:13.0f} MB",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
