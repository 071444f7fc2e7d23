"""RunConfig: defaults < --config file < flags; unknown keys fail loudly; paths relative to the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from huggingtweets.config import FIELDS, RunConfig, build_config, count_users, load_config_file, parse_mapping
from huggingtweets.errors import InputError


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_field_has_help_and_the_dataclass_is_frozen():
    for name, f in FIELDS.items():
        assert f.metadata.get("help"), f"{name} has no help text"
    config = RunConfig(handles=("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]


def test_file_values_are_typed_and_paths_are_relative_to_the_file(tmp_path):
    cfg_dir = tmp_path / "bots"
    cfg_dir.mkdir()
    path = write_yaml(
        cfg_dir / "bot.yaml",
        {
            "archives": ["archive.zip", {"path": "/abs/other.zip", "handle": "bob"}],
            "posts-files": [{"path": "toots.csv", "handle": "carol"}],
            "base_model": "tiny",
            "epochs": 2,
            "keep_newlines": True,
            "train": {"batch-size": 4, "block_size": 64},
            "run_dir": "out",
        },
    )
    values = load_config_file(path)
    assert values == {
        "archives": ((str(cfg_dir / "archive.zip"), None), ("/abs/other.zip", "bob")),
        "posts_files": ((str(cfg_dir / "toots.csv"), "carol"),),
        "base_model": "tiny",
        "epochs": 2,
        "keep_newlines": True,
        "train": (("batch_size", 4), ("block_size", 64)),
        "run_dir": str(cfg_dir / "out"),
    }
    config = build_config(values, {})
    assert dict(config.train) == {"batch_size": 4, "block_size": 64}
    assert config.seed == 42  # untouched default


def test_flags_win_over_the_file_and_the_file_over_defaults(tmp_path):
    path = write_yaml(tmp_path / "bot.yaml", {"handles": ["alice"], "epochs": 3, "seed": 7, "private": False})
    config = build_config(load_config_file(path), {"epochs": 1})
    assert (config.epochs, config.seed, config.private, config.base_model) == (1, 7, False, "gpt2")


def test_unknown_key_names_the_key_and_the_valid_ones(tmp_path):
    path = write_yaml(tmp_path / "bot.yaml", {"handles": ["alice"], "epoch": 3})
    with pytest.raises(InputError) as err:
        load_config_file(path)
    message = str(err.value)
    assert "'epoch'" in message
    valid = message.split("valid keys: ", 1)[1].split(", ")
    assert set(valid) == set(FIELDS)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"epochs": "many"}, "'epochs'"),
        ({"keep_newlines": "yes"}, "'keep_newlines'"),
        ({"seed": 1.5}, "'seed'"),
        ({"archives": [{"file": "x.zip"}]}, "'archives'"),
        ({"posts_files": ["toots.csv"]}, "'posts_files'"),
        ({"train": [1, 2]}, "'train'"),
        (["handles", "alice"], "expected a mapping"),
        ({"token": "hf_secret"}, "never go in files"),
    ],
)
def test_bad_values_are_one_line_errors(data, needle):
    with pytest.raises(InputError) as err:
        parse_mapping(data)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)
    assert "hf_secret" not in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_config_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("handles: [alice\nepochs: 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config_file(bad)


def test_user_count_and_cyborg_limit():
    assert (
        count_users(RunConfig(handles=("a",), archives=(("x.zip", None),), posts_files=(("p.csv", "c"),)))
        == 3
    )
    with pytest.raises(InputError, match="at most 3 people"):
        build_config({}, {"handles": ("a", "b"), "archives": (("x.zip", None), ("y.zip", None))})
    with pytest.raises(InputError, match="no posts to learn from"):
        build_config({}, {"base_model": "tiny"})
    with pytest.raises(InputError, match="epochs"):
        build_config({}, {"handles": ("a",), "epochs": 0})


def test_run_cli_reads_the_file_and_flags_override(tmp_path, monkeypatch):
    """The CLI builds the config from file + given flags only (a flag left at its default does not win)."""
    import huggingtweets.runner as runner
    from huggingtweets.cli import main

    seen = {}

    def fake_run(config, **kwargs):
        seen["config"] = config
        seen["rerun_from"] = kwargs.get("rerun_from")
        return runner.RunResult(
            run_dir=tmp_path, summary=runner.build_summary(tmp_path, {}, ran=[], skipped=[])
        )

    monkeypatch.setattr(runner, "run", fake_run)
    cfg = write_yaml(
        tmp_path / "bot.yaml",
        {"archives": ["a.zip"], "epochs": 3, "seed": 5, "private": False, "base_model": "tiny"},
    )
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--config",
            str(cfg),
            "--epochs",
            "1",
            "--posts-file",
            "t.csv",
            "--handle",
            "carol",
            "--rerun-from",
            "train",
        ],
    )
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert config.epochs == 1 and config.seed == 5 and config.private is False and config.base_model == "tiny"
    assert config.archives == ((str(tmp_path / "a.zip"), None),)
    assert config.posts_files == (("t.csv", "carol"),)
    assert seen["rerun_from"] == "train"

    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--public", "--base-model", "gpt2"])
    assert result.exit_code == 0, result.output
    assert seen["config"].private is False and seen["config"].base_model == "gpt2"


def test_run_cli_unknown_config_key_is_exit_1(tmp_path):
    from huggingtweets.cli import main

    cfg = write_yaml(tmp_path / "bot.yaml", {"archive": ["a.zip"]})
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "unknown key 'archive'" in result.output and "archives" in result.output
