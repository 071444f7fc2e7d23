"""huggingtweets: turn a person's posts into a GPT-2 bot on the Hugging Face Hub.

Public names are imported lazily so that ``import huggingtweets`` (and ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; filled as stages land.
_LAZY: dict[str, str] = {
    "HuggingtweetsError": "huggingtweets.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'huggingtweets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
