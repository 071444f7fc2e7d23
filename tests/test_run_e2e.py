"""`huggingtweets run` for real: the bundled archive, a tiny model, the local Hub, then pipeline().

Speed: the test tiny GPT-2 (``tiny_base_dir``, a few hundred thousand parameters), one or two
epochs of 64-token blocks, and the in-process local Hub server (``hub`` fixture).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TWO_CPU_PROCESSES, run_cli

from huggingtweets.config import RunConfig
from huggingtweets.errors import CardError, HuggingtweetsError, TrainingError
from huggingtweets.events import StageStarted
from huggingtweets.paths import sample_archive
from huggingtweets.runner import STAGES, read_record, run

pytestmark = pytest.mark.slow

# Trains the test tiny model on the sample archive in a few seconds on 2 cores: 24 steps of
# 8 blocks of 64 tokens (a third of an epoch), three sample posts, and one torch thread: for a
# model this small a second one only adds overhead, much more so on a busy machine.
FAST_TRAIN = {
    "batch_size": 8,
    "block_size": 64,
    "mixed_precision": "no",
    "checkpoint_every": 0,
    "max_steps": 24,
    "cpu_threads": 1,
}
SUBPROCESS_TRAIN = FAST_TRAIN


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """cpu_threads sets torch's process-wide thread count; give the next tests theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def sub_env(hub=None, token: str | None = None) -> dict[str, str]:
    env = hub.env(token) if hub is not None else dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"  # the generate stage and pipeline() too
    return env


LOAD_AS_A_USER = """
import json, sys
from transformers import pipeline
generator = pipeline("text-generation", model=sys.argv[1])
print(json.dumps([o["generated_text"] for o in generator("My dream is", num_return_sequences=5)]))
"""


def run_argv(tiny_base_dir, config: Path, run_dir: Path, *publishing: str) -> list[str]:
    """``run`` on the bundled sample archive with the test tiny base, a bot.yaml and a run folder."""
    source = ["--archive", str(sample_archive()), "--base-model", str(tiny_base_dir), "--config", str(config)]
    return ["run", *source, *publishing, "--run-dir", str(run_dir)]


def sample_handle() -> str:
    from huggingtweets.sources.archive import read_archive

    return read_archive(sample_archive())[0].handle.lower()


