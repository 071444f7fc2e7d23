"""Benchmark: the downstream call on a GPT-2 124M-shaped model saved by our trainer.

    pipeline("text-generation", model=DIR)("My dream is", num_return_sequences=5)

The model is trained for a couple of steps by huggingtweets.train (so the folder is exactly what
the trainer saves), then saved with float32 and with bfloat16 weights. Each folder is timed in its
own subprocess: seconds per call and per generated token (5 sequences per call), plus a quality
check of the dtype: validation loss and top-1 agreement of bf16 against fp32 on held-out posts.
Decoding on a CPU is bound by reading the weights, so halving their bytes matters.

    python benchmarks/bench_generate.py [--calls 3] [--threads 0]

The trainer saves bfloat16 by default (TrainConfig.save_dtype) because of this measurement.
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
from bench_train import load_posts, make_base, make_run_dir  # noqa: E402

PROMPT = "My dream is"


def time_calls(model_dir: str, calls: int, threads: int) -> dict:
    import torch
    from transformers import AutoTokenizer, pipeline, set_seed

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    generator = pipeline("text-generation", model=model_dir)
    load_s = time.perf_counter() - started
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    set_seed(0)
    generator(PROMPT, num_return_sequences=5)  # warm-up: first-call allocations
    seconds, tokens = 0.0, 0
    for i in range(calls):
        set_seed(i)
        t = time.perf_counter()
        outs = generator(PROMPT, num_return_sequences=5)
        seconds += time.perf_counter() - t
        prompt_len = len(tokenizer(PROMPT)["input_ids"])
        tokens += sum(len(tokenizer(o["generated_text"])["input_ids"]) - prompt_len for o in outs)
    return {
        "dtype": str(generator.model.dtype).replace("torch.", ""),
        "load_s": round(load_s, 2),
        "s_per_call": round(seconds / calls, 3),
        "s_per_token": round(seconds / max(tokens, 1), 5),
        "tokens_per_call": round(tokens / calls, 1),
        "threads": torch.get_num_threads(),
    }


def quality(fp32_dir: Path, bf16_dir: Path, texts: list[str]) -> dict:
    """Validation loss of each, and how often bf16's most likely next token equals fp32's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(fp32_dir)
    ids = [tokenizer.eos_token_id]
    for text in texts:
        ids += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    batch = torch.tensor([ids[:512]])
    results = {}
    logits = {}
    for name, folder in (("float32", fp32_dir), ("bfloat16", bf16_dir)):
        model = AutoModelForCausalLM.from_pretrained(folder)
        with torch.no_grad():
            out = model(input_ids=batch, labels=batch)
        results[f"loss_{name}"] = round(float(out.loss), 4)
        logits[name] = out.logits.float()
    results["top1_agreement"] = round(
        float((logits["float32"].argmax(-1) == logits["bfloat16"].argmax(-1)).float().mean()), 4
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3, help="timed calls per dtype (after one warm-up)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--time", help=argparse.SUPPRESS)  # worker mode: time one folder
    args = parser.parse_args()
    if args.time:
        print("RESULT " + json.dumps(time_calls(args.time, args.calls, args.threads)), flush=True)
        return

    from huggingtweets.train import TrainConfig, train
    from huggingtweets.train.saving import save_model

    started = time.perf_counter()
    posts = load_posts()
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        root = Path(tmp)
        base = make_base(root, posts, gpt2_124m=True)
        run = make_run_dir(root, posts)
        train(
            run,
            TrainConfig(
                base_model=str(base),
                max_steps=2,
                checkpoint_every=0,
                save_dtype="float32",
            ),
        )
        fp32_dir = run / "model"
        bf16_dir = root / "model-bf16"
        from transformers import AutoModelForCausalLM, AutoTokenizer

        save_model(
            AutoModelForCausalLM.from_pretrained(fp32_dir),
            AutoTokenizer.from_pretrained(fp32_dir),
            bf16_dir,
            dtype="bfloat16",
        )
        sizes = {
            d.name: round(sum(f.stat().st_size for f in d.iterdir()) / 2**20) for d in (fp32_dir, bf16_dir)
        }
        rows = {}
        for name, folder in (("float32", fp32_dir), ("bfloat16", bf16_dir)):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--time",
                    str(folder),
                    "--calls",
                    str(args.calls),
                    "--threads",
                    str(args.threads),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
            if out.returncode != 0:
                sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
            rows[name] = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[7:])
        q = quality(fp32_dir, bf16_dir, posts[:20])

    print(
        f"GPT-2 124M shape, pipeline('text-generation')({PROMPT!r}, num_return_sequences=5); "
        f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'weights':<9} {'MiB':>5} {'load s':>7} {'s/call':>7} {'tokens/call':>12} {'s/token':>8} {'threads':>7}"
    )
    for name, r in rows.items():
        assert r["dtype"] == name, f"the pipeline loaded {r['dtype']} weights from the {name} folder"
        folder = "model" if name == "float32" else "model-bf16"
        print(
            f"{name:<9} {sizes[folder]:>5} {r['load_s']:>7} {r['s_per_call']:>7} {r['tokens_per_call']:>12} "
            f"{r['s_per_token']:>8} {r['threads']:>7}"
        )
    print(
        f"quality: loss fp32 {q['loss_float32']}, bf16 {q['loss_bfloat16']}, top-1 agreement {q['top1_agreement']:.1%}"
    )
    print(f"total {time.perf_counter() - started:.0f} s")
    speed = rows["float32"]["s_per_token"] / rows["bfloat16"]["s_per_token"]
    print(f"bf16 weights vs fp32: {speed:.2f}x per token")


if __name__ == "__main__":
    main()
