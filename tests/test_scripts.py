"""Post length by script: words where words are spaced, grapheme clusters where they are not."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from huggingtweets.clean import MIN_WORDS, clean_posts, is_boring
from huggingtweets.scripts import (
    CHARACTERS_PER_WORD,
    MAX_REPEATS,
    language_from_script,
    script_counts,
    script_of,
    word_equivalents,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "languages" / "posts.json").read_text("utf-8"))
POSTS = FIXTURE["posts"]


def post(text: str, **kw) -> dict:
    return {"id": str(abs(hash(text))), "text": text, "is_retweet": False, "is_reply": False, **kw}


@pytest.mark.parametrize("item", POSTS, ids=[f"{p['lang']}-{i}" for i, p in enumerate(POSTS)])
def test_own_fixture_posts_are_kept_or_short_as_written(item):
    result = clean_posts([post(item["text"], lang=item["lang"])])
    reason = "kept" if result.kept else next(k for k, n in result.drops.items() if n)
    assert reason == item["expect"], (item["text"], word_equivalents(item["text"]))


def test_every_script_of_the_fixture_keeps_most_of_its_posts():
    # The bug this fixes: whitespace words made every Chinese, Japanese and Thai post "one word".
    by_lang: dict[str, list[bool]] = {}
    for item in POSTS:
        by_lang.setdefault(item["lang"][:2], []).append(bool(clean_posts([post(item["text"])]).kept))
    assert {lang: sum(kept) for lang, kept in by_lang.items()} == {
        "zh": 10,
        "ja": 4,
        "ko": 3,
        "th": 2,
        "en": 1,
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("今天好累啊", 5 / 1.5),  # five Han characters
        ("哈哈哈哈哈哈", 2 / 1.5),  # laughter: a character more than twice in a row counts twice
        ("哈 哈 哈 哈", 2 / 1.5),  # ... however it is spaced
        ("日本語の文章です", 5 / 1.5 + 3 / 2),  # kanji and kana, each at its own rate
        ("สวัสดีครับ", 7 / 3),  # seven grapheme clusters, not ten code points
        ("iPhone很好用", 1 + 3 / 1.5),  # a mixed token counted by its parts
        ("Deadline 是明天。", 1 + 3 / 1.5),  # the full stop counts for nothing
        ("안녕하세요 반갑습니다", 2),  # Korean is written with spaces: words
        ("Hello there, world!", 3),
        ("@lin你好吗今天", 5 / 1.5),  # a mention glued to Chinese text is cut off, the rest counted
        ("#今日の一枚 https://t.co/x @bob", 0),  # hashtag, link and mention are not the author's words
    ],
)
def test_word_equivalents(text, words):
    assert word_equivalents(text) == pytest.approx(words)


def test_threshold_is_three_word_equivalents_in_every_script():
    assert MIN_WORDS == 3
    assert is_boring("今天好累") and not is_boring("今天好累啊")  # 4 Han = 2.67 words, 5 Han = 3.33
    assert is_boring("おはよう") and not is_boring("おはようございます")
    assert is_boring("two words") and not is_boring("three whole words")


def test_duplicates_are_caught_across_unicode_normal_forms():
    composed = "오늘은 비가 와서 집에서 책을 읽었어요."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    result = clean_posts([post(composed), post(decomposed), post("今天好累啊"), post("今天好累啊")])
    assert len(result.kept) == 2 and result.drops["duplicates"] == 2
    assert result.kept[0]["text"] == composed


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("今天早上在河边跑了五公里", "zh"),
        ("今日は久しぶりに友達とラーメン", "ja"),  # kana makes it Japanese, though kanji outnumber it
        ("오늘은 비가 와서 책을 읽었어요", "ko"),
        ("วันนี้อากาศดีมาก", "th"),
        ("iPhone很好用", "zh"),  # compared in words, not letters
        ("Bonjour tout le monde", "und-Latn"),  # Latin script: the language is not told by it
        ("Привет всем друзьям", "und-Cyrl"),
        ("Καλημέρα σε όλους", "el"),
        ("12:30 !!! 🎉", None),
    ],
)
def test_language_from_script(text, lang):
    assert language_from_script(text) == lang


# Up to 200 letters of every script written without spaces, for the property tests below: letters
# that stand as a grapheme cluster of their own (Thai's SARA AM is a letter, yet joins the one before).
def _spaceless_letters() -> dict[str, list[str]]:
    import regex

    cluster = regex.compile(r"\X")
    found: dict[str, list[str]] = {s: [] for s in CHARACTERS_PER_WORD}
    for cp in range(0x0E00, 0x31000):
        ch = chr(cp)
        if unicodedata.category(ch) == "Lo" and len(cluster.findall("a" + ch)) == 2:
            script = script_of(ch)
            if script in found and len(found[script]) < 200:
                found[script].append(ch)
    return found


SPACELESS_LETTERS = _spaceless_letters()


@st.composite
def spaceless_posts(draw):
    script = draw(st.sampled_from(sorted(s for s, letters in SPACELESS_LETTERS.items() if letters)))
    letters = draw(st.lists(st.sampled_from(SPACELESS_LETTERS[script]), min_size=1, max_size=60))
    # Whitespace (ASCII, ideographic, none) between some letters: spacing must not change the length.
    gaps = draw(st.lists(st.sampled_from(["", "", "", " ", "\u3000", "\n"]), min_size=len(letters)))
    spaced = "".join(g + c for c, g in zip(letters, gaps[: len(letters)], strict=True)).strip()
    return script, "".join(letters), spaced


@settings(max_examples=300, deadline=None)
@given(spaceless_posts())
def test_no_post_is_short_only_because_it_has_no_spaces(drawn):
    script, joined, spaced = drawn
    # Every letter counts, but a letter more than twice in a row (laughter: 哈哈哈哈) only twice.
    counted = sum(
        1 for i, c in enumerate(joined) if i < MAX_REPEATS or len(set(joined[i - MAX_REPEATS : i + 1])) > 1
    )
    assert word_equivalents(joined) == pytest.approx(word_equivalents(spaced))
    assert word_equivalents(joined) == pytest.approx(counted / CHARACTERS_PER_WORD[script])
    # Long enough in letters means long enough, whatever the spacing.
    long_enough = counted >= MIN_WORDS * CHARACTERS_PER_WORD[script]
    assert is_boring(joined) is not long_enough
    assert is_boring(spaced) is not long_enough


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_text_counts_every_spaced_word_and_every_spaceless_letter(text):
    spaceless = [c for c in text if script_of(c) in CHARACTERS_PER_WORD]
    assume(all(spaceless.count(c) <= MAX_REPEATS for c in spaceless))  # laughter is the test above's
    # A token without spaceless letters is one word; one with them is worth at least its letters.
    marks = ("http", "@", "#", "＠", "＃")
    floor = 0.0
    for token in text.split():
        if any(m in token.lower() for m in marks):
            continue
        letters = {s: n for s, n in script_counts(token).items() if s in CHARACTERS_PER_WORD}
        floor += sum(n / CHARACTERS_PER_WORD[s] for s, n in letters.items()) if letters else 1
    assert word_equivalents(text) >= floor - 1e-9
