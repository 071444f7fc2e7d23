"""Consent signals, after the read: the card and huggingtweets.json say on which basis the posts were
used, and ``refresh`` reads every account's signals again before re-training (an account that now says
no is reported, and deleted with --delete-opted-out after the same confirmation as ``delete``)."""

from __future__ import annotations

import json

from test_consent import _LOCAL, HANDLE, NOTE, mastodon

from huggingtweets.sources.consent import OWNER, PUBLIC

# --------------------------------------------------------------------------- the card and huggingtweets.json


def test_card_and_metadata_say_on_which_basis(tmp_path):
    from fixtures_card import make_card_run_dir, md_unescape, parse_card

    from huggingtweets.card import build_metadata, render

    run = make_card_run_dir(tmp_path)
    # ada_l comes from her X archive; grace_h was read through the X API before signals were checked
    meta = build_metadata(run, repo_id="huggingtweets/ada_l-grace_h")
    assert [u["consent"]["basis"] for u in meta["users"]] == ["export", "unchecked"]
    users = json.loads((run / "users.json").read_text())
    public = {"basis": PUBLIC, "checked_on": "2026-12-01", "signals": []}
    users[0].update(source="mastodon", network="mastodon", instance="fosstodon.org", display="@ada_l@fosstodon.org",
                    fetched_on="2026-12-01", source_detail="fosstodon.org's public API", consent=public)  # fmt: skip
    (run / "users.json").write_text(json.dumps(users))
    meta = build_metadata(run, repo_id="huggingtweets/ada_l-grace_h")
    assert meta["users"][0]["consent"] == public
    body = md_unescape(parse_card(render(meta))["body"])
    section = body.split("## Data provenance and consent", 1)[1].split("\n## ", 1)[0]
    bases = [line.strip() for line in section.splitlines() if line.strip().startswith("Basis for using")]
    assert bases == [
        "Basis for using these posts: a public account that showed no opt-out signal (checked on 2026-12-01).",
        "Basis for using these posts: a public account, read before huggingtweets checked opt-out signals.",
    ]
    owner = {"basis": OWNER, "checked_on": "2026-12-02", "signals": ["noindex: true"]}
    users[0]["consent"] = owner
    (run / "users.json").write_text(json.dumps(users))
    meta = build_metadata(run, repo_id="huggingtweets/ada_l-grace_h")
    assert meta["users"][0]["consent"] == owner
    assert "Basis for using these posts: the person's own authenticated account" in md_unescape(render(meta))


# --------------------------------------------------------------------------- refresh

BOT = "huggingtweets/mastodonpy_test_at_social.example"


def seed_bot(hub) -> object:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(BOT, private=True)
    user = {"handle": "mastodonpy_test_at_social.example", "name": "John Lennon", "source": "mastodon",
            "network": "mastodon", "instance": "social.example", "display": HANDLE,
            "newest_post_at": "2026-08-01T00:00:00Z",
            "consent": {"basis": PUBLIC, "checked_on": "2026-08-01", "signals": []}}  # fmt: skip
    api.upload_file(
        path_or_fileobj=json.dumps({"users": [user]}).encode(), path_in_repo="huggingtweets.json", repo_id=BOT
    )
    return api


def test_refresh_checks_the_signals_before_retraining_and_deletes_on_request(hub, tmp_path):
    from huggingtweets.refresh import NOT_ENOUGH, OPTED_OUT, refresh

    api = seed_bot(hub)
    said: list[str] = []
    kwargs = dict(endpoint=hub.url, token=hub.token, work_dir=tmp_path / "work", echo=said.append)
    app, server, clients = mastodon(tmp_path)
    with server:  # no signal: the check passes and the new posts are counted
        [outcome] = refresh([BOT], min_new_posts=50, clients=clients, **kwargs)
    assert (outcome.status, outcome.new_posts) == (NOT_ENOUGH, 4)

    app, server, clients = mastodon(tmp_path, noindex=True, note=NOTE)
    asked: list[str] = []
    with server:
        # the account now says no: not re-trained, reported; a declined deletion keeps it
        [outcome] = refresh([BOT], clients=clients, delete_opted_out=True, confirm=lambda q: asked.append(q) or False, **kwargs)  # fmt: skip
        assert outcome.status == OPTED_OUT and not outcome.deleted
        assert said[-1] == (
            f"{BOT}: opted out ({HANDLE} asks not to be read by bots (noindex: true; #nobot in the bio); "
            "not re-trained; kept: deletion declined)"
        )
        assert server.paths() == ["/api/v1/accounts/lookup"]  # nothing of its posts was read
        held = "private, 2 files, no model weights"
        assert asked == [f"Delete {BOT} ({held}) and all its files from the Hub? This cannot be undone"]
        assert api.repo_exists(BOT) and len(api.list_repo_commits(BOT)) == 2

        [outcome] = refresh([BOT], clients=clients, **kwargs)  # without --delete-opted-out: reported only
        assert outcome.status == OPTED_OUT and api.repo_exists(BOT)
        [outcome] = refresh([BOT], clients=clients, delete_opted_out=True, confirm=lambda q: True, **kwargs)
    assert outcome.deleted and not api.repo_exists(BOT)
    assert said[-1].endswith(f"not re-trained; deleted ({held}))")


def test_refresh_cli_delete_opted_out_asks_as_delete_does(hub, tmp_path, monkeypatch):
    import dataclasses

    from click.testing import CliRunner

    from huggingtweets.cli import main
    from huggingtweets.sources import registry

    api = seed_bot(hub)
    app, server, _ = mastodon(tmp_path, discoverable=False)
    _LOCAL["url"] = server.url
    entry = dataclasses.replace(registry.SOURCES["mastodon"], client="test_consent:local_mastodon_client")
    monkeypatch.setitem(registry.SOURCES, "mastodon", entry)
    for key, value in hub.env(hub.token).items():
        monkeypatch.setenv(key, value)
    with server:
        no = CliRunner().invoke(main, ["refresh", BOT, "--delete-opted-out"], input="n\n")
        assert no.exit_code == 0 and api.repo_exists(BOT)
        assert "and all its files from the Hub? This cannot be undone [y/N]" in no.output
        assert f"{BOT}: opted out ({HANDLE} asks not to be read by bots (discoverable: false)" in no.output
        yes = CliRunner().invoke(main, ["refresh", BOT, "--delete-opted-out", "--yes"])
    assert yes.exit_code == 0 and not api.repo_exists(BOT)
    assert yes.output.strip().splitlines()[-1].endswith("; deleted (private, 2 files, no model weights))")
