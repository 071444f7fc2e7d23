"""One cyborg bot from three networks' exports: a Mastodon archive, a Bluesky repository (.car) and
the bundled X archive; trained (tiny model), published to the local Hub and loaded with pipeline()."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml
from fixtures_card import md_unescape
from test_run_e2e import FAST_TRAIN, load_in_a_fresh_process

from huggingtweets.config import RunConfig
from huggingtweets.paths import sample_archive
from huggingtweets.runner import run

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


def test_cyborg_of_mastodon_bluesky_and_x_exports(tmp_path, hub, tiny_base_dir):
    mastodon_zip = tmp_path / "archive-20250301.zip"
    with zipfile.ZipFile(mastodon_zip, "w") as zf:
        for file in sorted((FIXTURES / "mastodon/archive").iterdir()):
            zf.write(file, file.name)
    config = RunConfig(
        archives=(
            (str(mastodon_zip), None),
            (str(FIXTURES / "bluesky/repo.car"), "bsky:maren.example.com"),
            (str(sample_archive()), None),
        ),
        samples=3,
        train={"base_model": str(tiny_base_dir), "epochs": 1, "learning_rate": 3e-3, **FAST_TRAIN},
        org="huggingtweets",
        endpoint=hub.url,
        run_dir=str(tmp_path / "run"),
    )
    result = run(config, token=hub.token)
    run_dir = tmp_path / "run"
    repo_id = "huggingtweets/ingrid_at_harbour.example-maren.example.com-wren_at_gullstone"
    assert result.summary["repo_id"] == repo_id

    report = json.loads((run_dir / "data_report.json").read_text())["users"]
    ingrid, maren, wren = (
        report[k] for k in ("ingrid_at_harbour.example", "maren.example.com", "wren_at_gullstone")
    )
    for rep in (ingrid, maren, wren):  # the same reconciled counts on every network
        assert rep["downloaded"] == sum(
            rep[k] for k in ("retweets", "replies", "media_only", "short", "duplicates", "kept")
        )
    assert (ingrid["network"], ingrid["instance"], ingrid["left_out"]) == (
        "mastodon",
        "harbour.example",
        {"followers_only": 1, "direct": 1},
    )
    assert (
        ingrid["retweets"] == 2
        and ingrid["downloaded"] == 67
        and ingrid["display"] == "@ingrid@harbour.example"
    )
    assert (maren["network"], maren["retweets"], maren["media_only"], maren["quotes"]) == ("bluesky", 2, 1, 1)
    assert "network" not in wren  # X reports keep their shape

    # the card: network words in the table, provenance naming each network
    card = (run_dir / "model/README.md").read_text()
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in card.splitlines()
        if line.startswith("| ")
    }
    assert rows["Data"] == ["Ingrid Havn", "Maren Solberg", "Wren Callister"]
    assert rows["Posts downloaded"] == ["67", "72", "400"] and rows["Posts kept"] == ["65", "69", "379"]
    assert rows["Not public, never read"] == ["2", "0", "0"]
    assert rows["Retweets, reposts and boosts"] == ["2", "2", "6"] and rows["Media only"] == ["0", "1", "6"]
    shown = md_unescape(card)  # user values are Markdown-escaped ("\\@"): read it as the Hub shows it
    assert "@ingrid@harbour.example from their own Mastodon archive" in shown
    assert "@maren.example.com from their own Bluesky repository export" in shown
    meta = json.loads((run_dir / "model/huggingtweets.json").read_text())
    assert {u["handle"]: u.get("network") for u in meta["users"]} == {
        "ingrid_at_harbour.example": "mastodon",
        "maren.example.com": "bluesky",
        "wren_at_gullstone": None,
    }
    header = yaml.safe_load(card.split("---")[1])
    assert header["pipeline_tag"] == "text-generation"

    samples = load_in_a_fresh_process(hub, repo_id, tmp_path)
    assert len(samples) == 5 and all(s.startswith("My dream is") for s in samples)
