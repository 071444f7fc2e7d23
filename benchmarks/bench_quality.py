"""Benchmark: how good are the bots? Quality figures on real archives, per base model.

For each person (real archives in ../shared/data/archives) and each base (``tiny``, ``smollm2-135m``):
fetch -> cap -> prepare (random or newest validation split) -> train with the trainer's defaults
(epochs, block size and post cap lowered by options so the run fits on a shared 2-core machine), then:

- perplexity: validation perplexity zero-shot and after each epoch (training_summary.json's history);
- attribution: each person's held-out posts scored under every person's bot of the same base; a post
  counts as attributed when its own bot gives it the lowest loss. Loss per character (not per token),
  since every ``tiny`` bot has a tokenizer of its own; each post framed as in training
  (``config.prefix`` + post + EOS);
- memorization: samples drawn as the card draws them (the saved generation config, the card's
  prompts); the share copying 8+ consecutive words of a training post at the first draw, and after
  the card's filter (drawn again up to ``MAX_REDRAWS`` times, then withheld);
- style: samples against the person's real held-out posts: words per post (median, and the
  1-Wasserstein distance between the two distributions, in words), the share of samples ending at
  EOS (the rest ran into the new-token cap), the shares with a URL, an @mention, a #hashtag, and the
  writing script's language (``languages.post_language``: a tag where the archive has one, else the
  script).

    python benchmarks/bench_quality.py                          # default: small, <= 10 min on 2 cores
    python benchmarks/bench_quality.py --validation newest      # hold out each person's latest posts
    python benchmarks/bench_quality.py --max-posts 0 --epochs 4 --block-size 256   # full size (slow)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpuinfo import cpu_line  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ARCHIVES = REPO.parent / "shared" / "data" / "archives"
# name: (archive folder, handle to check or None). lumeninferius-2020 is too small to prepare, and
# bluesky-densinium-2026 is one recorded getAuthorFeed page (50 posts) that only the live Bluesky
# source reads (through a replay server), not an export the archive readers take.
PEOPLE = {
    "smithjd": ("smithjd-2022", "smithjd"),
    "ricard": ("mastodon-ricard-2023", None),
    "philhawksworth": ("mastodon-philhawksworth-2022", None),
}
URL = re.compile(r"https?://|www\.\S")
MENTION = re.compile(r"(?<![\w@])@\w")
HASHTAG = re.compile(r"(?<![\w#])#\w")
# Function words of the languages these archives are written in: the Latin script alone names none.
FUNCTION_WORDS = {
    "en": "the and is to of it that in you for this with was not but are have",
    "fr": "le la les et est un une des du que pour pas dans je il ce sur avec",
    "es": "el la los las y es un una que de en por para con no lo se del",
    "ca": "el la els les i és un una que de en per amb no ho es del dels",
    "de": "der die das und ist ein eine nicht ich mit auf für zu den von",
}


def cap_posts(run_dir: Path, max_posts: int) -> None:
    """Keep each person's newest ``max_posts`` raw posts (the same posts for both splits' options)."""
    for raw in (run_dir / "raw").glob("*.jsonl"):
        posts = [json.loads(line) for line in raw.read_text("utf-8").splitlines() if line.strip()]
        posts.sort(key=lambda p: p.get("created_at") or "", reverse=True)
        raw.write_text("".join(json.dumps(p) + "\n" for p in posts[:max_posts]), "utf-8")


def prepare_person(work: Path, name: str, args) -> Path | None:
    from huggingtweets.errors import HuggingtweetsError
    from huggingtweets.prepare import prepare
    from huggingtweets.sources import fetch

    folder, handle = PEOPLE[name]
    run_dir = work / name
    try:
        fetch(run_dir, archives=[(ARCHIVES / folder, handle)], echo=lambda _: None)
        if args.max_posts:
            cap_posts(run_dir, args.max_posts)
        report = prepare(run_dir, seed=args.seed, validation=args.validation, base_model=None)
    except HuggingtweetsError as err:
        print(f"  {name}: left out ({err})", flush=True)
        return None
    rep = next(iter(report["users"].values()))
    print(
        f"  {name}: kept {rep['kept']} posts ({rep['characters']:,} characters), "
        f"train {report['split']['train']}, validation {report['split']['validation']}",
        flush=True,
    )
    return run_dir


def split_texts(run_dir: Path) -> dict[str, list[str]]:
    from huggingtweets.train.data import load_run_dataset

    return load_run_dataset(run_dir).texts


def train_bot(run_dir: Path, base: str, args) -> dict:
    from huggingtweets.train.config import TrainConfig
    from huggingtweets.train.loop import train

    config = TrainConfig(
        base_model=base,
        epochs=args.epochs,
        block_size=args.block_size,
        batch_size=args.batch_size,
        patience=0,  # every epoch's perplexity is a figure here; the best epoch's weights are kept anyway
        checkpoint_every=0,
        cpu_threads=args.threads,
        seed=args.seed,
    )
    return train(run_dir, config)


def load_bot(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from huggingtweets.librarybars import quiet_library_bars

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with quiet_library_bars():
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    model.loss_type = "ForCausalLM"
    return model, tokenizer


def loss_per_character(model, tokenizer, posts: list[str]) -> list[float]:
    """Summed next-token loss of ``post + EOS`` given ``config.prefix``, over the post's characters + 1."""
    import torch

    prefix_ids = tokenizer(model.config.prefix or "", add_special_tokens=False)["input_ids"]
    config = model.config
    context = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", 1024)
    out = []
    with torch.no_grad():
        for post in posts:
            ids = tokenizer(post, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            full = (prefix_ids + ids)[-context:]
            x = torch.tensor([full])
            labels = x.clone()
            labels[0, : max(0, len(full) - len(ids))] = -100  # the prefix is the condition, not scored
            n = int((labels[0, 1:] != -100).sum())
            loss = model(input_ids=x, labels=labels).loss.item() * n
            out.append(loss / (len(post) + 1))
    return out


def draw(model, tokenizer, prompt: str, n: int, seed: int) -> list[tuple[str, bool]]:
    """``n`` samples as (text, ended at EOS), with the saved generation config, framed as pipeline() frames."""
    import torch
    from transformers import set_seed

    set_seed(seed)
    ids = tokenizer((model.config.prefix or "") + prompt, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, num_return_sequences=n)
    samples = []
    for row in out:
        new = row[ids["input_ids"].shape[1] :].tolist()
        samples.append(
            (prompt + tokenizer.decode(new, skip_special_tokens=True), tokenizer.eos_token_id in new)
        )
    return samples


def samples_figures(model, tokenizer, train_posts: list[str], args) -> dict:
    """First draws and the card's filter (redraw up to MAX_REDRAWS, then withhold)."""
    from huggingtweets.generate import DEFAULT_PROMPTS, MAX_REDRAWS, MEMORIZATION_THRESHOLD_WORDS, CopyChecker

    checker = CopyChecker(train_posts)
    first, shown, withheld = [], [], 0
    for i, prompt in enumerate(DEFAULT_PROMPTS[: args.prompts]):
        for j, (text, eos) in enumerate(draw(model, tokenizer, prompt, args.samples, args.seed + i)):
            copied = checker.longest_copied_words(text)
            first.append((text, eos, copied))
            for attempt in range(1, MAX_REDRAWS + 1):
                if copied < MEMORIZATION_THRESHOLD_WORDS:
                    break
                ((text, eos),) = draw(
                    model, tokenizer, prompt, 1, args.seed + 7919 * (i + 1) + 101 * j + attempt
                )
                copied = checker.longest_copied_words(text)
            if copied >= MEMORIZATION_THRESHOLD_WORDS:
                withheld += 1
            else:
                shown.append((text, eos, copied))
    return {
        "drawn": len(first),
        "memorized_first": sum(c >= MEMORIZATION_THRESHOLD_WORDS for _, _, c in first) / len(first),
        "memorized_shown": sum(c >= MEMORIZATION_THRESHOLD_WORDS for _, _, c in shown) / max(len(shown), 1),
        "withheld": withheld,
        "first": first,
    }


def language(text: str) -> str:
    """The language of one post: by its script (languages.py), then for Latin by function words."""
    from huggingtweets.generate import words
    from huggingtweets.scripts import language_from_script

    found = language_from_script(text) or "und"
    if not found.endswith("Latn"):
        return found
    ws = words(text)
    hits = {lang: sum(w in set(fw.split()) for w in ws) for lang, fw in FUNCTION_WORDS.items()}
    best = max(hits, key=hits.get)
    return best if hits[best] else found


def style(texts: list[str]) -> dict:
    from huggingtweets.generate import words

    n = max(len(texts), 1)
    langs = [language(t) for t in texts]
    top = max(set(langs), key=langs.count) if langs else "?"
    return {
        "lengths": [len(words(t)) for t in texts],
        "url": sum(bool(URL.search(t)) for t in texts) / n,
        "mention": sum(bool(MENTION.search(t)) for t in texts) / n,
        "hashtag": sum(bool(HASHTAG.search(t)) for t in texts) / n,
        "language": top,
        "language_share": langs.count(top) / n,
    }


def wasserstein(a: list[int], b: list[int]) -> float:
    """1-Wasserstein distance between two samples of numbers: the area between their CDFs."""
    if not a or not b:
        return float("nan")
    points = sorted(set(a) | set(b))
    sa, sb, total = sorted(a), sorted(b), 0.0
    for lo, hi in zip(points, points[1:], strict=False):
        fa = sum(x <= lo for x in sa) / len(sa)
        fb = sum(x <= lo for x in sb) / len(sb)
        total += abs(fa - fb) * (hi - lo)
    return total


def run_base(base: str, runs: dict[str, Path], args) -> dict:
    print(f"\n== base {base}", flush=True)
    result = {"people": {}, "attribution": {}}
    held_out = {name: split_texts(run)["validation"] for name, run in runs.items()}
    for name, run in runs.items():
        started = time.perf_counter()
        summary = train_bot(run, base, args)
        ppl = [summary["perplexity"]["initial"]] + [
            round(math.exp(min(h["validation_loss"], 50.0)), 2) for h in summary["history"]
        ]
        result["people"][name] = {
            "perplexity": ppl,
            "best_epoch": summary["best_epoch"],
            "tokens_per_second": summary["tokens_per_second"],
            "train_s": round(time.perf_counter() - started, 1),
        }
        print(
            f"  {name}: perplexity {' -> '.join(f'{p:g}' for p in ppl)} ({summary['tokens_per_second']} tok/s)"
        )
        # The bot is scored and sampled now, before the next person's training replaces nothing of it.
        model, tokenizer = load_bot(run / "model")
        result["attribution"][name] = {
            other: loss_per_character(model, tokenizer, posts) for other, posts in held_out.items()
        }
        figures = samples_figures(model, tokenizer, split_texts(run)["train"], args)
        real, fake = style(held_out[name]), style([t for t, _, _ in figures["first"]])
        result["people"][name].update(
            {
                "memorized_first": figures["memorized_first"],
                "memorized_shown": figures["memorized_shown"],
                "withheld": figures["withheld"],
                "drawn": figures["drawn"],
                "ends_at_eos": sum(e for _, e, _ in figures["first"]) / figures["drawn"],
                "words_median": (statistics.median(fake["lengths"]), statistics.median(real["lengths"])),
                "words_w1": round(wasserstein(fake["lengths"], real["lengths"]), 2),
                "url": (fake["url"], real["url"]),
                "mention": (fake["mention"], real["mention"]),
                "hashtag": (fake["hashtag"], real["hashtag"]),
                "language": (
                    f"{fake['language']} {fake['language_share']:.0%}",
                    f"{real['language']} {real['language_share']:.0%}",
                ),
                "example": figures["first"][0][0],
            }
        )
        del model
    # Attribution: a post of person p is right when p's bot gives it the lowest loss of all bots.
    correct = total = 0
    per_person = {}
    for p in runs:
        hits = 0
        for k in range(len(held_out[p])):
            own = result["attribution"][p][p][k]
            hits += all(own < result["attribution"][q][p][k] for q in runs if q != p)
        per_person[p] = hits / max(len(held_out[p]), 1)
        correct, total = correct + hits, total + len(held_out[p])
    result["attribution_accuracy"] = correct / max(total, 1)
    result["attribution_per_person"] = per_person
    del result["attribution"]
    return result


def table(results: dict, args) -> str:
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    lines = [
        "| base | person | val. perplexity: zero-shot -> epochs | attributed | memorized 1st draw -> shown "
        "(withheld) | ends at EOS | words median bot/real (W1) | URL bot/real | @ bot/real | # bot/real "
        "| language bot/real |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for base, res in results.items():
        for name, r in res["people"].items():
            lines.append(
                f"| {base} | {name} | {' -> '.join(f'{p:.1f}' for p in r['perplexity'])} "
                f"(best {r['best_epoch']}) | {pct(res['attribution_per_person'][name])} "
                f"| {pct(r['memorized_first'])} -> {pct(r['memorized_shown'])} ({r['withheld']}/{r['drawn']}) "
                f"| {pct(r['ends_at_eos'])} | {r['words_median'][0]:g}/{r['words_median'][1]:g} "
                f"({r['words_w1']}) | {pct(r['url'][0])}/{pct(r['url'][1])} "
                f"| {pct(r['mention'][0])}/{pct(r['mention'][1])} | {pct(r['hashtag'][0])}/{pct(r['hashtag'][1])} "
                f"| {r['language'][0]}/{r['language'][1]} |"
            )
        lines.append(
            f"| {base} | **all** | | **{pct(res['attribution_accuracy'])}** of held-out posts | | | | | | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bases", default="tiny,smollm2-135m", help="comma-separated --base-model values")
    parser.add_argument(
        "--people", default=",".join(PEOPLE), help="comma-separated, of: " + ", ".join(PEOPLE)
    )
    parser.add_argument("--max-posts", type=int, default=160, help="newest raw posts per person (0 = all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--validation", choices=("random", "newest"), default="random")
    parser.add_argument("--prompts", type=int, default=5, help="of generate.DEFAULT_PROMPTS")
    parser.add_argument("--samples", type=int, default=2, help="samples per prompt")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = the trainer's auto)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not ARCHIVES.is_dir():
        sys.exit(f"needs the real archives in {ARCHIVES}")
    started = time.perf_counter()
    print(cpu_line(), flush=True)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        print("== people", flush=True)
        runs = {n: r for n in args.people.split(",") if (r := prepare_person(Path(tmp), n, args))}
        if len(runs) < 2:
            sys.exit("attribution needs at least two people with enough posts")
        for base in args.bases.split(","):
            results[base] = run_base(base, runs, args)
    print()
    print(cpu_line())
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"wall time {time.perf_counter() - started:.0f} s; settings: {vars(args)}")
    print(table(results, args))
    for base, res in results.items():
        for name, r in res["people"].items():
            print(f"  {base} {name} sample: {r['example']!r}")
    if args.json:
        args.json.write_text(
            json.dumps({"settings": {**vars(args), "json": str(args.json)}, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()
