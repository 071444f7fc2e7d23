"""The train stage: fine-tune a causal LM on a run folder's dataset (see ``loop.train``).

``TrainConfig`` and ``train`` are imported lazily so that importing this package (the CLI does)
pulls in neither torch nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huggingtweets.train.config import TrainConfig
    from huggingtweets.train.loop import train

__all__ = ["TrainConfig", "train"]


def __getattr__(name: str) -> Any:
    if name == "TrainConfig":
        from huggingtweets.train.config import TrainConfig

        return TrainConfig
    if name == "train":
        from huggingtweets.train.loop import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
