"""Training in a child process: events come back as they happen, cancel is a checkpoint, a crash is one
line, and the parent's process-wide state (threads, loggers, allocator) is the same afterwards."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import Cancelled, StageError, TrainingError
from huggingtweets.events import CancelToken, EpochEnd, TrainStep
from huggingtweets.runfolder import read_json
from huggingtweets.train.checkpoints import checkpoint_folders
from huggingtweets.train.child import _follow_child, child_env, train_in_child


def test_child_reports_each_step_and_returns_the_summary(tmp_path, tiny_base_dir):
    build_fixture_dataset(tmp_path)
    seen = []
    summary = train_in_child(tmp_path, fixture_train_config(tiny_base_dir, epochs=2), events=seen.append)
    steps = [e for e in seen if isinstance(e, TrainStep)]
    epochs = [e for e in seen if isinstance(e, EpochEnd)]
    assert [e.step for e in steps] == list(range(1, summary["steps"] + 1))
    assert [e.epoch for e in epochs] == [1, 2]
    assert all(math.isfinite(e.loss) for e in steps)
    assert summary == read_json(tmp_path / "training_summary.json")
    assert summary["validation_loss"]["last"] < summary["validation_loss"]["initial"]


def test_cancel_checkpoints_in_the_child_then_resume_finishes(tmp_path, tiny_base_dir):
    build_fixture_dataset(tmp_path)
    config = fixture_train_config(tiny_base_dir, epochs=2)
    cancel = CancelToken()
    steps = []

    def on_event(event):
        if isinstance(event, TrainStep):
            steps.append(event.step)
            cancel.cancel()  # SIGINT to the child; it stops at its next step with a checkpoint

    with pytest.raises(Cancelled, match="training cancelled after .* steps; the checkpoint is checkpoints/"):
        train_in_child(tmp_path, config, events=on_event, cancel=cancel)
    saved = checkpoint_folders(tmp_path)
    assert saved and max(saved) >= 0
    assert not (tmp_path / "training_summary.json").exists()
    summary = train_in_child(tmp_path, config, resume=True)
    assert summary["resumed"] is True
    assert summary["steps"] > max(steps)


def test_typed_error_in_the_child_is_the_same_error_in_the_parent(tmp_path, tiny_base_dir):
    # No dataset/: the child's error names the command that makes it, and keeps its type.
    with pytest.raises(StageError, match="huggingtweets prepare"):
        train_in_child(tmp_path, fixture_train_config(tiny_base_dir))


def test_crash_is_one_line_with_the_childs_last_lines_and_no_token():
    script = (
        "import sys; print('not json'); "
        "sys.stderr.write('Traceback (most recent call last):\\n  File x\\n"
        "RuntimeError: boom with hf_abcdefghijklmnopqrstuvwxyz0123\\n'); sys.exit(3)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with pytest.raises(TrainingError) as caught:
        _follow_child(proc, lambda e: None, None)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the training process exited with code 3; its last lines: ")
    assert "RuntimeError: boom with ***" in message and "not json" in message
    assert "hf_abc" not in message


def test_child_leaves_a_launchers_variables_behind(monkeypatch):
    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "29500", "ACCELERATE_X": "1"}.items():
        monkeypatch.setenv(name, value)
    env = child_env("http://127.0.0.1:1")
    assert not {"RANK", "WORLD_SIZE", "MASTER_PORT", "ACCELERATE_X"} & set(env)
    assert env["HF_ENDPOINT"] == "http://127.0.0.1:1"


def test_trainings_with_different_precisions_in_one_parent(tmp_path, tiny_base_dir):
    """accelerate's process-wide state refuses a second precision in one process; each child is fresh."""
    build_fixture_dataset(tmp_path)
    quick = dict(epochs=1, max_steps=2)
    first = train_in_child(tmp_path, fixture_train_config(tiny_base_dir, mixed_precision="no", **quick))
    second = train_in_child(tmp_path, fixture_train_config(tiny_base_dir, mixed_precision="bf16", **quick))
    assert (first["mixed_precision"], second["mixed_precision"]) == ("no", "bf16")
    assert first["steps"] == second["steps"] == 2


# Run in a fresh interpreter: this one's state was changed by the in-process trainings of other tests.
# It reads the process-wide state, trains once through the pipeline's train stage (a child process)
# and once in-process (the contrast: that one does change the state), reading it after each.
STATE_PROBE = r"""
import ctypes, json, logging, sys
from pathlib import Path
import torch
from huggingtweets.config import RunConfig
from huggingtweets.stages import StageContext, _train
from huggingtweets.train import train
from huggingtweets.train.config import TrainConfig

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
LOGGERS = ("", "transformers", "accelerate", "accelerate.utils.other")

def state():
    before = libc.mallinfo2().hblks
    x = torch.ones(64 * 2**20 // 4)  # 64 MiB: its own mapping under glibc's defaults, heap when kept
    mapped = libc.mallinfo2().hblks - before
    del x
    return {
        "threads": torch.get_num_threads(),
        "levels": {name: logging.getLogger(name).level for name in LOGGERS},
        "big_block_mapped": mapped,
    }

run_dir, base, threads = Path(sys.argv[1]), sys.argv[2], torch.get_num_threads()
config = TrainConfig(base_model=base, epochs=1, max_steps=2, batch_size=8, block_size=64, mixed_precision="no",
                     learning_rate=3e-3, cpu_threads=threads + 1)
seen = {"before": state()}
_train(StageContext(config=RunConfig(handles=("x",), train=config), run_dir=run_dir, token=None,
                    endpoint="http://127.0.0.1:1"))
seen["after_child"] = state()
train(run_dir, config)
seen["after_in_process"] = state()
print(json.dumps(seen))
"""


def test_a_training_leaves_the_parents_threads_loggers_and_allocator_as_they_were(tmp_path, tiny_base_dir):
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the allocator is read through glibc's mallinfo2")
    build_fixture_dataset(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", STATE_PROBE, str(tmp_path), str(tiny_base_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["before"]["big_block_mapped"] == 1  # glibc's default, as in tests/test_train_speed.py
    assert seen["after_child"] == seen["before"]
    assert read_json(tmp_path / "training_summary.json")["steps"] == 2
    # The contrast: trained in this process, threads and a library logger's level stay changed.
    changed = seen["after_in_process"]
    assert changed["threads"] == seen["before"]["threads"] + 1
    assert changed["levels"]["accelerate.utils.other"] == 40  # logging.ERROR


def test_child_whose_parent_is_gone_saves_a_checkpoint_and_stops(tmp_path, tiny_base_dir):
    """Its stdin closing (the parent died) is a cancel: no orphan trains on, the next run resumes."""
    import dataclasses

    from huggingtweets.train.child import child_command

    build_fixture_dataset(tmp_path)
    config_file = tmp_path / "train.json"
    config_file.write_text(json.dumps(dataclasses.asdict(fixture_train_config(tiny_base_dir, epochs=50))))
    proc = subprocess.Popen(
        child_command(tmp_path, config_file, resume=False, num_processes=1),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=child_env(None, replies=True),
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"]["kind"] == "train_step" and first["reply"] is True
        proc.stdin.close()  # what the parent's death does to the pipe
        last = json.loads(proc.stdout.read().splitlines()[-1])
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert last["error"]["type"] == "Cancelled"
    assert last["error"]["message"].startswith("training cancelled after 1 of ")
    assert checkpoint_folders(tmp_path) == [0]
