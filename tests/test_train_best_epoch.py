"""The best epoch's weights are what is saved, training stops when validation stops improving, and
the card's samples never show a post copying a training post (drawn again, a bounded number of times).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_train import fixture_train_config, load_train_corpus

from huggingtweets.train.config import TrainConfig
from huggingtweets.train.runtime import TrainState


def _dataset(run_dir: Path, train: list[str], validation: list[str]) -> None:
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {"train": Dataset.from_dict({"text": train}), "validation": Dataset.from_dict({"text": validation})}
    ).save_to_disk(str(run_dir / "dataset"))


def test_train_state_counts_epochs_since_the_best():
    state = TrainState()
    assert [state.finish_epoch(loss) for loss in (3.0, 2.0, 2.5, 2.1, 1.9)] == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert (state.best_epoch, state.best_validation_loss, state.epochs_without_improvement) == (5, 1.9, 0)
    state.finish_epoch(2.0)
    assert state.epochs_without_improvement == 1 and state.best_epoch == 5
    assert TrainState().finish_epoch(None)  # no validation split: every epoch's weights are kept


def test_patience_defaults_per_base_kind():
    assert TrainConfig().early_stop_patience(base_is_tiny=False) == 1
    assert TrainConfig().early_stop_patience(base_is_tiny=True) == 2
    assert TrainConfig(patience=0).early_stop_patience(base_is_tiny=False) == 0


def test_training_stops_when_validation_worsens_and_saves_the_best_epoch(tmp_path, tiny_base_dir):
    import torch
    from safetensors.torch import load_file

    from huggingtweets.train import train

    # Trained on one person, validated on another: validation improves for a while, then the model
    # fits its training person ever more and the other's posts ever less (measured: best at epoch 2).
    corpus = load_train_corpus()
    run_dir = tmp_path / "run"
    _dataset(run_dir, corpus["tidepool_ann"], corpus["maple_coder"])
    config = fixture_train_config(
        tiny_base_dir, epochs=8, patience=1, save_dtype="float32", keep_final_checkpoints=True
    )
    summary = train(run_dir, config)

    losses = [h["validation_loss"] for h in summary["history"]]
    best = summary["best_epoch"]
    assert summary["stopped_early"] is True and summary["patience"] == 1
    assert summary["epochs_completed"] == best + 1 < 8  # one epoch without improvement, then stop
    assert losses[best - 1] == min(losses) < losses[-1]
    assert summary["validation_loss"]["best"] == min(losses)

    # The saved weights are the best epoch's: the epoch-end checkpoint before the last one.
    numbers = sorted(int(p.name.split("_")[1]) for p in (run_dir / "checkpoints").iterdir())
    best_ckpt = load_file(run_dir / "checkpoints" / f"checkpoint_{numbers[-2]}" / "model.safetensors")
    last_ckpt = load_file(run_dir / "checkpoints" / f"checkpoint_{numbers[-1]}" / "model.safetensors")
    saved = load_file(run_dir / "model" / "model.safetensors")
    name = next(k for k in saved if k.endswith("wte.weight"))
    assert torch.equal(saved[name], best_ckpt[name]) and not torch.equal(saved[name], last_ckpt[name])


@pytest.mark.slow
def test_samples_that_copy_a_training_post_are_drawn_again_then_left_out(tmp_path, tiny_base_dir):
    from huggingtweets.generate import MAX_REDRAWS, write_predictions
    from huggingtweets.train import train

    # One post, learnt by heart: every sample copies it.
    post = "Field note: our community garden made my whole day. Never gets old."
    run_dir = tmp_path / "run"
    _dataset(run_dir, [post] * 200, [post] * 4)
    train(run_dir, fixture_train_config(tiny_base_dir, epochs=12, patience=0))
    assert not (run_dir / "checkpoints").exists()  # a finished run keeps only its model
    result = write_predictions(run_dir, prompts=["Field note:"], n_per_prompt=2, seed=0)
    assert result["memorization_rate"] == 1.0
    assert result["redrawn"] == 2 * MAX_REDRAWS and result["withheld"] == 2
    assert result["samples"] == []  # the card shows none of them
    assert json.loads((run_dir / "predictions.json").read_text())["redrawn"] == 2 * MAX_REDRAWS
