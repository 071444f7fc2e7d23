"""`cards regenerate` over many bots on the local Hub: exact commits, dry run, original cards, PRs,
failures, pacing and 429s."""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import run_cli
from fixtures_card import CARD_FIXTURES, ORIGINAL_README, org_shas, seed_bot

from huggingtweets.card import build_metadata, metadata_from_original_readme, render
from huggingtweets.hubclient import HubClient, Pacer
from huggingtweets.regenerate import FAILED, PR_EXISTS, PR_OPENED, UNCHANGED, UPDATED, regenerate

ORG = "huggingtweets"
OLD_TEMPLATE = CARD_FIXTURES / "templates" / "minimal.md.j2"


def bot_meta(base: dict, i: int) -> dict:
    """A one-user bot ``huggingtweets/botNN``: the fixture's metadata, renamed."""
    meta = copy.deepcopy(base)
    handle = f"bot{i:02d}"
    user = dict(meta["users"][0], handle=handle, name=f"Bot {i}", avatar_file=f"avatars/{handle}.png")
    meta["users"] = [user]
    meta["data_report"]["users"] = {handle: base["data_report"]["users"]["ada_l"]}
    meta["data_report"]["oversampled"] = {}
    meta["repo_id"] = f"{ORG}/{handle}"
    return meta


