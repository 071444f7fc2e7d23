"""Posts -> token blocks: each post followed by EOS, all of them packed into fixed-length blocks.

Packing means no compute goes to padding (per-post padding wasted 42% here). Attention does cross
post boundaries inside a block, as in GPT-2's own pre-training: the EOS before each post is the
model's cue that a new post starts, previous posts of the same person are useful style context,
and a block-diagonal mask would force SDPA off its fast causal kernel on CPU. Only the final
block of a split is padded, and its padding is masked out of the loss (label -100).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from huggingtweets.errors import StageError, TrainingError

IGNORE_INDEX = -100  # label value the loss skips (PyTorch cross-entropy convention)


def load_run_dataset(run_dir: Path):
    """The prepared DatasetDict (splits "train", "validation"; column "text")."""
    from datasets import load_from_disk

    path = Path(run_dir) / "dataset"
    if not path.is_dir():
        raise StageError(
            f"No dataset in {path.name}/ of the run folder: expected the output of the prepare stage",
            hint="run `huggingtweets prepare --run-dir DIR` first",
        )
    if _saved_empty(path / "train"):
        raise _empty_error()
    try:
        dataset = load_from_disk(str(path))
    except Exception as err:  # datasets raises IndexError, FileNotFoundError, ValueError... for bad folders
        raise StageError(
            f"The dataset in {path.name}/ cannot be read ({type(err).__name__}): expected a DatasetDict "
            "saved by the prepare stage",
            hint="run `huggingtweets prepare --run-dir DIR` again",
        ) from err
    for split in ("train", "validation"):
        if split not in dataset or "text" not in dataset[split].column_names:
            raise StageError(
                f"The dataset in {path.name}/ has no {split!r} split with a 'text' column",
                hint="run `huggingtweets prepare --run-dir DIR` again",
            )
    if not any(text and text.strip() for text in dataset["train"]["text"]):
        raise _empty_error()
    return dataset


def _empty_error() -> TrainingError:
    return TrainingError(
        "The training split is empty: expected at least one post to train on",
        hint="add posts and run `huggingtweets prepare --run-dir DIR` again",
    )


def _saved_empty(split_dir: Path) -> bool:
    """A saved split with no data files holds no rows (and datasets cannot even load it)."""
    import json

    try:
        state = json.loads((split_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return state.get("_data_files") == []


def pack(token_lists: list[list[int]], eos_id: int, block_size: int) -> dict[str, list[list[int]]]:
    """Concatenate ``post + [EOS]`` for every post and cut into ``block_size`` blocks.

    The last, partial block is padded with EOS whose labels are IGNORE_INDEX, so every real token
    is trained on and padding never counts.
    """
    stream: list[int] = []
    for ids in token_lists:
        stream.extend(ids)
        stream.append(eos_id)
    input_ids, labels = [], []
    for start in range(0, len(stream), block_size):
        block = stream[start : start + block_size]
        n_pad = block_size - len(block)
        input_ids.append(block + [eos_id] * n_pad)
        labels.append(block + [IGNORE_INDEX] * n_pad)
    return {"input_ids": input_ids, "labels": labels}


def _cache_key(tokenizer_dir: Path, split, block_size: int) -> str:
    digest = hashlib.sha256()
    digest.update(
        (Path(tokenizer_dir) / "tokenizer.json").read_bytes()
        if (Path(tokenizer_dir) / "tokenizer.json").is_file()
        else str(tokenizer_dir).encode()
    )
    digest.update(f"{split._fingerprint}:{block_size}".encode())
    return digest.hexdigest()[:16]


def tokenize_and_pack(
    dataset, tokenizer, *, block_size: int, cache_dir: Path, tokenizer_dir: Path, accelerator
) -> dict[str, Any]:
    """Blocks for "train" and "validation" as torch-formatted datasets, plus token counts.

    The main process tokenizes first and writes an Arrow cache under ``cache_dir``; the other
    processes then read that cache instead of repeating the work (accelerate's idiom).
    """
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise TrainingError("The base model's tokenizer has no EOS token: expected a causal LM tokenizer")

    def tokenize(batch):
        # add_special_tokens=False: the EOS after each post is the only special token we want.
        # verbose=False: posts are packed into blocks after this, so "sequence longer than the
        # model's maximum" (the whole split in one batch) is expected, not a problem.
        ids = tokenizer(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]
        return pack(ids, eos_id, block_size)

    cache_dir.mkdir(parents=True, exist_ok=True)
    blocks = {}
    with accelerator.main_process_first():
        for split in ("train", "validation"):
            part = dataset[split]
            blocks[split] = part.map(
                tokenize,
                batched=True,
                # One batch = the whole split, so packing only ever pads the split's last block.
                batch_size=max(1, len(part)),
                remove_columns=part.column_names,
                cache_file_name=str(
                    cache_dir / f"{split}-{_cache_key(tokenizer_dir, part, block_size)}.arrow"
                ),
                desc=f"Tokenizing {split}",
            ).with_format("torch")
    counts = {
        split: int((blocks[split][:]["labels"] != IGNORE_INDEX).sum()) if len(blocks[split]) else 0
        for split in blocks
    }
    return {"train": blocks["train"], "validation": blocks["validation"], "tokens": counts}
