"""Cleaning rules: raw posts in, training texts out, every drop counted.

The rules of the original huggingtweets, kept: unescape HTML entities (all of them, not only
&amp; &lt; &gt;), remove URLs wherever they stand, collapse runs of spaces, remove newlines unless
asked to keep them, drop retweets, drop "boring" posts (fewer than 3 words that are not a URL,
@mention or #hashtag; words counted by script, see ``huggingtweets.scripts``, so a post in Chinese,
Japanese or Thai is as long as its characters make it). Added: strip the leading @mentions of replies, drop exact duplicates
(compared after cleaning and Unicode NFC normalisation, so the same Korean or Japanese text typed
with composed or decomposed characters is one post), count media-only posts apart, and replace e-mail addresses and phone
numbers with placeholders.

Placeholders are "[email]" and "[phone]": plain bracketed words, so they read as text to GPT-2
and do not look like the <|special|> or <tag> tokens a tokenizer or a card renderer may treat
specially.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from huggingtweets.scripts import word_equivalents

EMAIL_PLACEHOLDER = "[email]"
PHONE_PLACEHOLDER = "[phone]"
MEDIA_ONLY_LANGS = frozenset({"zxx", "qme"})
MIN_WORDS = 3  # in word-equivalents (huggingtweets.scripts): words, or characters in spaceless scripts
# The drop reasons, in the order they are tested; a post is counted under the first that applies.
DROP_REASONS = ("retweets", "replies", "media_only", "short", "duplicates")

_URL = re.compile(r"(?:\bhttps?:|\bwww\.|\bpic\.twitter\.com/)\S+", re.IGNORECASE)
_LEADING_MENTIONS = re.compile(r"^(?:\s*[@＠]\w+)+\s*")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Phone numbers: a "+country" or "(area)" prefix allows spaces between groups; without one the
# groups must be joined by "-" or "." (so "in 2019 2020 2021" is never taken for one). A match
# neither starts nor ends inside a longer run of dotted/dashed digits.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[.-])(?:"
    r"(?:\+\d{1,3}|\(\d{1,4}\))[ .-]?(?:\d{1,4}[ .-]?){2,5}\d{2,4}"
    r"|\d{2,5}[.-]\d{2,4}[.-]\d{3,4}(?:[.-]\d{2,4})?"
    r")(?![\w])(?![.-]\d)"
)
# Numbers that look like the unprefixed form but are not phones: dates (24.12.2022, 19-10-1985),
# thousands separators (10.000.000) and IPv4 addresses (192.168.100.200).
_NOT_PHONE = re.compile(
    r"\d{1,2}([.-])\d{1,2}\1\d{4}"
    r"|\d{1,3}(?:\.\d{3})+"
    r"|\d{1,3}(?:\.\d{1,3}){3}"
)
_SPACES = re.compile(r"[^\S\n]+")
# What "tokens" in the report counts: the pieces GPT-2's byte-level BPE pre-tokenizer splits text
# into (contractions, runs of letters, of digits, of other symbols, each with its leading space).
# BPE splits rare words further, so this is a cheap, offline lower bound on GPT-2 tokens (see
# count_tokens for letters outside ASCII; huggingtweets.languages has the fuller estimate).
_PRETOKEN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def _is_phone(match: re.Match) -> bool:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    return 7 <= digits <= 15 and not _NOT_PHONE.fullmatch(found)


def scrub_private(text: str) -> str:
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    return _PHONE.sub(lambda m: PHONE_PLACEHOLDER if _is_phone(m) else m.group(0), text)


def clean_text(text: str, *, is_reply: bool = False, keep_newlines: bool = False) -> str:
    """One post's text, cleaned. Empty when nothing is left (a media-only post)."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    if is_reply:
        text = _LEADING_MENTIONS.sub("", text)
    text = _URL.sub("", text)
    text = scrub_private(text)
    if keep_newlines:
        lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    else:
        text = " ".join(text.split())
    return text.strip()


def is_boring(text: str) -> bool:
    # The small epsilon keeps 4.5 Chinese characters (3 words at 1.5 characters a word) from
    # falling under 3 by a float rounding.
    return word_equivalents(text) < MIN_WORDS - 1e-9


def count_tokens(text: str) -> int:
    # A piece of non-ASCII letters (a Chinese or Thai run, a Cyrillic word) is at least one GPT-2
    # token per character: its vocabulary holds next to no merges across such characters.
    return sum(
        max(1, sum(1 for c in piece if not c.isascii() and c.isalpha())) for piece in _PRETOKEN.findall(text)
    )


@dataclass
class Cleaned:
    """The result for one user: kept posts (raw records with cleaned ``text``) and the drops."""

    kept: list[dict] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    downloaded: int = 0


def clean_posts(posts: Iterable[dict], *, keep_newlines: bool = False, keep_replies: bool = True) -> Cleaned:
    """Apply every rule to one user's raw posts (dicts as in ``raw/<handle>.jsonl``)."""
    result = Cleaned()
    seen: set[str] = set()
    for post in posts:
        result.downloaded += 1
        raw = post.get("text") or ""
        is_reply = bool(post.get("is_reply"))
        if post.get("is_retweet") or raw.startswith("RT @"):
            reason = "retweets"
        # A reply to oneself continues a thread: it is the author's own voice, kept with the posts.
        elif is_reply and not keep_replies and not post.get("is_self_thread"):
            reason = "replies"
        elif (post.get("lang") or "") in MEDIA_ONLY_LANGS:
            reason = "media_only"
        else:
            text = clean_text(raw, is_reply=is_reply, keep_newlines=keep_newlines)
            if not text:
                reason = "media_only"
            elif is_boring(text):
                reason = "short"
            elif text in seen:
                reason = "duplicates"
            else:
                seen.add(text)
                result.kept.append({**post, "text": text})
                continue
        result.drops[reason] += 1
    return result
