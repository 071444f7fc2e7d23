"""Benchmark: our trainer vs transformers.Trainer as the original huggingtweets set it up, and tuned.

Same model config, same posts, same number of epochs, one run:
- ours:     huggingtweets.train.train (packed blocks, batch 8, bf16 autocast where supported,
            fused AdamW, attention dropout 0 + gelu_pytorch_tanh)
- original: Trainer, batch size 1, posts joined into fixed blocks of the model's context, fp32
- tuned:    Trainer, batch size 16, bf16, per-post examples grouped by length (dynamic padding)

Each contender runs in its own subprocess (clean peak RSS, same thread count). Throughput counts
real tokens only (padding excluded) over the training loop's wall time. Ratios are against the
baselines measured in the same run; the last line is
``speedup vs original: X.XXx, vs tuned Trainer: Y.YYx`` (small config).

    python benchmarks/bench_train.py                 # small (tiny default) config, < 5 minutes
    python benchmarks/bench_train.py --gpt2-124m     # also GPT-2 124M shape, a few steps each
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE_POSTS = REPO / "tests" / "fixtures" / "train"

GPT2_124M = dict(vocab_size=50257, n_layer=12, n_embd=768, n_head=12, n_positions=1024)


# --- shared set-up (also used by bench_generate.py) -----------------------------------------
def load_posts() -> list[str]:
    """Posts of the bundled sample archive through the real fetch/prepare code; else the fixture corpus."""
    try:
        from huggingtweets.paths import sample_archive
        from huggingtweets.prepare import prepare
        from huggingtweets.sources import fetch

        with tempfile.TemporaryDirectory() as tmp:
            fetch(tmp, archives=[(sample_archive(), None)], echo=lambda *_: None)
            prepare(tmp, seed=0)
            from datasets import load_from_disk

            texts = list(load_from_disk(str(Path(tmp) / "dataset"))["train"]["text"])
        if len(texts) >= 100:
            return texts
    except Exception as err:  # the data stage is another module: fall back rather than fail the benchmark
        print(f"(sample archive unavailable: {type(err).__name__}; using the test corpus)", file=sys.stderr)
    return [
        line
        for p in sorted(FIXTURE_POSTS.glob("*.txt"))
        for line in p.read_text().splitlines()
        if line.strip()
    ]


def make_run_dir(root: Path, posts: list[str], *, validation: int = 20) -> Path:
    from datasets import Dataset, DatasetDict

    run = root / "run"
    val, train = posts[:validation], posts[validation:]
    DatasetDict(
        {
            "train": Dataset.from_dict({"text": train, "handle": ["bench"] * len(train)}),
            "validation": Dataset.from_dict({"text": val, "handle": ["bench"] * len(val)}),
        }
    ).save_to_disk(str(run / "dataset"))
    return run


def make_base(root: Path, posts: list[str], *, gpt2_124m: bool) -> Path:
    """The tiny default shape, or GPT-2 124M's (vocab padded to 50257), randomly initialised.

    Both carry GPT-2's own settings (attention dropout 0.1, gelu_new), as a base from the Hub
    does: the original and tuned Trainer set-ups train with them, and our trainer applies its own
    overrides (attention dropout 0, gelu_pytorch_tanh), which are part of what is measured.
    """
    from transformers import AutoModelForCausalLM

    from huggingtweets.train.tiny import build_tiny_base

    base = build_tiny_base(
        posts, root / ("base-124m" if gpt2_124m else "base-small"), seed=0, **(GPT2_124M if gpt2_124m else {})
    )
    model = AutoModelForCausalLM.from_pretrained(base)
    if gpt2_124m:
        # The BPE learns fewer merges than GPT-2's 50k from a few posts: pad the embedding table to
        # GPT-2's size so the matmuls (and the memory) are those of the real 124M model.
        model.resize_token_embeddings(GPT2_124M["vocab_size"], mean_resizing=False)
    model.config.attn_pdrop, model.config.activation_function = 0.1, "gelu_new"
    model.save_pretrained(base)
    return base


# --- contenders (each runs in a worker subprocess) -----------------------------------------
def run_ours(run: Path, base: Path, args) -> dict:
    from huggingtweets.train import TrainConfig, train

    config = TrainConfig(
        base_model=str(base),
        epochs=args.epochs,
        batch_size=args.batch_size,
        block_size=args.block_size,
        mixed_precision="auto",
        max_steps=max(1, round(args.token_budget / (args.batch_size * args.block_size)))
        if args.token_budget
        else 0,
        checkpoint_every=0,
        seed=0,
    )
    summary = train(run, config)
    return {
        "tokens_per_second": summary["tokens_per_second"],
        "tokens": summary["tokens_seen"],
        "mixed_precision": summary["mixed_precision"],
        "final_loss": summary["train_loss"],
    }


def run_trainer(run: Path, base: Path, args, *, tuned: bool) -> dict:
    import torch
    from datasets import load_from_disk
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        default_data_collator,
    )

    from huggingtweets.train.data import pack

    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    texts = load_from_disk(str(run / "dataset"))["train"]["text"]
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    if tuned:
        from datasets import Dataset

        block = model.config.n_positions
        dataset = Dataset.from_dict({"input_ids": [(x + [tokenizer.eos_token_id])[:block] for x in ids]})
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
        real_tokens = sum(len(x) for x in dataset["input_ids"])
    else:
        # The original: TextDataset-style blocks of the model's full context, batch size 1.
        from datasets import Dataset

        packed = pack(ids, tokenizer.eos_token_id, model.config.n_positions)
        dataset = Dataset.from_dict(packed)
        collator = default_data_collator
        real_tokens = sum(sum(1 for t in lab if t != -100) for lab in packed["labels"])

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_train_end(self, *a, **k):
            self.seconds = time.perf_counter() - self.start

    clock = Clock()
    # A token budget (the 124M run): as many steps as it takes to see about that many real tokens.
    tokens_per_step = real_tokens / len(dataset) * (16 if tuned else 1)
    budget_steps = max(1, round(args.token_budget / tokens_per_step)) if args.token_budget else 0
    training_args = TrainingArguments(
        output_dir=str(run / ("trainer-tuned" if tuned else "trainer-original")),
        per_device_train_batch_size=16 if tuned else 1,
        num_train_epochs=args.epochs,
        max_steps=budget_steps if args.token_budget else -1,
        learning_rate=1.372e-4,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        bf16=tuned,
        train_sampling_strategy="group_by_length" if tuned else "random",
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = Trainer(
        model=model, args=training_args, train_dataset=dataset, data_collator=collator, callbacks=[clock]
    )
    result = trainer.train()
    real_tokens = tokens_per_step * result.global_step if args.token_budget else real_tokens * args.epochs
    return {
        "tokens_per_second": round(real_tokens / clock.seconds, 1),
        "tokens": int(real_tokens),
        "mixed_precision": "bf16" if tuned else "no",
        "final_loss": round(result.training_loss, 4),
    }


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the
    parent that forked us, which would report the benchmark driver's memory instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def worker(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    run, base = Path(args.run_dir), Path(args.base)
    if args.worker == "ours":
        result = run_ours(run, base, args)
    else:
        result = run_trainer(run, base, args, tuned=args.worker == "tuned")
    result["peak_rss_mib"] = peak_rss_mib()
    result["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(result), flush=True)


def measure(name: str, run: Path, base: Path, args) -> dict:
    # Each contender trains from the same starting run folder.
    work = run.parent / f"run-{name}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(run, work)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--run-dir",
        str(work),
        "--base",
        str(base),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--block-size",
        str(args.block_size),
        "--threads",
        str(args.threads),
        "--token-budget",
        str(args.token_budget),
    ]
    started = time.perf_counter()
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    )
    if out.returncode != 0:
        sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["process_s"] = round(time.perf_counter() - started, 1)
    return result


def compare(label: str, root: Path, posts: list[str], args) -> tuple[float, float]:
    base = make_base(root, posts, gpt2_124m=args.gpt2_124m_now)
    run = make_run_dir(root / label, posts)
    results = {name: measure(name, run, base, args) for name in ("original", "tuned", "ours")}
    amount = f"~{args.token_budget:,} tokens" if args.token_budget else f"{args.epochs} epochs"
    print(
        f"\n{label}: {amount} each, block {args.block_size} (ours), "
        f"threads {results['ours']['threads']}, load avg {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'contender':<10} {'tokens/s':>10} {'tokens':>9} {'peak RSS MiB':>13} {'precision':>9} {'process s':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<10} {r['tokens_per_second']:>10,.0f} {r['tokens']:>9,} {r['peak_rss_mib']:>13,.0f} "
            f"{r['mixed_precision']:>9} {r['process_s']:>9}"
        )
    ours = results["ours"]["tokens_per_second"]
    return ours / results["original"]["tokens_per_second"], ours / results["tuned"]["tokens_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs for every contender (small config)")
    parser.add_argument("--batch-size", type=int, default=8, help="our trainer's batch size")
    parser.add_argument("--block-size", type=int, default=256, help="our trainer's block size")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per contender (0 = auto: 1 when the load average shows other "
        "work on the cores, where 2 spinning threads collapse, else torch's default)",
    )
    parser.add_argument(
        "--gpt2-124m", action="store_true", help="also run the GPT-2 124M shape, a few steps each"
    )
    parser.add_argument(
        "--tokens-124m", type=int, default=6144, help="real tokens each contender trains on (124M)"
    )
    parser.add_argument("--token-budget", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["ours", "original", "tuned"], help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    started = time.perf_counter()
    if not args.threads and os.getloadavg()[0] >= 0.5 * (os.cpu_count() or 1):
        args.threads = 1
    posts = load_posts()
    print(
        f"{len(posts)} posts, {os.cpu_count()} CPUs, torch threads {args.threads or 'default'}; load avg {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        if args.gpt2_124m:
            big = argparse.Namespace(
                **{**vars(args), "gpt2_124m_now": True, "token_budget": args.tokens_124m, "epochs": 1}
            )
            r_orig, r_tuned = compare("gpt2-124m", root / "big", posts, big)
            print(f"gpt2-124m: speedup vs original: {r_orig:.2f}x, vs tuned Trainer: {r_tuned:.2f}x")
        small = argparse.Namespace(**{**vars(args), "gpt2_124m_now": False})
        r_orig, r_tuned = compare("small", root / "small", posts, small)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    print(f"speedup vs original: {r_orig:.2f}x, vs tuned Trainer: {r_tuned:.2f}x")


if __name__ == "__main__":
    main()
