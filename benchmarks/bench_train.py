"""Benchmark: our trainer vs transformers.Trainer as the original huggingtweets set it up, and tuned.

Same model, same posts, same threads, same precision rule, one run, contenders taking turns:
- original:      Trainer, batch 1, posts joined into blocks of the model's context (1024 for GPT-2
                 124M, 256 for the tiny shape), fp32: exactly as the original configured it
- original-128:  the same at block 128 (the original's set-up as an independent check ran it)
- tuned:         Trainer, batch 16, per-post examples grouped by length (dynamic padding), bf16 only
                 where the CPU has it natively (``resolve_mixed_precision``), else fp32
- ours:          huggingtweets.train.train with its defaults (packed blocks, batch 8 x block 256,
                 the same precision rule, fused AdamW, attention dropout 0 + gelu_pytorch_tanh)

Every contender trains on about ``--tokens`` real tokens (a token budget: the contenders see the
same amount of data, and the run stays short) in its own subprocess, with the same torch thread
count (the trainer's auto rule unless ``--threads``). Throughput counts real tokens only (padding
excluded) over the training loop's wall time. ``--cpu-kind avx2`` runs every contender with
oneDNN and ATen capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2) and fp32, as on
a CPU without native bf16. The last line is ``speedup vs original: X.XXx, vs tuned Trainer: Y.YYx``.

    python benchmarks/bench_train.py                      # small (tiny default) config, < 6 min on 2 cores
    python benchmarks/bench_train.py --cpu-kind avx2      # as on an AVX2-only CPU
    python benchmarks/bench_train.py --gpt2-124m          # the GPT-2 124M shape instead (slow on 2 cores)
    python benchmarks/bench_train.py --pretrained smollm2-135m --threads 2 --rounds 1   # a real base

With ``--pretrained NAME`` (a ``--base-model`` value: the offline ``smollm2-135m``, a folder, a .gguf
file) every contender fine-tunes that real pretrained base, on a real person's posts (the X
archive in ../shared/data/archives/smithjd-2022 where it is, else the sample archive); the
original's block is the model's context capped at GPT-2's 1024, as the original used; ours runs
with the trainer's defaults for that base, and ``ours-8x1`` beside it with one micro-step of 8 and
no gradient checkpointing (the faster, memory-hungrier set-up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
FIXTURE_POSTS = REPO / "tests" / "fixtures" / "train"

GPT2_124M = dict(vocab_size=50257, n_layer=12, n_embd=768, n_head=12, n_positions=1024)


# --- shared set-up (also used by bench_generate.py) -----------------------------------------
REAL_ARCHIVE = REPO.parent / "shared" / "data" / "archives" / "smithjd-2022"


def load_posts(archive: Path | None = None, handle: str | None = None) -> list[str]:
    """Posts of ``archive`` (default: the bundled sample archive) through the real fetch/prepare code;
    else the fixture corpus."""
    try:
        from huggingtweets.paths import sample_archive
        from huggingtweets.prepare import prepare
        from huggingtweets.sources import fetch

        with tempfile.TemporaryDirectory() as tmp:
            fetch(tmp, archives=[(archive or sample_archive(), handle)], echo=lambda *_: None)
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

    fast = args.worker == "ours-8x1"
    batch = 8 if fast else (args.batch_size or None)  # None: the trainer's default for this base
    config = TrainConfig(
        base_model=str(base),
        epochs=100 if args.token_budget else args.epochs,  # the budget's max_steps ends it
        batch_size=batch,
        gradient_accumulation_steps=1 if fast else None,
        gradient_checkpointing="no" if fast else "auto",
        block_size=args.block_size,
        mixed_precision=args.precision,
        cpu_threads=args.threads,
        max_steps=max(1, round(args.token_budget / ((args.batch_size or 8) * args.block_size)))
        if args.token_budget
        else 0,
        checkpoint_every=0,
        seed=0,
    )
    summary = train(run, config)
    hp = summary["hyperparameters"]
    return {
        "tokens_per_second": summary["tokens_per_second"],
        "tokens": summary["tokens_seen"],
        "mixed_precision": summary["mixed_precision"],
        "final_loss": summary["train_loss"],
        "setup": f"{hp['batch_size']}x{hp['gradient_accumulation_steps']}"
        + (", ckpt" if summary["gradient_checkpointing"] else "")
        + f", {summary.get('allocator', 'keep')}",
    }


def run_trainer(run: Path, base: Path, args, *, tuned: bool, block: int) -> dict:
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

        block = _context(model.config)
        dataset = Dataset.from_dict({"input_ids": [(x + [tokenizer.eos_token_id])[:block] for x in ids]})
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
        real_tokens = sum(len(x) for x in dataset["input_ids"])
    else:
        # The original: TextDataset-style blocks of the model's full context, batch size 1.
        from datasets import Dataset

        packed = pack(ids, tokenizer.eos_token_id, block)
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
        bf16=tuned and args.precision == "bf16",
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
        "mixed_precision": args.precision if tuned else "no",
        "final_loss": round(result.training_loss, 4),
    }


def _context(config) -> int:
    return getattr(config, "n_positions", None) or config.max_position_embeddings


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: the trainer's own figure, ``peak_memory_mb`` in its summary)."""
    from huggingtweets.train.speed import peak_resident_mb

    return peak_resident_mb() or 0.0


