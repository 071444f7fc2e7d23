"""Atomic checkpoints in DIR/checkpoints/.

``accelerator.save_state`` writes file after file into its folder, so a kill mid-write used to leave a
newest ``checkpoint_<n>`` that ``--resume`` then failed to load. Every process now writes into
``checkpoints/.tmp-checkpoint_<n>``; once all have finished, the main process renames it to
``checkpoint_<n>`` (one atomic rename). Resume picks the newest *complete* checkpoint and ignores
anything else (temp folders, or an old-style folder a kill left without all of its files).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from huggingtweets.errors import TrainingError

logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"checkpoint_(\d+)")
TEMP_PREFIX = ".tmp-"
# What save_state writes last (accelerate's checkpointing.py, 1.15 and 1.16): the main process's RNG states,
# then our TrainState (register_for_checkpointing). A folder lacking either was cut off mid-write.
REQUIRED_FILES = ("random_states_0.pkl", "custom_checkpoint_0.pkl")
# The model weights: model.safetensors / pytorch_model.bin, or FSDP's and DeepSpeed's folders.
WEIGHT_PREFIXES = ("model", "pytorch_model")


def checkpoints_dir(run_dir: Path | str) -> Path:
    return Path(run_dir) / "checkpoints"


def is_complete_checkpoint(folder: Path) -> bool:
    """True when ``folder`` holds everything ``save_state`` writes (none of it empty)."""
    try:
        names = {p.name: p for p in folder.iterdir()}
    except OSError:
        return False
    for name in REQUIRED_FILES:
        path = names.get(name)
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return False
    weights = [p for n, p in names.items() if n.startswith(WEIGHT_PREFIXES)]
    return any(p.is_dir() or p.stat().st_size > 0 for p in weights)


def checkpoint_folders(run_dir: Path | str, *, complete_only: bool = True) -> list[int]:
    """Numbers n of the DIR/checkpoints/checkpoint_<n> folders (only complete ones by default), sorted."""
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    numbers = []
    for path in folder.iterdir():
        match = CHECKPOINT_RE.fullmatch(path.name)
        if match and path.is_dir() and (not complete_only or is_complete_checkpoint(path)):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def checkpoint_path(run_dir: Path | str, number: int) -> Path:
    return checkpoints_dir(run_dir) / f"checkpoint_{number}"


def remove_broken_checkpoints(run_dir: Path | str) -> list[str]:
    """Delete temp folders and incomplete checkpoint folders (main process only); return their names.

    They can only be what a killed run left behind; keeping them would make the next checkpoint's
    number collide with a broken folder.
    """
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        stale_temp = path.name.startswith(TEMP_PREFIX)
        broken = bool(CHECKPOINT_RE.fullmatch(path.name)) and not is_complete_checkpoint(path)
        if stale_temp or broken:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        logger.warning("Removed incomplete checkpoints left by an interrupted run: %s", ", ".join(removed))
    return removed


def save_checkpoint(accelerator, run_dir: Path | str, *, keep: int) -> Path:
    """``accelerator.save_state`` into a temp folder, then one rename to ``checkpoint_<n>``.

    Called on every process (save_state is collective). Only the main process creates, renames and
    prunes; the barriers make sure every process has finished writing before the rename, and that
    nobody looks at the folder before it is in place.
    """
    number = accelerator.save_iteration
    final = checkpoint_path(run_dir, number)
    tmp = final.with_name(f"{TEMP_PREFIX}{final.name}")
    if final.exists():  # checked on every process, so all of them stop together
        raise TrainingError(
            f"Checkpoint folder checkpoints/{final.name} already exists: expected a new step number",
            hint="run `huggingtweets train --resume` again, or without --resume to start over",
        )
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # a stale one from a killed run
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))  # also counts project_configuration.iteration up
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _fsync_tree(tmp)  # the rename must not land on disk before the files it publishes
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        for old in checkpoint_folders(run_dir)[:-keep]:
            shutil.rmtree(checkpoint_path(run_dir, old), ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows); the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
