"""`huggingtweets train` / `generate` commands, the config file, and a 2-process run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import TWO_CPU_PROCESSES, run_cli
from datasets import Dataset, DatasetDict
from fixtures_train import build_fixture_dataset

from huggingtweets.errors import InputError
from huggingtweets.runfolder import read_json
from huggingtweets.train.config import TrainConfig


def _one_line_error(result) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_config_file_then_flags_win(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 7\nlearning-rate: 0.002\nbatch_size: 4\n")
    config = TrainConfig.load(path, epochs=3, seed=None)
    assert (config.epochs, config.learning_rate, config.batch_size, config.seed) == (3, 0.002, 4, 42)
    json_path = tmp_path / "train.json"
    json_path.write_text(json.dumps({"base_model": "tiny", "warmup_ratio": 0.1}))
    assert TrainConfig.load(json_path).warmup_ratio == 0.1


def test_config_unknown_keys_and_bad_values_fail(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epocs: 7\n")
    with pytest.raises(InputError, match="unknown training setting 'epocs'"):
        TrainConfig.load(path)
    with pytest.raises(InputError, match="--epochs -1 is invalid"):
        TrainConfig(epochs=-1)
    with pytest.raises(InputError, match="--mixed-precision"):
        TrainConfig(mixed_precision="fp8")
    path.write_text("- a list\n")
    with pytest.raises(InputError, match="expected a mapping"):
        TrainConfig.load(path)
    # Defaults per base kind, chosen by bench_sweep.py: a pretrained base 2 epochs at twice the original
    # huggingtweets' 1.372e-4; tiny (from scratch) 1e-3; LoRA the original's 4 epochs at 1e-3.
    default = TrainConfig()
    assert (default.epochs, default.warmup_ratio, default.base_model) == (None, 0.0, "gpt2")
    assert default.epochs_for(base_is_tiny=False) == 2
    assert default.peak_learning_rate(base_is_tiny=False) == 2.744e-4
    assert default.peak_learning_rate(base_is_tiny=True) == 1e-3  # measured for the from-scratch tiny model
    assert TrainConfig(lora_r=8).epochs_for(base_is_tiny=False) == 4
    assert TrainConfig(lora_r=8).peak_learning_rate(base_is_tiny=False) == 1e-3
    assert TrainConfig(learning_rate=2e-5).peak_learning_rate(base_is_tiny=True) == 2e-5
    assert default.epochs_for(base_is_tiny=True) == 8
    assert TrainConfig(epochs=7).epochs_for(base_is_tiny=True) == 7


def test_config_file_yaml_values_take_each_settings_type(tmp_path):
    path = tmp_path / "train.yaml"
    # YAML 1.1 reads `no` as False and `1e-3` (no dot) as text; both mean what the user wrote.
    path.write_text("mixed_precision: no\nreport_to: no\nlearning_rate: 1e-3\nepochs: '3'\ncompile: yes\n")
    config = TrainConfig.load(path)
    assert (config.mixed_precision, config.report_to) == ("no", "none")
    assert config.learning_rate == 1e-3 and isinstance(config.learning_rate, float)
    assert config.epochs == 3 and isinstance(config.epochs, int) and config.compile == "yes"
    path.write_text("attention_dropout:\nweight_decay: 0\n")  # empty = None, valid for an optional one
    config = TrainConfig.load(path)
    assert config.attention_dropout is None and config.weight_decay == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_grad_norm:\n", "`max_grad_norm:` in train.yaml: expected a number"),
        ("learning_rate: fast\n", "`learning_rate: ***` in train.yaml: expected a number"),
        ("epochs: 2.5\n", "`epochs: 2.5` in train.yaml: expected a whole number >= 1 and <= 1000 (or empty)"),
        ("epochs: true\n", "`epochs: true` in train.yaml: expected a whole number"),
        ("mixed_precision: yes\n", "`mixed_precision: true` in train.yaml: expected one of auto | no"),
        ("save_dtype: fp8\n", "`save_dtype: ***` in train.yaml: expected one of float32 | bfloat16"),
        ("base_model: [gpt2]\n", "`base_model: a list` in train.yaml: expected text"),
    ],
)
def test_config_file_bad_values_name_the_file_and_key(tmp_path, text, expected):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        TrainConfig.load(path)
    message = str(info.value)
    assert message.startswith(expected) and "\n" not in message


def test_config_file_bad_value_is_one_cli_line(tmp_path):
    build_fixture_dataset(tmp_path)
    (tmp_path / "train.yaml").write_text("max_grad_norm:\n")
    result = run_cli("train", "--run-dir", str(tmp_path), "--config", str(tmp_path / "train.yaml"))
    line = _one_line_error(result)
    assert "`max_grad_norm:` in train.yaml: expected a number" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--epochs", "-1"], "--epochs -1 is invalid: expected a whole number >= 1 and <= 1000 (or empty)"),
        (["--base-model", "not a model!"], "is not a known base model"),
        (["--base-model", "gpt2"], "cannot be reached"),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, args, expected):
    build_fixture_dataset(tmp_path)
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}  # never download gpt2 from a test
    line = _one_line_error(run_cli("train", "--run-dir", str(tmp_path), *args, env=env))
    assert expected in line
    if "gpt2" in args:
        assert "--base-model tiny" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--epochs", "1e20"],
            "--epochs 1e20 is invalid: expected a whole number >= 1 and <= 1000 (or empty)",
        ),
        (["--seed", "-1"], "--seed -1 is invalid: expected a whole number >= 0 and <= 4294967295"),
        (["--seed", "1e23"], "--seed 1e23 is invalid: expected a whole number >= 0 and <= 4294967295"),
        (["--batch-size", "many"], "--batch-size *** is invalid: expected a whole number >= 1"),
        (
            ["--mixed-precision", "fp8"],
            "--mixed-precision *** is invalid: expected one of auto | no | bf16 | fp16",
        ),
        (["--learning-rate", "0"], "--learning-rate 0 is invalid: expected a number such as 1e-3 or 0.5 > 0"),
        (["--max-steps", "1e9"], "--max-steps 1e9 is invalid: expected a whole number >= 0 and <= 10000000"),
        (["--epochs", "hf_abcdefghijklmnopqrstuvwxyz0123"], "--epochs *** is invalid"),
    ],
)
def test_out_of_range_flags_are_one_line_errors_before_any_work(tmp_path, args, expected):
    from click.testing import CliRunner

    from huggingtweets.cli import main

    result = CliRunner().invoke(main, ["train", "--run-dir", str(tmp_path / "run"), *args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {expected}"), result.output
    assert "hf_abc" not in result.output
    assert not (tmp_path / "run").exists()


def test_empty_dataset_is_a_one_line_error(tmp_path):
    empty = Dataset.from_dict({"text": [], "handle": []})
    DatasetDict({"train": empty, "validation": empty}).save_to_disk(str(tmp_path / "dataset"))
    line = _one_line_error(run_cli("train", "--run-dir", str(tmp_path), "--base-model", "tiny"))
    assert "training split is empty" in line


def test_missing_dataset_names_the_prepare_command(tmp_path):
    line = _one_line_error(run_cli("train", "--run-dir", str(tmp_path)))
    assert "huggingtweets prepare" in line


def test_generate_command_prints_posts(trained_run_dir):
    result = run_cli("generate", "--run-dir", str(trained_run_dir), "I think that", "-n", "3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("I think that") for line in lines)


@pytest.mark.slow
def test_two_process_run_writes_one_model(tmp_path, tiny_base_dir):
    import platform
    from importlib.metadata import version

    build_fixture_dataset(tmp_path)
    result = subprocess.run(
        [
            # accelerate's CLI in this interpreter (not whichever `accelerate` is first on PATH).
            *(sys.executable, "-m", "accelerate.commands.accelerate_cli"),
            *TWO_CPU_PROCESSES,
            "train",
            "--run-dir",
            str(tmp_path),
            "--base-model",
            str(tiny_base_dir),
            "--epochs",
            "2",
            "--learning-rate",
            "3e-3",
            "--block-size",
            "64",
            "--mixed-precision",
            "no",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_json(tmp_path / "training_summary.json")
    assert summary["num_processes"] == 2 and summary["distributed_type"] == "MULTI_CPU"
    assert summary["validation_loss"]["last"] < summary["validation_loss"]["initial"]
    # Only the main process printed its result and wrote the model.
    assert result.stdout.count("Model saved to") == 1
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert not list(tmp_path.glob(".model.*"))  # no half-written second copy
    # The launched processes ran this interpreter and its torch (the summary records their versions).
    assert summary["versions"]["python"] == platform.python_version()
    assert summary["versions"]["torch"] == version("torch")
