"""The card's languages part: a user's languages with their shares and the base tokenizer's fit,
read from their ``data_report.json`` entry into plain values for ``templates/partials/languages.md.j2``."""

from __future__ import annotations

from huggingtweets.scripts import NOT_A_LANGUAGE


def language_part(raw: dict) -> dict:
    """A user's languages with their shares, where they came from, and the tokenizer's fit."""
    shares = [
        (str(code), float(share))
        for code, share in (raw.get("language_shares") or {}).items()
        if str(code) not in NOT_A_LANGUAGE
    ]
    origin = raw.get("languages_from")
    fit = raw.get("tokenizer_fit")
    if fit:
        fit = {
            "base_model": str(fit.get("base_model")),
            "method": str(fit.get("method")),
            "tokens_per_character": fit.get("tokens_per_character"),
            "cut_share": fit.get("cut_share"),
            "context_length": fit.get("context_length"),
            "poor": bool(fit.get("poor")),
            "better_families": [str(f) for f in fit.get("better_families") or []],
        }
    return {
        "language_shares": shares,
        "languages_from": {k: (origin or {}).get(k) for k in ("records", "script", "unknown")}
        if origin
        else None,
        "fit": fit or None,
    }
