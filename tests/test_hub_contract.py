"""The client version the server was checked against, and the README header parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from huggingtweets.hub.cards import derive_repo_metadata, parse_metadata


def test_the_installed_client_finds_every_endpoint_it_needs(tmp_path, monkeypatch):
    """What the installed huggingface_hub asks for, not a version string, decides compatibility.

    Every operation huggingtweets and transformers use, driven by the installed client: each
    must succeed, and the server must have seen no request it has no route for.
    """
    import huggingface_hub
    from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download

    from huggingtweets.hub.server import HubServer

    token = "hf_contract_alice"
    with HubServer(tmp_path / "d", tokens=[f"{token}:alice:huggingtweets"], lfs_threshold=64) as server:
        api = HfApi(endpoint=server.url, token=token)
        assert api.whoami()["name"] == "alice"
        repo = "huggingtweets/contract"
        api.create_repo(repo, private=True)
        assert api.repo_exists(repo) and api.create_repo(repo, exist_ok=True)
        big = bytes(range(256)) * 4  # LFS: at least lfs_threshold bytes
        first = api.create_commit(
            repo,
            [
                CommitOperationAdd("README.md", b"---\nlicense: mit\ntags: [huggingtweets]\n---\n# bot\n"),
                CommitOperationAdd("config.json", b'{"model_type": "gpt2"}'),
                CommitOperationAdd("model.safetensors", big),
            ],
            commit_message="first",
        )
        info = api.model_info(repo, files_metadata=True)
        assert info.sha == first.oid and info.card_data.to_dict()["license"] == "mit"
        assert {s.rfilename for s in info.siblings} >= {"README.md", "config.json", "model.safetensors"}
        assert [m.id for m in api.list_models(author="huggingtweets", filter="huggingtweets")] == [repo]
        assert api.file_exists(repo, "config.json") and not api.file_exists(repo, "nope.json")
        assert {p.path for p in api.get_paths_info(repo, ["config.json", "model.safetensors"])} == {
            "config.json",
            "model.safetensors",
        }
        assert {e.path for e in api.list_repo_tree(repo, recursive=True)} >= {
            "README.md",
            "model.safetensors",
        }
        assert [c.title for c in api.list_repo_commits(repo)][0] == "first"
        with open(hf_hub_download(repo, "model.safetensors", endpoint=server.url, token=token, cache_dir=tmp_path / "c"), "rb") as fh:  # fmt: skip
            assert fh.read() == big
        folder = snapshot_download(repo, endpoint=server.url, token=token, cache_dir=tmp_path / "s")
        assert {p.name for p in Path(folder).iterdir()} >= {"README.md", "config.json", "model.safetensors"}
        pr = api.create_commit(
            repo, [CommitOperationAdd("README.md", b"# new\n")], commit_message="pr", create_pr=True
        )
        assert pr.pr_num == 1 and [
            r.ref for r in api.list_repo_refs(repo, include_pull_requests=True).pull_requests
        ] == ["refs/pr/1"]
        api.update_repo_settings(repo, private=False)
        assert api.model_info(repo).private is False
        api.delete_file("config.json", repo)
        api.delete_repo(repo)
        assert not api.repo_exists(repo)
        assert list(server.unknown_routes) == [], (
            f"huggingface_hub {huggingface_hub.__version__} asked for endpoints this local Hub does not serve"
        )


def test_parse_metadata_reads_the_header_and_reports_type_errors():
    meta, errors = parse_metadata("---\nlicense: mit\ntags: [a, b]\nlanguage: [en, fr]\n---\n# Title\n")
    assert meta == {"license": "mit", "tags": ["a", "b"], "language": ["en", "fr"]} and errors == []
    assert parse_metadata("# no header\n---\n") == (None, [])
    assert parse_metadata("---\n---\nbody") == ({}, [])
    _, errors = parse_metadata("---\nlicense: [mit\n---\n")
    assert len(errors) == 1 and errors[0]["message"].startswith("Error: YAML metadata could not be parsed")
    _, errors = parse_metadata("---\n- a list\n---\n")
    assert errors == [{"message": "Error: YAML metadata must be a mapping, got list"}]
    _, errors = parse_metadata("---\ntags: [1, 2]\nlicense: 3\ninference: maybe\n---\n")
    assert [e["message"].split('"')[1] for e in errors] == ["license", "tags", "inference"]


@pytest.mark.parametrize(
    "card, config, expected_pipeline, expected_library",
    [
        ({"pipeline_tag": "fill-mask", "library_name": "x"}, None, "fill-mask", "x"),
        (
            None,
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"},
            "text-generation",
            "transformers",
        ),
        (None, None, None, None),
    ],
)
def test_derived_repo_metadata(card, config, expected_pipeline, expected_library):
    derived = derive_repo_metadata(card, config, ["model.safetensors"])
    assert derived["pipeline_tag"] == expected_pipeline and derived["library_name"] == expected_library
    assert "safetensors" in derived["tags"]


def test_hub_package_has_no_import_circle():
    """Every import between modules of huggingtweets.hub, lazy ones included, forms no circle.

    Imports under ``if TYPE_CHECKING:`` are annotations only and never run, so they do not count.
    """
    import ast
    from pathlib import Path

    import huggingtweets.hub as pkg

    folder = Path(pkg.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = f"huggingtweets.hub.{path.stem}" if path.stem != "__init__" else "huggingtweets.hub"
        deps = graph.setdefault(name, set())
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING"
            for stmt in block.body
            for n in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("huggingtweets.hub")
            ):
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t.startswith("huggingtweets.hub."))
    graph = {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}

    def circle_from(start: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for dep in sorted(graph[start]):
            if dep in seen:
                return (*seen[seen.index(dep) :], dep)
            found = circle_from(dep, (*seen, dep))
            if found:
                return found
        return None

    assert len(graph) >= 10 and graph["huggingtweets.hub.routes"] >= {"huggingtweets.hub.api"}
    circles = [c for m in sorted(graph) if (c := circle_from(m, (m,)))]
    assert circles == [], " -> ".join(circles[0])
