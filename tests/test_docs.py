"""The README and docs/cli.md: they open as promised, and what they show is what the code does."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml
from test_workflows import check_script

import huggingtweets
from huggingtweets import clidoc
from huggingtweets.config import parse_mapping

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIRST_LINES = [
    "# huggingtweets",
    "",
    "```bash",
    "make demo   # creates .venv, installs, fine-tunes SmolLM2-135M (offline) on the bundled sample archive, "
    "publishes it to a local Hub",
    "make test   # creates .venv, installs, runs the whole test suite",
    "```",
]
SECTIONS = [
    "What it does",
    "Quick start",
    "Web app",
    "Data sources",
    "Privacy and consent",
    "Command-line reference",
    "Python API",
    "GPU and several GPUs",
]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def test_readme_opens_with_the_two_commands():
    assert README.read_text(encoding="utf-8").splitlines()[: len(FIRST_LINES)] == FIRST_LINES


def test_readme_has_every_section_in_order():
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    assert headings == SECTIONS


def test_cli_reference_matches_help():
    """docs/cli.md and the README's command table are exactly what `--help` prints now."""
    import difflib

    for path, text in clidoc.expected_files(ROOT).items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        diff = "".join(
            difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(path), "--help")
        )
        assert current == text, f"run `python -m huggingtweets.clidoc` to regenerate:\n{diff[:3000]}"


def test_cli_reference_covers_every_command():
    from huggingtweets.cli import main

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, _command, _ctx in clidoc.walk(main):
        assert f"## `{name}`" in text


def test_images_and_local_links_exist():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?://)[^)#\s]+)", text)
    assert "docs/card-preview.png" in targets
    for target in targets:
        assert (ROOT / target).exists(), target
    png = (ROOT / "docs" / "card-preview.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_shell_examples_use_real_commands_and_flags():
    checked = 0
    for block in blocks("bash"):
        found, problems = check_script(block)
        assert problems == [], block
        checked += len(found)
    assert checked >= 4


def test_python_examples_import_what_exists():
    names = 0
    for block in blocks("python"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("huggingtweets"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    value = getattr(module, alias.name)
                    assert callable(value), f"{node.module}.{alias.name}"
                    names += 1
    assert names >= 8


def test_lazy_api_names_resolve_to_the_objects_they_name():
    for name, module in huggingtweets._LAZY.items():
        value = getattr(huggingtweets, name)
        assert getattr(importlib.import_module(module), name) is value
        assert not isinstance(value, type(huggingtweets)), f"{name} resolves to a module"


@pytest.mark.parametrize("block", blocks("yaml"))
def test_yaml_examples_are_valid_run_configs(block):
    from huggingtweets.config import build_config

    values = parse_mapping(yaml.safe_load(block))  # the train: keys are real TrainConfig fields, typed
    train = build_config(values, {}).train
    assert all(getattr(train, k) == v for k, v in values.get("train", {}).items())


def test_python_examples_pass_only_real_settings():
    """Every keyword a README example gives RunConfig or TrainConfig (train={...} included) exists."""
    import dataclasses

    from huggingtweets.config import RunConfig
    from huggingtweets.train.config import TrainConfig

    fields = {cls.__name__: {f.name for f in dataclasses.fields(cls)} for cls in (RunConfig, TrainConfig)}
    checked = 0
    for block in blocks("python"):
        for node in ast.walk(ast.parse(block)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in fields):
                continue
            for keyword in node.keywords:
                assert keyword.arg in fields[node.func.id], f"{node.func.id}({keyword.arg}=...) in README"
                checked += 1
                if keyword.arg == "train" and isinstance(keyword.value, ast.Dict):
                    for key in keyword.value.keys:
                        assert key.value in fields["TrainConfig"], f"train={{{key.value!r}: ...}} in README"
    assert checked >= 4
