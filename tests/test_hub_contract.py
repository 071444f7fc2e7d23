"""The client version the server was checked against, and the README header parser."""

from __future__ import annotations

import pytest

from huggingtweets.hub import CHECKED_CLIENT_MINOR
from huggingtweets.hub.cards import derive_repo_metadata, parse_metadata


def test_installed_client_is_the_minor_version_the_server_was_checked_against():
    import huggingface_hub

    installed = ".".join(huggingface_hub.__version__.split(".")[:2])
    assert installed == CHECKED_CLIENT_MINOR, (
        f"huggingface_hub {huggingface_hub.__version__} is installed but the local Hub was checked against "
        f"{CHECKED_CLIENT_MINOR}.x: re-read hf_api.py, _commit_api.py, lfs.py, file_download.py and "
        "utils/_http.py for protocol changes, run tests/test_hub_*.py, then bump CHECKED_CLIENT_MINOR"
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
