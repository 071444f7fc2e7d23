"""The languages of a person's posts, and how well the base model's tokenizer fits them.

Languages come from the posts' own tags (X ``lang``, Mastodon ``language``, Bluesky ``langs``, as the
sources record them in ``lang``); a post without one is given the language its Unicode script tells
(``huggingtweets.scripts.language_from_script``) unless the ``detect_languages`` setting is off.

Tokenizer fit is measured with the base model's own tokenizer when it is on this machine (a local
folder, or a Hub id already in the Hugging Face cache). Otherwise, for GPT-2's byte-level BPE (the
default base, learned on English web text), it is estimated: one token per 4 ASCII characters of a
word (at least one), one token per UTF-8 byte of anything else, which is what GPT-2 spends on
Chinese, Japanese or Thai (its vocabulary has almost no merges for them). The report says which.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from huggingtweets.scripts import NOT_A_LANGUAGE, language_from_script

TOP_LANGUAGES = 5
# Poor fit: more than this many tokens per character (GPT-2 spends ~0.25 on English, ~0.3 on French
# or German, ~1-3 on Chinese, Japanese, Thai), or more than this share of posts cut at the context.
POOR_TOKENS_PER_CHARACTER = 0.6
POOR_CUT_SHARE = 0.01
GPT2_CONTEXT = 1024
# Base families and the languages their tokenizer and pre-training cover well (their model cards).
# One entry per family, so adding one is a line; the first example id is what the report names.
FAMILY_LANGUAGES: dict[str, tuple[str, frozenset[str]]] = {
    "gpt2": ("openai-community/gpt2", frozenset({"en"})),
    "smollm2": ("HuggingFaceTB/SmolLM2-135M", frozenset({"en"})),
    "qwen2.5": (
        "Qwen/Qwen2.5-0.5B",
        frozenset(
            "zh en fr es pt de it ru ja ko vi th ar id ms tr nl pl cs uk he fa hi bn ur tl km lo my".split()
        ),
    ),
    "bloom": (
        "bigscience/bloom-560m",
        frozenset("zh en fr es pt ar vi id ca eu hi bn ur ta te ml mr gu pa kn or ne yo ig sw".split()),
    ),
    "mgpt": (
        "ai-forever/mGPT",
        frozenset(
            "zh ja ko th en fr es pt de it ru uk be bg pl ro hu fi sv ar he fa tr az kk ky uz tg "
            "tt ba cv hy ka el id ms vi my hi bn ta te ml mr".split()
        ),
    ),
}
_GPT2_BASES = re.compile(
    r"^(?:openai-community/|)(?:distil)?gpt2(?:-medium|-large|-xl)?$|^distilbert/distilgpt2$"
)
_PRETOKEN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def post_language(post: dict, *, detect: bool) -> tuple[str | None, str]:
    """(language, where it came from: "records", "script" or "unknown") of one cleaned post."""
    lang = str(post.get("lang") or "").strip()
    if lang and lang.lower() not in NOT_A_LANGUAGE:
        return lang, "records"
    if detect:
        found = language_from_script(post.get("text") or "")
        if found:
            return found, "script"
    return None, "unknown"


def language_report(posts: Iterable[dict], *, detect: bool) -> dict:
    """``languages`` (top counts), ``language_shares`` (of all kept posts) and ``languages_from``."""
    counts: Counter = Counter()
    origin = Counter({"records": 0, "script": 0, "unknown": 0})
    total = 0
    for post in posts:
        total += 1
        lang, where = post_language(post, detect=detect)
        origin[where] += 1
        if lang:
            counts[lang] += 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LANGUAGES]
    return {
        "languages": dict(top),
        "language_shares": {k: round(n / total, 4) for k, n in top} if total else {},
        "languages_from": dict(origin),
    }


# --------------------------------------------------------------------------- tokenizer fit


def estimate_gpt2_tokens(text: str) -> int:
    """GPT-2 tokens of ``text``, estimated offline (see the module docstring)."""
    tokens = 0
    for piece in _PRETOKEN.findall(text):
        word = piece.strip() or piece
        ascii_chars = sum(1 for c in word if c.isascii())
        other_bytes = len(word.encode("utf-8")) - ascii_chars
        tokens += (max(1, math.ceil(ascii_chars / 4)) if ascii_chars else 0) + other_bytes
    return tokens


class _Tokenizer:
    """What the fit needs of a tokenizer: a name, how it was got, a token count and a context length."""

    def __init__(self, name: str, method: str, count, context: int) -> None:
        self.name, self.method, self.count, self.context = name, method, count, context


def _local_tokenizer(base: str) -> _Tokenizer | None:
    """The base's own tokenizer when it is on this machine; None otherwise (never a download)."""
    folder = Path(base).expanduser()
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            from huggingtweets.card.render import CANONICAL_BASES

            folder = Path(snapshot_download(CANONICAL_BASES.get(base, base), local_files_only=True))
        except Exception:  # not in the cache, or not a Hub id: the estimate takes over
            return None
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.json", "tokenizer.model")):
        return None
    try:
        from transformers import AutoConfig, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception:  # a folder transformers cannot read: the fit is estimated, not fatal to prepare
        return None
    context = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    return _Tokenizer(
        base,
        "measured",
        # verbose=False: a post longer than the context is what the fit counts, not a warning to print
        lambda text: len(tok(text, add_special_tokens=False, verbose=False)["input_ids"]),
        int(context or GPT2_CONTEXT),
    )


