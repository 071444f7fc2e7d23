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


def _whoami(url: str, token: str) -> str:
    req = urllib.request.Request(f"{url}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["name"]


def test_serve_takes_tokens_from_a_file_and_the_environment_not_the_command_line(tmp_path):
    file_secret, env_secret = "hf_from_the_file_123", "hf_from_the_env_456"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"# local Hub tokens\n\n{file_secret}:carol:bots\n")
    tokens.chmod(0o600)
    env = dict(os.environ, HUGGINGTWEETS_HUB_TOKENS=f"{env_secret}:dave  hf_second_789:erin:x,y")
    argv = [sys.executable, "-m", "huggingtweets", "hub", "serve", "--data-dir", str(tmp_path / "d"),
            "--tokens-file", str(tokens)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if not url else url
        assert [_whoami(url, t) for t in (file_secret, env_secret, "hf_second_789")] == [
            "carol",
            "dave",
            "erin",
        ]
        # What `ps` shows of the server: its command line, with no secret in it.
        cmdline = (
            open(f"/proc/{proc.pid}/cmdline", "rb").read().decode()
            if os.path.exists("/proc")
            else " ".join(argv)
        )
        assert file_secret not in cmdline and env_secret not in cmdline and str(tokens) in cmdline
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert file_secret not in err and env_secret not in err


@pytest.mark.parametrize(
    ("where", "message"),
    [("file", "line 2 of the tokens file"), ("env", "a value in HUGGINGTWEETS_HUB_TOKENS")],
)
def test_a_malformed_token_from_a_file_or_the_environment_is_named_by_place_not_by_value(
    tmp_path, where, message
):
    from conftest import run_cli

    bad = "hf_secret_without_user"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"hf_ok:alice\n{bad}\n" if where == "file" else "hf_ok:alice\n")
    env = dict(os.environ, HUGGINGTWEETS_HUB_TOKENS=bad if where == "env" else "")
    result = run_cli(
        "hub", "serve", "--data-dir", str(tmp_path / "d"), "--tokens-file", str(tokens), env=env, timeout=60
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert message in result.stderr and "TOKEN:USER" in result.stderr and bad not in result.stderr


XET_CLIENT = r"""
import json, os
from huggingface_hub import HfApi, hf_hub_download
import importlib.util
from huggingface_hub import constants
def is_xet_available():
    return not constants.HF_HUB_DISABLE_XET and importlib.util.find_spec("hf_xet") is not None
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
