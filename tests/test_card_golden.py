"""Golden test: the original huggingtweets card for @mcintweet, rebuilt and re-rendered by us."""

from __future__ import annotations

import pytest
from fixtures_card import ORIGINAL_README, parse_card

from huggingtweets.card import metadata_from_original_readme, render

REPO = "huggingtweets/mcintweet"
AVATAR = "https://pbs.twimg.com/profile_images/1174977443641249792/VCg_utme_400x400.jpg"
THUMB = "https://www.huggingtweets.com/mcintweet/1623602161461/predictions.png"


def check_mcintweet(original: str) -> None:
    meta = metadata_from_original_readme(original, REPO)
    assert meta["users"] == [
        {
            "handle": "mcintweet",
            "name": "Michael McIntyre",
            "avatar_url": AVATAR,
            "avatar_file": None,
            "source": "twitter-api",
            "source_detail": "Twitter API, by the original huggingtweets",
        }
    ]
    assert meta["data_report"] == {
        "users": {"mcintweet": {"downloaded": 1196, "retweets": 138, "short": 34, "kept": 1024}}
    }

    text = render(meta)
    card = parse_card(text)
    # The YAML header: the original's keys, plus full ModelCardData.
    assert card["header"] == {
        "language": ["en"],
        "license": "mit",
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "base_model": "openai-community/gpt2",
        "thumbnail": THUMB,
        "tags": ["huggingtweets"],
        "widget": [{"text": "My dream is"}],
    }
    # Avatar row, kind, display name, handle.
    assert [i["src"] for i in card["imgs"]] == [AVATAR]
    assert "border-radius: 50%" in card["imgs"][0]["style"]
    assert "🤖 AI BOT 🤖" in card["divs"]
    assert "Michael McIntyre" in card["divs"]
    assert "@mcintweet" in card["divs"]
    # How it was made.
    assert "I was made with [huggingtweets](https://github.com/borisdayma/huggingtweets)" in card["body"]
    assert "How it was made" in card["headings"]
    # Training data: one column per user, the four original rows, the original numbers.
    assert card["tables"]["Data"] == {
        "Data": ["Michael McIntyre"],
        "Tweets downloaded": ["1196"],
        "Retweets": ["138"],
        "Short tweets": ["34"],
        "Tweets kept": ["1024"],
    }
    # Training procedure, usage snippet, limitations and bias.
    assert {"Training data", "Training procedure", "How to use", "Limitations and bias"} <= set(
        card["headings"]
    )
    assert "[openai-community/gpt2](https://huggingface.co/openai-community/gpt2)" in card["body"]
    assert card["code"] == [
        "from transformers import pipeline\n"
        "generator = pipeline('text-generation',\n"
        "                     model='huggingtweets/mcintweet')\n"
        'generator("My dream is", num_return_sequences=5)\n'
    ]
    assert "limitations and biases of GPT-2" in card["body"]

    # Re-rendering our own card from its README gives the same card: regeneration is idempotent.
    again = metadata_from_original_readme(text, REPO)
    assert render(again) == text


def test_golden_mcintweet_from_our_fixture_copy():
    check_mcintweet(ORIGINAL_README.read_text(encoding="utf-8"))


def test_golden_mcintweet_from_shared_reference(shared_dir):
    check_mcintweet(
        (shared_dir / "reference" / "original-model-card-mcintweet.md").read_text(encoding="utf-8")
    )


def test_original_cyborg_card_with_two_users():
    original = ORIGINAL_README.read_text(encoding="utf-8")
    two = (
        original.replace("display:none; margin-left", "display:inherit; margin-left", 1)
        .replace("url(&#39;&#39;)", "url(&#39;https://pbs.twimg.com/b.jpg&#39;)", 1)
        .replace("AI BOT", "AI CYBORG")
        .replace(">Michael McIntyre</div>", ">Michael McIntyre &amp; Jack</div>")
        .replace(">@mcintweet</div>", ">@mcintweet-jack</div>")
        .replace(
            "| Data | Michael McIntyre |\n| --- | --- |",
            "| Data | Michael McIntyre | Jack |\n| --- | --- | --- |",
        )
        .replace("| 1196 |", "| 1196 | 10 |")
        .replace("| 138 |", "| 138 | 1 |")
        .replace("| 34 |", "| 34 | 2 |")
        .replace("| 1024 |", "| 1024 | 7 |")
    )
    meta = metadata_from_original_readme(two, "huggingtweets/jack-mcintweet")
    assert [(u["handle"], u["name"], u["avatar_url"]) for u in meta["users"]] == [
        ("mcintweet", "Michael McIntyre", AVATAR),
        ("jack", "Jack", "https://pbs.twimg.com/b.jpg"),
    ]
    assert meta["data_report"]["users"]["jack"] == {"downloaded": 10, "retweets": 1, "short": 2, "kept": 7}
    card = parse_card(render(meta))
    assert "🤖 AI CYBORG 🤖" in card["divs"] and "Michael McIntyre & Jack" in card["divs"]


def test_readme_without_huggingtweets_header_is_refused():
    from huggingtweets.errors import CardError

    with pytest.raises(CardError, match="AI BOT"):
        metadata_from_original_readme("---\nlanguage: en\n---\n# Some other model\n", "org/other")


def test_original_card_without_an_https_avatar_renders_a_placeholder_not_none(tmp_path):
    original = ORIGINAL_README.read_text(encoding="utf-8").replace(AVATAR, "http://example.com/a.jpg")
    meta = metadata_from_original_readme(original, REPO)
    assert meta["users"][0]["avatar_url"] is None and meta["users"][0]["avatar_file"] is None
    text = render(meta)
    card = parse_card(text)
    assert card["imgs"] == []  # no <img src="None">: no image at all
    assert "None" not in text
    header = text.split("AI BOT", 1)[0]
    assert 'role="img" aria-label="Michael McIntyre"' in header and "border-radius: 50%" in header
    assert "Michael McIntyre" in card["divs"] and "@mcintweet" in card["divs"]
