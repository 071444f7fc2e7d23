"""Publishing to the local Hub with the real client: one commit, load back, no-op re-publish, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli
from fixtures_card import expected_header, parse_card

from huggingtweets.errors import HubError, InputError, StageError
from huggingtweets.hubclient import HubClient
from huggingtweets.publish import publish

REPO = "huggingtweets/ada_l-grace_h"
EXPECTED_FILES = {
    ".gitattributes",
    "README.md",
    "huggingtweets.json",
    "predictions.png",
    "avatars/ada_l.png",
    "avatars/grace_h.png",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
}


def carded(run_dir, repo_id=REPO):
    """The card stage's output for ``repo_id`` (publish() pushes a finished folder; it renders nothing)."""
    from huggingtweets.card import write_card

    write_card(run_dir, repo_id=repo_id)
    return run_dir


def _api(hub, token=None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=token or hub.token)


def test_publish_one_commit_then_load_with_pipeline(hub, tiny_run_dir):
    result = publish(carded(tiny_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert (result.repo_id, result.created, result.changed, result.private) == (REPO, True, True, True)
    api = _api(hub)
    commits = api.list_repo_commits(REPO)
    ours = [c for c in commits if c.commit_id == result.commit_oid]
    assert (
        len(ours) == 1
        and ours[0].title == "Publish bot of @ada_l, @grace_h: 130 of 180 posts kept for training"
    )
    model = tiny_run_dir / "model"
    local = {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()}
    assert local >= EXPECTED_FILES - {".gitattributes"}  # weights, tokenizer, generation config, card, images
    assert set(api.list_repo_files(REPO)) - {".gitattributes"} == local

    readme = (tiny_run_dir / "model" / "README.md").read_text()
    remote = api.hf_hub_download(REPO, "README.md")
    with open(remote, encoding="utf-8") as fh:
        assert fh.read() == readme
    assert parse_card(readme)["header"] == expected_header(REPO)
    assert _api(hub).model_info(REPO).card_data.to_dict() == expected_header(REPO)  # as the Hub read it

    # Load it back exactly as a user would: pipeline() through HF_ENDPOINT, in a fresh process.
    code = (
        "import json\nfrom transformers import pipeline\n"
        f"g = pipeline('text-generation', model='{REPO}')\n"
        "out = g('My dream is', max_new_tokens=4, num_return_sequences=2, do_sample=True)\n"
        "print(json.dumps([o['generated_text'] for o in out]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=hub.env(hub.token), timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    texts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(texts) == 2 and all(t.startswith("My dream is") for t in texts)


def test_republish_unchanged_makes_no_commit(hub, card_run_dir, capfd):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"fake weights for a publish-only test")
    first = publish(carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token)
    api = _api(hub)
    before = [c.commit_id for c in api.list_repo_commits(REPO)]
    capfd.readouterr()
    again = publish(carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert (again.changed, again.created, again.commit_oid) == (False, False, None)
    # "unchanged" is a normal outcome: huggingface_hub's empty-commit warning is not shown.
    assert "No files have been modified" not in capfd.readouterr().err
    assert [c.commit_id for c in api.list_repo_commits(REPO)] == before
    assert before[0] == first.commit_oid

    # A real change (new weights) is one more commit, and only that file changes.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"retrained weights")
    third = publish(carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert third.changed and [c.commit_id for c in api.list_repo_commits(REPO)][1:] == before


def test_publish_errors_are_one_line_with_the_fix(hub, card_run_dir, tmp_path):
    with pytest.raises(StageError, match="no weights") as err:
        publish(card_run_dir, endpoint=hub.url, token=hub.token)
    assert "huggingtweets train" in str(err.value) and "\n" not in str(err.value)
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    with pytest.raises(
        HubError, match=r"bob cannot write to huggingtweets/x.*use --org ORG or --repo-id bob/x"
    ):
        publish(card_run_dir, repo_id="huggingtweets/x", endpoint=hub.url, token=hub.other_token)
    with pytest.raises(HubError, match=r"rejected the token \(401\).*hf auth login"):
        publish(card_run_dir, endpoint=hub.url, token="hf_not_a_real_token")
    with pytest.raises(HubError, match="no Hugging Face token found"):
        publish(card_run_dir, endpoint=hub.url)
    empty = tmp_path / "empty-run"
    empty.mkdir()
    with pytest.raises(StageError, match="holds no trained model"):
        publish(empty, endpoint=hub.url, token=hub.token)
    assert _api(hub).list_models(author="huggingtweets") is not None
    assert [m.id for m in _api(hub).list_models(author="bob")] == []


def test_cli_publish_private_hint_no_token_echo_and_delete(hub, card_run_dir):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    env = hub.env(hub.token)
    proc = run_cli("publish", "--run-dir", str(card_run_dir), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("Created alice/ada_l-grace_h (private): ")
    assert lines[1].endswith(
        f"huggingtweets publish --run-dir {card_run_dir} --repo-id alice/ada_l-grace_h --public"
    )
    assert hub.token not in proc.stdout + proc.stderr

    proc = run_cli("publish", "--run-dir", str(card_run_dir), "--public", env=env)
    assert proc.returncode == 0 and "No changes: alice/ada_l-grace_h is up to date (public)" in proc.stdout
    assert _api(hub).model_info("alice/ada_l-grace_h").private is False

    no = subprocess.run(
        [sys.executable, "-m", "huggingtweets", "delete", "alice/ada_l-grace_h"],
        input="n\n", capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert no.returncode != 0 and _api(hub).repo_exists("alice/ada_l-grace_h")
    yes = run_cli("delete", "alice/ada_l-grace_h", "--yes", env=env)
    assert yes.returncode == 0 and yes.stdout.strip().startswith("Deleted alice/ada_l-grace_h (public, ")
    assert not _api(hub).repo_exists("alice/ada_l-grace_h")
    gone = run_cli("delete", "alice/ada_l-grace_h", "--yes", env=env)
    assert gone.returncode == 1 and gone.stderr.count("\n") == 1 and "not found" in gone.stderr


def test_429_and_503_from_the_server_are_retried(hub, card_run_dir, fault_proxy):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(
        r"^POST /api/models/huggingtweets/ada_l-grace_h/commit/", status=429, headers={"Retry-After": "7"}
    )
    fault_proxy.fail(r"^POST /api/validate-yaml", status=503)
    slept: list[float] = []
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=slept.append)
    result = publish(carded(card_run_dir), org="huggingtweets", client=client)
    assert result.changed and len(fault_proxy.injected) == 2
    assert client.retries == 2 and 7.0 in slept  # Retry-After honoured; 503 got the backoff
    assert _api(hub).list_repo_commits(REPO)[0].commit_id == result.commit_oid


def test_429_that_never_ends_is_a_one_line_error(hub, fault_proxy):
    fault_proxy.fail(r"whoami", times=100, status=429, headers={"Retry-After": "1"})
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=lambda s: None, max_retries=3)
    with pytest.raises(HubError, match=r"rate-limiting \(429\).*run the same command again"):
        client.whoami()
    assert len(fault_proxy.injected) == 4


REJECTED = b'{"errors": [{"message": "\\"license\\" is invalid"}], "warnings": []}'


def test_rejected_card_yaml_stops_before_anything_is_created(hub, card_run_dir, fault_proxy):
    # The command: huggingface_hub's ModelCard.validate asks HF_ENDPOINT, before any repo exists.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(r"^POST /api/validate-yaml", status=400, body=REJECTED)
    env = hub.env(hub.token)
    env["HF_ENDPOINT"] = fault_proxy.url
    proc = run_cli("publish", "--run-dir", str(card_run_dir), "--org", "huggingtweets", env=env)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and 'rejected the card\'s YAML header: "license" is invalid' in errors[0]
    assert "Traceback" not in proc.stderr
    assert not _api(hub).repo_exists(REPO)
    assert not any(
        "/preupload/" in line or "/commit/" in line or "repos/create" in line for line in fault_proxy.seen
    )


def test_rejected_card_yaml_at_another_endpoint_leaves_no_repo(hub, card_run_dir, fault_proxy):
    # An endpoint other than HF_ENDPOINT: create_commit checks README.md before uploading anything,
    # and the repo made for the first commit is removed again.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(r"^POST /api/validate-yaml", status=400, body=REJECTED)
    with pytest.raises(HubError, match=r'rejected the card\'s YAML header: "license" is invalid'):
        publish(carded(card_run_dir), org="huggingtweets", endpoint=fault_proxy.url, token=hub.token)
    assert not _api(hub).repo_exists(REPO)
    assert not any("/preupload/" in line or "/commit/" in line for line in fault_proxy.seen)


def test_refused_first_commit_leaves_no_repo_behind(hub, card_run_dir, fault_proxy):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(r"^POST /api/models/huggingtweets/ada_l-grace_h/commit/", status=403)
    with pytest.raises(HubError, match=r"alice may not commit to huggingtweets/ada_l-grace_h \(403"):
        publish(carded(card_run_dir), org="huggingtweets", endpoint=fault_proxy.url, token=hub.token)
    assert not _api(hub).repo_exists(REPO)  # all or nothing: the repo created for it is gone again


@pytest.mark.parametrize("start_private", [True, False])
def test_failed_commit_leaves_visibility_unchanged(hub, card_run_dir, fault_proxy, start_private):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    publish(
        carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token, private=start_private
    )
    assert _api(hub).model_info(REPO).private is start_private
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"retrained")
    fault_proxy.fail(r"^POST /api/models/huggingtweets/ada_l-grace_h/commit/", status=403)
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=lambda s: None)
    with pytest.raises(HubError, match=r"may not commit to"):
        publish(carded(card_run_dir), org="huggingtweets", client=client, private=not start_private)
    # --public on a private bot must not show its old content; --private that failed is undone.
    assert _api(hub).model_info(REPO).private is start_private


def test_new_public_repo_is_public_after_its_commit(hub, card_run_dir):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    result = publish(
        carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token, private=False
    )
    assert result.private is False and result.created
    assert _api(hub).model_info(REPO).private is False
    # And back: --private on an existing public bot hides it.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w2")
    again = publish(
        carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token, private=True
    )
    assert again.private is True and _api(hub).model_info(REPO).private is True


def test_delete_checks_ownership_first(hub, card_run_dir):
    from huggingtweets.publish import delete

    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    publish(carded(card_run_dir), org="huggingtweets", endpoint=hub.url, token=hub.token)
    with pytest.raises(HubError, match="bob cannot write to huggingtweets/ada_l-grace_h"):
        delete(REPO, endpoint=hub.url, token=hub.other_token)
    assert _api(hub).repo_exists(REPO)
    delete(REPO, endpoint=hub.url, token=hub.token)
    assert not _api(hub).repo_exists(REPO)


def test_unreachable_hub_is_a_one_line_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept: list[float] = []
    client = HubClient(endpoint=f"http://127.0.0.1:{port}", token="hf_x", sleep=slept.append, max_retries=2)
    with pytest.raises(HubError, match=rf"cannot reach the Hub at http://127.0.0.1:{port}.*--endpoint"):
        client.whoami()
    assert slept == [1.0, 2.0]  # exponential backoff between the attempts
    assert "hf_x" not in repr(client)


# ---------------------------------------------------------------------------- issue 13: ids, stale cards, empty repos
def _card_files(run_dir) -> dict[str, tuple[bytes, int]]:
    model = run_dir / "model"
    return {
        n: ((model / n).read_bytes(), (model / n).stat().st_mtime_ns)
        for n in ("README.md", "huggingtweets.json")
    }


@pytest.mark.parametrize(
    "bad", ["huggingtweets/x..y", "huggingtweets/a--b", "x", "a/b/c", "huggingtweets/a\n"]
)
def test_invalid_repo_id_is_refused_before_anything_is_written(hub, card_run_dir, bad):
    carded(card_run_dir)
    before = _card_files(card_run_dir)
    proc = run_cli("publish", "--run-dir", str(card_run_dir), "--repo-id", bad, env=hub.env(hub.token))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert repr(bad) in proc.stderr and "expected ORG/NAME" in proc.stderr
    assert _card_files(card_run_dir) == before  # neither rewritten nor touched
    with pytest.raises(InputError, match="expected ORG/NAME"):
        publish(card_run_dir, repo_id=bad, endpoint=hub.url, token=hub.token)
    assert _card_files(card_run_dir) == before and [m.id for m in _api(hub).list_models()] == []


def test_publish_pushes_the_finished_folder_and_the_command_renders_a_stale_card(hub, card_run_dir):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    carded(card_run_dir, "huggingtweets/someone-else")
    before = _card_files(card_run_dir)
    # The library never renders: a card for another repo is an error that names the fix.
    with pytest.raises(StageError, match=r"card rendered for huggingtweets/someone-else, not " + REPO):
        publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert _card_files(card_run_dir) == before and not _api(hub).repo_exists(REPO)
    carded(card_run_dir)
    (card_run_dir / "predictions.json").write_text((card_run_dir / "predictions.json").read_text())
    with pytest.raises(StageError, match=r"has a card older than predictions.json"):
        publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)

    # The command runs the card stage first, for the repo it publishes to, and says so.
    proc = run_cli(
        "publish", "--run-dir", str(card_run_dir), "--org", "huggingtweets", env=hub.env(hub.token)
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        f"Rendered the card for {REPO}: the model folder has a card older than predictions.json"
        in proc.stderr
    )
    meta = json.loads((card_run_dir / "model" / "huggingtweets.json").read_text())
    assert (
        meta["repo_id"] == REPO and parse_card((card_run_dir / "model" / "README.md").read_text())["header"]
    )
    # A current card is pushed as it is: no re-render, no change.
    current = _card_files(card_run_dir)
    proc = run_cli(
        "publish", "--run-dir", str(card_run_dir), "--org", "huggingtweets", env=hub.env(hub.token)
    )
    assert proc.returncode == 0 and "Rendered" not in proc.stderr and proc.stdout.startswith("No changes")
    assert _card_files(card_run_dir) == current


def test_empty_repo_left_by_a_killed_first_publish(hub, card_run_dir):
    from huggingtweets.publish import inspect_repo
    from huggingtweets.regenerate import SKIPPED, regenerate, summary_table

    # What a SIGKILL right after create_repo leaves: a private repo with only .gitattributes.
    _api(hub).create_repo(REPO, private=True)
    state = inspect_repo(REPO, endpoint=hub.url, token=hub.token)
    assert state.empty and state.private and state.files == (".gitattributes",)

    client = HubClient(endpoint=hub.url, token=hub.token)
    report = regenerate("huggingtweets", tag=None, client=client)
    assert [(o.repo_id, o.status) for o in report.outcomes] == [(REPO, SKIPPED)]
    assert "empty (a first publish stopped after creating it)" in report.outcomes[0].reason
    assert report.failed == [] and f"skipped {REPO}: " in summary_table(report)

    no = subprocess.run(
        [sys.executable, "-m", "huggingtweets", "delete", REPO],
        input="n\n", capture_output=True, text=True, env=hub.env(hub.token), timeout=120,
    )  # fmt: skip
    assert no.returncode != 0 and f"Delete {REPO} (private, empty: no bot in it" in no.stdout
    assert _api(hub).repo_exists(REPO)

    # The next publish completes it, and says so.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    proc = run_cli(
        "publish", "--run-dir", str(card_run_dir), "--org", "huggingtweets", env=hub.env(hub.token)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Completed {REPO} (private): it held no bot")
    assert set(_api(hub).list_repo_files(REPO)) >= {"README.md", "model.safetensors", "huggingtweets.json"}

    # An empty repo is deleted like any other.
    _api(hub).create_repo("huggingtweets/left-empty", private=True)
    gone = run_cli("delete", "huggingtweets/left-empty", "--yes", env=hub.env(hub.token))
    assert gone.returncode == 0 and gone.stdout.startswith("Deleted huggingtweets/left-empty (private, empty")
    assert not _api(hub).repo_exists("huggingtweets/left-empty")


@pytest.mark.parametrize("bad", ["", "huggingtweets/..", "huggingtweets/", "/x", "a b/c"])
def test_delete_bad_repo_id_is_a_one_line_error(hub, bad):
    proc = run_cli("delete", bad, "--yes", env=hub.env(hub.token))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"Error: repo id {bad!r} is not a Hub repo id; expected ORG/NAME")


def test_endpoint_credentials_are_never_echoed(hub, fault_proxy):
    import socket

    from huggingtweets.publish import card_hub_url

    secret = "hf_endpointsecret123"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HubClient(
        endpoint=f"http://user:{secret}@127.0.0.1:{port}", token="hf_x", sleep=lambda s: None, max_retries=1
    )
    with pytest.raises(HubError) as err:
        client.whoami()
    assert f"http://127.0.0.1:{port}" in str(err.value) and secret not in str(err.value) + repr(client)

    fault_proxy.fail(
        r"whoami", times=10, status=500, body=b"boom at http://user:" + secret.encode() + b"@host/api"
    )
    proxied = fault_proxy.url.replace("http://", f"http://user:{secret}@")
    client = HubClient(endpoint=proxied, token=hub.token, sleep=lambda s: None, max_retries=1)
    with pytest.raises(HubError) as err:
        client.whoami()
    assert err.value.status == 500 and secret not in str(err.value)
    assert card_hub_url(f"https://user:{secret}@hub.example.org/") == "https://hub.example.org"
