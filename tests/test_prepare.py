"""prepare: report, reconciliation, seeded split, multi-user balancing, too little data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from huggingtweets.errors import InputError, NotEnoughDataError, StageError
from huggingtweets.prepare import prepare
from huggingtweets.sources import fetch

COUNT_KEYS = ("retweets", "short", "replies", "duplicates", "media_only", "kept")
GARDEN = ["roses", "beans", "leeks", "apples", "tulips", "onions", "pears"]


def garden_posts(path: Path, n: int, length: int = 110) -> Path:
    lines = []
    for i in range(n):
        base = f"Day {i} in the garden: the {GARDEN[i % len(GARDEN)]} grew again and the robin watched me dig"
        lines.append((base + " and dig" * 20)[:length])
    path.write_text("\n".join(lines) + "\n")
    return path


def load(run_dir) -> dict[str, dict[str, list[str]]]:
    """The saved dataset as plain lists: {split: {column: [...]}}."""
    from datasets import load_from_disk

    ds = load_from_disk(str(run_dir / "dataset"))
    return {split: {col: list(ds[split][col]) for col in ds[split].column_names} for split in ds}


def test_sample_report_reconciles(sample_run):
    report = prepare(sample_run)
    rep = report["users"]["wren_at_gullstone"]
    assert rep["downloaded"] == sum(rep[k] for k in COUNT_KEYS) == 400
    assert {k: rep[k] for k in COUNT_KEYS} == {
        "retweets": 6, "short": 8, "replies": 0, "duplicates": 1, "media_only": 6, "kept": 379,
    }  # fmt: skip
    assert rep["characters"] > 40_000 and report["warnings"] == []
    assert rep["tokens"] > rep["kept"] * 10
    assert (rep["first_date"], rep["last_date"]) == ("2021-03-03", "2022-10-03")
    assert list(rep["languages"]) == ["en"] and rep["source"] == "archive"
    assert report["settings"] == {
        "keep_newlines": False, "keep_replies": True, "detect_languages": True, "base_model": "gpt2",
        "validation": "random",
    }  # fmt: skip
    assert report["length_rule"]["min_word_equivalents"] == 3
    assert rep["languages_from"] == {"records": 379, "script": 0, "unknown": 0}
    # English on GPT-2: a good fit, estimated offline (no GPT-2 tokenizer on this machine).
    fit = rep["tokenizer_fit"]
    assert fit["method"].startswith("estimated") and 0.15 < fit["tokens_per_character"] < 0.4
    assert fit["cut_share"] == 0 and fit["poor"] is False and fit["better_families"] == []
    on_disk = json.loads((sample_run / "data_report.json").read_text())
    assert on_disk == report
    # Stable layout for the card: keys sorted.
    text = (sample_run / "data_report.json").read_text()
    assert text == json.dumps(on_disk, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def test_dataset_split_and_columns(sample_run):
    report = prepare(sample_run)
    ds = load(sample_run)
    assert set(ds) == {"train", "validation"}
    assert list(ds["train"]) == ["text", "handle"]
    n_train, n_val = len(ds["train"]["text"]), len(ds["validation"]["text"])
    assert (n_train, n_val) == (report["split"]["train"], report["split"]["validation"])
    assert n_val == round(379 * 0.1) and n_train + n_val == 379
    assert not set(ds["train"]["text"]) & set(ds["validation"]["text"])
    texts = ds["train"]["text"] + ds["validation"]["text"]
    assert not any("http" in t or "&amp;" in t or "\n" in t for t in texts)
    assert any("[email]" in t and "[phone]" in t for t in texts)


def test_split_is_deterministic(sample_run, tmp_path):
    prepare(sample_run, seed=7)
    first = load(sample_run)
    prepare(sample_run, seed=7)
    assert load(sample_run) == first
    prepare(sample_run, seed=8)
    other = load(sample_run)
    assert other["validation"]["text"] != first["validation"]["text"]
    assert sorted(other["train"]["text"] + other["validation"]["text"]) == sorted(
        first["train"]["text"] + first["validation"]["text"]
    )


def test_newest_validation_holds_each_persons_latest_posts(sample_run):
    from huggingtweets.clean import clean_posts

    (raw_file,) = (sample_run / "raw").glob("*.jsonl")
    raw = [json.loads(line) for line in raw_file.open()]
    dated = {p["text"]: p["created_at"] for p in clean_posts(raw).kept}
    report = prepare(sample_run, validation="newest")
    ds = load(sample_run)
    val, train = ds["validation"]["text"], ds["train"]["text"]
    assert len(val) == round(379 * 0.1) and len(val) + len(train) == 379
    # Every held-out post is at least as new as every training post: the bot is judged on what came next.
    assert min(dated[t] for t in val) >= max(dated[t] for t in train)
    assert report["settings"]["validation"] == "newest"
    prepare(sample_run)  # the default stays a random split: old posts are held out too
    assert min(dated[t] for t in load(sample_run)["validation"]["text"]) < min(dated[t] for t in val)


def test_unknown_validation_split_is_an_input_error(sample_run):
    with pytest.raises(InputError, match="'latest'.*random, newest"):
        prepare(sample_run, validation="latest")


def test_multi_user_balancing(sample_run, tmp_path):
    small = garden_posts(tmp_path / "garden.txt", 70)
    run_dir = tmp_path / "multi"
    # Two users: the sample archive's keeper (341 train posts) and a gardener (63).
    from huggingtweets.paths import sample_archive

    fetch(run_dir, archives=[sample_archive()], posts_files=[(small, "gardener")], echo=lambda _: None)
    report = prepare(run_dir)
    train_counts = Counter(load(run_dir)["train"]["handle"])
    assert train_counts["wren_at_gullstone"] == train_counts["gardener"] == 341
    assert report["oversampled"] == {"gardener": {"from": 63, "to": 341}}
    assert report["split"]["train"] == 682
    val_counts = Counter(load(run_dir)["validation"]["handle"])
    assert val_counts == {"wren_at_gullstone": 38, "gardener": 7}
    # Oversampling repeats every post 5 or 6 times, never one post far more than another.
    train = load(run_dir)["train"]
    garden_train = Counter(t for t, h in zip(train["text"], train["handle"], strict=True) if h == "gardener")
    assert set(garden_train.values()) <= {5, 6}
    assert report["warnings"] == [
        "@gardener: only 7,700 characters kept (under 40,000); the bot will mostly repeat these posts"
    ]


def test_too_little_data_is_an_error_with_counts(tmp_path):
    run_dir = tmp_path / "small"
    fetch(run_dir, posts_files=[(garden_posts(tmp_path / "g.txt", 30), "tiny")], echo=lambda _: None)
    with pytest.raises(NotEnoughDataError) as info:
        prepare(run_dir)
    message = str(info.value)
    assert "@tiny: only 3,300 characters left after cleaning" in message
    assert "downloaded 30" in message and "kept 30" in message and "6,000" in message
    assert not (run_dir / "dataset").exists() and not (run_dir / "data_report.json").exists()


def test_under_40000_characters_is_a_warning(tmp_path):
    run_dir = tmp_path / "medium"
    fetch(run_dir, posts_files=[(garden_posts(tmp_path / "g.txt", 80), "medium")], echo=lambda _: None)
    report = prepare(run_dir)
    assert report["warnings"] == [
        "@medium: only 8,800 characters kept (under 40,000); the bot will mostly repeat these posts"
    ]


def test_drop_replies_and_keep_newlines_settings(tmp_path):
    path = garden_posts(tmp_path / "g.jsonl.txt", 70)
    lines = path.read_text().splitlines()
    rows = [{"text": t} for t in lines]
    rows.append({"text": "@neighbour Thank you for the seeds, they came up beautifully", "is_reply": True})
    rows.append({"text": "A post on\ntwo lines about the garden shed"})
    jsonl = tmp_path / "g.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir = tmp_path / "r"
    fetch(run_dir, posts_files=[(jsonl, "g")], echo=lambda _: None)
    report = prepare(run_dir, keep_replies=False, keep_newlines=True, detect_languages=False)
    assert report["users"]["g"]["replies"] == 1
    assert report["settings"] == {
        "keep_newlines": True, "keep_replies": False, "detect_languages": False, "base_model": "gpt2",
        "validation": "random",
    }  # fmt: skip
    # A posts file carries no language, and detection is off: none reported, none guessed.
    rep = report["users"]["g"]
    assert rep["languages"] == {} and rep["languages_from"] == {"records": 0, "script": 0, "unknown": 71}
    ds = load(run_dir)
    assert "A post on\ntwo lines about the garden shed" in ds["train"]["text"] + ds["validation"]["text"]


def test_prepare_before_fetch_is_a_stage_error(tmp_path):
    with pytest.raises(StageError, match=r"has no users.json .*huggingtweets fetch"):
        prepare(tmp_path / "empty")


def test_shared_smithjd_counts(shared_dir, tmp_path):
    run_dir = tmp_path / "smithjd"
    fetch(run_dir, archives=[(shared_dir / "data/archives/smithjd-2022", "smithjd")], echo=lambda _: None)
    rep = prepare(run_dir)["users"]["smithjd"]
    assert (rep["downloaded"], rep["retweets"]) == (1758, 128)
    assert rep["downloaded"] == sum(rep[k] for k in COUNT_KEYS)


def test_shared_lumeninferius_is_too_small(shared_dir, tmp_path):
    run_dir = tmp_path / "lumen"
    users = fetch(run_dir, archives=[shared_dir / "data/archives/lumeninferius-2020"], echo=lambda _: None)
    assert users[0]["handle"] == "LumenInferius" and (run_dir / "raw" / "LumenInferius.jsonl").is_file()
    with pytest.raises(NotEnoughDataError, match=r"@LumenInferius: only 1,733 characters .*downloaded 22"):
        prepare(run_dir)
