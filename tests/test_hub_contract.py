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
