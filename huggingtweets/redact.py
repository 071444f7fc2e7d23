"""Token-shaped text out of error messages and run records.

A token given under the wrong key (``epochs: hf_...``), a credential inside a URL
(``http://user:hf_...@host``) or a bearer token pasted as a handle must never be echoed in an
error or written into ``.stages/*.json``. What is recognised: Hugging Face tokens (``hf_`` + 20 or
more letters/digits), ``Bearer`` values, URL user-info, and long opaque strings that mix upper
case, lower case and digits the way API tokens do (X bearer tokens are ~110 such characters).
Hex digests (the file hashes in stage records) are not secrets and are left alone.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_HF = re.compile(r"hf_[A-Za-z0-9]{20,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/%=-]{8,}")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_OPAQUE = re.compile(r"[A-Za-z0-9%_+/=-]{32,}")


def _opaque(match: re.Match) -> str:
    text = match.group(0)
    if re.fullmatch(r"[0-9a-f]+", text) or "/" in text.strip("/") and text.count("/") > 2:
        return text  # a hex digest, or a path
    kinds = sum(bool(re.search(p, text)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return MASK if kinds == 3 else text


def redact(text: str) -> str:
    """``text`` with anything token-shaped replaced by ``***``."""
    text = _HF.sub(MASK, str(text))
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _URL_USERINFO.sub(MASK + "@", text)
    return _OPAQUE.sub(_opaque, text)


def redact_values(value: Any) -> Any:
    """``redact`` applied to every string inside dicts, lists and tuples (for records written to disk)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v) for v in value]
    return value