def worker(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    run, base = Path(args.run_dir), Path(args.base)
    if args.worker in ("ours", "ours-8x1"):
        result = run_ours(run, base, args)
    elif args.worker == "tuned":
        result = run_trainer(run, base, args, tuned=True, block=0)
    else:
        from transformers import AutoConfig

        context = min(_context(AutoConfig.from_pretrained(base)), 1024)  # the original's GPT-2 block
        block = 128 if args.worker == "original-128" else context
        result = run_trainer(run, base, args, tuned=False, block=block)
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
        "--precision",
        args.precision,
    ]
    started = time.perf_counter()
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(AVX2_ENV if args.cpu_kind == "avx2" else {})}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["process_s"] = round(time.perf_counter() - started, 1)
    result["load"] = round(os.getloadavg()[0], 1)
    print(f"  {name:<13} {result['tokens_per_second']:>8,.0f} tokens/s; load {result['load']}", flush=True)
    return result


CONTENDERS = ("original", "original-128", "tuned", "ours", "ours-8x1")


def compare(label: str, root: Path, posts: list[str], args) -> dict[str, float]:
    if args.pretrained:
        from huggingtweets.train.base import resolve_base_model

        base = resolve_base_model(args.pretrained, tiny_dir=root / "unused", tiny_texts=list).folder
    else:
        base = make_base(root, posts, gpt2_124m=args.gpt2_124m)
    run = make_run_dir(root / label, posts)
    contenders = CONTENDERS if args.pretrained else CONTENDERS[:-1]
    runs: dict[str, list[dict]] = {name: [] for name in contenders}
    for _ in range(args.rounds):  # turns, so a change in the machine's load hits every contender
        for name in contenders:
            runs[name].append(measure(name, run, base, args))
    results = {}
    for name, rows in runs.items():
        best = dict(rows[0])
        best["tokens_per_second"] = statistics.median(r["tokens_per_second"] for r in rows)
        best["load"] = round(statistics.mean(r["load"] for r in rows), 1)
        results[name] = best
    print(
        f"\n{label}: ~{args.token_budget:,} tokens each, {args.rounds} turn(s); ours batch {args.batch_size} x "
        f"block {args.block_size}; threads {results['ours']['threads']}; precision rule -> {args.precision}"
    )
    print(
        f"{'contender':<13} {'tokens/s':>9} {'vs original':>11} {'tokens':>7} {'peak RSS MiB':>12} "
        f"{'precision':>9} {'process s':>9} {'load avg':>8} ours' set-up"
    )
    reference = results["original"]["tokens_per_second"]
    for name, r in results.items():
        print(
            f"{name:<13} {r['tokens_per_second']:>9,.0f} {r['tokens_per_second'] / reference:>10.2f}x "
            f"{r['tokens']:>7,} {r['peak_rss_mib']:>12,.0f} {r['mixed_precision']:>9} {r['process_s']:>9} "
            f"{r['load']:>8} {r.get('setup', '')}"
        )
    return {name: r["tokens_per_second"] for name, r in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--batch-size", type=int, default=0, help="our trainer's batch size (0 = its default for the base)"
    )
    parser.add_argument("--block-size", type=int, default=256, help="our trainer's block size")
    parser.add_argument("--tokens", type=int, default=0, help="real tokens per contender (0 = 24k, 124M: 2k)")
    parser.add_argument("--rounds", type=int, default=2, help="turns each contender takes (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for every contender (0 = the trainer's auto rule)",
    )
    parser.add_argument("--cpu-kind", choices=["native", "avx2"], default="native", help=argparse.SUPPRESS)
    parser.add_argument(
        "--gpt2-124m", action="store_true", help="the GPT-2 124M shape instead of the tiny one"
    )
    parser.add_argument("--pretrained", help="a real pretrained base (e.g. smollm2-135m) instead of a shape")
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--token-budget", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="no", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    from huggingtweets.train.runtime import resolve_mixed_precision
    from huggingtweets.train.speed import auto_cpu_threads

    started = time.perf_counter()
    args.threads = args.threads or auto_cpu_threads()
    args.precision = "no" if args.cpu_kind == "avx2" else resolve_mixed_precision("auto")
    args.token_budget = args.tokens or (6144 if args.pretrained else 2048 if args.gpt2_124m else 24576)
    if args.cpu_kind == "avx2":
        os.environ.update(AVX2_ENV)  # for the CPU line below
    print(cpu_line())
    real = bool(args.pretrained and REAL_ARCHIVE.is_dir())
    posts = load_posts(REAL_ARCHIVE if real else None, "smithjd" if real else None)
    print(f"{len(posts)} posts; torch threads {args.threads} for every contender")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        label = args.pretrained or ("gpt2-124m" if args.gpt2_124m else "small")
        tps = compare(label, Path(tmp), posts, args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    print(
        f"{label}: ours vs original-128: {tps['ours'] / tps['original-128']:.2f}x; "
        f"tuned vs original: {tps['tuned'] / tps['original']:.2f}x"
    )
    if "ours-8x1" in tps:
        print(
            f"ours-8x1 (no checkpointing, one micro-step of 8) vs original: {tps['ours-8x1'] / tps['original']:.2f}x"
        )
    print(
        f"speedup vs original: {tps['ours'] / tps['original']:.2f}x, "
        f"vs tuned Trainer: {tps['ours'] / tps['tuned']:.2f}x"
    )


if __name__ == "__main__":
    main()
