"""Publishing to the local Hub with the real client: one commit, load back, no-op re-publish, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli
from fixtures_card import expected_header, parse_card

from huggingtweets.errors import HubError, StageError
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


def _api(hub, token=None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=token or hub.token)


def test_publish_one_commit_then_load_with_pipeline(hub, tiny_run_dir):
    result = publish(tiny_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
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
    first = publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
    api = _api(hub)
    before = [c.commit_id for c in api.list_repo_commits(REPO)]
    capfd.readouterr()
    again = publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert (again.changed, again.created, again.commit_oid) == (False, False, None)
    # "unchanged" is a normal outcome: huggingface_hub's empty-commit warning is not shown.
    assert "No files have been modified" not in capfd.readouterr().err
    assert [c.commit_id for c in api.list_repo_commits(REPO)] == before
    assert before[0] == first.commit_oid

    # A real change (new weights) is one more commit, and only that file changes.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"retrained weights")
    third = publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
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
    assert yes.returncode == 0 and yes.stdout.strip() == "Deleted alice/ada_l-grace_h"
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
    result = publish(card_run_dir, org="huggingtweets", client=client)
    assert result.changed and len(fault_proxy.injected) == 2
    assert client.retries == 2 and 7.0 in slept  # Retry-After honoured; 503 got the backoff
    assert _api(hub).list_repo_commits(REPO)[0].commit_id == result.commit_oid


def test_429_that_never_ends_is_a_one_line_error(hub, fault_proxy):
    fault_proxy.fail(r"whoami", times=100, status=429, headers={"Retry-After": "1"})
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=lambda s: None, max_retries=3)
    with pytest.raises(HubError, match=r"rate-limiting \(429\).*run the same command again"):
        client.whoami()
    assert len(fault_proxy.injected) == 4


def test_rejected_card_yaml_stops_before_anything_is_created(hub, card_run_dir, fault_proxy):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(
        r"^POST /api/validate-yaml", status=400, body=b'{"errors": [{"message": "\\"license\\" is invalid"}]}'
    )
    with pytest.raises(HubError, match=r'rejected the card\'s YAML header: "license" is invalid'):
        publish(card_run_dir, org="huggingtweets", endpoint=fault_proxy.url, token=hub.token)
    assert not _api(hub).repo_exists(REPO)
    assert not any(
        "/preupload/" in line or "/commit/" in line or "repos/create" in line for line in fault_proxy.seen
    )


def test_refused_first_commit_leaves_no_repo_behind(hub, card_run_dir, fault_proxy):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    fault_proxy.fail(r"^POST /api/models/huggingtweets/ada_l-grace_h/commit/", status=403)
    with pytest.raises(HubError, match=r"alice may not commit to huggingtweets/ada_l-grace_h \(403"):
        publish(card_run_dir, org="huggingtweets", endpoint=fault_proxy.url, token=hub.token)
    assert not _api(hub).repo_exists(REPO)  # all or nothing: the repo created for it is gone again


@pytest.mark.parametrize("start_private", [True, False])
def test_failed_commit_leaves_visibility_unchanged(hub, card_run_dir, fault_proxy, start_private):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token, private=start_private)
    assert _api(hub).model_info(REPO).private is start_private
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"retrained")
    fault_proxy.fail(r"^POST /api/models/huggingtweets/ada_l-grace_h/commit/", status=403)
    client = HubClient(endpoint=fault_proxy.url, token=hub.token, sleep=lambda s: None)
    with pytest.raises(HubError, match=r"may not commit to"):
        publish(card_run_dir, org="huggingtweets", client=client, private=not start_private)
    # --public on a private bot must not show its old content; --private that failed is undone.
    assert _api(hub).model_info(REPO).private is start_private


def test_new_public_repo_is_public_after_its_commit(hub, card_run_dir):
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    result = publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token, private=False)
    assert result.private is False and result.created
    assert _api(hub).model_info(REPO).private is False
    # And back: --private on an existing public bot hides it.
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w2")
    again = publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token, private=True)
    assert again.private is True and _api(hub).model_info(REPO).private is True


def test_delete_checks_ownership_first(hub, card_run_dir):
    from huggingtweets.publish import delete

    (card_run_dir / "model" / "model.safetensors").write_bytes(b"w")
    publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
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
