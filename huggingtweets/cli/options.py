"""Click options generated from ``TrainConfig``'s field metadata, shared by ``train`` and ``run``.

Every training knob is a flag of both commands with the help text, choices and default its field
declares; nothing about a knob is written here. Flags arrive as text (or True/False for the
``--x/--no-x`` switches) and go through ``train.config.coerce``, the same function that types a
config file's values, so a bad one is an error that names the flag (``--batch-size 0``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click

from huggingtweets.train.config import FIELDS, TrainConfig, coerce_flag, flag_name, kind_of

PARAM_PREFIX = "train__"  # click parameter names of the generated options, apart from the command's own


def _default_text(name: str) -> str:
    default = FIELDS[name].default
    if default is None:
        return ""
    return f" [default: {str(default).lower() if isinstance(default, bool) else default}]"


def _option(name: str) -> Callable:
    meta = FIELDS[name].metadata
    kind, _ = kind_of(name)
    flag = flag_name(name)
    help_text = meta["help"] + _default_text(name)
    if kind == "bool":
        return click.option(f"{flag}/--no-{flag[2:]}", PARAM_PREFIX + name, default=None, help=help_text)
    metavar = meta["metavar"] or (
        "|".join(meta["choices"])
        if meta["choices"]
        else {"int": "INT", "float": "NUMBER", "str": "TEXT"}[kind]
    )
    return click.option(flag, PARAM_PREFIX + name, default=None, metavar=metavar, help=help_text)


def train_options(command: Callable) -> Callable:
    """Decorator: one option per TrainConfig field, in the dataclass's order."""
    for f in reversed(dataclasses.fields(TrainConfig)):
        command = _option(f.name)(command)
    return command


def given_train_flags(params: dict[str, Any]) -> dict[str, Any]:
    """The training flags the user gave (typed and checked), keyed by field name; pops them from params."""
    out = {}
    for key in [k for k in params if k.startswith(PARAM_PREFIX)]:
        value = params.pop(key)
        if value is not None:
            name = key[len(PARAM_PREFIX) :]
            out[name] = coerce_flag(name, value)
    return out
