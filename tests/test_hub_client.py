"""The local Hub against the real huggingface_hub client, in process (``HfApi(endpoint=...)``)."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from huggingtweets.hub.server import HubServer

ALICE, BOB = "hf_test_alice_write", "hf_test_bob_write"
TOKENS = [f"{ALICE}:alice:huggingtweets", f"{BOB}:bob"]
README = """---
license: apache-2.0
language: en
tags:
- huggingtweets
- bot
pipeline_tag: text-generation
widget:
- text: "My dream is"
---
# A bot
"""


def api_for(hub, token=ALICE):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=token)


def make_folder(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def lfs_hub(tmp_path):
    with HubServer(tmp_path / "lfsdata", tokens=TOKENS, lfs_threshold=1024) as server:
        yield server


def test_whoami_and_invalid_token(hub):
    from huggingface_hub.errors import HfHubHTTPError

    me = api_for(hub).whoami()
    assert me["name"] == "alice" and [o["name"] for o in me["orgs"]] == ["huggingtweets"]
    assert api_for(hub, BOB).whoami()["orgs"] == []
    with pytest.raises(HfHubHTTPError) as err:
        api_for(hub, "hf_not_a_token").whoami()
    assert err.value.response.status_code == 401


def test_create_repo_conflict_and_namespace_rights(hub):
    from huggingface_hub.errors import HfHubHTTPError

    api = api_for(hub)
    url = api.create_repo("huggingtweets/bot")
    assert url.repo_id == "huggingtweets/bot"
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("huggingtweets/bot")
    assert err.value.response.status_code == 409
    assert api.create_repo("huggingtweets/bot", exist_ok=True).repo_id == "huggingtweets/bot"
    with pytest.raises(HfHubHTTPError) as err:
        api_for(hub, BOB).create_repo("huggingtweets/other")
    assert err.value.response.status_code == 403
    assert api.create_repo("mine").repo_id == "alice/mine"  # no namespace: the user's own


def test_upload_folder_regular_and_unchanged_reupload_makes_no_commit(hub, tmp_path):
    api = api_for(hub)
    api.create_repo("alice/bot")
    files = {
        "README.md": README,
        "config.json": '{"model_type": "gpt2"}',
        "sub/weights.bin": os.urandom(5000),
    }
    folder = make_folder(tmp_path / "model", files)
    first = api.upload_folder(repo_id="alice/bot", folder_path=folder)
    tree = {f.path: f for f in api.list_repo_tree("alice/bot", recursive=True) if hasattr(f, "size")}
    assert set(tree) == {".gitattributes", "README.md", "config.json", "sub/weights.bin"}
    assert tree["sub/weights.bin"].lfs is None  # default server: every file regular
    assert tree["sub/weights.bin"].blob_id == _git_sha1(files["sub/weights.bin"])
    n_commits = len(api.list_repo_commits("alice/bot"))
    assert n_commits == 2

    again = api.upload_folder(repo_id="alice/bot", folder_path=folder)
    assert again.oid == first.oid
    assert len(api.list_repo_commits("alice/bot")) == n_commits

    (folder / "config.json").write_text('{"model_type": "gpt2", "n_layer": 1}')
    third = api.upload_folder(repo_id="alice/bot", folder_path=folder)
    assert third.oid != first.oid and len(api.list_repo_commits("alice/bot")) == n_commits + 1


def test_upload_folder_lfs_mode(lfs_hub, tmp_path):
    api = api_for(lfs_hub)
    api.create_repo("alice/big")
    big = os.urandom(300_000)
    folder = make_folder(tmp_path / "m", {"model.safetensors": big, "small.txt": "tiny"})
    first = api.upload_folder(repo_id="alice/big", folder_path=folder)
    info = api.model_info("alice/big", files_metadata=True)
    sibs = {s.rfilename: s for s in info.siblings}
    assert sibs["model.safetensors"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert sibs["model.safetensors"].lfs.size == len(big)
    assert sibs["small.txt"].lfs is None
    # stored whole, once, under its sha256
    blob = lfs_hub.storage.blob_path(hashlib.sha256(big).hexdigest())
    assert blob.read_bytes() == big

    again = api.upload_folder(repo_id="alice/big", folder_path=folder)
    assert again.oid == first.oid and len(api.list_repo_commits("alice/big")) == 2

    from huggingface_hub import hf_hub_download

    path = hf_hub_download("alice/big", "model.safetensors", endpoint=lfs_hub.url, cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == big


def test_model_info_card_data_tags_and_listing(tmp_path):
    with HubServer(tmp_path / "d", tokens=TOKENS, page_size=2) as server:
        api = api_for(server)
        for i in range(5):
            api.create_repo(f"alice/bot{i}")
        api.create_repo("bob/bot9", token=BOB)
        folder = make_folder(
            tmp_path / "m",
            {
                "README.md": README,
                "config.json": json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}),
            },
        )
        api.upload_folder(repo_id="alice/bot3", folder_path=folder)
        info = api.model_info("alice/bot3")
        assert info.card_data.license == "apache-2.0"
        assert info.card_data.tags == ["huggingtweets", "bot"]
        assert info.pipeline_tag == "text-generation" and info.library_name == "transformers"
        assert {"huggingtweets", "gpt2", "license:apache-2.0", "en"} <= set(info.tags)
        assert info.sha == api.list_repo_commits("alice/bot3")[0].commit_id
        assert info.last_modified is not None and info.private is False

        # page_size=2: five repos take three pages, followed through the Link header
        assert sorted(m.id for m in api.list_models(author="alice")) == [f"alice/bot{i}" for i in range(5)]
        assert [m.id for m in api.list_models(author="alice", filter="huggingtweets")] == ["alice/bot3"]
        assert [m.id for m in api.list_models(filter=["bot", "text-generation"])] == ["alice/bot3"]
        assert [m.id for m in api.list_models(search="bot9")] == ["bob/bot9"]
        assert len(list(api.list_models(author="alice", limit=3))) == 3
        full = [m for m in api.list_models(author="alice", cardData=True) if m.id == "alice/bot3"][0]
        assert full.card_data.license == "apache-2.0"
        # trees and histories page the same way
        assert api.list_repo_files("alice/bot3") == [".gitattributes", "README.md", "config.json"]
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/bot3")
        assert len(api.list_repo_commits("alice/bot3")) == 3


def test_validate_yaml_rejects_bad_metadata_and_commits_nothing(hub, tmp_path):
    api = api_for(hub)
    api.create_repo("alice/card")
    for bad in ("---\nlicense: [unclosed\n---\n", "---\ntags:\n  a: 1\n---\n", "---\nlicense: 3\n---\n"):
        with pytest.raises(ValueError, match="Invalid metadata in README.md"):
            api.upload_file(path_or_fileobj=bad.encode(), path_in_repo="README.md", repo_id="alice/card")
    assert len(api.list_repo_commits("alice/card")) == 1
    raw = _post_json(hub.url + "/api/validate-yaml", {"content": "---\nlicense: [x\n---\n"})
    assert raw[0] == 400 and raw[1]["errors"][0]["message"].startswith("Error: YAML")
    assert _post_json(hub.url + "/api/validate-yaml", {"content": README}) == (
        200,
        {"errors": [], "warnings": []},
    )


def test_downloads_snapshot_range_and_error_codes(hub, tmp_path):
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    api = api_for(hub)
    api.create_repo("alice/dl")
    data = bytes(range(256)) * 40
    commit = api.upload_file(path_or_fileobj=data, path_in_repo="a/b.bin", repo_id="alice/dl")
    cache = tmp_path / "cache"
    path = hf_hub_download("alice/dl", "a/b.bin", endpoint=hub.url, cache_dir=cache)
    assert Path(path).read_bytes() == data
    snap = Path(snapshot_download("alice/dl", endpoint=hub.url, cache_dir=cache))
    assert snap.name == commit.oid and (snap / "a/b.bin").read_bytes() == data
    pinned = hf_hub_download(
        "alice/dl", "a/b.bin", revision=commit.oid[:10], endpoint=hub.url, cache_dir=cache
    )
    assert Path(pinned).read_bytes() == data

    req = urllib.request.Request(f"{hub.url}/alice/dl/resolve/main/a/b.bin", headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 206 and resp.read() == data[10:20]
        assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
        assert resp.headers["X-Repo-Commit"] == commit.oid
    req = urllib.request.Request(f"{hub.url}/alice/dl/resolve/main/a/b.bin", method="HEAD")
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["ETag"] == f'"{_git_sha1(data)}"' and resp.headers["Content-Length"] == str(
            len(data)
        )

    with pytest.raises(EntryNotFoundError):
        hf_hub_download("alice/dl", "missing.txt", endpoint=hub.url, cache_dir=cache)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("alice/dl", "a/b.bin", revision="nope", endpoint=hub.url, cache_dir=cache)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/nothing", "a/b.bin", endpoint=hub.url, cache_dir=cache)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{hub.url}/alice/dl/resolve/main/missing.txt")
    assert err.value.headers["X-Error-Code"] == "EntryNotFound" and err.value.headers["X-Repo-Commit"]


def test_private_repo_hidden_and_writes_need_rights(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    alice, bob, anon = api_for(hub), api_for(hub, BOB), HfApi(endpoint=hub.url, token=False)
    alice.create_repo("huggingtweets/secret", private=True)
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="huggingtweets/secret")
    assert alice.model_info("huggingtweets/secret").private is True
    for api in (bob, anon):
        with pytest.raises(RepositoryNotFoundError):
            api.model_info("huggingtweets/secret")
        assert "huggingtweets/secret" not in [m.id for m in api.list_models()]
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("huggingtweets/secret", "x.txt", endpoint=hub.url, token=False, cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        bob.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id="huggingtweets/secret")

    alice.create_repo("alice/public")
    with pytest.raises(HfHubHTTPError) as err:
        bob.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id="alice/public")
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        anon.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id="alice/public")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError):
        bob.delete_repo("alice/public")
    alice.delete_repo("alice/public")
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info("alice/public")


def test_deletes_parent_commit_and_pull_requests(hub):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import HfHubHTTPError

    api = api_for(hub)
    api.create_repo("alice/ops")
    first = api.create_commit(
        "alice/ops",
        operations=[
            CommitOperationAdd("keep.txt", b"1"),
            CommitOperationAdd("dir/a.txt", b"2"),
            CommitOperationAdd("dir/b.txt", b"3"),
            CommitOperationAdd("gone.txt", b"4"),
        ],
        commit_message="add",
    )
    api.delete_file("gone.txt", "alice/ops")
    api.delete_folder("dir", "alice/ops")
    assert sorted(api.list_repo_files("alice/ops")) == [".gitattributes", "keep.txt"]
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(
            "alice/ops",
            operations=[CommitOperationAdd("late.txt", b"5")],
            commit_message="stale",
            parent_commit=first.oid,
        )
    assert err.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError):
        api.create_commit("alice/ops", operations=[CommitOperationDelete("nope.txt")], commit_message="x")
    head = api.model_info("alice/ops").sha
    ok = api.create_commit(
        "alice/ops",
        operations=[CommitOperationAdd("late.txt", b"5")],
        commit_message="fresh",
        parent_commit=head,
    )
    pr = api.create_commit(
        "alice/ops",
        operations=[CommitOperationAdd("card.md", b"new card")],
        commit_message="Regenerate card",
        create_pr=True,
    )
    assert pr.pr_revision == "refs/pr/1" and pr.pr_num == 1
    assert "card.md" not in api.list_repo_files("alice/ops")
    assert "card.md" in api.list_repo_files("alice/ops", revision="refs/pr/1")
    refs = api.list_repo_refs("alice/ops", include_pull_requests=True)
    assert [r.ref for r in refs.pull_requests] == ["refs/pr/1"] and refs.branches[0].target_commit == ok.oid
    # bob may open a PR on a public repo (read access) but not push to main
    pr2 = api_for(hub, BOB).create_commit(
        "alice/ops",
        operations=[CommitOperationAdd("b.txt", b"b")],
        commit_message="Suggestion",
        create_pr=True,
    )
    assert pr2.pr_revision == "refs/pr/2"


def test_tree_commits_and_paths_info(hub):
    from huggingface_hub import CommitOperationAdd

    api = api_for(hub)
    api.create_repo("alice/tree")
    c1 = api.create_commit(
        "alice/tree", operations=[CommitOperationAdd("a/x.txt", b"x")], commit_message="one"
    )
    c2 = api.create_commit("alice/tree", operations=[CommitOperationAdd("b.txt", b"b")], commit_message="two")
    top = {e.path: type(e).__name__ for e in api.list_repo_tree("alice/tree")}
    assert top == {"a": "RepoFolder", "b.txt": "RepoFile", ".gitattributes": "RepoFile"}
    deep = {e.path: e for e in api.list_repo_tree("alice/tree", recursive=True, expand=True)}
    assert deep["a/x.txt"].last_commit.oid == c1.oid and deep["b.txt"].last_commit.oid == c2.oid
    assert [e.path for e in api.list_repo_tree("alice/tree", path_in_repo="a")] == ["a/x.txt"]
    commits = api.list_repo_commits("alice/tree")
    assert [c.title for c in commits] == ["two", "one", "initial commit"]
    info = {e.path: e for e in api.get_paths_info("alice/tree", ["a", "b.txt", "nope"])}
    assert set(info) == {"a", "b.txt"} and info["b.txt"].size == 1
    assert api.file_exists("alice/tree", "a/x.txt") and not api.file_exists("alice/tree", "zzz")


def test_restart_keeps_everything(tmp_path):
    from huggingface_hub import hf_hub_download

    data = tmp_path / "persist"
    with HubServer(data, tokens=TOKENS) as server:
        api = api_for(server)
        api.create_repo("alice/kept", private=True)
        commit = api.upload_file(path_or_fileobj=b"persist me", path_in_repo="f.txt", repo_id="alice/kept")
    with HubServer(data, tokens=TOKENS) as server:
        api = api_for(server)
        info = api.model_info("alice/kept")
        assert info.sha == commit.oid and info.private is True
        path = hf_hub_download(
            "alice/kept", "f.txt", endpoint=server.url, token=ALICE, cache_dir=tmp_path / "c"
        )
        assert Path(path).read_bytes() == b"persist me"
        assert len(api.list_repo_commits("alice/kept")) == 2


def test_dataset_repos_use_their_prefix(hub, tmp_path):
    from huggingface_hub import hf_hub_download

    api = api_for(hub)
    api.create_repo("alice/posts", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b'{"text": "hi"}\n',
        path_in_repo="data.jsonl",
        repo_id="alice/posts",
        repo_type="dataset",
    )
    assert api.dataset_info("alice/posts").id == "alice/posts"
    path = hf_hub_download(
        "alice/posts", "data.jsonl", repo_type="dataset", endpoint=hub.url, cache_dir=tmp_path
    )
    assert Path(path).read_bytes() == b'{"text": "hi"}\n'
    assert not api.repo_exists("alice/posts")  # a model of that name does not exist


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_visibility_settings_and_space_repos(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    api, anon = api_for(hub), HfApi(endpoint=hub.url, token=False)
    api.create_repo("alice/flip")
    assert anon.model_info("alice/flip").private is False
    api.update_repo_settings("alice/flip", private=True)
    with pytest.raises(RepositoryNotFoundError):
        anon.model_info("alice/flip")
    api.update_repo_settings("alice/flip", private=False)
    assert anon.model_info("alice/flip").private is False

    api.create_repo("alice/demo", repo_type="space", space_sdk="gradio")
    api.upload_file(
        path_or_fileobj=b"print('hi')\n", path_in_repo="app.py", repo_id="alice/demo", repo_type="space"
    )
    assert [s.rfilename for s in api.space_info("alice/demo").siblings] == [".gitattributes", "app.py"]
    path = hf_hub_download("alice/demo", "app.py", repo_type="space", endpoint=hub.url, cache_dir=tmp_path)
    assert Path(path).read_bytes() == b"print('hi')\n"
