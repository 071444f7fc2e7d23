"""The console script's prompt exit: exit codes kept, output flushed, exit handlers run, teardown skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT, run_cli


def test_python_m_keeps_exit_codes_and_flushes_piped_output(tmp_path):
    version = run_cli("--version")
    assert version.returncode == 0 and "version" in version.stdout  # stdout is a pipe: flushed
    missing = run_cli("train", "--run-dir", str(tmp_path / "nothing-here"))
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
    usage = run_cli("train", "--no-such-flag")
    assert usage.returncode == 2 and "No such option" in usage.stderr  # click's usage error


def _entry_with(body: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``cli.entry()`` in a fresh interpreter with ``main`` replaced by one that ends with ``body``."""
    script = textwrap.dedent(
        f"""
        import atexit, sys
        from pathlib import Path
        import huggingtweets.cli as cli

        out = Path({str(tmp_path)!r})

        class Teardown:  # written only if the interpreter tears its modules down
            def __del__(self):
                (out / "teardown").write_text("ran")

        keep = Teardown()

        def fake_main():
            atexit.register(lambda: (out / "handler").write_text("ran"))
            print("printed", end="")  # no newline: stays in the buffer until flushed
            BODY

        cli.main = fake_main
        cli.entry()
        """
    ).replace("BODY", body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("pass", 0),
        ("sys.exit(1)", 1),
        ("sys.exit(130)", 130),
        ("raise RuntimeError('boom')", 1),
    ],
)
def test_entry_exits_with_the_commands_code_after_the_handlers_without_teardown(tmp_path, body, code):
    done = _entry_with(body, tmp_path)
    assert done.returncode == code, done.stderr
    assert done.stdout == "printed"  # flushed before the exit
    assert (tmp_path / "handler").read_text() == "ran"  # handlers registered by the command still run
    assert not (tmp_path / "teardown").exists()  # the 1-1.5 s interpreter teardown is skipped
    if code == 1 and "boom" in body:
        assert "RuntimeError: boom" in done.stderr
