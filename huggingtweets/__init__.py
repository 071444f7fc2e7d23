"""huggingtweets: turn a person's posts into a GPT-2 bot on the Hugging Face Hub.

Public names are imported lazily so that ``import huggingtweets`` (and ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it: the documented Python API, imported on first use.
# Functions named like their own module (prepare, train, generate, publish, regenerate) are not
# listed: once that module is imported, Python binds the *module* to the package attribute, so
# `from huggingtweets import prepare` would give the module or the function depending on import
# order. Import those from their modules: `from huggingtweets.prepare import prepare`.
_LAZY: dict[str, str] = {
    "HuggingtweetsError": "huggingtweets.errors",
    # one call for everything, as `huggingtweets run`
    "RunConfig": "huggingtweets.config",
    "build_config": "huggingtweets.config",
    "load_config_file": "huggingtweets.config",
    "run": "huggingtweets.runner",
    "RunResult": "huggingtweets.runner",
    "run_demo": "huggingtweets.demo",
    # the stages, in order
    "fetch": "huggingtweets.sources",
    "TrainConfig": "huggingtweets.train",
    "write_predictions": "huggingtweets.generate",
    "build_metadata": "huggingtweets.card",
    "render_card": "huggingtweets.card",
    "write_card": "huggingtweets.card",
    "PublishResult": "huggingtweets.publish",
    "delete": "huggingtweets.publish",
    # the local Hub server
    "HubServer": "huggingtweets.hub.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'huggingtweets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
