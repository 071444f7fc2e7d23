"""Test habits shared by the whole suite.

- Every test gets its own HF_HOME, cache and blank tokens (house rule 7): nothing touches the
  real user's tokens, cache or network.
- ``hub``: a local Hub server (``huggingtweets.hub.server.HubServer``) on a free loopback port,
  with a write token for user ``alice`` (member of org ``huggingtweets``) and one for ``bob``.
- ``shared_dir``: ``../shared`` beside the checkout; tests that need it skip where it is absent
  (a user's clone has none).
- Area fixtures live in ``fixtures_<area>.py`` beside this file, loaded as plugins.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# huggingface_hub reads HF_HUB_DISABLE_XET once, when it is imported, and picks Xet uploads when
# hf_xet is installed; the local Hub speaks LFS. Set before any test module imports the client, so
# no test patches huggingface_hub.constants (the seam is the endpoint passed to HubClient).
os.environ["HF_HUB_DISABLE_XET"] = "1"

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

pytest_plugins = ["fixtures_data", "fixtures_train", "fixtures_card"]

SECRET_VARS = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "X_BEARER_TOKEN",
    "TWITTER_BEARER_TOKEN",
    "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
    "WANDB_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolate_user_state(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("HUGGINGTWEETS_HOME", str(home / "huggingtweets"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    yield


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"needs ../shared beside the checkout ({SHARED_DIR} is absent in this clone)")
    return SHARED_DIR


from localhub import ALICE_TOKEN, BOB_TOKEN, hub_server  # noqa: E402  (after HF_HUB_DISABLE_XET is set)


@dataclass
class LocalHub:
    url: str
    token: str
    other_token: str
    data_dir: Path
    server: object

    def env(self, token: str | None = None) -> dict[str, str]:
        """Environment for a subprocess that must talk to this server with the real clients."""
        env = dict(os.environ)
        env.update(
            HF_ENDPOINT=self.url,
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            PYTHONPATH=str(REPO_ROOT),
        )
        if token is not None:
            env["HF_TOKEN"] = token
        return env


@pytest.fixture
def hub(tmp_path):
    server = hub_server(tmp_path / "hubdata")
    server.start()
    try:
        yield LocalHub(server.url, ALICE_TOKEN, BOB_TOKEN, tmp_path / "hubdata", server)
    finally:
        server.stop()


# `accelerate launch` arguments for two gloo processes on a CPU-only machine, then the module to run.
TWO_CPU_PROCESSES = [
    *("launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"),
    *("--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"),
    *("-m", "huggingtweets"),
]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 600):
    """Run ``python -m huggingtweets ARGS`` in a subprocess; returns CompletedProcess."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "huggingtweets", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
