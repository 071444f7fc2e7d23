"""The card as a pure function of the bot's metadata: header dict, body elements, escaping, errors."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from fixtures_card import CARD_FIXTURES, expected_header, parse_card

from huggingtweets.card import build_metadata, render, write_card
from huggingtweets.card.metadata import language_mix
from huggingtweets.errors import CardError, StageError

REPO = "huggingtweets/ada_l-grace_h"
BASE = f"https://huggingface.co/{REPO}/resolve/main"


@pytest.fixture
def meta(card_run_dir):
    return build_metadata(card_run_dir, repo_id=REPO)


def test_header_is_the_whole_expected_dict(meta):
    card = parse_card(render(meta))
    assert card["header"] == expected_header(REPO)


def test_body_keeps_every_element_and_goes_past_the_original(meta):
    card = parse_card(render(meta))
    assert [i["src"] for i in card["imgs"]] == [f"{BASE}/avatars/ada_l.png", f"{BASE}/avatars/grace_h.png"]
    assert "🤖 AI CYBORG 🤖" in card["divs"]
    assert "Ada Lovelace & Grace Hopper" in card["divs"]
    assert "@ada_l @grace_h" in card["divs"]
    data = card["tables"]["Data"]
    assert data["Data"] == ["Ada Lovelace", "Grace Hopper"]
    assert data["Tweets downloaded"] == ["120", "60"]
    assert data["Retweets"] == ["20", "5"]
    assert data["Short tweets"] == ["10", "4"]
    assert data["Replies dropped"] == ["5", "1"]
    assert data["Duplicates"] == ["3", "0"]
    assert data["Media only"] == ["2", "0"]
    assert data["Tweets kept"] == ["80", "50"]
    assert data["First post"] == ["2021-03-01", "unknown"]
    assert data["Last post"] == ["2025-12-30", "unknown"]
    results = card["tables"]["Result"]
    assert results["Validation perplexity (best / last)"] == ["30.00 / 31.12"]
    hyper = card["tables"]["Hyperparameter"]
    assert hyper["learning_rate"] == ["0.0005"] and hyper["epochs"] == ["4"]
    samples = card["tables"]["Prompt and continuation"]
    assert samples["**My dream is** an engine that weaves algebra | like a loom weaves flowers"] == ["3"]
    assert "Memorization: 33.3% of the samples" in card["body"]
    snippet = card["code"][0]
    assert "pipeline('text-generation',\n                     model='huggingtweets/ada_l-grace_h')" in snippet
    assert 'generator("My dream is", num_return_sequences=5)' in snippet
    assert card["headings"] == [
        "How it was made",
        "Training data",
        "Training procedure",
        "Sample predictions",
        "How to use",
        "Limitations and bias",
        "Data provenance and consent",
    ]
    assert "own X archive" in card["body"] and "through the X API" in card["body"]
    assert "<!-- huggingtweets card template 2026.12.1 -->" in card["body"]


def test_same_metadata_renders_identical_bytes_and_write_card_is_stable(card_run_dir):
    write_card(card_run_dir, repo_id=REPO)
    model = card_run_dir / "model"

    def digest() -> dict:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(model.rglob("*"))
            if p.is_file()
        }

    first = digest()
    write_card(card_run_dir, repo_id=REPO)
    assert digest() == first
    assert set(first) == {
        "README.md",
        "huggingtweets.json",
        "config.json",
        "predictions.png",
        "ada_l.png",
        "grace_h.png",
    }
    stored = json.loads((model / "huggingtweets.json").read_text())
    assert render(stored) == (model / "README.md").read_text()  # the card is a function of the stored JSON


def test_avatars_and_preview_are_pngs_with_placeholder_for_missing(card_run_dir):
    from PIL import Image

    write_card(card_run_dir, repo_id=REPO)
    model = card_run_dir / "model"
    with (
        Image.open(model / "avatars" / "ada_l.png") as ada,
        Image.open(model / "avatars" / "grace_h.png") as grace,
    ):
        assert ada.size == grace.size == (256, 256)
        # ada's came from her archive (red/blue), grace has none: the neutral grey placeholder.
        assert ada.convert("RGB").getpixel((5, 128))[0] > 150
        r, g, b = grace.convert("RGB").getpixel((5, 5))
        assert abs(r - g) < 12 and abs(g - b) < 12
    with Image.open(model / "predictions.png") as preview:
        assert preview.format == "PNG" and preview.size == (1200, 630)


HOSTILE = "</div><script>alert('x')</script>"
COLON = 'Dr. "Q": O\'Neil # not: a comment'


def test_hostile_names_render_as_text_and_cannot_break_yaml(meta):
    evil = copy.deepcopy(meta)
    evil["users"][0]["name"] = HOSTILE
    evil["users"][1]["name"] = COLON
    text = render(evil)
    card = parse_card(text)
    assert card["header"] == parse_card(render(meta))["header"]  # header untouched by names
    assert "script" not in card["tags"]
    assert f"{HOSTILE} & {COLON}" in card["divs"]
    assert [i["alt"] for i in card["imgs"]] == [HOSTILE, COLON]
    assert card["tables"]["Data"]["Data"] == [HOSTILE, COLON]
    assert "<script>" not in text


def test_hostile_prediction_text_stays_in_its_cell(meta):
    evil = copy.deepcopy(meta)
    evil["predictions"]["samples"] = [
        {
            "prompt": "My dream is",
            "text": "My dream is | x | <img src=x onerror=alert(1)>\n## heading",
            "longest_copied_words": 1,
        }
    ]
    card = parse_card(render(evil))
    assert card["tags"].count("img") == 2  # only the two avatars: the post's <img> is text
    rows = card["tables"]["Prompt and continuation"]
    assert list(rows.values()) == [["Copied words"], ["1"]]
    assert "heading" not in card["headings"]


def test_http_urls_are_refused(meta):
    bad = copy.deepcopy(meta)
    bad["users"][0]["avatar_file"] = None
    bad["users"][0]["avatar_url"] = "http://pbs.twimg.com/a.jpg"
    with pytest.raises(CardError, match="https"):
        render(bad)
    bad = copy.deepcopy(meta)
    bad["hub_url"] = "http://127.0.0.1:8000"
    with pytest.raises(CardError, match="https"):
        render(bad)


def test_missing_values_fail_loudly(meta):
    broken = copy.deepcopy(meta)
    del broken["training_summary"]
    with pytest.raises(CardError, match="training_summary"):
        render(broken)
    with pytest.raises(CardError, match="no_such_value"):
        render(meta, CARD_FIXTURES / "templates" / "typo.md.j2")
    with pytest.raises(CardError, match="not a file"):
        render(meta, CARD_FIXTURES / "templates" / "absent.md.j2")


def test_custom_template_can_include_bundled_partials(meta):
    card = parse_card(render(meta, CARD_FIXTURES / "templates" / "minimal.md.j2"))
    assert "🤖 AI CYBORG 🤖" in card["divs"]
    assert "Minimal card for huggingtweets/ada_l-grace_h." in card["body"]


def test_single_user_is_an_ai_bot(meta):
    one = copy.deepcopy(meta)
    one["users"] = one["users"][:1]
    card = parse_card(render(one))
    assert "🤖 AI BOT 🤖" in card["divs"] and "@ada_l" in card["divs"]
    assert card["tables"]["Data"]["Data"] == ["Ada Lovelace"]


def test_language_mix():
    assert language_mix({"a": {"languages": {"en": 70, "fr": 30, "und": 50}}}) == ["en", "fr"]
    assert language_mix({"a": {"languages": {"en": 95, "de": 5}}}) == ["en"]
    assert language_mix({"a": {"languages": {"in": 10}}, "b": {"languages": {"iw": 9}}}) == ["id", "he"]
    assert language_mix({"a": {"languages": {}}}) == ["en"]


@pytest.mark.parametrize(
    ("base", "in_header", "words"),
    [
        ("/tmp/tiny-base", None, "loaded from a local folder named /tmp/tiny-base"),
        ("my_local_gpt", None, "loaded from a local folder named my_local_gpt"),
        ("tiny", None, "initialised at\nrandom and trained from scratch"),
        ("gpt2", "openai-community/gpt2", "pre-trained GPT-2 model, [openai-community/gpt2]"),
        (
            "someone/gpt2-poetry",
            "someone/gpt2-poetry",
            "pre-trained transformer model, [someone/gpt2-poetry]",
        ),
    ],
)
def test_base_model_in_header_only_when_it_is_on_the_hub(meta, base, in_header, words):
    other = copy.deepcopy(meta)
    other["training_summary"]["base_model"] = base
    card = parse_card(render(other))
    assert card["header"].get("base_model") == in_header
    assert card["header"]["pipeline_tag"] == "text-generation"
    assert words in card["body"]


def test_card_needs_a_trained_run(card_run_dir):
    (card_run_dir / "predictions.json").unlink()
    with pytest.raises(StageError, match="huggingtweets generate"):
        write_card(card_run_dir, repo_id=REPO)
    (card_run_dir / "model" / "config.json").unlink()
    with pytest.raises(StageError, match="huggingtweets train"):
        write_card(card_run_dir, repo_id=REPO)


def test_languages_part_lists_shares_fit_and_the_length_rule(meta):
    from huggingtweets.prepare import length_rule

    m = copy.deepcopy(meta)
    m["data_report"]["length_rule"] = length_rule()
    m["data_report"]["users"]["ada_l"].update(
        language_shares={"zh": 0.9, "en": 0.1},
        languages_from={"records": 70, "script": 20, "unknown": 0},
        tokenizer_fit={
            "base_model": "gpt2",
            "method": "estimated (GPT-2 byte-level BPE)",
            "tokens_per_character": 2.71,
            "context_length": 1024,
            "cut_share": 0.02,
            "poor": True,
            "better_families": ["qwen2.5 (Qwen/Qwen2.5-0.5B)", "bloom (bigscience/bloom-560m)"],
        },
    )
    # The Markdown escapes (\\( \\#) are the `md` filter's; the reader sees the plain words.
    body = " ".join(parse_card(render(m))["body"].replace("\\", "").split())
    assert (
        "- @ada_l: zh 90.0%, en 10.0% of the kept posts (70 tagged by the network, 20 named from their "
        "Unicode script, 0 unknown). The base model's tokenizer (gpt2, estimated (GPT-2 byte-level BPE)) "
        "spends 2.71 tokens per character on these posts; 2.0% of them are longer than its 1024-token "
        "context. That is a poor fit" in body
    )
    assert "fit these languages better: qwen2.5 (Qwen/Qwen2.5-0.5B), bloom (bigscience/bloom-560m)." in body
    assert "- @grace_h: no language recorded." in body
    assert (
        "The length rule: posts of fewer than 3 words of their own" in body and "1.5 to 3 characters" in body
    )
    # A report without any of it (older runs, rebuilt original cards) shows no such part.
    assert "### Languages" not in render(meta) and "### Languages" in render(m)


def test_card_says_how_many_samples_were_drawn_again(meta):
    other = copy.deepcopy(meta)
    other["predictions"].update(redrawn=3, withheld=1)
    body = " ".join(parse_card(render(other))["body"].split())
    assert "Such samples are not shown: 3 were drawn again, and 1 left out after 3 tries." in body
    other["predictions"].update(redrawn=0, withheld=0)
    assert "drawn again" not in parse_card(render(other))["body"]


def test_card_license_and_limitations_come_from_the_recorded_base(meta):
    other = copy.deepcopy(meta)
    other["training_summary"]["base"] = {
        "kind": "preset",
        "name": "smollm2-135m",
        "hub_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "model_type": "llama",
        "family": "Llama",
        "license": "apache-2.0",
        "config": {"attention_dropout": 0.0},
    }
    other["training_summary"]["hyperparameters"]["attention_dropout"] = 0.0
    other["training_summary"]["best_epoch"] = 1
    other["training_summary"]["perplexity"] = {"initial": 200.0, "best": 60.5, "last": 66.0}
    other["license"] = "apache-2.0"  # what build_metadata reads from the same record
    card = parse_card(render(other))
    header, body = card["header"], " ".join(card["body"].split())
    assert header["license"] == "apache-2.0" and header["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    # The published weights are the best epoch's: the header's perplexity is the best.
    assert header["model-index"][0]["results"][0]["metrics"][0]["value"] == 60.5
    assert "pre-trained Llama model, [HuggingFaceTB/SmolLM2-135M-Instruct]" in body
    assert (
        "limitations and biases of HuggingFaceTB/SmolLM2-135M-Instruct]"
        "(https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct)" in body.replace("\\", "")
    )
    assert "| base config: attention_dropout | 0 |" in card["body"].replace("\\", "") and "GPT-2" not in body
