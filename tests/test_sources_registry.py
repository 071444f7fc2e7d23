"""The registry of sources (issue 17 item 2): one entry answers "which network, which format?", the
three bugs the spread caused stay fixed, and a new network with an export format and a live source
is one module (tests/example_network.py) and its entries."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import example_network
import pytest

from huggingtweets import sources
from huggingtweets.card import build_metadata, render
from huggingtweets.card.render import network_words
from huggingtweets.sources import registry
from huggingtweets.sources.consent import OptedOut
from huggingtweets.sources.handles import parse_handle
from huggingtweets.stagerecords import file_identity

FIXTURES = Path(__file__).parent / "fixtures"
EMPTY_DIGEST = hashlib.sha256().hexdigest()


def test_an_unpacked_mastodon_export_is_fingerprinted_by_its_content(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(FIXTURES / "mastodon/archive", folder)
    before = file_identity(folder)
    assert before["sha256"] != EMPTY_DIGEST  # it hashed X's layout only: every Mastodon folder was ""
    (folder / "media_attachments").mkdir()
    (folder / "media_attachments" / "1.png").write_bytes(b"media of a post")
    assert file_identity(folder) == before  # the media of every post are not what the export is
    outbox = json.loads((folder / "outbox.json").read_text())
    outbox["orderedItems"] = outbox["orderedItems"][1:]
    (folder / "outbox.json").write_text(json.dumps(outbox))
    assert file_identity(folder) != before  # a re-exported folder re-runs fetch


def test_network_words_of_a_network_it_does_not_know():
    assert network_words({"threads"}) == {"posts": "Posts", "reposts": "Reposts"}
    assert network_words({"threads", "mastodon"}) == {"posts": "Posts", "reposts": "Boosts and reposts"}
    assert network_words({"x", "bluesky", "mastodon"}) == {
        "posts": "Posts",
        "reposts": "Retweets, reposts and boosts",
    }
    assert network_words({"x"}) == {"posts": "Tweets", "reposts": "Retweets"}


def test_an_unknown_source_claims_no_provenance(card_run_dir):
    meta = build_metadata(card_run_dir, repo_id="huggingtweets/ada_l-grace_h")
    meta["users"][1]["source"] = "carrier-pigeon"
    text = render(meta)
    assert "Twitter API" not in text
    body = text.split("---\n", 2)[2]
    assert "@grace_h from a source this huggingtweets does not know (carrier-pigeon)" in body
    assert "a source this version of huggingtweets does not know (X API v2); nothing is claimed" in body


def test_every_source_and_network_is_one_entry():
    assert {s.name for s in registry.exports()} == {"archive", "mastodon-archive", "bluesky-car"}
    assert registry.exports()[-1].name == "archive"  # the fallback is tried last
    for spelling, spec in [
        ("@alice", "x:alice"),
        ("alice.bsky.social", "bsky:alice.bsky.social"),
        ("@alice@fosstodon.org", "mastodon:alice@fosstodon.org"),
    ]:
        assert parse_handle(spelling).spec == spec
        assert parse_handle(spec) == parse_handle(spelling)
    assert registry.live_source("mastodon").name == "mastodon" and registry.live_source("x").paid
    assert registry.live_help().startswith(
        "At most this many posts per user read live (X, Mastodon or Bluesky)."
    )
    assert "5,000 pages" in registry.live_help() and "Bluesky handle or DID" in registry.handle_help()
    help_line = registry.export_help()
    assert "Mastodon archive (.zip, its unpacked folder, or outbox.json)" in help_line
    assert help_line.index("Bluesky") < help_line.index("X archive")


@pytest.mark.parametrize(
    ("user", "spec"),
    [
        ({"source": "x-api", "handle": "Jack"}, "x:Jack"),
        ({"source": "mastodon", "handle": "a_at_b.social", "display": "@a@b.social"}, "mastodon:a@b.social"),
        ({"source": "mastodon", "handle": "a_at_b.social", "display": "@a"}, None),
        (
            {"source": "bluesky", "handle": "al.bsky.social", "display": "@al.bsky.social"},
            "bsky:al.bsky.social",
        ),
        ({"source": "bluesky-car", "handle": "al.bsky.social"}, None),
        ({"source": "carrier-pigeon", "handle": "al"}, None),
    ],
)
def test_live_spec_reads_the_registry(user, spec):
    assert registry.live_spec(user) == spec


@pytest.fixture
def example():
    registry.register_network(example_network.NETWORK)
    registry.register(example_network.EXPORT)
    registry.register(example_network.LIVE)
    yield example_network
    registry.unregister(example_network.EXPORT.name)
    registry.unregister(example_network.LIVE.name)
    registry.unregister_network(example_network.NETWORK.name)


class ExampleClient:
    def bio(self, user: str) -> str:
        return "#nobot" if user == "carol" else f"{user} writes about tea"

    def posts(self, user: str) -> list[tuple[str, str, str]]:
        return [("2", "2026-02-02T10:00:00Z", f"{user} again"), ("1", "2026-02-01T10:00:00Z", "first")]


def test_a_new_network_is_one_module_and_its_entries(example, tmp_path):
    export = tmp_path / "mine.txt"
    export.write_bytes(example.MAGIC + b"Alice\n7\t2026-01-01T00:00:00Z\thello there\n")
    assert sources.export_kind(export) == "example"
    run_dir = tmp_path / "run"
    users = sources.fetch(
        run_dir,
        archives=[(export, "example:alice")],
        handles=["example:bob"],
        clients={"example": lambda handle: ExampleClient()},
        echo=lambda line: None,
    )
    by_key = {u["handle"]: u for u in users}
    assert set(by_key) == {"alice_on_example", "bob_on_example"}
    assert by_key["alice_on_example"]["source"] == "example-export"
    assert "newest_post_at" not in by_key["alice_on_example"]
    assert by_key["bob_on_example"]["newest_post_at"] == "2026-02-02T10:00:00Z"  # a live source
    assert registry.live_spec(by_key["bob_on_example"]) == "example:bob"
    assert by_key["bob_on_example"]["consent"]["basis"] == "public"
    with pytest.raises(OptedOut, match=r"example:carol asks not to be read by bots \(#nobot in the bio\)"):
        registry.live_source("example").check_consent(parse_handle("example:carol"), client=ExampleClient())
    raw = (run_dir / "raw/alice_on_example.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in raw] == ["hello there"]
    whole = hashlib.sha256(b"mine.txt\0" + export.read_bytes()).hexdigest()  # a file: hashed whole
    assert file_identity(export) == {"name": "mine.txt", "sha256": whole}
    assert network_words({"x", "example"})["reposts"] == "Retweets and echoes"
    assert parse_handle("@alice").network == "x"  # unprefixed spellings are not claimed by it
