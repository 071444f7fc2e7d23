"""The card of a bot read live from Mastodon and Bluesky: the network's words in the data table and
a provenance line naming network, instance and date, parsed back from the rendered card."""

from __future__ import annotations

import json

from fixtures_card import make_card_run_dir, md_unescape, parse_card

from huggingtweets.card import build_metadata, render

REPO = "huggingtweets/ada_at_fosstodon.org-grace.bsky.social"


def test_live_sources_in_the_card(tmp_path):
    run = make_card_run_dir(tmp_path)
    users = json.loads((run / "users.json").read_text())
    users[0].update(
        handle="ada_at_fosstodon.org",
        source="mastodon",
        source_detail="fosstodon.org's public API",
        network="mastodon",
        instance="fosstodon.org",
        display="@ada@fosstodon.org",
        left_out={"followers_only": 3, "direct": 2},
        fetched_on="2026-12-01",
        newest_post_at="2026-11-30T10:00:00Z",
        avatar_file=None,
    )
    users[1].update(
        handle="grace.bsky.social",
        source="bluesky",
        network="bluesky",
        instance="morel.us-east.host.bsky.network",
        display="@grace.bsky.social",
        left_out={},
        fetched_on="2026-12-01",
        source_detail="morel.us-east.host.bsky.network's repository export (com.atproto.sync.getRepo)",
    )
    (run / "users.json").write_text(json.dumps(users))
    report = json.loads((run / "data_report.json").read_text())
    report["users"] = {
        "ada_at_fosstodon.org": {**report["users"]["ada_l"], "left_out": {"followers_only": 3, "direct": 2}},
        "grace.bsky.social": {**report["users"]["grace_h"], "left_out": {}},
    }
    (run / "data_report.json").write_text(json.dumps(report))

    meta = build_metadata(run, repo_id=REPO)
    assert meta["users"][0]["newest_post_at"] == "2026-11-30T10:00:00Z"
    card = parse_card(render(meta))
    table = card["tables"]["Data"]
    assert "Posts downloaded" in table and "Tweets downloaded" not in table
    assert table["Reposts and boosts"] == [str(report["users"][k]["retweets"]) for k in report["users"]]
    assert table["Not public, never read"] == ["5", "0"]
    body = md_unescape(card["body"])  # the text as the Hub shows it (user values are Markdown-escaped)
    assert "@ada@fosstodon.org, read from fosstodon.org's public API on 2026-12-01" in body
    assert "@grace.bsky.social, read from morel.us-east.host.bsky.network's public API on 2026-12-01" in body
    assert "@ada@fosstodon.org @grace.bsky.social" in card["divs"]  # the header's handles line