def base_tokenizer(base_model: str | None) -> _Tokenizer | None:
    """The tokenizer to measure with; None for ``tiny``, whose tokenizer is trained on these posts."""
    base = base_model or "gpt2"
    if base == "tiny":
        return None
    found = _local_tokenizer(base)
    if found:
        return found
    if _GPT2_BASES.match(base):
        return _Tokenizer(base, "estimated (GPT-2 byte-level BPE)", estimate_gpt2_tokens, GPT2_CONTEXT)
    return None


def tokenizer_fit(texts: list[str], tokenizer: _Tokenizer | None, languages: dict[str, int]) -> dict | None:
    """Tokens per character, the share of posts longer than the context, and better families if poor."""
    if tokenizer is None or not texts:
        return None
    counts = [tokenizer.count(t) for t in texts]
    characters = sum(len(t) for t in texts)
    per_char = sum(counts) / characters if characters else 0.0
    cut = sum(1 for n in counts if n > tokenizer.context) / len(texts)
    poor = per_char > POOR_TOKENS_PER_CHARACTER or cut > POOR_CUT_SHARE
    return {
        "base_model": tokenizer.name,
        "method": tokenizer.method,
        "tokens_per_character": round(per_char, 3),
        "context_length": tokenizer.context,
        "cut_share": round(cut, 4),
        "poor": poor,
        "better_families": better_families(languages, tokenizer.name) if poor else [],
    }


def better_families(languages: dict[str, int], base: str) -> list[str]:
    """Families (with an example Hub id) covering every main language, i.e. ones of 10%+ of the posts."""
    total = sum(languages.values()) or 1
    main = {
        k.split("-")[0].lower() for k, n in languages.items() if n / total >= 0.1 and not k.startswith("und")
    }
    if not main:
        return []
    return [
        f"{family} ({example})"
        for family, (example, covered) in FAMILY_LANGUAGES.items()
        if main <= covered and not _same_family(family, base)
    ]


def _same_family(family: str, base: str) -> bool:
    return bool(_GPT2_BASES.match(base)) if family == "gpt2" else family.split(".")[0] in base.lower()


def fit_warning(shown: str, fit: dict) -> str:
    """One line for the report's warnings: what is poor, and what to try."""
    better = ", ".join(fit["better_families"]) or "a multilingual base model"
    return (
        f"{shown}: the base model's tokenizer fits these posts poorly ({fit['tokens_per_character']:.2f} tokens "
        f"per character, {100 * fit['cut_share']:.1f}% of posts longer than its {fit['context_length']:,}-token "
        f"context; {fit['method']}); the bot learns less from them. Better fits: {better} "
        "(--base-model HUB_ID)"
    )
