"""`huggingtweets card` from the command line."""

from __future__ import annotations

import json

from conftest import run_cli
from fixtures_card import CARD_FIXTURES, parse_card


def test_card_command_writes_card_metadata_and_images(card_run_dir):
    proc = run_cli("card", "--run-dir", str(card_run_dir))
    assert proc.returncode == 0, proc.stderr
    model = card_run_dir / "model"
    assert proc.stdout.strip() == f"Wrote {model / 'README.md'}"
    meta = json.loads((model / "huggingtweets.json").read_text())
    assert meta["repo_id"] == "huggingtweets/ada_l-grace_h"  # offline default: the original's org
    assert meta["template_version"] == "2026.12.1"
    assert [u["handle"] for u in meta["users"]] == ["ada_l", "grace_h"]
    card = parse_card((model / "README.md").read_text())
    assert card["header"]["thumbnail"].endswith("/huggingtweets/ada_l-grace_h/resolve/main/predictions.png")
    assert sorted(p.name for p in (model / "avatars").iterdir()) == ["ada_l.png", "grace_h.png"]

    # A custom template; the repo id stays the one rendered last time.
    proc = run_cli(
        "card",
        "--run-dir",
        str(card_run_dir),
        "--template",
        str(CARD_FIXTURES / "templates" / "minimal.md.j2"),
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((model / "huggingtweets.json").read_text())
    assert meta["template_version"] == "test-minimal-1" and meta["repo_id"] == "huggingtweets/ada_l-grace_h"
    assert "Minimal card for huggingtweets/ada_l-grace_h." in (model / "README.md").read_text()


def test_card_command_errors_are_one_line(card_run_dir):
    (card_run_dir / "training_summary.json").unlink()
    proc = run_cli("card", "--run-dir", str(card_run_dir))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "huggingtweets train --run-dir" in proc.stderr
    assert not (card_run_dir / "model" / "README.md").exists()


def test_help_lists_the_card_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    commands = {line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert {"card", "publish", "delete", "cards"} <= commands
    sub = run_cli("cards", "regenerate", "--help")
    for flag in (
        "--author",
        "--filter",
        "--template",
        "--dry-run",
        "--create-pr",
        "--max-commits-per-hour",
        "--endpoint",
    ):
        assert flag in sub.stdout
