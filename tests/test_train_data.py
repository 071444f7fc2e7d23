"""The train stage's data path: posts read without `datasets`, packed blocks cached as tensors."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import StageError
from huggingtweets.train.data import IGNORE_INDEX, load_run_dataset, pack, tokenize_and_pack


class _OneProcess:
    """What tokenize_and_pack asks of accelerate's Accelerator, for a single process."""

    is_main_process = True

    @contextlib.contextmanager
    def main_process_first(self):
        yield


def test_posts_are_read_as_saved_and_the_digest_follows_the_data(tmp_path):
    from datasets import load_from_disk

    build_fixture_dataset(tmp_path)
    posts = load_run_dataset(tmp_path)
    saved = load_from_disk(str(tmp_path / "dataset"))
    assert posts.texts == {split: saved[split]["text"] for split in ("train", "validation")}

    other = tmp_path / "other"
    build_fixture_dataset(other, seed=1)  # same posts, another split
    assert load_run_dataset(other).digest != posts.digest
    assert load_run_dataset(tmp_path).digest == posts.digest


def test_an_unreadable_split_file_is_a_stage_error(tmp_path):
    build_fixture_dataset(tmp_path)
    (data,) = (tmp_path / "dataset" / "validation").glob("*.arrow")
    data.write_bytes(b"not arrow at all")
    with pytest.raises(StageError, match=r"^The dataset in dataset/ cannot be read \(Arrow"):
        load_run_dataset(tmp_path)


def test_blocks_are_cached_per_block_size_and_read_back_equal(tmp_path, tiny_base_dir):
    from transformers import AutoTokenizer

    build_fixture_dataset(tmp_path)
    posts = load_run_dataset(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, tokenizer_dir=tiny_base_dir, accelerator=_OneProcess())

    first = tokenize_and_pack(posts, tokenizer, block_size=32, **kwargs)
    (cached,) = cache.glob("blocks-*.pt")
    ids = tokenizer(posts.texts["train"], add_special_tokens=False)["input_ids"]
    expected = pack(ids, tokenizer.eos_token_id, 32)
    assert first["train"][:]["input_ids"].tolist() == expected["input_ids"]
    assert first["train"][0]["labels"].tolist() == expected["labels"][0]
    assert first["tokens"]["train"] == sum(len(x) + 1 for x in ids)

    # A changed cache file is what a second run gets: proof that it reads the file, not the posts.
    import torch

    tensors = torch.load(cached, weights_only=True)
    tensors["train"]["labels"][0, :] = IGNORE_INDEX
    torch.save(tensors, cached)
    again = tokenize_and_pack(posts, tokenizer, block_size=32, **kwargs)
    assert again["tokens"]["train"] == first["tokens"]["train"] - 32

    other = tokenize_and_pack(posts, tokenizer, block_size=16, **kwargs)
    assert len(list(cache.glob("blocks-*.pt"))) == 2
    assert other["train"][0]["input_ids"].shape == (16,)

    cached.write_bytes(b"truncated")  # an unreadable cache is computed again, not an error
    assert tokenize_and_pack(posts, tokenizer, block_size=32, **kwargs)["tokens"] == first["tokens"]


def test_a_second_train_with_a_warm_cache_does_not_import_datasets(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    config = fixture_train_config(tiny_base_dir, epochs=1, max_steps=1)
    first = train(tmp_path, config)
    (cached,) = (tmp_path / ".cache" / "tokens").glob("blocks-*.pt")
    written = cached.stat().st_mtime_ns

    script = (
        "import json, sys\n"
        "from huggingtweets.train import train\n"
        "from huggingtweets.train.config import TrainConfig\n"
        f"summary = train({str(tmp_path)!r}, TrainConfig(**json.loads({json.dumps(json.dumps(dataclasses.asdict(config)))})))\n"
        "print(json.dumps({'datasets': 'datasets' in sys.modules, 'pandas': 'pandas' in sys.modules,"
        " 'tokens': summary['train_tokens_per_epoch']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"datasets": False, "pandas": False, "tokens": first["train_tokens_per_epoch"]}
    assert cached.stat().st_mtime_ns == written  # read, not written again
