"""Posts -> token blocks: each post framed as ``start + post + EOS``, all packed into fixed-length blocks.

The start token is the base's ``prefix`` (``BaseModel.prefix``), the very token the saved model's
``config.prefix`` puts before every prompt at generation: a post is framed in training exactly as
the card's prompt is framed. Where the start token is EOS (GPT-2), the previous post's EOS is it.

Packing means no compute goes to padding (per-post padding wasted 42% here). Attention does cross
post boundaries inside a block, as in GPT-2's own pre-training: the EOS before each post is the
model's cue that a new post starts, previous posts of the same person are useful style context,
and a block-diagonal mask would force SDPA off its fast causal kernel on CPU. Only the final
block of a split is padded, and its padding is masked out of the loss (label -100).

The train stage reads the prepared dataset's Arrow files with pyarrow and caches the packed
blocks as a plain tensor file, instead of going through the ``datasets`` library: importing it
costs over a second per ``huggingtweets train`` (pandas and its own modules), about a tenth of a
small run's training loop, for reading one text column.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import StageError, TrainingError

IGNORE_INDEX = -100  # label value the loss skips (PyTorch cross-entropy convention)
SPLITS = ("train", "validation")
_CACHE_FORMAT = "blocks-v2"  # part of the cache key: a new layout never reads an old file


@dataclass(frozen=True)
class RunPosts:
    """The prepared posts of a run folder: the "text" column of each split, and a digest of the
    split files (the token cache's key: it changes whenever prepare writes different data)."""

    texts: dict[str, list[str]]
    digest: str


def load_run_dataset(run_dir: Path) -> RunPosts:
    """The "text" column of the prepared DatasetDict's "train" and "validation" splits."""
    path = Path(run_dir) / "dataset"
    if not path.is_dir():
        raise StageError(
            f"No dataset in {path.name}/ of the run folder: expected the output of the prepare stage",
            hint="run `huggingtweets prepare --run-dir DIR` first",
        )
    if _saved_empty(path / "train"):
        raise _empty_error()
    digest = hashlib.sha256()
    texts = {}
    for split in SPLITS:
        texts[split] = _read_split_texts(path, split, digest)
    if not any(text and text.strip() for text in texts["train"]):
        raise _empty_error()
    return RunPosts(texts=texts, digest=digest.hexdigest())


def _read_split_texts(path: Path, split: str, digest) -> list[str]:
    """One split saved by ``DatasetDict.save_to_disk``: state.json lists its Arrow stream files."""
    import pyarrow as pa

    split_dir = path / split
    state_file = split_dir / "state.json"
    if not state_file.is_file():
        raise _no_split_error(path, split)
    try:
        files = [
            split_dir / entry["filename"]
            for entry in json.loads(state_file.read_text("utf-8"))["_data_files"]
        ]
        texts: list[str] = []
        for file in files:
            data = file.read_bytes()
            digest.update(f"{split}:{len(data)}:".encode())
            digest.update(data)
            table = pa.ipc.open_stream(data).read_all()
            if "text" not in table.column_names:
                raise _no_split_error(path, split)
            texts.extend(table.column("text").to_pylist())
    except StageError:
        raise
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as err:
        raise StageError(
            f"The dataset in {path.name}/ cannot be read ({type(err).__name__}): expected a DatasetDict "
            "saved by the prepare stage",
            hint="run `huggingtweets prepare --run-dir DIR` again",
        ) from err
    return texts


def _no_split_error(path: Path, split: str) -> StageError:
    return StageError(
        f"The dataset in {path.name}/ has no {split!r} split with a 'text' column",
        hint="run `huggingtweets prepare --run-dir DIR` again",
    )


def _empty_error() -> TrainingError:
    return TrainingError(
        "The training split is empty: expected at least one post to train on",
        hint="add posts and run `huggingtweets prepare --run-dir DIR` again",
    )


def _saved_empty(split_dir: Path) -> bool:
    """A saved split with no data files holds no rows."""
    try:
        state = json.loads((split_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return state.get("_data_files") == []


def pack(
    token_lists: list[list[int]], eos_id: int, block_size: int, start_ids: list[int] | None = None
) -> dict[str, list[list[int]]]:
    """Concatenate ``start_ids + post + [EOS]`` for every post and cut into ``block_size`` blocks.

    With ``start_ids == [EOS]`` the EOS ending one post also starts the next (no doubled EOS). The
    last, partial block is padded with EOS whose labels are IGNORE_INDEX, so every real token is
    trained on and padding never counts.
    """
    start_ids = list(start_ids or [])
    stream: list[int] = []
    for ids in token_lists:
        if start_ids and stream[-len(start_ids) :] != start_ids:
            stream.extend(start_ids)
        stream.extend(ids)
        stream.append(eos_id)
    input_ids, labels = [], []
    for start in range(0, len(stream), block_size):
        block = stream[start : start + block_size]
        n_pad = block_size - len(block)
        input_ids.append(block + [eos_id] * n_pad)
        labels.append(block + [IGNORE_INDEX] * n_pad)
    return {"input_ids": input_ids, "labels": labels}


def start_ids(tokenizer, prefix: str | None) -> list[int]:
    """The token ids of a post's start (``BaseModel.prefix``), as the pipeline tokenizes it."""
    return tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []


def _cache_key(tokenizer_dir: Path, posts: RunPosts, block_size: int, prefix: str | None) -> str:
    digest = hashlib.sha256()
    tokenizer_file = Path(tokenizer_dir) / "tokenizer.json"
    digest.update(tokenizer_file.read_bytes() if tokenizer_file.is_file() else str(tokenizer_dir).encode())
    digest.update(f"{posts.digest}:{block_size}:{_CACHE_FORMAT}:{prefix or ''}".encode())
    return digest.hexdigest()[:16]


def tokenize_and_pack(
    posts: RunPosts,
    tokenizer,
    *,
    block_size: int,
    cache_dir: Path,
    tokenizer_dir: Path,
    accelerator,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Blocks for "train" and "validation" as datasets of {"input_ids", "labels"}, plus token counts.

    The main process tokenizes first and writes the blocks to ``cache_dir`` (keyed by the split
    files, the tokenizer and the block size); the other processes, and later runs on the same data,
    read that file instead of repeating the work (accelerate's idiom). ``prefix`` is the token
    each post starts with (``BaseModel.prefix``).
    """
    import torch
    from torch.utils.data import StackDataset

    from huggingtweets.runfolder import atomic_write_bytes

    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise TrainingError("The base model's tokenizer has no EOS token: expected a causal LM tokenizer")
    cache_file = Path(cache_dir) / f"blocks-{_cache_key(tokenizer_dir, posts, block_size, prefix)}.pt"
    first = start_ids(tokenizer, prefix)
    with accelerator.main_process_first():
        tensors = _read_cache(cache_file)
        if tensors is None:
            tensors = {}
            for split in SPLITS:
                # add_special_tokens=False: the start and the EOS around each post are the only special
                # tokens we want.
                # verbose=False: posts are packed into blocks after this, so "sequence longer than
                # the model's maximum" is expected, not a problem.
                ids = tokenizer(posts.texts[split], add_special_tokens=False, verbose=False)["input_ids"]
                blocks = pack(ids, eos_id, block_size, first)
                tensors[split] = {
                    k: torch.tensor(v, dtype=torch.long).reshape(-1, block_size) for k, v in blocks.items()
                }
            if accelerator.is_main_process:
                import io

                buffer = io.BytesIO()
                torch.save(tensors, buffer)
                atomic_write_bytes(cache_file, buffer.getvalue())
    datasets = {split: StackDataset(**tensors[split]) for split in SPLITS}
    counts = {split: int((tensors[split]["labels"] != IGNORE_INDEX).sum()) for split in SPLITS}
    return {**datasets, "tokens": counts}


def _read_cache(path: Path) -> dict | None:
    """The cached blocks, or None when absent or unreadable (then they are computed again)."""
    import torch

    if not path.is_file():
        return None
    try:
        tensors = torch.load(path, weights_only=True)
        if all(set(tensors[s]) == {"input_ids", "labels"} for s in SPLITS):
            return tensors
    except Exception:  # noqa: BLE001 - a truncated or foreign file is only a cache miss
        pass
    return None
