"""Token-shaped text is masked in errors and records; digests, paths and plain words are not."""

from __future__ import annotations

import pytest

from huggingtweets.redact import redact, redact_values

HF = "hf_" + "AbCdEfGh12" * 3
X_BEARER = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"`epochs: {HF}` in bot.yaml", "`epochs: ***` in bot.yaml"),
        (f"http://user:{HF}@hub.example/api", "http://***@hub.example/api"),
        ("https://alice:s3cret@host", "https://***@host"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer ***"),
        (f"handle {X_BEARER!r}", "handle '***'"),
    ],
)
def test_secrets_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # a file's sha256
        "/home/alice/archives/twitter-2024-01-01-abcdef0123456789abcdef.zip",
        "https://huggingface.co/huggingtweets/alice",
        "--epochs 1e20 is invalid: expected a whole number >= 1 and <= 1000 (or empty)",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def test_nested_records_are_masked_everywhere():
    record = {"settings": {"base_model": HF, "archives": [[{"sha256": "ab" * 32}, "alice"]]}, "steps": 3}
    assert redact_values(record) == {
        "settings": {"base_model": "***", "archives": [[{"sha256": "ab" * 32}, "alice"]]},
        "steps": 3,
    }
