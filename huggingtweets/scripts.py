"""How long a post is, whatever script it is written in, and which language its script tells of.

Chinese, Japanese, Thai, Lao, Khmer, Burmese (and a few more) put no spaces between words, so
counting whitespace-separated words calls a 100-character Chinese post "one word". Length is
therefore counted in *word-equivalents*: a run of letters in a script written with spaces is one
word; in a script written without them, each grapheme cluster (``regex``'s ``\\X``: a base letter with
its combining vowels and tone marks) counts as a fraction of a word, from the average word length of
that script. A mixed post (``iPhone很好用``) is counted by its parts.

The script of a text also says something about its language, and no more than that: kana means
Japanese, Hangul Korean, Thai script Thai; Han characters alone most likely Chinese (a Japanese post
written only in kanji is taken for Chinese); Latin, Cyrillic, Arabic or Devanagari script is shared by
many languages, so they give only ``und-Latn`` ("undetermined language, Latin script") and the like.
"""

from __future__ import annotations

import functools
from collections import Counter

# Average characters (grapheme clusters) per word in scripts written without spaces; a post's
# characters in such a script are divided by this to give word-equivalents. Chinese words average
# ~1.5-1.7 characters, Japanese ~2 (kana and kanji mixed); Thai, Lao, Khmer and Burmese words are
# ~3 grapheme clusters (a cluster already holds the vowel and tone marks of its syllable).
CHARACTERS_PER_WORD = {
    "Han": 1.5,
    "Bopomofo": 1.5,
    "Hiragana": 2.0,
    "Katakana": 2.0,
    "Thai": 3.0,
    "Lao": 3.0,
    "Khmer": 3.0,
    "Myanmar": 3.0,
    "Tibetan": 3.0,
    "Yi": 1.5,
    "Javanese": 3.0,
    "Balinese": 3.0,
}
SPACELESS_SCRIPTS = tuple(CHARACTERS_PER_WORD)

# Scripts that name one language; the others give "und-<ISO 15924 code>".
_SCRIPT_LANGUAGE = {
    "Hiragana": "ja",
    "Katakana": "ja",
    "Hangul": "ko",
    "Han": "zh",
    "Bopomofo": "zh",
    "Thai": "th",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
    "Tibetan": "bo",
    "Greek": "el",
    "Hebrew": "he",
    "Georgian": "ka",
    "Armenian": "hy",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Gujarati": "gu",
    "Gurmukhi": "pa",
    "Sinhala": "si",
    "Oriya": "or",
}
_SHARED_SCRIPTS = {
    "Latin": "Latn",
    "Cyrillic": "Cyrl",
    "Arabic": "Arab",
    "Devanagari": "Deva",
    "Bengali": "Beng",
    "Ethiopic": "Ethi",
}
_NAMED_SCRIPTS = (
    *SPACELESS_SCRIPTS,
    *(s for s in (*_SCRIPT_LANGUAGE, *_SHARED_SCRIPTS) if s not in SPACELESS_SCRIPTS),
)
# Language codes that name no language (X: undetermined, no text, media, hashtags only...): one
# list for the report and the card.
NOT_A_LANGUAGE = frozenset({"und", "zxx", "art", "qam", "qct", "qht", "qme", "qst"})
# A word marked as a link, mention or hashtag is not the author's own words.
_MARKS = ("http", "@", "#", "＠", "＃")


@functools.lru_cache(maxsize=1)
def _patterns():
    import regex  # a transformers dependency; imported here so `--help` stays light

    # Script_Extensions, so the marks shared by kana (ー, ゛) count with Hiragana/Katakana.
    named = regex.compile("|".join(rf"(?P<{s}>\p{{scx={s}}})" for s in _NAMED_SCRIPTS))
    return regex.compile(r"\X"), named, regex.compile(r"[@＠][A-Za-z0-9_]+(?:@[A-Za-z0-9.-]+)?")


