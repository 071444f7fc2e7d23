"""`huggingtweets fetch` with Bluesky and Mastodon exports: what lands in the run folder, and bad
inputs as one line, exit 1, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_data import error_line, invoke

FIXTURES = Path(__file__).parent / "fixtures"


def test_fetch_mastodon_and_bluesky_exports(tmp_path):
    run_dir = tmp_path / "run"
    result = invoke(
        "fetch",
        "--archive",
        str(FIXTURES / "mastodon/archive"),
        "--archive",
        str(FIXTURES / "bluesky/repo.car"),
        "--handle",
        "bsky:maren.example.com",
        "--run-dir",
        str(run_dir),
    )
    assert result.exit_code == 0, result.output
    users = {u["handle"]: u for u in json.loads((run_dir / "users.json").read_text())}
    assert set(users) == {"ingrid_at_harbour.example", "maren.example.com"}
    ingrid = users["ingrid_at_harbour.example"]
    assert (ingrid["network"], ingrid["display"], ingrid["source"]) == (
        "mastodon",
        "@ingrid@harbour.example",
        "mastodon-archive",
    )
    assert (run_dir / ingrid["avatar_file"]).read_bytes().startswith(b"\x89PNG")
    raw = [json.loads(line) for line in (run_dir / "raw/maren.example.com.jsonl").read_text().splitlines()]
    assert len(raw) == 72 and sum(p.get("is_quote", False) for p in raw) == 1  # only quotes carry the key
    # nothing followers-only or direct is ever written
    written = (run_dir / "raw/ingrid_at_harbour.example.jsonl").read_text()
    assert "spare key to the boat shed" not in written and "see you at eight" not in written


@pytest.mark.parametrize("case", ["corrupt-car", "wrong-outbox", "bad-handle", "handle-of-another-network"])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, case):
    args: list[str] = []
    if case == "corrupt-car":
        car = tmp_path / "export.car"
        car.write_bytes((FIXTURES / "bluesky/repo.car").read_bytes()[:5000])
        args = ["--archive", str(car)]
        expected = "export.car is not a readable CAR repository export"
    elif case == "wrong-outbox":
        folder = tmp_path / "export"
        shutil.copytree(FIXTURES / "mastodon/archive", folder)
        (folder / "outbox.json").write_text(json.dumps({"orderedItems": "all of them"}))
        args = ["--archive", str(folder)]
        expected = "field `orderedItems` is a string ('all of them'), expected a list"
    elif case == "bad-handle":
        args = ["bsky:x..y"]
        expected = "'bsky:x..y' is not a valid handle"
    else:
        args = ["--archive", str(FIXTURES / "bluesky/repo.car"), "--handle", "@maren@harbour.example"]
        expected = "is a Bluesky repository export, not the account of @maren@harbour.example"
    before = set(tmp_path.rglob("*"))
    result = invoke("fetch", *args, "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 1
    assert expected in error_line(result)
    assert set(tmp_path.rglob("*")) == before
