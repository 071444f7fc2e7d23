"""RunConfig: defaults < --config file < flags; unknown keys fail loudly; paths relative to the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from huggingtweets.config import (
    FIELDS,
    TRAIN_FIELDS,
    RunConfig,
    build_config,
    count_users,
    load_config_file,
    parse_mapping,
)
from huggingtweets.errors import InputError


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_field_has_help_and_the_dataclass_is_frozen():
    for name, f in FIELDS.items():
        assert f.metadata.get("help"), f"{name} has no help text"
    config = RunConfig(handles=("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.samples = 1  # type: ignore[misc]


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
        "keep_newlines": True,
        # Training settings at the top level and under train: land in one typed mapping.
        "train": {"base_model": "tiny", "epochs": 2, "batch_size": 4, "block_size": 64},
        "run_dir": str(cfg_dir / "out"),
    }
    config = build_config(values, {})
    assert (config.train.batch_size, config.train.block_size, config.train.epochs) == (4, 64, 2)
    assert config.train.seed == 42  # untouched default


def test_flags_win_over_the_file_and_the_file_over_defaults(tmp_path):
    path = write_yaml(tmp_path / "bot.yaml", {"handles": ["alice"], "epochs": 3, "seed": 7, "private": False})
    config = build_config(load_config_file(path), {"train": {"epochs": 1}})
    assert (config.train.epochs, config.train.seed, config.private, config.train.base_model) == (
        1,
        7,
        False,
        "gpt2",
    )


def test_unknown_key_names_the_key_and_the_valid_ones(tmp_path):
    path = write_yaml(tmp_path / "bot.yaml", {"handles": ["alice"], "epoch": 3})
    with pytest.raises(InputError) as err:
        load_config_file(path)
    message = str(err.value)
    assert "'epoch'" in message
    valid = message.split("valid keys: ", 1)[1].split(", ")
    assert set(valid) == set(FIELDS) | set(TRAIN_FIELDS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"epochs": "many"}, "`epochs: ***` in config: expected a whole number >= 1 and <= 1000 (or empty)"),
        (
            {"train": {"batch_size": 0}},
            "`train.batch_size: 0` in config: expected a whole number >= 1 and <= 65536 (or empty)",
        ),
        ({"keep_newlines": "maybe"}, "`keep_newlines: ***` in config: expected yes or no"),
        ({"samples": 0}, "`samples: 0` in config: expected a whole number >= 1"),
        ({"seed": 1.5}, "`seed: 1.5` in config: expected a whole number >= 0 and <= 4294967295"),
        (
            {"epochs": "hf_secret0123456789abcdefghij"},
            "`epochs: ***` in config: expected a whole number >= 1 and <= 1000 (or empty)",
        ),
        (
            {"train": {"token": "hf_secret0123456789abcdefghij"}},
            "config sets 'train.token'; tokens are secrets and never go in files"
            " (set HF_TOKEN or X_BEARER_TOKEN in the environment, or run `hf auth login`)",
        ),
        (
            {"endpoint": ["http://u:hf_secret0123456789abcdefghij@h"]},
            "`endpoint: a list` in config: expected text (or empty)",
        ),
        (
            {"archives": [{"file": "x.zip"}]},
            "`archives: a list` in config: expected a list of {path: FILE, handle: HANDLE} or of paths",
        ),
        (
            {"posts_files": ["toots.csv"]},
            "`posts_files: a list` in config: expected a list of {path: FILE, handle: HANDLE}",
        ),
        (
            {"train": [1, 2]},
            "`train: a list` in config: expected a mapping of training settings such as {epochs: 2, batch_size: 8}",
        ),
        (["handles", "alice"], "config holds list; expected a mapping of settings (key: value)"),
        (
            {"token": "hf_secret"},
            "config sets 'token'; tokens are secrets and never go in files"
            " (set HF_TOKEN or X_BEARER_TOKEN in the environment, or run `hf auth login`)",
        ),
    ],
)
def test_bad_values_are_one_line_errors(data, message):
    with pytest.raises(InputError) as err:
        parse_mapping(data)
    assert str(err.value) == message
    assert "\n" not in str(err.value)
    assert "hf_secret" not in str(err.value)


# Issue 18 item 8: tokens that the pattern-based redaction does not recognise (short, lower case
# only, another service's prefix) under a wrong key; no text value is ever echoed in a config error.
SECRET_SHAPES = [
    "hf_short12",
    "hf_abcdefghijklmnopqrstuvwxyzabcdefgh",
    "ghp_AbCdEfGhIjKlMnOpQr",
    "sk-abc123def",
]


@pytest.mark.parametrize("secret", SECRET_SHAPES)
@pytest.mark.parametrize(
    "key", ["epochs", "samples", "keep_replies", "mixed_precision", "max_posts", "private"]
)
def test_no_config_error_echoes_a_text_value(key, secret):
    with pytest.raises(InputError) as err:
        parse_mapping({key: secret})
    assert str(err.value).startswith(f"`{key}: ***` in config: expected ")
    assert secret not in str(err.value)


@pytest.mark.parametrize("secret", SECRET_SHAPES)
def test_no_flag_error_echoes_a_text_value(secret):
    from huggingtweets.cli import main

    for flag in ("--epochs", "--samples", "--max-posts", "--learning-rate"):
        result = CliRunner().invoke(main, ["run", "--archive", "x.zip", flag, secret])
        assert result.exit_code == 1, result.output
        assert secret not in result.output
        assert f"{flag} *** is invalid: expected " in result.output


def test_yes_and_no_are_booleans_in_files_and_flags(tmp_path):
    assert parse_mapping({"keep_newlines": "yes", "publish": "no", "private": "off"}) == {
        "keep_newlines": True,
        "publish": False,
        "private": False,
    }
    path = tmp_path / "bot.json"
    path.write_text('{"archives": ["x.zip"], "keep_replies": "no"}', encoding="utf-8")
    assert build_config(load_config_file(path), {}).keep_replies is False


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
        build_config({}, {"train": {"base_model": "tiny"}})
    with pytest.raises(InputError, match="epochs"):
        build_config({}, {"handles": ("a",), "train": {"epochs": 0}})


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
    assert config.train.epochs == 1 and config.train.seed == 5 and config.private is False
    assert config.train.base_model == "tiny"
    assert config.archives == ((str(tmp_path / "a.zip"), None),)
    assert config.posts_files == (("t.csv", "carol"),)
    assert seen["rerun_from"] == "train"

    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--public", "--base-model", "gpt2"])
    assert result.exit_code == 0, result.output
    assert seen["config"].private is False and seen["config"].train.base_model == "gpt2"


def test_run_cli_unknown_config_key_is_exit_1(tmp_path):
    from huggingtweets.cli import main

    cfg = write_yaml(tmp_path / "bot.yaml", {"archive": ["a.zip"]})
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "unknown key 'archive'" in result.output and "archives" in result.output


@pytest.mark.parametrize("command", ["train", "run"])
def test_every_train_config_field_is_a_flag_with_its_help(command):
    from huggingtweets.cli import main
    from huggingtweets.train.config import TrainConfig

    options = {opt: p for p in main.commands[command].params for opt in p.opts}
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in options, f"{command} has no {flag}"
        assert options[flag].help.startswith(f.metadata["help"])


def test_a_bad_train_key_in_the_file_names_the_key_and_the_file(tmp_path):
    from huggingtweets.cli import main

    cfg = write_yaml(tmp_path / "bot.yaml", {"archives": ["a.zip"], "train": {"batch_size": 0}})
    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: `train.batch_size: 0` in bot.yaml: expected a whole number >= 1 and <= 65536 (or empty)"
    ]
    flag = CliRunner().invoke(main, ["run", "--archive", "a.zip", "--batch-size", "0"])
    assert flag.exit_code == 1 and "--batch-size 0 is invalid" in flag.output
    assert not (tmp_path / "run").exists()


def test_a_config_file_that_is_not_utf8_is_a_one_line_error(tmp_path):
    from huggingtweets.cli import main

    cfg = tmp_path / "bot.yaml"
    cfg.write_bytes(b"handles: [caf\xe9]\n")  # Latin-1
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: config file 'bot.yaml' is not UTF-8 text; expected a YAML or JSON file of settings (save it as UTF-8)"
    ]
    train = CliRunner().invoke(main, ["train", "--run-dir", str(tmp_path), "--config", str(cfg)])
    assert train.exit_code == 1 and "is not UTF-8 text" in train.output


def test_the_apps_train_form_is_typed_by_the_same_coercer():
    pytest.importorskip("gradio", reason="the web app needs the app extra")
    from huggingtweets.app.handlers import _train_fields

    assert _train_fields("tiny", 2.0, " 1e-3 ") == {"base_model": "tiny", "epochs": 2, "learning_rate": 1e-3}
    assert _train_fields("", None, "") == {"base_model": "gpt2"}  # blank: the trainer's defaults
    with pytest.raises(InputError) as err:
        _train_fields("gpt2", None, "hf_short12")
    assert (
        str(err.value)
        == "`learning rate: ***` in the Train form: expected a number such as 1e-3 or 0.5 > 0 (or empty)"
    )
    with pytest.raises(InputError) as err:
        _train_fields("gpt2", 0, "")
    assert (
        str(err.value) == "`epochs: 0` in the Train form: expected a whole number >= 1 and <= 1000 (or empty)"
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bot.yaml", b"- a list\n", "bot.yaml holds list; expected a mapping of settings (key: value)"),
        (
            "bot.yaml",
            b"epochs: [2\n",
            "config file 'bot.yaml' is not valid YAML at line 2; expected key: value lines",
        ),
        ("bot.json", b'{"epochs": ', "config file 'bot.json' is not valid JSON at line 1"),
        ("bot.yaml", None, "config file '{path}' does not exist; expected a YAML or JSON file of settings"),
    ],
)
def test_train_and_run_read_a_settings_file_with_the_same_words(tmp_path, name, data, message):
    from huggingtweets.train.config import TrainConfig

    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    expected = message.format(path=path)
    for read in (TrainConfig.load, load_config_file):
        with pytest.raises(InputError) as err:
            read(path)
        assert err.value.message == expected, read


def test_the_apps_form_counts_people_like_the_cli_before_copying_any_upload(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs the app extra")
    from huggingtweets.app.handlers import Handlers
    from huggingtweets.app.session import SessionStore

    handlers = Handlers(SessionStore(tmp_path / "sessions"))
    upload = tmp_path / "x.zip"
    upload.write_bytes(b"zip")
    session = handlers.store.get("s")
    with pytest.raises(InputError) as err:
        handlers._sources(session, "alice bob hf_AbCdEfGhIjKlMnOpQrStUv", [str(upload)], None, "")
    assert str(err.value) == (
        "4 users given; a bot imitates at most 3 people (one 'cyborg' bot) (run once per group of up to three users)"
    )
    assert list((tmp_path / "sessions").rglob("x.zip")) == []  # refused before the upload was copied
