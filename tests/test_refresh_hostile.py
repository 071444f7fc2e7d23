"""`huggingtweets refresh` against bots whose huggingtweets.json was written by someone else: a base
that is a path or a URL is refused, a users list is checked whole before anything is read live, and
one repo's surprise (deep nesting, wrong types) is one line while the loop goes on."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from huggingtweets.cli import main
from huggingtweets.refresh import BASE_PRESETS, FAILED, SKIPPED, refresh

LIVE_USER = {
    "handle": "alice_at_social.example",
    "display": "@alice@social.example",
    "name": "Alice",
    "source": "mastodon",
    "newest_post_at": "2026-01-01T00:00:00Z",
}
README = "---\ntags:\n- huggingtweets\n---\n# a bot\n"


class NoLiveReads:
    """The live clients' seam: any read is recorded and refused, so a test sees whether one began."""

    def __init__(self):
        self.handles: list[str] = []
        self.clients = {network: self.factory for network in ("mastodon", "bluesky", "x")}

    def factory(self, handle):
        self.handles.append(str(handle))
        raise AssertionError(f"a live read of {handle} began")


def upload(hub, repo: str, metadata: bytes | dict) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(repo, private=True)
    body = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
    api.upload_file(path_or_fileobj=body, path_in_repo="huggingtweets.json", repo_id=repo)
    api.upload_file(path_or_fileobj=README.encode(), path_in_repo="README.md", repo_id=repo)


def run_refresh(hub, tmp_path, repos=(), **kwargs):
    live = NoLiveReads()
    said: list[str] = []
    outcomes = refresh(
        list(repos),
        endpoint=hub.url,
        token=hub.token,
        work_dir=tmp_path / "work",
        echo=said.append,
        clients=live.clients,
        **kwargs,
    )
    return outcomes, said, live


@pytest.mark.parametrize(
    "base", ["/etc", "../../x", "~/models/x", "https://evil.example/model", "file:///etc", "a/b/c", 7]
)
def test_a_recorded_base_that_is_not_a_hub_id_is_refused_before_any_live_read(hub, tmp_path, base):
    meta = {"users": [LIVE_USER], "training_summary": {"hyperparameters": {"base_model": base}}}
    upload(hub, "huggingtweets/bad-base", meta)
    [outcome], said, live = run_refresh(hub, tmp_path, ["huggingtweets/bad-base"])
    assert outcome.status == FAILED and live.handles == []
    assert said == [
        f"huggingtweets/bad-base: failed (huggingtweets/bad-base records base model {str(base)!r}, which is "
        f"not a Hub id (owner/name) or one of {', '.join(BASE_PRESETS)} (give the base on the command line: "
        "huggingtweets refresh huggingtweets/bad-base --base-model PATH))"
    ]
    assert not (tmp_path / "work").exists()


def test_a_recorded_base_that_names_a_local_folder_is_refused(hub, tmp_path, monkeypatch):
    (tmp_path / "here" / "my-base").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "here")
    meta = {"users": [LIVE_USER], "training_summary": {"base_model": "my-base"}}
    upload(hub, "huggingtweets/local-base", meta)
    [outcome], _, live = run_refresh(hub, tmp_path, ["huggingtweets/local-base"])
    assert outcome.status == FAILED and live.handles == []
    assert "--base-model PATH" in outcome.reason and "'my-base'" in outcome.reason


def test_base_model_on_the_command_line_lifts_the_check(hub, tmp_path):
    """--base-model is the way out: the recorded path is never looked at, the live read begins."""
    meta = {"users": [LIVE_USER], "training_summary": {"base_model": "/etc"}}
    upload(hub, "huggingtweets/bad-base", meta)
    [outcome], _, live = run_refresh(
        hub, tmp_path, ["huggingtweets/bad-base"], overrides={"train": {"base_model": "tiny"}}
    )
    assert live.handles == ["@alice@social.example"]
    assert outcome.status == FAILED and outcome.reason.startswith("unexpected AssertionError")


def test_a_users_file_is_checked_whole_before_any_live_read(hub, tmp_path):
    many = [
        dict(LIVE_USER, handle=f"u{n}_at_social.example", display=f"@u{n}@social.example")
        for n in range(1000)
    ]
    upload(hub, "huggingtweets/crowd", {"users": many})
    unknown = [LIVE_USER, dict(LIVE_USER, source="myspace")]
    upload(hub, "huggingtweets/unknown", {"users": unknown})
    (crowd, odd), said, live = run_refresh(hub, tmp_path, ["huggingtweets/crowd", "huggingtweets/unknown"])
    assert live.handles == [] and (crowd.status, odd.status) == (FAILED, FAILED)
    assert said[0] == (
        "huggingtweets/crowd: failed (huggingtweets.json of huggingtweets/crowd lists 1000 users; a bot "
        "imitates at most 3 people (re-create the bot with huggingtweets run))"
    )
    assert said[1].startswith(
        "huggingtweets/unknown: failed (huggingtweets.json of huggingtweets/unknown: user 2 has source "
        "'myspace'; expected one of archive, bluesky,"
    )


def test_every_per_repo_failure_is_one_line_and_the_author_loop_goes_on(hub, tmp_path):
    deep = b'{"users": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    upload(hub, "huggingtweets/a-deep", deep)
    upload(hub, "huggingtweets/b-typed", {"users": [dict(LIVE_USER, newest_post_at=5)]})
    upload(hub, "huggingtweets/c-summary", {"users": [LIVE_USER], "training_summary": ["x"]})
    archive_user = dict(LIVE_USER, source="archive")
    upload(hub, "huggingtweets/d-archive", {"users": [archive_user]})
    outcomes, said, live = run_refresh(hub, tmp_path, author="huggingtweets")
    assert [o.repo_id for o in outcomes] == [
        "huggingtweets/a-deep",
        "huggingtweets/b-typed",
        "huggingtweets/c-summary",
        "huggingtweets/d-archive",
    ]
    assert [o.status for o in outcomes] == [FAILED, FAILED, FAILED, SKIPPED]
    assert said[0] == (
        "huggingtweets/a-deep: failed (huggingtweets.json of huggingtweets/a-deep is nested too deeply "
        "to be read)"
    )
    assert said[1] == (
        "huggingtweets/b-typed: failed (huggingtweets.json of huggingtweets/b-typed: user 1 has "
        "newest_post_at '5'; expected a time like 2026-01-01T00:00:00Z (re-create the bot with "
        "huggingtweets run))"
    )
    # a summary of the wrong shape: the base falls back to gpt2 and the live read is what fails here
    assert said[2].startswith("huggingtweets/c-summary: failed (unexpected AssertionError")
    assert live.handles == ["@alice@social.example"]
    assert all(hub.token not in line for line in said)


def test_cli_refresh_author_reports_each_repo_and_exits_1(hub, tmp_path, monkeypatch):
    upload(hub, "huggingtweets/b-deep", b'{"users": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
    upload(hub, "huggingtweets/d-archive", {"users": [dict(LIVE_USER, source="archive")]})
    monkeypatch.setenv("HF_TOKEN", hub.token)
    result = CliRunner().invoke(main, ["refresh", "--author", "huggingtweets", "--endpoint", hub.url])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] + ":" + line.split(":")[1].split("(")[0] for line in lines] == [
        "huggingtweets/b-deep: failed ",
        "huggingtweets/d-archive: skipped ",
    ]
