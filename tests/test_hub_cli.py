"""``huggingtweets hub serve`` as a process, and the Xet trade-off with a client at its defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

ALICE = "hf_test_alice_write"


def test_serve_prints_url_serves_and_never_logs_tokens(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huggingtweets",
            "hub",
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            "--token",
            f"{ALICE}:alice:huggingtweets",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log_lines: list[str] = []
    reader = threading.Thread(target=lambda: log_lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        url = proc.stdout.readline().strip()  # printed and flushed as soon as it listens
        assert url.startswith("http://127.0.0.1:")
        req = urllib.request.Request(f"{url}/api/whoami-v2", headers={"Authorization": f"Bearer {ALICE}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["name"] == "alice"
        deadline = time.monotonic() + 10  # the request is logged just after the reply is sent
        while not any("GET /api/whoami-v2 200 alice" in line for line in log_lines):
            assert time.monotonic() < deadline, log_lines
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=10)
    assert proc.returncode == 0 and "Stopped." in log_lines[-1]  # SIGTERM shuts down cleanly
    assert not any(ALICE in line for line in log_lines)
    assert (tmp_path / "data" / "repos").is_dir()


def test_serve_rejects_a_malformed_token_spec(tmp_path):
    from conftest import run_cli

    result = run_cli(
        "hub", "serve", "--data-dir", str(tmp_path / "d"), "--token", "secret-without-user", timeout=60
    )
    assert result.returncode == 1
    assert "TOKEN:USER" in result.stderr and "secret-without-user" not in result.stderr


XET_CLIENT = r"""
import json, os
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.utils._runtime import is_xet_available
api = HfApi()
api.create_repo("alice/x", exist_ok=True)
os.makedirs("f", exist_ok=True)
data = os.urandom(2_000_000)
open("f/big.bin", "wb").write(data)
try:
    api.upload_folder(repo_id="alice/x", folder_path="f")
    same = open(hf_hub_download("alice/x", "big.bin"), "rb").read() == data
    open("f/card.md", "w").write("regenerated")  # the streamed pipeline opens PRs via discussions
    pr = api.upload_folder(repo_id="alice/x", folder_path="f", create_pr=True)
    in_pr = "card.md" in api.list_repo_files("alice/x", revision=pr.pr_revision)
    print(json.dumps({"xet": is_xet_available(), "ok": same, "pr": pr.pr_revision, "in_pr": in_pr}))
except Exception as err:
    print(json.dumps({"xet": is_xet_available(), "error": str(err)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("lfs_threshold", [None, 1000])
def test_client_left_at_defaults_uses_xet_and_still_succeeds_in_regular_mode(tmp_path, lfs_threshold):
    from huggingtweets.hub.server import HubServer

    with HubServer(tmp_path / "d", tokens=[f"{ALICE}:alice"], lfs_threshold=lfs_threshold) as server:
        env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
        env.update(HF_ENDPOINT=server.url, HF_TOKEN=ALICE, HF_HOME=str(tmp_path / "hf"))
        result = subprocess.run(
            [sys.executable, "-c", XET_CLIENT],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["xet"] is True  # hf_xet is installed and not disabled: the client would pick Xet for lfs files
    if lfs_threshold is None:
        # every file answered "regular": Xet is never needed
        assert out == {"xet": True, "ok": True, "pr": "refs/pr/1", "in_pr": True}
    else:
        assert "xet-write-token" in out["error"] and "501" in out["error"]  # we do not speak Xet
