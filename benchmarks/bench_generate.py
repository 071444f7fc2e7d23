"""Benchmark: the downstream call on a GPT-2 124M-shaped bot, for each way of saving its weights.

    pipeline("text-generation", model=DIR)("My dream is", num_return_sequences=5)

Folders are written by huggingtweets.train.saving.save_model (what the trainer saves), with
generation_config.json's max_new_tokens set to ``--new-tokens`` (60), and a randomly initialised
124M model, which practically never samples EOS, so each call makes 5 x 60 new tokens:
- float32:        float32 files, config.json dtype float32
- bf16-files:     bfloat16 files (half the download), config.json dtype float32: what the trainer
                  saves by default; from_pretrained/pipeline upcast to float32 at load
- bf16-compute:   bfloat16 files and config.json dtype bfloat16 (the former default): the
                  consumer's default call computes in bfloat16

Each is timed in its own subprocess, the contenders taking turns (A/B/C/A/B/C), on this CPU as
it is and, where oneDNN can be capped, with ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
("AVX2 only", the CPU of most laptops and CI runners, whose bf16 is emulated). It reports s per
call, CPU ms per decode step (CPU seconds / steps: what the call costs alone), and the floor set by reading the weights once per step (bytes over the
measured memory read bandwidth).

    python benchmarks/bench_generate.py [--calls 1] [--rounds 1] [--threads 0] [--no-avx2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

PROMPT = "My dream is"
GPT2_124M = dict(vocab_size=50257, n_layer=12, n_embd=768, n_head=12, n_positions=1024)
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def time_calls(model_dir: str, calls: int, threads: int) -> dict:
    """Worker: load the folder the way the card's snippet does, one warm-up call, then ``calls``."""
    import torch
    from transformers import pipeline, set_seed

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    generator = pipeline("text-generation", model=model_dir)
    load_s = time.perf_counter() - started
    tokenizer = generator.tokenizer
    prompt_len = len(tokenizer(generator.model.config.prefix + PROMPT)["input_ids"])
    set_seed(0)
    generator(PROMPT, num_return_sequences=5, max_new_tokens=4)  # warm-up: first-call allocations
    seconds, cpu_seconds, steps = [], [], []
    for i in range(calls):
        set_seed(i)
        t, c = time.perf_counter(), time.process_time()
        outs = generator(PROMPT, num_return_sequences=5, return_tensors=True)
        seconds.append(time.perf_counter() - t)
        cpu_seconds.append(time.process_time() - c)
        steps.append(max(len(o["generated_token_ids"]) for o in outs) - prompt_len)
    return {
        "dtype": str(generator.model.dtype).replace("torch.", ""),
        "load_s": round(load_s, 2),
        "s_per_call": statistics.median(seconds),
        # CPU seconds the call used (all threads): on a machine shared with other work this stays
        # near what the call takes alone, where wall time does not.
        "cpu_s_per_call": statistics.median(cpu_seconds),
        "steps_per_call": statistics.median(steps),
        "threads": torch.get_num_threads(),
    }


