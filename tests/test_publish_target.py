"""Where a bot goes is resolved once (one Hub client, one whoami), and a killed first publish is named."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import run_cli
from test_runner import FakeStages

from huggingtweets.config import RunConfig
from huggingtweets.publish import PENDING, inspect_repo
from huggingtweets.runfolder import read_json
from huggingtweets.runner import run

REPO = "huggingtweets/ada_l-grace_h"
WHOAMI = "GET /api/whoami-v2"


def test_a_run_resolves_its_publish_target_once_on_one_client(hub, fault_proxy, tmp_path):
    seen = {}
    fake = FakeStages()
    stages = fake.mapping()

    def publish(ctx):
        seen["target"] = ctx.target
        return {"repo_id": ctx.target.repo_id, "url": "u", "commit": "c", "private": True}

    stages["publish"] = publish
    config = RunConfig(handles=("alice",), run_dir=str(tmp_path / "run"), endpoint=fault_proxy.url)
    result = run(config, token=hub.token, stages=stages)
    target = seen["target"]
    # The token's user (alice) is the namespace; the fetch stage named the bot's one user alice.
    assert (target.repo_id, target.private, target.hub_url) == ("alice/alice", None, "https://huggingface.co")
    assert result.summary["repo_id"] == "alice/alice"
    # The pre-flight's client is the one publish gets: the token's user was asked exactly once.
    assert fault_proxy.seen.count(WHOAMI) == 1
    assert target.client.shown_endpoint == fault_proxy.url


def _publish_cli(run_dir, hub, endpoint, *args):
    (run_dir / "model" / "model.safetensors").write_bytes(b"w")
    env = hub.env(hub.token)
    env["HF_ENDPOINT"] = endpoint
    return [sys.executable, "-m", "huggingtweets", "publish", "--run-dir", str(run_dir), *args], env


def test_a_first_publish_killed_after_creating_the_repo_is_named_by_the_next(hub, fault_proxy, card_run_dir):
    """SIGKILL between create_repo and the first commit (the Hub has no create-with-commit)."""
    gate = fault_proxy.hold(r"^POST /api/models/.*/preupload/")
    argv, env = _publish_cli(card_run_dir, hub, fault_proxy.url, "--org", "huggingtweets")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any("/preupload/" in line for line in fault_proxy.seen):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        gate.set()
    state = inspect_repo(REPO, endpoint=hub.url, token=hub.token)
    assert (state.empty, state.private, state.files) == (True, True, (".gitattributes",))
    assert read_json(card_run_dir / PENDING) == {"repo_id": REPO, "endpoint": fault_proxy.url}

    # Publishing this folder elsewhere says what was left behind and how to remove it.
    argv, env = _publish_cli(card_run_dir, hub, fault_proxy.url, "--repo-id", "huggingtweets/elsewhere")
    other = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stderr
    lines = other.stdout.splitlines()
    assert lines[0].startswith("Created huggingtweets/elsewhere (private): ")
    assert lines[1] == (
        f"Note: an earlier publish from this folder stopped after creating {REPO}, which is still empty "
        f"(private); delete it with: huggingtweets delete {REPO}"
    )
    assert not (card_run_dir / PENDING).exists()  # said once; `delete` describes it from here on

    env = hub.env(hub.token)
    kept = subprocess.run(
        [sys.executable, "-m", "huggingtweets", "delete", REPO],
        input="n\n", capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert kept.returncode != 0
    assert kept.stdout.startswith(f"Delete {REPO} (private, empty: no bot in it, only what the Hub creates")
    gone = run_cli("delete", REPO, "--yes", env=env)
    assert gone.returncode == 0 and gone.stdout.startswith(f"Deleted {REPO} (private, empty")


def test_a_publish_that_completes_the_repo_it_created_clears_the_record(hub, card_run_dir):
    argv, env = _publish_cli(card_run_dir, hub, hub.url, "--org", "huggingtweets")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Created {REPO} (private): ")
    assert "Note:" not in done.stdout
    assert not (card_run_dir / PENDING).exists()


def test_the_run_folder_names_each_path_once_and_a_missing_input_names_its_stage(tmp_path):
    from huggingtweets.errors import StageError
    from huggingtweets.runfolder import LAYOUT, RunFolder
    from huggingtweets.stages import STAGE_LIST

    folder = RunFolder(tmp_path)
    assert (folder.users, folder.model_config) == (
        tmp_path / "users.json",
        tmp_path / "model" / "config.json",
    )
    # Every stage's checked outputs are paths the layout says that stage makes.
    for spec in STAGE_LIST:
        assert set(spec.outputs) <= set(RunFolder.made_by(spec.name)), spec.name
    with pytest.raises(StageError) as err:
        folder.read("users", needed_by="the card")
    assert str(err.value) == (
        f"{tmp_path / 'users.json'} is missing (the card needs it): run stage fetch first"
        f" (run: huggingtweets fetch --run-dir {tmp_path})"
    )
    for name, (rel, stage) in LAYOUT.items():
        with pytest.raises(StageError) as err:
            folder.require(name)
        assert err.value.message == f"{tmp_path / rel} is missing: run stage {stage} first"
