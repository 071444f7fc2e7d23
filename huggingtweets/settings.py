"""Field metadata for settings dataclasses: one declaration per knob, read by everything else.

``TrainConfig`` and ``RunConfig`` declare each field with ``knob(...)``: its default, help text,
choices, bounds and flag spelling. From that one declaration come the command-line options
(``huggingtweets.cli.options``), ``coerce`` (a file value or a flag's text into the field's type,
checked against its bounds, yes/no accepted for booleans), the words of every error, and
``read_settings_file`` (the one reader of ``--config`` files, YAML or JSON).

A value is never echoed as text in an error: a token pasted under the wrong key (``epochs: hf_...``)
would otherwise land in a terminal or a CI log. Numbers and booleans are shown; text is ``***``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError

MASK = "***"


def knob(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    choices: tuple[str, ...] = (),
    min: float | None = None,
    max: float | None = None,
    above: float | None = None,  # strictly greater than
    below: float | None = None,  # strictly less than
    affects_weights: bool = True,
    recorded: bool = True,
    metavar: str | None = None,
    flag: str | None = None,  # the option's spelling when not --field-name (``--archive``)
    off_flag: str | None = None,  # a boolean's "no" switch when not --no-field-name (``--public``)
    parse: Callable[[str, Any], Any] | None = None,  # a field of its own shape: (key, value) -> value
) -> Any:
    """A settings field with its metadata.

    ``affects_weights=False`` marks run control (threads, checkpoints, trackers, testing hooks):
    changing it neither re-trains nor blocks a resume. ``recorded=False`` keeps it out of the
    hyperparameters of training_summary.json and the card.
    """
    meta = {
        "help": help,
        "choices": choices,
        "min": min,
        "max": max,
        "above": above,
        "below": below,
        "affects_weights": affects_weights,
        "recorded": recorded,
        "metavar": metavar,
        "flag": flag,
        "off_flag": off_flag,
        "parse": parse,
    }
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def kind_of(f: dataclasses.Field) -> tuple[str, bool]:
    """(``int`` | ``float`` | ``bool`` | ``str`` | another type's text, optional) from the annotation."""
    annotation = str(f.type)
    optional = "None" in annotation
    return annotation.replace("| None", "").replace("None |", "").strip(), optional


def shown(value: Any) -> str:
    """A value in an error message: numbers and booleans as written, text never (it may be a token)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "empty"
    if isinstance(value, str):
        return MASK
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {'mapping' if isinstance(value, dict) else type(value).__name__}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def expected(f: dataclasses.Field) -> str:
    """What a field takes, in words: its type and bounds."""
    meta = f.metadata
    kind, optional = kind_of(f)
    if meta["choices"]:
        return "one of " + " | ".join(meta["choices"])
    words = {
        "int": "a whole number",
        "float": "a number such as 1e-3 or 0.5",
        "bool": "yes or no",
        "str": "text",
    }.get(kind, kind)
    bounds = []
    if meta["min"] is not None:
        bounds.append(f">= {_num(meta['min'])}")
    if meta["above"] is not None:
        bounds.append(f"> {_num(meta['above'])}")
    if meta["below"] is not None:
        bounds.append(f"< {_num(meta['below'])}")
    if meta["max"] is not None:
        bounds.append(f"<= {_num(meta['max'])}")
    text = words + (" " + " and ".join(bounds) if bounds else "")
    return text + (" (or empty)" if optional else "")


def check(f: dataclasses.Field, value: Any) -> str | None:
    """None when ``value`` (already typed) is valid for field ``f``, else what was expected."""
    meta = f.metadata
    kind, optional = kind_of(f)
    if value is None:
        return None if optional else expected(f)
    if kind not in ("bool", "int", "float", "str"):
        return None  # a field of its own shape: its ``parse`` checked it
    ok_type = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok_type:
        return expected(f)
    if kind == "str":
        if meta["choices"] and value not in meta["choices"]:
            return expected(f)
        if not value.strip():
            return expected(f).replace("text", "non-empty text").replace(" (or empty)", "")
        return None
    if kind in ("int", "float"):
        if value != value:  # NaN compares false with every bound
            return expected(f)
        if meta["min"] is not None and value < meta["min"]:
            return expected(f)
        if meta["max"] is not None and value > meta["max"]:
            return expected(f)
        if meta["above"] is not None and not value > meta["above"]:
            return expected(f)
        if meta["below"] is not None and not value < meta["below"]:
            return expected(f)
    return None


def check_all(instance: Any) -> None:
    """Every knob of a settings dataclass within its bounds (their ``__post_init__``)."""
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        problem = check(f, value)
        if problem:
            raise InputError(f"{flag_of(f)} {shown(value)} is invalid: expected {problem}")


_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


class BadValue(ValueError):
    """``coerce`` could not use a value; ``str()`` is what was expected."""


def coerce(f: dataclasses.Field, value: Any) -> Any:
    """One value for field ``f``, from a YAML/JSON file or a flag's text, in the field's type.

    YAML reads ``mixed_precision: no`` as False and ``learning_rate: 1e-3`` (no dot) as text, and an
    empty ``max_grad_norm:`` as None; a flag arrives as text. Raises ``BadValue(expected)``.
    """
    kind, optional = kind_of(f)
    choices = f.metadata["choices"]
    parse = f.metadata.get("parse")
    if parse is not None:
        return parse(f.name, value)
    if isinstance(value, str) and kind != "str" and optional and not value.strip():
        value = None
    if value is None:
        if optional:
            return None
        raise BadValue(expected(f))
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            value = value.strip().lower() in _TRUE_WORDS
    elif kind in ("int", "float"):
        if isinstance(value, bool):  # True is an int in Python, never a count or a rate here
            raise BadValue(expected(f))
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise BadValue(expected(f)) from None
        if isinstance(value, float) and kind == "int":
            if not value.is_integer():
                raise BadValue(expected(f))
            value = int(value)
        elif isinstance(value, int) and kind == "float":
            value = float(value)
    elif kind == "str" and isinstance(value, int | float) and not isinstance(value, bool) and not choices:
        value = str(value)  # `org: 1234` is the name 1234
    elif choices and isinstance(value, bool):
        # YAML 1.1 reads no/off/false as False; "no" (or "none") is what the user meant where valid.
        words = ("yes",) if value else ("no", "none")
        value = next((w for w in words if w in choices), value)
    problem = check(f, value)
    if problem:
        raise BadValue(problem)
    return value


def coerce_flag(f: dataclasses.Field, value: Any) -> Any:
    """``coerce`` for a command-line flag: an error names the flag (``--batch-size 0``)."""
    try:
        return coerce(f, value)
    except BadValue as err:
        raise InputError(f"{flag_of(f)} {_typed(value)} is invalid: expected {err}") from None


def _typed(value: Any) -> str:
    """A flag's text as a number where it reads as one (``--epochs 0``), else hidden."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return MASK
        return value.strip()
    return shown(value)


def coerce_key(f: dataclasses.Field, raw_key: Any, value: Any, *, where: str, prefix: str = "") -> Any:
    """``coerce`` for a file value: an error names the key as written and the file.

    "`train.batch_size: 0` in bot.yaml: expected a whole number >= 1".
    """
    try:
        return coerce(f, value)
    except BadValue as err:
        text = "" if value is None else " " + shown(value)
        raise InputError(f"`{prefix}{raw_key}:{text}` in {where}: expected {err}") from None


def norm_key(key: Any) -> str:
    return str(key).strip().replace("-", "_")


def read_settings_file(path: Path | str) -> Any:
    """The data of a ``--config`` file: JSON for ``.json``, else YAML. One line per way it can fail."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"config file {str(path)!r} does not exist; expected a YAML or JSON file of settings"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"config file {path.name!r} is not UTF-8 text; expected a YAML or JSON file of settings",
            hint="save it as UTF-8",
        ) from None
    except OSError as err:
        raise InputError(
            f"config file {path.name!r} cannot be read ({err.strerror or type(err).__name__})"
        ) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as err:
            line = getattr(err, "lineno", None)
            where = f" at line {line}" if line else ""
            raise InputError(f"config file {path.name!r} is not valid JSON{where}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"config file {path.name!r} is not valid YAML{where}; expected key: value lines"
        ) from None
