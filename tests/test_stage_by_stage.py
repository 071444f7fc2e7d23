"""The stages one by one, as README and `--help` describe them: fetch, prepare, train, then the card's
samples (`generate --for-card`, or `card` making them itself) and card, then publish to the local Hub."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import run_cli
from test_run_e2e import FAST_TRAIN, commits, sample_handle, sub_env

from huggingtweets.card import write_card
from huggingtweets.errors import StageError
from huggingtweets.paths import sample_archive

pytestmark = pytest.mark.slow
TRAIN_FLAGS = [
    *("--epochs", "1", "--learning-rate", "3e-3", "--seed", "7"),
    *(f"--{key.replace('_', '-')}={value}" for key, value in FAST_TRAIN.items()),
]


def ok(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def card_header(readme: str) -> dict:
    return yaml.safe_load(readme.split("---\n")[1])


def test_stage_by_stage_up_to_publish(tmp_path, hub, tiny_base_dir):
    env = sub_env(hub, hub.token)
    run_dir = tmp_path / "run"
    ok(run_cli("fetch", "--archive", str(sample_archive()), "--run-dir", str(run_dir), env=env, cwd=tmp_path))
    ok(run_cli("prepare", "--run-dir", str(run_dir), env=env, cwd=tmp_path))
    ok(
        run_cli(
            "train",
            "--run-dir",
            str(run_dir),
            "--base-model",
            str(tiny_base_dir),
            *TRAIN_FLAGS,
            env=env,
            cwd=tmp_path,
        )
    )
    assert not (run_dir / "predictions.json").exists()
    other, straight = tmp_path / "other", tmp_path / "straight"
    shutil.copytree(run_dir, other)
    shutil.copytree(run_dir, straight)

    # What `card` said before: predictions.json is missing, naming a command that now writes it.
    with pytest.raises(StageError) as missing:
        write_card(run_dir, repo_id="huggingtweets/x")
    assert missing.value.hint == f"run: huggingtweets generate --for-card --run-dir {run_dir}"

    # 1. The command the error names, then card, then publish.
    gen = ok(run_cli("generate", "--for-card", "--run-dir", str(run_dir), "-n", "4", env=env, cwd=tmp_path))
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert len(predictions["samples"]) == 4 and 0 <= predictions["memorization_rate"] <= 1
    assert gen.stdout.splitlines() == [" ".join(s["text"].split()) for s in predictions["samples"]]
    assert (
        gen.stderr.strip().splitlines()[-1].startswith(f"Wrote {run_dir / 'predictions.json'} (4 samples, ")
    )
    card = ok(run_cli("card", "--run-dir", str(run_dir), env=env, cwd=tmp_path))
    assert "Sampled" not in card.stderr  # the samples above are the card's
    meta = json.loads((run_dir / "model" / "huggingtweets.json").read_text())
    assert [s["text"] for s in meta["predictions"]["samples"]] == [s["text"] for s in predictions["samples"]]

    repo_id = f"huggingtweets/{sample_handle()}"
    pub = ok(
        run_cli(
            "publish", "--run-dir", str(run_dir), "--org", "huggingtweets", "--endpoint", hub.url, env=env
        )
    )
    assert pub.stdout.startswith(f"Created {repo_id} (private): ")
    assert len(commits(hub, repo_id)) == 1 and hub.token not in pub.stdout + pub.stderr
    from huggingface_hub import hf_hub_download

    published = json.loads(
        open(hf_hub_download(repo_id, "huggingtweets.json", endpoint=hub.url, token=hub.token)).read()
    )
    assert published["repo_id"] == repo_id
    assert [s["text"] for s in published["predictions"]["samples"]] == [
        s["text"] for s in predictions["samples"]
    ]
    readme = open(hf_hub_download(repo_id, "README.md", endpoint=hub.url, token=hub.token)).read()
    assert "huggingtweets" in card_header(readme)["tags"]

    # 2. Straight from train to card: the card samples its posts itself, as `run` would (10, seed 7).
    card = ok(run_cli("card", "--run-dir", str(other), env=env, cwd=tmp_path))
    assert f"Sampled 10 posts for the card into {other / 'predictions.json'}" in card.stderr
    made = json.loads((other / "predictions.json").read_text())
    assert len(made["samples"]) == 10
    assert [
        s["text"]
        for s in json.loads((other / "model" / "huggingtweets.json").read_text())["predictions"]["samples"]
    ] == [s["text"] for s in made["samples"]]


def test_generate_for_card_refuses_a_prompt(tmp_path):
    (tmp_path / "run").mkdir()
    proc = run_cli("generate", "--for-card", "--run-dir", str(tmp_path / "run"), "Hello")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: PROMPT 'Hello' given with --for-card: the card's samples use fixed prompts "
        f"(huggingtweets generate --run-dir {tmp_path / 'run'} --for-card)"
    ]
