"""Click options generated from the field metadata of ``TrainConfig`` and ``RunConfig``.

Every knob is a flag with the help text, bounds, choices and default its field declares
(``huggingtweets.settings.knob``); nothing about a knob is written here. ``train`` and ``run`` get
every training knob; ``run``, ``fetch`` and ``prepare`` pick the run knobs they take. Flags arrive
as text (or True/False for the ``--x/--no-x`` switches) and go through ``settings.coerce``, the
same function that types a config file's values, so a bad one is an error that names the flag
(``--batch-size 0``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click

from huggingtweets import settings
from huggingtweets.config import FIELDS as RUN_FIELDS
from huggingtweets.train.config import FIELDS as TRAIN_FIELDS

PARAM_PREFIX = "train__"  # click parameter names of the generated training options
RUN_PREFIX = "run__"  # ... and of the generated run options, apart from the command's own


def _default_text(f: dataclasses.Field) -> str:
    default = f.default
    if default is None or default is dataclasses.MISSING or default == ():
        return ""
    return f" [default: {str(default).lower() if isinstance(default, bool) else default}]"


def field_option(f: dataclasses.Field, param: str, *, required: bool = False) -> Callable:
    """The one click option of a settings field."""
    meta = f.metadata
    kind, _ = settings.kind_of(f)
    flag = settings.flag_of(f)
    help_text = meta["help"] + ("" if required else _default_text(f))
    if kind == "bool":
        off = meta.get("off_flag") or "--no-" + flag[2:]
        return click.option(f"{flag}/{off}", param, default=None, help=help_text)
    if meta.get("parse") is not None:  # a repeatable path (--archive, --posts-file)
        return click.option(flag, param, multiple=True, metavar=meta["metavar"] or "TEXT", help=help_text)
    metavar = meta["metavar"] or (
        "|".join(meta["choices"])
        if meta["choices"]
        else {"int": "INT", "float": "NUMBER", "str": "TEXT"}[kind]
    )
    return click.option(flag, param, default=None, required=required, metavar=metavar, help=help_text)


def train_options(command: Callable) -> Callable:
    """Decorator: one option per TrainConfig field, in the dataclass's order."""
    for name in reversed(TRAIN_FIELDS):
        command = field_option(TRAIN_FIELDS[name], PARAM_PREFIX + name)(command)
    return command


def run_options(*names: str, required: tuple[str, ...] = ()) -> Callable:
    """Decorator: the options of these RunConfig fields (``seed`` etc. from TrainConfig), in this order."""

    def decorate(command: Callable) -> Callable:
        for name in reversed(names):
            f = RUN_FIELDS.get(name) or TRAIN_FIELDS[name]
            command = field_option(f, RUN_PREFIX + name, required=name in required)(command)
        return command

    return decorate


def source_options(command: Callable) -> Callable:
    """``--archive``, ``--posts-file`` and the ``--handle`` that stands beside either."""
    command = click.option(
        "--handle",
        "given_handles",
        multiple=True,
        metavar="H",
        help="The account of the --posts-file (or --archive) it stands beside.",
    )(command)
    return run_options("archives", "posts_files")(command)


def given_train_flags(params: dict[str, Any]) -> dict[str, Any]:
    """The training flags the user gave (typed and checked), keyed by field name; pops them from params."""
    return _given(params, PARAM_PREFIX, TRAIN_FIELDS)


def given_run_flags(params: dict[str, Any]) -> dict[str, Any]:
    """The run flags the user gave (typed and checked), keyed by field name; pops them from params.

    The repeatable sources (``--archive``, ``--posts-file``) are left as typed, for ``pair_handles``.
    """
    out: dict[str, Any] = {}
    for key in [k for k in params if k.startswith(RUN_PREFIX)]:
        value = params.pop(key)
        name = key[len(RUN_PREFIX) :]
        f = RUN_FIELDS.get(name) or TRAIN_FIELDS[name]
        if f.metadata.get("parse") is not None:
            out[name] = value
        elif value is not None:
            out[name] = settings.coerce_flag(f, value)
    return out


def _given(params: dict[str, Any], prefix: str, fields: dict[str, dataclasses.Field]) -> dict[str, Any]:
    out = {}
    for key in [k for k in params if k.startswith(prefix)]:
        value = params.pop(key)
        if value is not None:
            name = key[len(prefix) :]
            out[name] = settings.coerce_flag(fields[name], value)
    return out
