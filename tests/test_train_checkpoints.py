"""Atomic checkpoints: a kill mid-write never breaks --resume."""

from __future__ import annotations

import shutil

import pytest
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import TrainingError
from huggingtweets.train.checkpoints import (
    checkpoint_folders,
    is_complete_checkpoint,
    remove_broken_checkpoints,
)


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def _fake_checkpoint(
    folder, *, files=("model.safetensors", "random_states_0.pkl", "custom_checkpoint_0.pkl")
):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"x" * 8)
    return folder


def test_only_complete_checkpoints_count_and_leftovers_are_removed(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    _fake_checkpoint(checkpoints / "checkpoint_0")
    _fake_checkpoint(checkpoints / "checkpoint_1")
    _fake_checkpoint(checkpoints / ".tmp-checkpoint_2")  # complete files, but never renamed: not committed
    _fake_checkpoint(checkpoints / "checkpoint_3", files=("model.safetensors", "random_states_0.pkl"))
    _fake_checkpoint(checkpoints / "checkpoint_4", files=("random_states_0.pkl", "custom_checkpoint_0.pkl"))
    empty = _fake_checkpoint(checkpoints / "checkpoint_5")
    (empty / "custom_checkpoint_0.pkl").write_bytes(b"")  # truncated by a kill
    (checkpoints / "notes.txt").write_text("not a checkpoint")

    assert checkpoint_folders(tmp_path) == [0, 1]
    assert checkpoint_folders(tmp_path, complete_only=False) == [0, 1, 3, 4, 5]
    assert not is_complete_checkpoint(checkpoints / "missing")
    removed = remove_broken_checkpoints(tmp_path)
    assert removed == [".tmp-checkpoint_2", "checkpoint_3", "checkpoint_4", "checkpoint_5"]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint_0", "checkpoint_1", "notes.txt"]
    assert remove_broken_checkpoints(tmp_path / "nowhere") == []


class SimulatedKill(RuntimeError):
    pass


def test_kill_during_checkpoint_write_resumes_from_last_complete(tmp_path, tiny_base_dir, monkeypatch):
    from huggingtweets.train import checkpoints as checkpointing
    from huggingtweets.train import train

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    build_fixture_dataset(whole)
    shutil.copytree(whole / "dataset", parts / "dataset")
    config = fixture_train_config(
        tiny_base_dir, epochs=2, checkpoint_every=2, keep_checkpoints=2, keep_final_checkpoints=True
    )
    expected = train(whole, config)
    finished = whole / "checkpoints"
    assert all(is_complete_checkpoint(p) for p in finished.iterdir())
    assert len(checkpoint_folders(whole)) == 2 and not list(finished.glob(".tmp-*"))

    # The third checkpoint dies once accelerate has written every file, before our rename publishes
    # it: what a kill there leaves (our own step, so nothing inside accelerate is patched).
    original, calls = checkpointing._fsync_tree, []

    def dying_fsync_tree(folder):
        calls.append(folder)
        if len(calls) == 3:
            raise SimulatedKill("killed before the checkpoint was renamed")
        return original(folder)

    monkeypatch.setattr(checkpointing, "_fsync_tree", dying_fsync_tree)
    with pytest.raises(SimulatedKill):
        train(parts, config)
    monkeypatch.undo()
    checkpoints = parts / "checkpoints"
    partial = checkpoints / ".tmp-checkpoint_2"
    assert is_complete_checkpoint(partial)  # every file written, but never renamed: not committed
    assert checkpoint_folders(parts) == [0, 1]
    # Plus a newer folder cut off mid-write the old, non-atomic way (weights truncated, state missing):
    # loading it would fail, so resume must skip it.
    broken = checkpoints / "checkpoint_7"
    shutil.copytree(checkpoints / "checkpoint_1", broken)
    (broken / "custom_checkpoint_0.pkl").unlink()
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    resumed = train(
        parts,
        fixture_train_config(tiny_base_dir, epochs=2, checkpoint_every=2, keep_final_checkpoints=True),
        resume=True,
    )
    assert resumed["steps"] == expected["steps"] and resumed["tokens_seen"] == expected["tokens_seen"]
    assert resumed["validation_loss"]["last"] == pytest.approx(expected["validation_loss"]["last"], abs=1e-5)
    a, b = _tensors(whole / "model/model.safetensors"), _tensors(parts / "model/model.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    # The leftovers are gone; the checkpoints kept are the same steps as the uninterrupted run's.
    assert sorted(p.name for p in checkpoints.iterdir()) == sorted(p.name for p in finished.iterdir())
    assert all(is_complete_checkpoint(p) for p in checkpoints.iterdir())


def test_resume_with_only_broken_checkpoints_is_an_error(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    _fake_checkpoint(tmp_path / "checkpoints" / ".tmp-checkpoint_0")
    with pytest.raises(TrainingError, match=r"holds no checkpoint \(none written completely\)"):
        train(tmp_path, fixture_train_config(tiny_base_dir), resume=True)
    assert not (tmp_path / "checkpoints" / ".tmp-checkpoint_0").exists()


def test_epoch_end_step_is_checkpointed_once(tmp_path, tiny_base_dir, trained_run_dir, monkeypatch):
    """With checkpoint_every == steps per epoch, each epoch's last step is saved once, not twice."""
    from huggingtweets.runfolder import read_json
    from huggingtweets.train import loop, train

    trained = read_json(trained_run_dir / "training_summary.json")["hyperparameters"]
    steps_per_epoch = trained["total_steps"] // trained["epochs"]  # same corpus, base and batch size
    saved_at = []
    real_save = loop.save_checkpoint

    def counting_save(accelerator, run_dir, **kwargs):
        state = next(o for o in accelerator._custom_objects if hasattr(o, "global_step"))
        saved_at.append(state.global_step)
        return real_save(accelerator, run_dir, **kwargs)

    monkeypatch.setattr(loop, "save_checkpoint", counting_save)
    build_fixture_dataset(tmp_path)
    config = fixture_train_config(
        tiny_base_dir,
        epochs=2,
        checkpoint_every=steps_per_epoch,
        keep_checkpoints=10,
        keep_final_checkpoints=True,
    )
    summary = train(tmp_path, config)
    assert summary["steps"] == 2 * steps_per_epoch
    assert saved_at == [steps_per_epoch, 2 * steps_per_epoch]
    assert len(checkpoint_folders(tmp_path)) == 2
