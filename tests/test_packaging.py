"""The wheel carries what the installed tool needs at run time: templates and the sample archive."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_templates_and_sample_archive(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("huggingtweets-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        templates = sorted(
            p.relative_to(REPO_ROOT) for p in (REPO_ROOT / "templates").rglob("*") if p.is_file()
        )
        assert templates, "the checkout has no templates"
        for rel in templates:
            packaged = f"huggingtweets/{rel.as_posix()}"
            assert packaged in names, f"{packaged} missing from the wheel"
            assert zf.read(packaged) == (REPO_ROOT / rel).read_bytes()
        assert "huggingtweets/sample/sample_archive.zip" in names
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "huggingtweets = huggingtweets.cli:entry" in entry_points
