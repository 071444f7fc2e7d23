"""prepare: raw posts of a run folder -> a dataset ready to train on, and a report of what was kept.

Reads ``raw/<handle>.jsonl`` and ``users.json`` (written by fetch); writes ``dataset/`` (a
``datasets.DatasetDict`` with ``train`` and ``validation``, columns ``text`` and ``handle``) and
``data_report.json``. Each user is split ~90/10 on its own, so every user is in the validation set:
a seeded random 10%, or with ``validation="newest"`` the latest 10% by date (a bot is asked to write
the person's next posts, and a random split flatters it with posts from the same weeks as its training); then the smaller users' training posts are oversampled up to the largest user's
count, so each epoch sees every user about equally (as the original huggingtweets did).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from huggingtweets.clean import DROP_REASONS, MIN_WORDS, clean_posts, count_tokens
from huggingtweets.errors import InputError, NotEnoughDataError, SourceError, StageError
from huggingtweets.languages import base_tokenizer, fit_warning, language_report, tokenizer_fit
from huggingtweets.runfolder import RunFolder, atomic_dir, atomic_write_json
from huggingtweets.scripts import CHARACTERS_PER_WORD

MIN_CHARACTERS = 6_000  # below this a bot learns nothing useful: an error
WARN_CHARACTERS = 40_000  # below this it will mostly parrot: a warning in the report
VALIDATION_SHARE = 0.1
VALIDATION_SPLITS = ("random", "newest")  # which posts are held out: see _split


def _read_raw(run_dir: Path, handle: str) -> list[dict]:
    path = run_dir / "raw" / f"{handle}.jsonl"
    if not path.is_file():
        raise StageError(
            f"run folder {run_dir} has no raw/{handle}.jsonl",
            hint=f"run `huggingtweets fetch ... --run-dir {run_dir}` again",
        )
    posts = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                posts.append(json.loads(line))
            except json.JSONDecodeError:
                raise SourceError(f"{path} line {lineno} is not JSON", hint="run fetch again") from None
    return posts


def _network_fields(user: dict, cleaned) -> dict:
    """What only Bluesky/Mastodon users have: where they live, what was left out unread (never part
    of ``downloaded``), how many kept posts quote another (the quoted words are not in them)."""
    if "network" not in user:
        return {}
    return {
        "network": user.get("network"),
        "instance": user.get("instance"),
        "display": user.get("display"),
        "left_out": dict(user.get("left_out") or {}),
        "quotes": sum(1 for p in cleaned.kept if p.get("is_quote")),
    }


def _user_report(handle: str, source: str, cleaned, *, detect_languages: bool, tokenizer) -> dict:
    kept = cleaned.kept
    dates = sorted(p["created_at"][:10] for p in kept if p.get("created_at"))
    languages = language_report(kept, detect=detect_languages)
    return {
        "downloaded": cleaned.downloaded,
        **cleaned.drops,
        "kept": len(kept),
        "characters": sum(len(p["text"]) for p in kept),
        "tokens": sum(count_tokens(p["text"]) for p in kept),
        "first_date": dates[0] if dates else None,
        "last_date": dates[-1] if dates else None,
        **languages,
        "tokenizer_fit": tokenizer_fit([p["text"] for p in kept], tokenizer, languages["languages"]),
        "source": source,
    }


def length_rule() -> dict:
    """How "short" is measured, for the report and the card."""
    return {
        "min_word_equivalents": MIN_WORDS,
        "characters_per_word": dict(CHARACTERS_PER_WORD),
        "text": (
            f"posts of fewer than {MIN_WORDS} words of their own (links, @mentions and #hashtags left out) "
            "are dropped as short; in scripts written without spaces (Chinese, Japanese, Thai, Lao, "
            "Khmer, Burmese...) a word is counted as 1.5 to 3 characters, by script, and a mixed post "
            "by its parts"
        ),
    }


def _split(posts: list[dict], rng: random.Random, validation: str) -> tuple[list[str], list[str]]:
    """(train, validation) texts: a shuffled 10% held out, or the newest 10% (undated posts count
    as oldest; the sort is stable, so equal dates keep the archive's order)."""
    if validation == "newest":
        texts = [p["text"] for p in sorted(posts, key=lambda p: p.get("created_at") or "", reverse=True)]
    else:
        texts = [p["text"] for p in posts]
        rng.shuffle(texts)
    n_val = max(1, round(len(texts) * VALIDATION_SHARE)) if len(texts) >= 2 else 0
    return texts[n_val:], texts[:n_val]


def _oversample(texts: list[str], target: int, rng: random.Random) -> list[str]:
    """Every post ``target // len`` times, then a seeded sample of the rest: no post twice more than another."""
    whole, rest = divmod(target, len(texts))
    return texts * whole + rng.sample(texts, rest)


def prepare(
    run_dir: Path | str,
    *,
    seed: int = 42,
    keep_newlines: bool = False,
    keep_replies: bool = True,
    detect_languages: bool = True,
    base_model: str | None = "gpt2",
    validation: str = "random",
) -> dict:
    """Clean, report, split and balance; returns the report written to ``data_report.json``.

    ``base_model`` only chooses the tokenizer whose fit on the posts is reported (never downloaded).
    """
    from huggingtweets.sources import read_users

    if validation not in VALIDATION_SPLITS:
        raise InputError(
            f"validation split {validation!r} is unknown: expected one of {', '.join(VALIDATION_SPLITS)}",
            hint="use --validation random or --validation newest",
        )
    run_dir = Path(run_dir)
    users = read_users(run_dir)
    tokenizer = base_tokenizer(base_model)
    reports: dict[str, dict] = {}
    kept: dict[str, list[dict]] = {}
    for user in users:
        handle = user["handle"]
        cleaned = clean_posts(
            _read_raw(run_dir, handle), keep_newlines=keep_newlines, keep_replies=keep_replies
        )
        reports[handle] = {
            **_user_report(
                handle, user.get("source"), cleaned, detect_languages=detect_languages, tokenizer=tokenizer
            ),
            **_network_fields(user, cleaned),
        }
        kept[handle] = cleaned.kept
        assert reports[handle]["downloaded"] == sum(reports[handle][k] for k in (*DROP_REASONS, "kept"))

    shown = {u["handle"]: (u.get("display") or "@" + u["handle"]) for u in users}
    warnings = [f"{shown[u['handle']]}: {note}" for u in users for note in u.get("notes") or []]
    for handle, rep in reports.items():
        counts = ", ".join(f"{k} {rep[k]}" for k in ("downloaded", *DROP_REASONS, "kept"))
        if rep["characters"] < MIN_CHARACTERS:
            raise NotEnoughDataError(
                f"{shown[handle]}: only {rep['characters']:,} characters left after cleaning ({counts}); "
                f"need at least {MIN_CHARACTERS:,}",
                hint="add more posts: a full archive, a longer --posts-file, or more --max-posts",
            )
        if rep["characters"] < WARN_CHARACTERS:
            warnings.append(
                f"{shown[handle]}: only {rep['characters']:,} characters kept (under {WARN_CHARACTERS:,}); "
                "the bot will mostly repeat these posts"
            )
        if rep["tokenizer_fit"] and rep["tokenizer_fit"]["poor"]:
            warnings.append(fit_warning(shown[handle], rep["tokenizer_fit"]))

    train: list[tuple[str, str]] = []
    held_out: list[tuple[str, str]] = []
    splits: dict[str, list[str]] = {}
    for handle, posts in kept.items():
        # A string seed is hashed with SHA-512 by random, so this is stable across processes.
        tr, va = _split(posts, random.Random(f"{seed}:split:{handle.lower()}"), validation)
        splits[handle] = tr
        held_out.extend((t, handle) for t in va)
    target = max((len(t) for t in splits.values()), default=0)
    oversampled = {}
    for handle, tr in splits.items():
        if 0 < len(tr) < target:
            oversampled[handle] = {"from": len(tr), "to": target}
            tr = _oversample(tr, target, random.Random(f"{seed}:oversample:{handle.lower()}"))
        train.extend((t, handle) for t in tr)
    random.Random(f"{seed}:train").shuffle(train)

    report = {
        "users": reports,
        "split": {"train": len(train), "validation": len(held_out), "seed": seed},
        "oversampled": oversampled,
        "settings": {
            "keep_newlines": keep_newlines,
            "keep_replies": keep_replies,
            "detect_languages": detect_languages,
            "base_model": base_model,
            "validation": validation,
        },
        "length_rule": length_rule(),
        "warnings": warnings,
    }
    _save_dataset(run_dir / "dataset", train, held_out)
    atomic_write_json(RunFolder(run_dir).data_report, report)
    return report


def _save_dataset(path: Path, train: list[tuple[str, str]], validation: list[tuple[str, str]]) -> None:
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "handle": datasets.Value("string")})

    def build(rows: list[tuple[str, str]]) -> datasets.Dataset:
        columns = {"text": [t for t, _ in rows], "handle": [h for _, h in rows]}
        return datasets.Dataset.from_dict(columns, features=features)

    # Saving a few thousand short rows takes milliseconds: its progress bar would only be noise.
    quiet = not datasets.are_progress_bars_disabled()
    if quiet:
        datasets.disable_progress_bars()
    try:
        with atomic_dir(path) as tmp:
            datasets.DatasetDict({"train": build(train), "validation": build(validation)}).save_to_disk(
                str(tmp)
            )
    finally:
        if quiet:
            datasets.enable_progress_bars()
