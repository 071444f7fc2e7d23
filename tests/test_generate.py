"""Sampling posts and the memorization check."""

from __future__ import annotations

import pytest

from huggingtweets.errors import InputError, StageError
from huggingtweets.generate import CopyChecker, generate, words


def test_words_are_lowercased_without_punctuation():
    assert words("Hello, World! #tbt @ada it's") == ["hello", "world", "#tbt", "@ada", "it's"]


def test_longest_copied_run_stays_inside_one_post():
    checker = CopyChecker(
        [
            "the quick brown fox jumps over the lazy dog",
            "a completely different post about coffee",
        ]
    )
    assert checker.longest_copied_words("Yesterday THE quick brown fox jumps, over the lazy cat") == 8
    assert checker.longest_copied_words("nothing shared here") == 0
    assert checker.longest_copied_words("dog a completely") == 2  # "dog" + "a completely" spans two posts: no
    assert checker.longest_copied_words("") == 0
    full = "the quick brown fox jumps over the lazy dog"
    assert checker.longest_copied_words(f"so {full} indeed") == 9


def test_generate_validates_its_inputs(tmp_path, trained_run_dir):
    with pytest.raises(InputError, match="-n 0"):
        generate(trained_run_dir, "My dream is", n=0)
    with pytest.raises(StageError, match="huggingtweets train"):
        generate(tmp_path, "My dream is")


def test_generate_is_reproducible_with_a_seed(trained_run_dir):
    a = generate(trained_run_dir, "Today I", n=2, seed=5)
    b = generate(trained_run_dir / "model", "Today I", n=2, seed=5)
    assert a == b and len(a) == 2 and all(t.startswith("Today I") for t in a)
