"""Fixtures of the train stage (loaded by conftest as a plugin).

- ``train_corpus``: the small invented corpus in tests/fixtures/train/ as {handle: [posts]}.
- ``build_fixture_dataset(run_dir)``: writes DIR/dataset (DatasetDict "train"/"validation" with
  "text" and "handle" columns) from that corpus, without the data stage's code.
- ``tiny_base_dir`` (session): a very small tiny GPT-2 built from the corpus (for speed in tests).
- ``trained_run_dir`` (session): a complete small trained run folder: dataset/, model/,
  training_summary.json, predictions.json from the generate stage (copy it before modifying it).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

TRAIN_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "train"

# Small enough that a test trains in seconds on 2 cores, big enough to learn the corpus visibly.
TEST_TINY = {"vocab_size": 512, "n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": 128}


def load_train_corpus() -> dict[str, list[str]]:
    corpus = {}
    for path in sorted(TRAIN_FIXTURES.glob("*.txt")):
        corpus[path.stem] = [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    return corpus


def build_fixture_dataset(run_dir: Path, *, seed: int = 0, validation_share: float = 0.1) -> Path:
    """Write ``run_dir/dataset`` as the prepare stage would (shuffled, split, not oversampled)."""
    from datasets import Dataset, DatasetDict

    rows = [(text, handle) for handle, posts in load_train_corpus().items() for text in posts]
    random.Random(seed).shuffle(rows)
    n_val = max(2, int(len(rows) * validation_share))
    val, train = rows[:n_val], rows[n_val:]

    def as_dataset(part):
        return Dataset.from_dict({"text": [t for t, _ in part], "handle": [h for _, h in part]})

    out = Path(run_dir) / "dataset"
    DatasetDict({"train": as_dataset(train), "validation": as_dataset(val)}).save_to_disk(str(out))
    return out


@pytest.fixture(scope="session")
def train_corpus() -> dict[str, list[str]]:
    return load_train_corpus()


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    from huggingtweets.train.tiny import build_tiny_base

    texts = [t for posts in load_train_corpus().values() for t in posts]
    return build_tiny_base(texts, tmp_path_factory.mktemp("tiny-base") / "tiny", seed=0, **TEST_TINY)


def fixture_train_config(base_model: Path | str, **overrides):
    """A TrainConfig that trains the test tiny model in a few seconds on 2 cores."""
    from huggingtweets.train.config import TrainConfig

    knobs = dict(
        base_model=str(base_model),
        epochs=8,
        learning_rate=3e-3,
        batch_size=8,
        block_size=64,
        seed=0,
        mixed_precision="no",
        checkpoint_every=0,
        # One thread: with other work on the 2 cores, two threads of a tiny model spin-wait (10x slower).
        cpu_threads=1,
    )
    knobs.update(overrides)
    return TrainConfig(**knobs)


@pytest.fixture(scope="session")
def trained_run_dir(tmp_path_factory, tiny_base_dir) -> Path:
    from huggingtweets.train import train

    run_dir = tmp_path_factory.mktemp("trained-run") / "maple_coder-tidepool_ann"
    build_fixture_dataset(run_dir)
    train(run_dir, fixture_train_config(tiny_base_dir))
    from huggingtweets.generate import write_predictions

    write_predictions(run_dir, n_samples=10, seed=0)  # the generate stage's file, as a run leaves it
    return run_dir