def commits(hub, repo_id: str) -> list[str]:
    """Titles of the commits after the one the Hub makes when a repo is created."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    return [c.title for c in api.list_repo_commits(repo_id) if c.title.lower() != "initial commit"]


def repo_exists(hub, repo_id: str) -> bool:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=hub.token).repo_exists(repo_id)


def load_in_a_fresh_process(hub, repo_id: str, tmp_path: Path) -> list[str]:
    env = sub_env(hub, hub.token)  # the bot is private by default: its owner loads it
    env["HF_HOME"] = str(tmp_path / "downstream-hf")
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_AS_A_USER, repo_id],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_log_is_one_event_per_line(text: str) -> None:
    """What `huggingtweets run ... > log 2>&1` leaves: plain lines, each stage started and done in order."""
    import re

    assert "\r" not in text
    lines = text.splitlines()
    names = list(STAGES)
    stage_lines = [m.groups() for m in map(re.compile(r"\[(\d)/6\] (\w+): (.*)").fullmatch, lines) if m]
    assert [name for _, name, text in stage_lines if not text.startswith("done in ")] == names
    assert [name for _, name, text in stage_lines if text.startswith("done in ")] == names
    assert not any("Token indices sequence length" in ln for ln in lines)
    steps = [ln for ln in lines if ln.startswith("train: step ")]
    assert steps and steps[-1].startswith(f"train: step {FAST_TRAIN['max_steps']}/{FAST_TRAIN['max_steps']},")
    assert len(steps) <= FAST_TRAIN["max_steps"]
    # The publish stage's upload: plain lines from 0 bytes to the total.
    uploads = [
        [int(n.replace(",", "")) for n in ln.split()[1:4:2]] for ln in lines if ln.startswith("upload: ")
    ]
    assert uploads[0][0] == 0 and uploads[-1][0] == uploads[-1][1] > 0
    # The libraries' own bars are silenced: their texts never reach the log.
    for bar_text in ("Loading weights", "Tokenizing", "Writing model shards", "it/s]"):
        assert bar_text not in text


def test_run_cli_publishes_a_bot_that_pipeline_loads(tmp_path, hub, tiny_base_dir):
    """The first run's output goes to one file, as `huggingtweets run ... > log 2>&1` leaves it."""
    run_dir, log = tmp_path / "run", tmp_path / "log"
    config = tmp_path / "bot.yaml"
    config.write_text(
        yaml.safe_dump({"epochs": 1, "learning_rate": 3e-3, "samples": 3, "train": SUBPROCESS_TRAIN})
    )
    args = run_argv(tiny_base_dir, config, run_dir, "--org", "huggingtweets", "--endpoint", hub.url)
    with open(log, "wb") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "huggingtweets", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=sub_env(hub, hub.token),
            cwd=tmp_path,
            timeout=600,
        )
    text = log.read_bytes().decode("utf-8")
    assert proc.returncode == 0, text[-3000:]
    assert hub.token not in text
    assert_log_is_one_event_per_line(text)

    handle = sample_handle()
    repo_id = f"huggingtweets/{handle}"
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["ran"] == list(STAGES)
    assert summary["repo_id"] == repo_id and summary["url"] == f"{hub.url}/{repo_id}"
    assert summary["private"] is True
    assert summary["users"][handle]["kept"] > 0
    assert summary["users"][handle]["downloaded"] >= summary["users"][handle]["kept"]
    assert math.isfinite(summary["perplexity"]["last"]) and summary["perplexity"]["last"] > 1
    assert 0 <= summary["memorization_rate"] <= 1
    assert len(summary["samples"]) == 3 and all(isinstance(s, str) for s in summary["samples"])
    # The printed summary says the same.
    assert f"@{handle}: kept {summary['users'][handle]['kept']} of" in text
    assert f"published: {hub.url}/{repo_id} (private)" in text
    assert commits(hub, repo_id) and len(commits(hub, repo_id)) == 1
    from huggingface_hub import HfApi

    info = HfApi(endpoint=hub.url, token=hub.token).model_info(repo_id)
    assert info.private is True and info.pipeline_tag == "text-generation"
    assert "huggingtweets" in (info.tags or [])
    remote = {s.rfilename for s in info.siblings}
    assert {"README.md", "huggingtweets.json", "config.json", "generation_config.json"} <= remote

    posts = load_in_a_fresh_process(hub, repo_id, tmp_path)
    assert len(posts) == 5 and all(p.startswith("My dream is") for p in posts)
    assert not any("<|endoftext|>" in p for p in posts)

    again = run_cli(*args, env=sub_env(hub, hub.token), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["skipped"] == list(STAGES[:-1]) and summary["ran"] == ["publish"]
    assert len(commits(hub, repo_id)) == 1  # publish re-checked the Hub; nothing changed, no commit

    # The bot was deleted since (`huggingtweets delete`): the same command publishes it again.
    HfApi(endpoint=hub.url, token=hub.token).delete_repo(repo_id)
    third = run_cli(*args, env=sub_env(hub, hub.token), cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert json.loads((run_dir / "run_summary.json").read_text())["ran"] == ["publish"]
    assert f"published: {hub.url}/{repo_id} (private)" in third.stdout
    assert HfApi(endpoint=hub.url, token=hub.token).model_info(repo_id).private is True
    assert len(commits(hub, repo_id)) == 1


def base_config(tmp_path: Path, hub, tiny_base_dir, **train) -> RunConfig:
    return RunConfig(
        archives=((str(sample_archive()), None),),
        samples=3,
        train={"base_model": str(tiny_base_dir), "epochs": 1, "learning_rate": 3e-3, **FAST_TRAIN, **train},
        org="huggingtweets",
        endpoint=hub.url if hub is not None else None,
        run_dir=str(tmp_path / "run"),
    )


def test_interrupted_training_resumes_and_a_failed_stage_publishes_nothing(tmp_path, hub, tiny_base_dir):
    import dataclasses

    repo_id = f"huggingtweets/{sample_handle()}"
    run_dir = tmp_path / "run"

    # 1. Training stops after 3 steps with a checkpoint, as a crash or Ctrl-C would leave it.
    stopped = base_config(tmp_path, hub, tiny_base_dir, stop_after_steps=3, checkpoint_every=1)
    with pytest.raises(TrainingError, match="stopped after 3"):
        run(stopped, token=hub.token)
    assert read_record(run_dir, "train")["status"] == "failed"
    assert any((run_dir / "checkpoints").iterdir())
    assert not repo_exists(hub, repo_id)

    # 2. Re-run with a card template that cannot render: training resumes, the card fails,
    #    and nothing reaches the Hub.
    bad_template = tmp_path / "bad.md.j2"
    bad_template.write_text("{{ no_such_value }}\n")
    resumed = base_config(tmp_path, hub, tiny_base_dir, checkpoint_every=1)
    seen: list = []
    with pytest.raises((CardError, HuggingtweetsError)):
        run(dataclasses.replace(resumed, template=str(bad_template)), token=hub.token, events=seen.append)
    reasons = {e.stage: e.reason for e in seen if isinstance(e, StageStarted)}
    assert reasons["train"] == "resuming from the last checkpoint"
    assert reasons["fetch"] == reasons["prepare"] == "already done, skipped"
    training = json.loads((run_dir / "training_summary.json").read_text())
    assert training["resumed"] is True
    assert read_record(run_dir, "card")["status"] == "failed"
    assert read_record(run_dir, "publish") is None
    assert not repo_exists(hub, repo_id)

    # 3. Fixed: only the card and publish run, and the bot is published exactly once.
    result = run(resumed, token=hub.token)
    assert result.ran == ["card", "publish"]
    assert result.skipped == ["fetch", "prepare", "train", "generate"]
    assert len(commits(hub, repo_id)) == 1

    # 4. Once more: nothing to do, no new commit.
    result = run(resumed, token=hub.token)
    assert result.ran == ["publish"] and len(commits(hub, repo_id)) == 1  # re-checked, no new commit


def test_run_under_accelerate_launch_runs_each_stage_once(tmp_path, tiny_base_dir):
    """Two processes over gloo: the main one fetches, prepares, samples and writes the card; both train."""
    import shutil

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which(
        "accelerate"
    )
    if accelerate is None:
        pytest.skip("accelerate launcher not found")
    config = tmp_path / "bot.yaml"
    config.write_text(yaml.safe_dump({"epochs": 1, "learning_rate": 3e-3, "samples": 2, "train": FAST_TRAIN}))
    run_dir = tmp_path / "run"
    args = [accelerate, *TWO_CPU_PROCESSES, *run_argv(tiny_base_dir, config, run_dir, "--no-publish")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=sub_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Run folder:") == 1  # one summary, from the main process
    assert proc.stderr.count("fetch: starting") == 1 and proc.stderr.count("card: starting") == 1
    training = json.loads((run_dir / "training_summary.json").read_text())
    assert training["num_processes"] == 2
    assert {n: read_record(run_dir, n)["status"] for n in STAGES[:-1]} == dict.fromkeys(STAGES[:-1], "done")


def test_ctrl_c_during_training_then_the_same_command_resumes_and_publishes_once(
    tmp_path, hub, tiny_base_dir
):
    import glob
    import signal
    import time

    config = tmp_path / "bot.yaml"
    # The first checkpoint comes after 8 of 24 steps; the next one 8 steps later, so Ctrl-C lands
    # mid-training and far from a checkpoint being written.
    train = {**SUBPROCESS_TRAIN, "max_steps": 24, "checkpoint_every": 8}
    config.write_text(yaml.safe_dump({"epochs": 1, "learning_rate": 3e-3, "samples": 2, "train": train}))
    run_dir = tmp_path / "run"
    args = run_argv(tiny_base_dir, config, run_dir, "--org", "huggingtweets", "--endpoint", hub.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "huggingtweets", *args],
        env=sub_env(hub, hub.token),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # accelerate writes the loop's own state last: once it exists, the first checkpoint is whole.
        pattern = str(run_dir / "checkpoints" / "checkpoint_*" / "custom_checkpoint_0.pkl")
        deadline = time.monotonic() + 240
        while not glob.glob(pattern) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        # Freeze it at once (a fast machine trains dozens of steps a second), queue the Ctrl-C
        # signal, then let it go: it is interrupted right where it was frozen.
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert "Interrupted. Run the same command again to continue." in err
    assert read_record(run_dir, "train")["status"] == "running"
    repo_id = f"huggingtweets/{sample_handle()}"
    assert not repo_exists(hub, repo_id)

    again = run_cli(*args, env=sub_env(hub, hub.token), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "train: resuming from the last checkpoint" in again.stderr
    training = json.loads((run_dir / "training_summary.json").read_text())
    assert training["resumed"] is True and training["steps"] == 24
    assert len(commits(hub, repo_id)) == 1


def test_two_people_make_one_cyborg_bot(tmp_path, hub, tiny_base_dir):
    """An archive and a plain posts file from another network: one bot, both handles in its name."""
    import dataclasses

    posts = Path(__file__).parent / "fixtures" / "run" / "gull_watcher.txt"
    config = dataclasses.replace(
        base_config(tmp_path, hub, tiny_base_dir), posts_files=((str(posts), "gull_watcher"),), samples=2
    )
    result = run(config, token=hub.token)
    handles = sorted([sample_handle(), "gull_watcher"])
    assert sorted(result.summary["users"]) == handles
    assert all(u["kept"] > 0 for u in result.summary["users"].values())
    assert result.summary["repo_id"] == f"huggingtweets/{'-'.join(handles)}"
    card = (tmp_path / "run" / "model" / "README.md").read_text(encoding="utf-8")
    assert "AI CYBORG" in card and "@gull_watcher" in card
    assert len(commits(hub, result.summary["repo_id"])) == 1


def test_cancelled_run_resumes_with_the_same_settings_and_reports_every_stage(tmp_path, tiny_base_dir):
    import dataclasses

    from huggingtweets.errors import Cancelled
    from huggingtweets.events import CancelToken, StageFinished, TrainStep

    config = dataclasses.replace(base_config(tmp_path, None, tiny_base_dir), publish=False, samples=2)
    token = CancelToken()

    def cancel_at_step_4(event):
        if isinstance(event, TrainStep) and event.step == 4:
            token.cancel()

    with pytest.raises(Cancelled):
        run(config, events=cancel_at_step_4, cancel=token)
    run_dir = tmp_path / "run"
    assert read_record(run_dir, "train")["status"] == "cancelled"

    seen: list = []
    result = run(config, events=seen.append)
    names = list(STAGES[:-1])
    assert [e.stage for e in seen if isinstance(e, StageStarted)] == names
    assert [e.stage for e in seen if isinstance(e, StageFinished)] == names
    reasons = {e.stage: e.reason for e in seen if isinstance(e, StageStarted)}
    assert reasons["train"] == "resuming from the last checkpoint"
    steps = [e.step for e in seen if isinstance(e, TrainStep)]
    assert steps == list(range(5, FAST_TRAIN["max_steps"] + 1))
    assert result.ran == ["train", "generate", "card"] and result.resumed


def test_run_endpoint_is_where_a_hub_base_model_comes_from(tmp_path, hub, tiny_base_dir):
    """`run --endpoint URL --base-model owner/name` downloads the base from URL, as HF_ENDPOINT would."""
    import dataclasses

    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("alice/tiny-base", private=False)
    api.upload_folder(repo_id="alice/tiny-base", folder_path=str(tiny_base_dir))
    config = base_config(tmp_path, hub, tiny_base_dir)
    config = dataclasses.replace(
        config,
        publish=False,
        samples=1,
        train=dataclasses.replace(config.train, base_model="alice/tiny-base", max_steps=2),
    )
    assert "HF_ENDPOINT" not in os.environ  # only the run's own setting points at the local Hub
    result = run(config)
    assert result.ran == ["fetch", "prepare", "train", "generate", "card"]
    training = json.loads((tmp_path / "run" / "training_summary.json").read_text())
    assert training["base_model"] == "alice/tiny-base" and training["steps"] == 2