def read_gbps(mib: int = 512) -> float:
    import torch

    x = torch.ones(mib * 2**20 // 4)
    x.sum()
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < 1.0:
        x.sum()
        n += 1
    return x.numel() * 4 * n / (time.perf_counter() - started) / 1e9


def make_folders(root: Path, new_tokens: int) -> dict[str, Path]:
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from huggingtweets.train.saving import save_model
    from huggingtweets.train.tiny import build_tiny_base

    # A real GPT-2-style tokenizer (byte-level BPE) from the tiny builder; the model is 124M-shaped.
    tok_dir = build_tiny_base(["my dream is to keep the light", "the sea is calm tonight"], root / "tok")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    torch.manual_seed(0)
    config = GPT2Config(**GPT2_124M, bos_token_id=0, eos_token_id=0, activation_function="gelu_pytorch_tanh")
    folders = {}
    for name, dtype in (("float32", "float32"), ("bf16-files", "bfloat16"), ("bf16-compute", "bfloat16")):
        model = GPT2LMHeadModel(config).eval()
        torch.manual_seed(0)
        folders[name] = save_model(model, tokenizer, root / name, dtype=dtype, max_new_tokens=new_tokens)
    # The former default: the config says bfloat16, so a default load computes in bfloat16.
    cfg = root / "bf16-compute" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "dtype": "bfloat16"}))
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1, help="timed calls per turn (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=1, help="turns each contender takes")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads, the same for all (0 = the trainer's auto rule)"
    )
    parser.add_argument("--new-tokens", type=int, default=60, help="max_new_tokens in the saved folders")
    parser.add_argument("--no-avx2", action="store_true", help="skip the AVX2-only (emulated) rows")
    parser.add_argument("--time", help=argparse.SUPPRESS)  # worker mode: time one folder
    args = parser.parse_args()
    if args.time:
        print("RESULT " + json.dumps(time_calls(args.time, args.calls, args.threads)), flush=True)
        return

    started = time.perf_counter()
    from huggingtweets.train.speed import auto_cpu_threads

    args.threads = args.threads or auto_cpu_threads()
    print(cpu_line(), flush=True)
    bandwidth = read_gbps()
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        folders = make_folders(Path(tmp), args.new_tokens)
        sizes = {n: sum(f.stat().st_size for f in d.glob("*.safetensors")) for n, d in folders.items()}
        kinds = [("this CPU", {})] + ([] if args.no_avx2 else [("AVX2 only", AVX2_ENV)])
        runs = {(k, n): [] for k, _ in kinds for n in folders}
        for _ in range(args.rounds):
            for kind, env in kinds:
                for name, folder in folders.items():
                    if kind == "AVX2 only" and name == "bf16-compute" and runs[(kind, name)]:
                        continue  # emulated bf16 is ~7x slower: one turn tells enough
                    cmd = [sys.executable, __file__, "--time", str(folder), "--calls", str(args.calls)]
                    cmd += ["--threads", str(args.threads)]
                    out = subprocess.run(
                        cmd,
                        capture_output=True,
                        text=True,
                        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **env},
                    )
                    if out.returncode != 0:
                        sys.exit(f"{name} ({kind}) failed:\n{out.stderr[-3000:]}")
                    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
                    result = json.loads(line[7:])
                    result["load"] = os.getloadavg()[0]
                    runs[(kind, name)].append(result)
                    print(
                        f"  {kind:<9} {name:<13} {result['s_per_call']:.2f} s/call "
                        f"({result['cpu_s_per_call']:.2f} CPU s); load {result['load']:.1f}",
                        flush=True,
                    )

    print(
        f"\nGPT-2 124M shape: pipeline('text-generation', model=DIR)({PROMPT!r}, num_return_sequences=5), "
        f"max_new_tokens {args.new_tokens}; memory read {bandwidth:.1f} GB/s"
    )
    print(
        f"{'CPU':<10} {'folder':<13} {'file MiB':>8} {'loads as':>9} {'s/call':>7} {'CPU s':>6} "
        f"{'CPU ms/step':>11} {'floor ms':>8} {'vs float32':>10} {'CPU s vs':>8} {'load avg':>8}"
    )
    for kind, _ in kinds:
        reference = statistics.median(r["s_per_call"] for r in runs[(kind, "float32")])
        cpu_reference = statistics.median(r["cpu_s_per_call"] for r in runs[(kind, "float32")])
        for name in folders:
            rows = runs[(kind, name)]
            s = statistics.median(r["s_per_call"] for r in rows)
            cpu_s = statistics.median(r["cpu_s_per_call"] for r in rows)
            steps = statistics.median(r["steps_per_call"] for r in rows)
            # Per step the whole model is read once; in float32 whatever the files held, or bf16.
            weight_bytes = sizes["float32"] * (0.5 if rows[0]["dtype"] == "bfloat16" else 1.0)
            floor_ms = weight_bytes / (bandwidth * 1e9) * 1e3
            print(
                f"{kind:<10} {name:<13} {sizes[name] / 2**20:>8.0f} {rows[0]['dtype']:>9} {s:>7.2f} "
                f"{cpu_s:>6.2f} {cpu_s / steps * 1e3:>11.1f} {floor_ms:>8.1f} {reference / s:>9.2f}x "
                f"{cpu_reference / cpu_s:>7.2f}x "
                f"{statistics.mean(r['load'] for r in rows):>8.1f}"
            )
    print(
        f"threads {runs[(kinds[0][0], 'float32')][0]['threads']}; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
