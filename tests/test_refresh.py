"""`huggingtweets refresh`: a bot published from a live Mastodon account (the real Mastodon.py
client against a local server) is re-trained and re-published only when enough new posts arrived;
bots made from exports are skipped with their reason."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from social_server import LocalServer
from test_run_e2e import FAST_TRAIN, commits
from test_sources_mastodon_live import FakeInstance, status

from huggingtweets.cli import main
from huggingtweets.config import RunConfig
from huggingtweets.refresh import NOT_ENOUGH, REFRESHED, SKIPPED, refresh
from huggingtweets.runner import run
from huggingtweets.sources.mastodon import MastodonPyClient
from huggingtweets.stages import fetch_stage

pytestmark = pytest.mark.slow
HANDLE = "@mastodonpy_test@social.example"
REPO = "huggingtweets/mastodonpy_test_at_social.example"
WORDS = ["harbour", "ferry", "gulls", "tide", "lantern", "nets", "storm", "kettle", "pier", "fog"]


def text(n: int) -> str:
    return (
        f"Note {n}: the {WORDS[n % 10]} and the {WORDS[(n * 3) % 10]} kept me busy all morning, "
        f"then the {WORDS[(n * 7 + 1) % 10]} came back before dinner"
    )


@pytest.fixture
def instance():
    app = FakeInstance([status(n, text(n)) for n in range(80)])
    with LocalServer(app) as server:
        app.url = server.url
        # the injection point: the live clients' factories, passed to the run and to refresh
        app.clients = {"mastodon": lambda handle: MastodonPyClient(handle.instance, base_url=server.url)}
        yield app


def test_refresh_retrains_only_when_enough_is_new(tmp_path, hub, tiny_base_dir, instance):
    train = {"base_model": str(tiny_base_dir), "epochs": 1, "learning_rate": 3e-3, **FAST_TRAIN}
    run(
        RunConfig(
            handles=(HANDLE,),
            samples=3,
            train=train,
            org="huggingtweets",
            endpoint=hub.url,
            run_dir=str(tmp_path / "first"),
        ),
        token=hub.token,
        stages={"fetch": fetch_stage(instance.clients)},
    )
    # the base was a local folder, recorded by its name only: the refresh is told where it is
    settings = {"samples": 3, "train": train}
    assert len(commits(hub, REPO)) == 1

    instance.statuses += [status(200 + n, text(200 + n)) for n in range(3)]
    said: list[str] = []
    kwargs = dict(
        endpoint=hub.url,
        token=hub.token,
        work_dir=tmp_path / "work",
        overrides=settings,
        echo=said.append,
        clients=instance.clients,
    )
    [outcome] = refresh([REPO], min_new_posts=50, **kwargs)
    assert (outcome.status, outcome.new_posts) == (NOT_ENOUGH, 3)
    assert (
        said[-1]
        == f"{REPO}: not enough new posts (3 new since the last training, 50 needed; nothing changed)"
    )
    assert len(commits(hub, REPO)) == 1

    [outcome] = refresh([REPO], min_new_posts=3, **kwargs)
    assert (outcome.status, outcome.new_posts) == (REFRESHED, 3)
    assert len(commits(hub, REPO)) == 2  # one new commit
    from huggingface_hub import hf_hub_download

    meta = json.loads(
        open(hf_hub_download(REPO, "huggingtweets.json", endpoint=hub.url, token=hub.token)).read()
    )
    assert meta["users"][0]["newest_post_at"] == status(202)["created_at"].replace(".000", "")[:19] + "Z"
    assert meta["data_report"]["users"]["mastodonpy_test_at_social.example"]["downloaded"] == 83

    # nothing new since: nothing changes
    [outcome] = refresh([REPO], min_new_posts=1, **kwargs)
    assert (outcome.status, outcome.new_posts) == (NOT_ENOUGH, 0) and len(commits(hub, REPO)) == 2


def test_bots_from_exports_are_skipped(hub, tmp_path):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    for repo, sources_ in (
        ("huggingtweets/from-archive", ["archive"]),
        ("huggingtweets/mixed", ["x-api", "bluesky-car"]),
    ):
        api.create_repo(repo, private=True)
        users = [
            {"handle": f"u{i}", "name": "U", "source": s, "newest_post_at": "2026-01-01T00:00:00Z"}
            for i, s in enumerate(sources_)
        ]
        api.upload_file(
            path_or_fileobj=json.dumps({"users": users}).encode(),
            path_in_repo="huggingtweets.json",
            repo_id=repo,
        )
    outcomes = refresh(
        ["huggingtweets/from-archive", "huggingtweets/mixed"],
        endpoint=hub.url,
        token=hub.token,
        work_dir=tmp_path,
        echo=lambda m: None,
    )
    assert [(o.status, o.reason.split(":")[0]) for o in outcomes] == [
        (SKIPPED, "built only from account exports or files"),
        (
            SKIPPED,
            "built partly from an account export or file that is not on the Hub, so it cannot be re-trained on all posts",
        ),
    ]


def test_refresh_without_repos_is_one_line():
    result = CliRunner().invoke(main, ["refresh"])
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        "Error: nothing to refresh: give REPO_ID... or --author ORG (e.g. huggingtweets refresh --author huggingtweets)"
    ]