@pytest.fixture
def fleet(hub, card_run_dir):
    """50 bots (README + huggingtweets.json, one small commit each); 10 carry an outdated card."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    base = build_metadata(card_run_dir, repo_id=f"{ORG}/base")
    stale = set(range(0, 50, 5))

    def seed(i: int) -> None:
        meta = bot_meta(base, i)
        readme = render(meta, OLD_TEMPLATE if i in stale else None)
        seed_bot(api, meta["repo_id"], {"README.md": readme, "huggingtweets.json": json.dumps(meta)})

    # Seeding is set-up, not what is tested: overlap the round trips.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(seed, range(50)))
    # Not a bot (no huggingtweets tag): must be left alone.
    seed_bot(api, f"{ORG}/unrelated", {"README.md": "---\ntags:\n- other\n---\n# Something else\n"})
    return api, base, {f"{ORG}/bot{i:02d}" for i in stale}


def _bots(api) -> list[str]:
    return sorted(m.id for m in api.list_models(author=ORG) if m.id != f"{ORG}/unrelated")


def test_fifty_bots_ten_changes_make_exactly_ten_commits(hub, fleet):
    api, _, stale = fleet
    repos = _bots(api)
    assert len(repos) == 50
    before = org_shas(api, ORG)
    assert len(before) == 51 and None not in before.values()

    # --dry-run (through the CLI): a diff per changed repo, nothing committed.
    proc = run_cli("cards", "regenerate", "--author", ORG, "--dry-run", env=hub.env(hub.token))
    assert proc.returncode == 0, proc.stderr
    diffed = {
        line.split(" ")[1].rsplit("/README.md", 1)[0]
        for line in proc.stdout.splitlines()
        if line.startswith("--- ")
    }
    assert diffed == stale
    assert "would update  10" in proc.stdout and "unchanged     40" in proc.stdout
    assert org_shas(api, ORG) == before

    report = regenerate(ORG, endpoint=hub.url, token=hub.token)
    assert (report.count(UPDATED), report.count(UNCHANGED), report.count(FAILED)) == (10, 40, 0)
    after = org_shas(api, ORG)
    assert {r for r in before if before[r] != after[r]} == stale
    for repo in stale:  # one commit each, README only, and it is the current render of the stored metadata
        commits = api.list_repo_commits(repo)
        assert len(commits) == 3 and commits[0].title.startswith("Re-render model card (template 2026.12.1")
        meta = json.loads(open(api.hf_hub_download(repo, "huggingtweets.json"), encoding="utf-8").read())
        assert open(api.hf_hub_download(repo, "README.md"), encoding="utf-8").read() == render(meta)
        assert sorted(api.list_repo_files(repo)) == [".gitattributes", "README.md", "huggingtweets.json"]

    # Run again (as after an interruption): nothing is left to do.
    again = regenerate(ORG, endpoint=hub.url, token=hub.token)
    assert (again.count(UNCHANGED), again.commits) == (50, 0)
    assert org_shas(api, ORG) == after
    assert again.api_calls <= 2 * 50 + 5  # two reads per repo, plus the listing


def test_original_format_card_is_rebuilt_from_its_readme(hub):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    original = ORIGINAL_README.read_text(encoding="utf-8")
    seed_bot(api, f"{ORG}/mcintweet", {"README.md": original})
    report = regenerate(ORG, endpoint=hub.url, token=hub.token)
    assert [(o.repo_id, o.status, o.origin) for o in report.outcomes] == [
        (f"{ORG}/mcintweet", UPDATED, "original-readme")
    ]
    new = open(api.hf_hub_download(f"{ORG}/mcintweet", "README.md"), encoding="utf-8").read()
    assert new == render(metadata_from_original_readme(original, f"{ORG}/mcintweet"))
    assert regenerate(ORG, endpoint=hub.url, token=hub.token).count(UNCHANGED) == 1


def test_failures_are_reported_and_the_rest_continue(hub, card_run_dir):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    base = build_metadata(card_run_dir, repo_id=f"{ORG}/base")
    good = bot_meta(base, 1)
    seed_bot(
        api,
        good["repo_id"],
        {"README.md": render(good, OLD_TEMPLATE), "huggingtweets.json": json.dumps(good)},
    )
    broken = bot_meta(base, 2)
    seed_bot(api, broken["repo_id"], {"README.md": render(broken), "huggingtweets.json": "{not json"})
    proc = run_cli("cards", "regenerate", "--author", ORG, env=hub.env(hub.token))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "updated    1" in lines and "failed     1" in lines
    assert any(
        line.startswith(f"failed {ORG}/bot02: huggingtweets.json of {ORG}/bot02 is not valid JSON")
        for line in lines
    )


def test_create_pr_opens_one_pr_per_changed_card(hub, card_run_dir):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    meta = bot_meta(build_metadata(card_run_dir, repo_id=f"{ORG}/base"), 3)
    sha = seed_bot(
        api,
        meta["repo_id"],
        {"README.md": render(meta, OLD_TEMPLATE), "huggingtweets.json": json.dumps(meta)},
    )
    report = regenerate(ORG, endpoint=hub.url, token=hub.token, create_pr=True)
    assert [o.status for o in report.outcomes] == [PR_OPENED]
    assert api.model_info(meta["repo_id"]).sha == sha  # main untouched
    prs = api.list_repo_refs(meta["repo_id"], include_pull_requests=True).pull_requests
    assert len(prs) == 1
    pr_card = open(
        api.hf_hub_download(meta["repo_id"], "README.md", revision=prs[0].ref), encoding="utf-8"
    ).read()
    assert pr_card == render(meta)
    # Re-run: the same PR is already open, no second one.
    again = regenerate(ORG, endpoint=hub.url, token=hub.token, create_pr=True)
    assert [o.status for o in again.outcomes] == [PR_EXISTS]
    assert len(api.list_repo_refs(meta["repo_id"], include_pull_requests=True).pull_requests) == 1


def test_429_during_regeneration_is_retried(hub, card_run_dir, fault_proxy):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    meta = bot_meta(build_metadata(card_run_dir, repo_id=f"{ORG}/base"), 4)
    seed_bot(
        api,
        meta["repo_id"],
        {"README.md": render(meta, OLD_TEMPLATE), "huggingtweets.json": json.dumps(meta)},
    )
    fault_proxy.fail(
        r"^GET /huggingtweets/bot04/resolve/main/README.md", status=429, headers={"Retry-After": "3"}
    )
    fault_proxy.fail(
        r"^POST /api/models/huggingtweets/bot04/commit/", status=429, headers={"Retry-After": "5"}
    )
    slept: list[float] = []
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=slept.append)
    report = regenerate(ORG, client=client)
    assert [o.status for o in report.outcomes] == [UPDATED]
    assert len(fault_proxy.injected) == 2 and slept == [3.0, 5.0] and report.retries == 2


def test_pacer_keeps_under_the_call_and_commit_budgets():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(max_calls=3, per_s=10.0, max_commits_per_hour=2, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        pacer.before_request()
        now[0] += 1.0
    assert slept == []
    pacer.before_request()  # 4th call within 10 s: waits until the first leaves the window
    assert slept == [7.0]
    pacer.before_commit("o/a")
    pacer.before_commit("o/a")
    pacer.before_commit("o/a")
    assert slept[-1] == pytest.approx(3600.0)
    assert pacer.waited_s == pytest.approx(3607.0)


def _fake_time():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    return now, slept, sleep


def test_commit_budget_is_per_repo_so_a_big_org_never_waits():
    now, slept, sleep = _fake_time()
    pacer = Pacer(max_calls=None, max_commits_per_hour=128, sleep=sleep, clock=lambda: now[0])
    for i in range(200):
        pacer.before_commit(f"huggingtweets/bot{i}")
        now[0] += 0.1
    assert slept == [] and pacer.waited_s == 0.0


def test_commit_budget_waits_for_one_busy_repo():
    now, slept, sleep = _fake_time()
    pacer = Pacer(max_calls=None, max_commits_per_hour=128, sleep=sleep, clock=lambda: now[0])
    for _ in range(130):
        pacer.before_commit("huggingtweets/busy")
        now[0] += 1.0
    # The 129th waits until the 1st (t=0) leaves the hour; by then the 2nd has left too.
    assert slept == [pytest.approx(3600.0 - 128.0)]
    pacer.before_commit("huggingtweets/other")  # another repo is not held up by the busy one
    assert len(slept) == 1


def test_pacer_sleeps_without_holding_its_lock():
    now = [0.0]
    held_while_sleeping: list[bool] = []

    def sleep(s: float) -> None:
        held_while_sleeping.append(pacer._lock.locked())
        now[0] += s

    pacer = Pacer(max_calls=1, per_s=10.0, max_commits_per_hour=1, sleep=sleep, clock=lambda: now[0])
    pacer.before_request()
    pacer.before_request()
    pacer.before_commit("o/a")
    pacer.before_commit("o/a")
    assert held_while_sleeping == [False, False]


def test_a_waiting_worker_does_not_block_others():
    release = threading.Event()
    entered = threading.Event()

    now = [0.0]

    def sleep(s: float) -> None:
        entered.set()
        release.wait(10)  # the busy repo's worker "sleeps" until the test lets it go
        now[0] += s

    pacer = Pacer(max_calls=None, max_commits_per_hour=1, sleep=sleep, clock=lambda: now[0])
    pacer.before_commit("o/busy")
    waiter = threading.Thread(target=pacer.before_commit, args=("o/busy",), daemon=True)
    waiter.start()
    assert entered.wait(10)
    done = threading.Thread(target=pacer.before_commit, args=("o/free",), daemon=True)
    done.start()
    done.join(5)
    try:
        assert not done.is_alive()  # admitted while the other worker sleeps
    finally:
        release.set()
        waiter.join(5)


def test_interrupted_run_is_resumed_by_running_it_again(hub, fleet):
    api, _, stale = fleet

    class Interrupting(HubClient):
        commits = 0

        def create_commit(self, *args, **kwargs):
            if self.commits == 3:
                raise KeyboardInterrupt  # as if Ctrl-C arrived during the 4th commit
            self.commits += 1
            return super().create_commit(*args, **kwargs)

    before = org_shas(api, ORG)
    with pytest.raises(KeyboardInterrupt):
        regenerate(ORG, client=Interrupting(endpoint=hub.url, token=hub.token), workers=1)
    done = {r for r, sha in org_shas(api, ORG).items() if sha != before[r]}
    assert len(done) == 3 and done <= stale
    resumed = regenerate(ORG, endpoint=hub.url, token=hub.token)
    assert (
        resumed.count(UPDATED) == 7
        and {o.repo_id for o in resumed.outcomes if o.status == UPDATED} == stale - done
    )


def test_cli_log_is_one_plain_line_per_repo(hub, card_run_dir, monkeypatch):
    from click.testing import CliRunner
    from huggingface_hub import HfApi

    from huggingtweets.cli import main

    api = HfApi(endpoint=hub.url, token=hub.token)
    base = build_metadata(card_run_dir, repo_id=f"{ORG}/base")
    for i, template in ((1, OLD_TEMPLATE), (2, None)):
        meta = bot_meta(base, i)
        seed_bot(
            api,
            meta["repo_id"],
            {"README.md": render(meta, template), "huggingtweets.json": json.dumps(meta)},
        )
    api.create_repo(f"{ORG}/halfway")  # a first publish that stopped after creating the repo
    monkeypatch.setenv("HF_TOKEN", hub.token)
    result = CliRunner().invoke(
        main, ["cards", "regenerate", "--author", ORG, "--filter", "", "--endpoint", hub.url]
    )
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output
    per_repo = {}
    for line in result.stderr.splitlines():
        if line.startswith("cards ["):
            counter, rest = line.split("] ", 1)
            repo, status = rest.split(": ", 2)[:2]
            per_repo[repo] = (counter, status)
    assert {repo: status for repo, (_, status) in per_repo.items()} == {
        f"{ORG}/bot01": UPDATED,
        f"{ORG}/bot02": UNCHANGED,
        f"{ORG}/halfway": "skipped",
    }
    assert sorted(counter for counter, _ in per_repo.values()) == ["cards [1/3", "cards [2/3", "cards [3/3"]
