"""Every command that writes a run folder: one lock, and a one-line error where it cannot write."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from click.testing import CliRunner

from huggingtweets.cli import main
from huggingtweets.stagerecords import run_lock

POSTS = Path(__file__).parent / "fixtures" / "run" / "gull_watcher.txt"


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def fetch_args(run_dir: Path) -> list[str]:
    return ["fetch", "--posts-file", str(POSTS), "--handle", "gull_watcher", "--run-dir", str(run_dir)]


def run_args(run_dir: Path) -> list[str]:
    return [
        "run",
        "--posts-file",
        str(POSTS),
        "--handle",
        "gull_watcher",
        "--no-publish",
        "--base-model",
        "tiny",
        "--run-dir",
        str(run_dir),
    ]


@pytest.mark.parametrize("args", [fetch_args, run_args], ids=["fetch", "run"])
def test_a_run_dir_under_a_regular_file_is_one_line(tmp_path, args):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = one_error_line(CliRunner().invoke(main, args(blocker / "run")))
    assert line == (
        f"Error: cannot write to run folder {blocker / 'run'}: a part of its path is a file, not a "
        "folder (pass a --run-dir in a writable place)"
    )


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
@pytest.mark.parametrize("command", ["fetch", "prepare", "run"])
def test_a_read_only_run_folder_is_one_line(tmp_path, monkeypatch, command, code):
    """Root ignores permissions in CI containers, so the file system's refusal is simulated at mkdir."""
    run_dir = tmp_path / "run"
    if command == "prepare":
        assert CliRunner().invoke(main, fetch_args(run_dir)).exit_code == 0
    real_mkdir = Path.mkdir

    def refusing_mkdir(self, *a, **kw):
        if str(self).startswith(str(run_dir)) and not self.exists():
            raise OSError(code, "refused", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    if command == "prepare":
        (run_dir / ".stages").rename(run_dir / ".stages-old")  # fetch's lock folder: made again, refused
        args = ["prepare", "--run-dir", str(run_dir)]
    else:
        args = fetch_args(run_dir) if command == "fetch" else run_args(run_dir)
    line = one_error_line(CliRunner().invoke(main, args))
    why = "it is on a read-only file system" if code == errno.EROFS else "permission denied"
    assert (
        line == f"Error: cannot write to run folder {run_dir}: {why} (pass a --run-dir in a writable place)"
    )


@pytest.mark.parametrize("command", ["fetch", "prepare", "train", "card"])
def test_stage_commands_take_the_run_lock(tmp_path, command):
    """While `run` (or any command) writes the folder, a stage command on it is refused."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    args = {
        "fetch": fetch_args(run_dir),
        "prepare": ["prepare", "--run-dir", str(run_dir)],
        "train": ["train", "--run-dir", str(run_dir), "--base-model", "tiny"],
        "card": ["card", "--run-dir", str(run_dir)],
    }[command]
    with run_lock(run_dir):
        line = one_error_line(CliRunner().invoke(main, args))
    assert line.startswith(f"Error: another huggingtweets command is writing to {run_dir}")
    assert not (run_dir / "users.json").exists()


def test_publish_takes_the_run_lock_before_it_renders_or_pushes(tmp_path, hub, monkeypatch):
    """`publish` may render the card again and then uploads the folder: never while another writes it."""
    monkeypatch.setenv("HF_TOKEN", hub.token)
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    with run_lock(run_dir):
        line = one_error_line(
            CliRunner().invoke(
                main, ["publish", "--run-dir", str(run_dir), "--repo-id", "alice/gull", "--endpoint", hub.url]
            )
        )
    assert line.startswith(f"Error: another huggingtweets command is writing to {run_dir}")
    assert not (run_dir / "model" / "README.md").exists()
    # Nothing reached the Hub's storage: no repo record, no commit.
    assert [p for p in (hub.data_dir / "repos").rglob("*") if p.is_file()] == []
    assert [p for p in (hub.data_dir / "commits").rglob("*") if p.is_file()] == []
