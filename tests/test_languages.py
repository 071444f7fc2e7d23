"""Languages per person, the base tokenizer's fit, and a Chinese-language export kept whole."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from huggingtweets.languages import (
    base_tokenizer,
    better_families,
    estimate_gpt2_tokens,
    language_report,
    tokenizer_fit,
)
from huggingtweets.prepare import prepare
from huggingtweets.sources import fetch

ACTOR = "https://harbour.example/users/mei"
MASTODON_FIXTURE = Path(__file__).parent / "fixtures" / "mastodon" / "archive"

# Our own writing: 8 x 8 x 4 = 256 distinct everyday posts in Chinese, 24 to 40 characters each.
WHEN = ["今天早上", "昨天晚上", "周末下午", "下班以后", "午饭之前", "刚才在地铁上", "睡觉之前", "雨停了以后"]
WHAT = [
    "我在河边跑了五公里",
    "我把书架重新整理了一遍",
    "我给阳台上的花浇了水",
    "我和朋友去吃了一碗牛肉面",
    "我读完了那本关于海洋的书",
    "我学会了做红烧茄子",
    "我修好了那辆旧自行车",
    "我给奶奶打了一个很长的电话",
]
FEEL = ["，心情好多了。", "，感觉时间过得真快。", "，明天还想再来一次。", "，觉得生活其实挺简单的。"]


def _note(n: int, content: str, *, lang: str | None = "zh", reply_to: str | None = None, media=False) -> dict:
    obj = {
        "id": f"{ACTOR}/statuses/{n}",
        "type": "Note",
        "published": f"2025-0{1 + n % 9}-1{n % 10}T08:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{ACTOR}/followers"],
        "inReplyTo": reply_to,
        "content": content,
        "attachment": [{"type": "Document", "mediaType": "image/jpeg", "url": "a.jpg"}] if media else [],
        "tag": [],
    }
    if lang:
        obj["contentMap"] = {lang: content}
    return {
        "id": obj["id"] + "/activity",
        "type": "Create",
        "actor": ACTOR,
        "object": obj,
        **{"to": obj["to"]},
    }


def chinese_export(folder: Path) -> tuple[Path, int]:
    """A Mastodon export of a person who writes Chinese; returns it and the count of real posts
    (neither boosts, replies to others, media-only nor duplicates)."""
    items, n = [], 0
    real = 0
    for i, (when, what, feel) in enumerate(itertools.product(WHEN, WHAT, FEEL)):
        n += 1
        # A few posts carry no language tag: the script tells it.
        items.append(_note(n, f"<p>{when}{what}{feel}</p>", lang=None if i % 10 == 0 else "zh"))
        real += 1
    for k in range(20):  # boosts
        n += 1
        items.append({"id": f"{ACTOR}/statuses/{n}/activity", "type": "Announce", "actor": ACTOR,
                      "to": ["https://www.w3.org/ns/activitystreams#Public"],
                      "object": f"https://other.example/users/lin/statuses/{k}"})  # fmt: skip
    for k in range(15):  # replies to someone else
        n += 1
        items.append(
            _note(
                n,
                f"<p>谢谢你的建议，第{k}条我明天就改。</p>",
                reply_to=f"https://other.example/users/lin/statuses/{k}",
            )
        )
    for _ in range(10):  # media only
        n += 1
        items.append(_note(n, "", media=True))
    for k in range(12):  # the same post again
        n += 1
        items.append(_note(n, f"<p>{WHEN[0]}{WHAT[k % 8]}{FEEL[0]}</p>"))
    for word in ("好的", "哈哈哈", "嗯嗯", "早"):  # really short
        n += 1
        items.append(_note(n, f"<p>{word}</p>"))
    folder.mkdir(parents=True)
    shutil.copy(MASTODON_FIXTURE / "actor.json", folder / "actor.json")
    actor = json.loads((folder / "actor.json").read_text("utf-8"))
    actor.update(id=ACTOR, preferredUsername="mei", name="Mei", url="https://harbour.example/@mei")
    actor.pop("icon", None)
    (folder / "actor.json").write_text(json.dumps(actor, ensure_ascii=False), "utf-8")
    outbox = {"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
              "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}  # fmt: skip
    (folder / "outbox.json").write_text(json.dumps(outbox, ensure_ascii=False), "utf-8")
    return folder, real


def test_a_chinese_language_export_keeps_its_real_posts(tmp_path):
    archive, real = chinese_export(tmp_path / "export")
    run_dir = tmp_path / "run"
    fetch(run_dir, archives=[(archive, None)], echo=lambda _: None)
    report = prepare(run_dir, keep_replies=False)
    [rep] = report["users"].values()
    assert rep["retweets"] == 20 and rep["replies"] == 15 and rep["media_only"] == 10
    assert rep["duplicates"] == 12 and rep["short"] == 4
    assert abs(rep["kept"] - real) <= 0.03 * real  # the bar: within a few percent (here: all)
    # Languages: the tags, and the script where a post has none; all Chinese.
    assert rep["languages"] == {"zh": rep["kept"]} and rep["language_shares"] == {"zh": 1.0}
    assert rep["languages_from"] == {"records": rep["kept"] - 26, "script": 26, "unknown": 0}
    # GPT-2 spends about a token per byte on Chinese: a poor fit, said in the report with better bases.
    fit = rep["tokenizer_fit"]
    assert fit["poor"] is True and fit["tokens_per_character"] > 2
    assert any(f.startswith("qwen2.5 ") for f in fit["better_families"])
    assert not any(f.startswith("gpt2 ") for f in fit["better_families"])
    [warning] = [w for w in report["warnings"] if "tokenizer" in w]
    assert warning.startswith("@mei@harbour.example: the base model's tokenizer fits these posts poorly")
    assert "--base-model" in warning


def test_the_chinese_export_before_the_fix_would_have_lost_nearly_everything(tmp_path):
    # The old rule (whitespace words) on the same posts: what the issue reported, kept for contrast.
    archive, real = chinese_export(tmp_path / "export")
    run_dir = tmp_path / "run"
    fetch(run_dir, archives=[(archive, None)], echo=lambda _: None)
    texts = [json.loads(line)["text"] for line in next((run_dir / "raw").glob("*.jsonl")).open()]
    assert sum(1 for t in texts if len(t.split()) >= 3) == 0 and real == 256


def test_language_report_counts_tags_then_script_then_unknown():
    posts = [
        {"text": "Bonjour à tous", "lang": "fr"},
        {"text": "今天早上在河边跑步", "lang": None},
        {"text": "오늘은 비가 와요", "lang": "und"},  # X's "undetermined" is no language: the script tells
        {"text": "12:30 🎉", "lang": None},
    ]
    on = language_report(posts, detect=True)
    assert on["languages"] == {"fr": 1, "ko": 1, "zh": 1}
    assert on["language_shares"] == {"fr": 0.25, "ko": 0.25, "zh": 0.25}
    assert on["languages_from"] == {"records": 1, "script": 2, "unknown": 1}
    off = language_report(posts, detect=False)
    assert off["languages"] == {"fr": 1} and off["languages_from"] == {
        "records": 1,
        "script": 0,
        "unknown": 3,
    }


def test_gpt2_estimate_spends_bytes_on_chinese_and_few_tokens_on_english():
    english = "I ran five kilometres by the river this morning"
    chinese = "今天早上我在河边跑了五公里"
    assert estimate_gpt2_tokens(chinese) == 3 * len(chinese)
    assert estimate_gpt2_tokens(english) / len(english) < 0.35
    assert estimate_gpt2_tokens("") == 0


@pytest.mark.parametrize(
    ("languages", "base", "expected"),
    [
        ({"zh": 90, "en": 10}, "gpt2", ["qwen2.5", "bloom", "mgpt"]),
        ({"th": 50, "und-Latn": 50}, "gpt2", ["qwen2.5", "mgpt"]),
        ({"ja": 80, "ko": 20}, "Qwen/Qwen2.5-0.5B", ["mgpt"]),  # its own family is not suggested
        ({"und-Latn": 10}, "gpt2", []),  # a script alone names no language to match
    ],
)
def test_better_families_cover_every_main_language(languages, base, expected):
    assert [f.split(" ")[0] for f in better_families(languages, base)] == expected


def test_fit_is_measured_with_a_local_tokenizer_and_its_context(tmp_path):
    from transformers import GPT2Config, PreTrainedTokenizerFast

    from huggingtweets.train.tiny import train_post_tokenizer

    folder = tmp_path / "base"
    texts = ["the tide came in slowly over the rocks"] * 20
    raw = train_post_tokenizer(texts, 300)
    PreTrainedTokenizerFast(tokenizer_object=raw).save_pretrained(folder)
    GPT2Config(n_positions=16, vocab_size=300, n_layer=1, n_embd=8, n_head=1).save_pretrained(folder)
    tokenizer = base_tokenizer(str(folder))
    assert tokenizer.method == "measured" and tokenizer.context == 16
    long_post = " ".join(["the tide came in slowly"] * 6)
    fit = tokenizer_fit(["the tide came in", long_post], tokenizer, {"en": 2})
    assert fit["cut_share"] == 0.5 and fit["poor"] is True and fit["context_length"] == 16
    assert base_tokenizer("tiny") is None  # trained on the posts themselves: nothing to measure
    assert base_tokenizer("someone/not-cached-here") is None  # never a download
