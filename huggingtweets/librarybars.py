"""The libraries' own progress bars, switched off while our stages run.

datasets ("Tokenizing train"), transformers ("Loading weights", "Writing model shards") and
huggingface_hub (downloads) each draw a tqdm bar of their own. Progress reaches the user as
``huggingtweets.events`` instead, so their bars would only be left behind between our lines on a
terminal and fill a log with carriage returns. Each library's switch is process-wide, so it is put
back as it was when the block ends. ``datasets`` is only switched when the caller has already
imported it: importing it here would cost every `huggingtweets train` over a second for a library
the train stage no longer uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_hub_bars() -> Iterator[None]:
    """huggingface_hub's bars only (its Xet upload draws one): publishing reports ``Upload`` events."""
    import huggingface_hub.utils as hf_utils

    was_disabled = hf_utils.are_progress_bars_disabled()
    hf_utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            hf_utils.enable_progress_bars()


@contextlib.contextmanager
def quiet_library_bars() -> Iterator[None]:
    import sys

    import huggingface_hub.utils as hf_utils
    from transformers.utils import logging as tf_logging

    restore = []
    datasets = sys.modules.get("datasets")
    if datasets is not None and datasets.is_progress_bar_enabled():
        datasets.disable_progress_bars()
        restore.append(datasets.enable_progress_bars)
    if tf_logging.is_progress_bar_enabled():
        tf_logging.disable_progress_bar()
        restore.append(tf_logging.enable_progress_bar)
    if not hf_utils.are_progress_bars_disabled():
        hf_utils.disable_progress_bars()
        restore.append(hf_utils.enable_progress_bars)
    try:
        yield
    finally:
        for undo in restore:
            undo()