def script_of(grapheme: str) -> str | None:
    """The named script of a grapheme cluster's first character; None for digits, symbols, other scripts."""
    if not grapheme or not (grapheme[0].isalpha() or grapheme[0] in "ー々〆"):
        return None
    match = _patterns()[1].match(grapheme[0])
    return match.lastgroup if match else ("Other" if grapheme[0].isalpha() else None)


# The same character more than twice in a row ("哈哈哈哈哈", laughter) counts twice, as "hahaha"
# is one word: doubling is ordinary (天天, 慢慢), a longer run is not more words.
MAX_REPEATS = 2


def _token_words(token: str, last: list) -> float:
    """Word-equivalents of one whitespace token; ``last`` ([cluster, times in a row]) carries a
    spaceless run across spaces, so "哈 哈 哈" counts as "哈哈哈"."""
    if token.isascii():
        last[:] = [None, 0]
        return 1.0
    graphemes, _, _ = _patterns()
    clusters = graphemes.findall(token)
    spaceless = [script_of(g) for g in clusters]
    if not any(s in CHARACTERS_PER_WORD for s in spaceless):
        last[:] = [None, 0]
        return 1.0  # a word of a script written with spaces, a number or an emoji: one word, as ever
    words, in_other = 0.0, False
    for cluster, script in zip(clusters, spaceless, strict=True):
        if script in CHARACTERS_PER_WORD:
            last[:] = [cluster, last[1] + 1 if cluster == last[0] else 1]
            if last[1] <= MAX_REPEATS:
                words += 1 / CHARACTERS_PER_WORD[script]
            in_other = False
            continue
        last[:] = [None, 0]
        if cluster[0].isalnum():
            words += 0 if in_other else 1  # "iPhone" or "2024" inside a Chinese run: one word
            in_other = True
        else:
            in_other = False  # punctuation (。、！) separates, counts for nothing
    return words


def word_equivalents(text: str) -> float:
    """The length of a cleaned post in words, links, @mentions and #hashtags left out.

    A mention glued to text in a spaceless script (``@alice你好``) is cut off and the rest counted;
    a hashtag runs to the next space, as the networks themselves read it.
    """
    mention = _patterns()[2]
    total = 0.0
    last: list = [None, 0]
    for token in text.split():
        low = token.lower()
        if any(mark in low for mark in _MARKS):
            rest = mention.sub(" ", token) if "@" in token or "＠" in token else ""
            if "http" in low or "#" in rest or "＃" in rest:
                continue
            last[:] = [None, 0]
            total += sum(
                _token_words(t, last)
                for t in rest.split()
                if any(script_of(g) in CHARACTERS_PER_WORD for g in _patterns()[0].findall(t))
            )
            continue
        total += _token_words(token, last)
    return total


def script_counts(text: str) -> Counter:
    """Letters (grapheme clusters) per named script; ``"Other"`` for letters of any other script."""
    counts: Counter = Counter()
    for cluster in _patterns()[0].findall(text):
        script = script_of(cluster)
        if script:
            counts[script] += 1
    return counts


def language_from_script(text: str) -> str | None:
    """A language code the script alone supports (see the module docstring); None without letters."""
    counts = script_counts(_patterns()[2].sub(" ", text))
    if not counts:
        return None
    if counts["Hiragana"] + counts["Katakana"]:
        return "ja"  # kana is Japanese only, even when kanji (Han) outnumber it
    if counts["Hangul"]:
        return "ko"  # Korean mixes in a few Han characters (hanja), never the reverse
    # Compared in words, not letters: "iPhone很好用" is more Chinese than English.
    script, _ = max(counts.items(), key=lambda kv: (kv[1] / CHARACTERS_PER_WORD.get(kv[0], 5.0), kv[0]))
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    if script in _SHARED_SCRIPTS:
        return "und-" + _SHARED_SCRIPTS[script]
    return "und"
