"""The card's "Try it" link to the playground: present, with the right URL, only when the setting is given."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_card import expected_header, parse_card, seed_bot

from huggingtweets.card import build_metadata, render
from huggingtweets.errors import CardError, InputError

REPO = "huggingtweets/ada_l-grace_h"
SPACE = "https://huggingface.co/spaces/huggingtweets/playground"
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def try_it_links(card_text: str) -> list[str]:
    """The link targets of the card's "## Try it" section (its Markdown links, entities decoded)."""
    card = parse_card(card_text)
    sections = re.split(r"^## ", card["body"], flags=re.M)
    section = next((s for s in sections if s.startswith("Try it\n")), None)
    if section is None:
        return []
    return [html.unescape(target) for _, target in _LINK.findall(section)]


def test_no_setting_no_link_and_the_widget_stays(card_run_dir):
    text = render(build_metadata(card_run_dir, repo_id=REPO))
    card = parse_card(text)
    assert "Try it" not in card["headings"] and try_it_links(text) == []
    assert card["header"] == expected_header(REPO)


@pytest.mark.parametrize(
    ("setting", "base", "query"),
    [
        (SPACE, SPACE, {"bot": [REPO]}),
        (SPACE + "/", SPACE + "/", {"bot": [REPO]}),
        (
            "https://bots.example.org/app?theme=dark",
            "https://bots.example.org/app",
            {"theme": ["dark"], "bot": [REPO]},
        ),
    ],
)
def test_the_link_opens_the_playground_on_this_bot(card_run_dir, setting, base, query):
    text = render(build_metadata(card_run_dir, repo_id=REPO, playground_url=setting))
    card = parse_card(text)
    assert card["headings"].index("Try it") == card["headings"].index("How to use") - 1
    (link,) = try_it_links(text)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == base
    assert parse_qs(parts.query) == query
    # The hosted widget no longer runs: the link replaces it; the rest of the header is unchanged.
    header = expected_header(REPO)
    del header["widget"]
    assert card["header"] == header


@pytest.mark.parametrize(
    "bad",
    [
        "http://example.org/app",
        "example.org",
        "https://x.org/a?bot=o/n",
        "https://x.org/a b",
        "https://x.org/(a)",
    ],
)
def test_a_bad_playground_url_is_a_typed_error_naming_it(card_run_dir, bad):
    with pytest.raises(CardError, match="is not a plain https:// address") as err:
        build_metadata(card_run_dir, repo_id=REPO, playground_url=bad)
    assert repr(bad) in str(err.value)
    from huggingtweets.config import build_config

    with pytest.raises(InputError, match="--playground-url"):
        build_config({"handles": ("alice",)}, {"playground_url": bad})


def test_the_setting_is_a_config_key_and_a_flag():
    from huggingtweets.config import build_config, parse_mapping

    values = parse_mapping({"handles": ["alice"], "playground-url": SPACE})
    assert build_config(values).playground_url == SPACE
    assert build_config({"handles": ("alice",)}).playground_url is None


def test_cards_regenerate_adds_the_link(hub, card_run_dir):
    from huggingface_hub import HfApi

    from huggingtweets.card import write_card
    from huggingtweets.hubclient import HubClient
    from huggingtweets.regenerate import UNCHANGED, UPDATED, regenerate

    model = write_card(card_run_dir, repo_id=REPO).parent
    files = {name: (model / name).read_text() for name in ("README.md", "huggingtweets.json")}
    seed_bot(HfApi(endpoint=hub.url, token=hub.token), REPO, files)
    client = HubClient(endpoint=hub.url, token=hub.token)
    report = regenerate("huggingtweets", client=client)
    assert [o.status for o in report.outcomes] == [UNCHANGED]
    report = regenerate("huggingtweets", client=client, playground_url=SPACE)
    assert [o.status for o in report.outcomes] == [UPDATED]
    readme, _ = client.read_text(REPO, "README.md")
    (link,) = try_it_links(readme)
    assert parse_qs(urlsplit(link).query) == {"bot": [REPO]}
    assert "widget" not in parse_card(readme)["header"]


def test_run_flag_reaches_the_config_and_a_bad_url_stops_before_any_stage(tmp_path):
    from conftest import run_cli

    posts = tmp_path / "posts.txt"
    posts.write_text("one post of mine here\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    args = ("run", "--posts-file", str(posts), "--handle", "alice", "--run-dir", str(run_dir))
    proc = run_cli(*args, "--playground-url", "http://insecure.example/app")
    assert proc.returncode != 0
    assert "playground URL 'http://insecure.example/app' is not a plain https:// address" in proc.stderr
    assert not (run_dir / "users.json").exists()  # nothing fetched: the setting was checked first
