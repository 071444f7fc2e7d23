"""Each stage reads one frozen settings value, and that value (through ``fingerprint_of``) is its fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from huggingtweets.config import RunConfig
from huggingtweets.stagerecords import file_identity
from huggingtweets.stages import (
    STAGE_LIST,
    CardSettings,
    FetchSettings,
    GenerateSettings,
    PrepareSettings,
    PublishSettings,
    StageContext,
    fingerprint_of,
)


def _ctx(tmp_path: Path, **config) -> StageContext:
    ctx = StageContext(
        config=RunConfig(**config), run_dir=tmp_path, token=None, endpoint="https://hub.example"
    )
    ctx.repo_id = "org/alice"
    return ctx


def test_each_stage_records_exactly_its_settings(tmp_path):
    archive = tmp_path / "x.zip"
    archive.write_bytes(b"zip")
    ctx = _ctx(
        tmp_path,
        handles=("@Alice",),
        archives=((str(archive), "bob"),),
        max_posts=5,
        price_per_read=0.01,
        keep_newlines=True,
        samples=3,
        train={"seed": 7},
        private=False,
    )
    by_name = {spec.name: spec.settings(ctx) for spec in STAGE_LIST}
    # As recorded before the settings were dataclasses: finished run folders stay finished.
    assert by_name["fetch"] == {
        "handles": ["alice"],
        "archives": [[file_identity(str(archive)), "bob"]],
        "posts_files": [],
        "max_posts": 5,
    }
    assert by_name["prepare"] == {
        "seed": 7,
        "keep_newlines": True,
        "keep_replies": True,
        "detect_languages": True,
        "base_model": "gpt2",
    }
    assert by_name["generate"] == {"seed": 7, "samples": 3}
    assert by_name["card"]["repo_id"] == "org/alice" and by_name["card"]["hub_url"] == "https://hub.example"
    assert set(by_name["card"]["template"]) == {"packaged"}
    assert by_name["publish"] == {"repo_id": "org/alice", "private": False, "endpoint": "https://hub.example"}


@pytest.mark.parametrize(
    "kind", [FetchSettings, PrepareSettings, GenerateSettings, CardSettings, PublishSettings]
)
def test_settings_are_frozen_and_every_field_but_a_price_is_fingerprinted(tmp_path, kind):
    settings = kind.of(_ctx(tmp_path, handles=("alice",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.x = 1  # type: ignore[attr-defined]
    left_out = {f.name for f in dataclasses.fields(kind)} - set(fingerprint_of(settings))
    # What cannot change the output (a price, a guard's limit), an unset playground link and a random
    # validation split (the value every run folder made before the setting existed) are left out.
    expected = {
        FetchSettings: {"price_per_read", "max_archive_mb"},
        CardSettings: {"playground_url"},
        PrepareSettings: {"validation"},
    }
    assert left_out == expected.get(kind, set())


def test_a_newest_validation_split_is_fingerprinted(tmp_path):
    ctx = _ctx(tmp_path, handles=("alice",), validation="newest")
    assert fingerprint_of(PrepareSettings.of(ctx))["validation"] == "newest"


def test_a_playground_link_is_fingerprinted_once_set(tmp_path):
    ctx = _ctx(tmp_path, handles=("alice",), playground_url="https://play.example/app")
    assert fingerprint_of(CardSettings.of(ctx))["playground_url"] == "https://play.example/app"


def test_a_changed_price_does_not_refetch_and_a_changed_file_does(tmp_path):
    archive = tmp_path / "x.zip"
    archive.write_bytes(b"one")
    base = {"archives": ((str(archive), None),)}
    first = fingerprint_of(FetchSettings.of(_ctx(tmp_path, **base)))
    assert fingerprint_of(FetchSettings.of(_ctx(tmp_path, **base, price_per_read=1.0))) == first
    archive.write_bytes(b"two, longer")
    assert fingerprint_of(FetchSettings.of(_ctx(tmp_path, **base))) != first
