"""The shapes of the records the sources read, checked before any field of them is used.

Archives, posts files and API answers come from outside: a field may hold a number where a
string belongs, a list where an object does, or be missing. Each parser states the shape of its
records here once and calls :func:`conform`; what does not fit becomes one ``SourceError`` naming
the file, the record and the field, never a TypeError deep inside a parser or a later stage.

Shapes are tolerant where real exports vary: unknown keys pass through untouched, a ``null``
counts as an absent field, ids may be strings or integers, flags may be booleans or "true"/"1".
What they return is normalized (ids as strings, dates as ISO UTC, lone UTF-16 surrogates, which
JSON can carry but UTF-8 cannot, replaced), so the parsers after them can trust every type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from huggingtweets.errors import SourceError
from huggingtweets.sources.record import parse_date

_DIGITS = re.compile(r"[0-9]{1,30}")
# BCP 47-like: "en", "pt-BR", "zh-Hant" and X's own "und", "qme"...
_LANG = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TRUE = {"1", "true", "yes"}
_FALSE = {"", "0", "false", "no"}


class Mismatch(Exception):
    """A value does not fit its shape; ``path`` is where, ``expected`` what would have."""

    def __init__(self, path: str, value: Any, expected: str) -> None:
        super().__init__(path)
        self.path, self.value, self.expected = path, value, expected


def describe(value: Any) -> str:
    """A short, one-line account of a JSON value for an error message."""
    kind = {
        type(None): "null", bool: "a boolean", int: "a number", float: "a number",
        str: "a string", list: "a list", dict: "an object",
    }.get(type(value), type(value).__name__)  # fmt: skip
    if isinstance(value, (list, dict)):
        return f"{kind} of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"{kind} of {len(str(abs(value)))} digits"
    shown = repr(value)
    return f"{kind} ({shown[:40]}{'…' if len(shown) > 40 else ''})" if value is not None else kind


def _sub(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Shape:
    expected = "a value"

    def conform(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, path: str) -> Mismatch:
        return Mismatch(path, value, self.expected)


def clean_text(value: str) -> str:
    # A lone surrogate ("\ud83d" without its pair, from a post cut mid-emoji) loads from JSON but
    # cannot be written as UTF-8; it carries no character, so it becomes U+FFFD.
    # (json.loads has already joined every pair, so any surrogate left is a lone one.)
    return _SURROGATE.sub("\ufffd", value)


def _clean_tree(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_tree(v) for v in value]
    if isinstance(value, dict):
        return {_clean_tree(k): _clean_tree(v) for k, v in value.items()}
    return value


class Str(Shape):
    expected = "a string"

    def conform(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(value, path)
        return clean_text(value)


class Pattern(Str):
    def __init__(self, regex: re.Pattern, expected: str) -> None:
        self.regex, self.expected = regex, expected

    def conform(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not self.regex.fullmatch(value):
            raise self.fail(value, path)
        return value


class Lang(Pattern):
    """A language code; an empty one (a blank CSV cell) means none."""

    def conform(self, value: Any, path: str) -> str | None:
        return None if value == "" else super().conform(value, path)


class Id(Shape):
    """A numeric id as X writes them: a string of digits, or a JSON integer."""

    expected = "an id (a string of digits)"

    def conform(self, value: Any, path: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**30:
            return str(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            return value
        raise self.fail(value, path)


class Key(Shape):
    """Any short id a posts file gives: a string or an integer."""

    expected = "an id (a string or an integer)"

    def conform(self, value: Any, path: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**30:
            return str(value)
        if isinstance(value, str) and len(value) <= 200:
            return clean_text(value)
        raise self.fail(value, path)


class Count(Shape):
    expected = "a count (a whole number)"

    def conform(self, value: Any, path: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
            return value
        if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) < 16:
            return int(value)
        raise self.fail(value, path)


class Flag(Shape):
    expected = 'a flag (true/false, "true"/"false", 1/0)'

    def conform(self, value: Any, path: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self.fail(value, path)


class Date(Shape):
    expected = 'a date (ISO 8601 like "2023-05-01T08:00:00Z", or X\'s "Wed Oct 19 20:07:25 +0000 2022")'

    def conform(self, value: Any, path: str) -> str | None:
        if isinstance(value, str) and not value.strip():
            return None
        if not isinstance(value, str) or len(value) > 100:
            raise self.fail(value, path)
        try:
            parsed = parse_date(value)
        except (OverflowError, ValueError):  # a valid date that UTC cannot hold (year 1 at +14:00)
            parsed = None
        if parsed is None:
            raise self.fail(value, path)
        return parsed


class ListOf(Shape):
    def __init__(self, item: Shape) -> None:
        self.item = item
        self.expected = f"a list, each {item.expected}"

    def conform(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise self.fail(value, path)
        return [self.item.conform(v, _sub(path, i)) for i, v in enumerate(value)]


class Either(Shape):
    def __init__(self, *shapes: Shape) -> None:
        self.shapes = shapes
        self.expected = " or ".join(s.expected for s in shapes)

    def conform(self, value: Any, path: str) -> Any:
        for shape in self.shapes:
            try:
                return shape.conform(value, path)
            except Mismatch:
                continue
        raise self.fail(value, path)


class Obj(Shape):
    """An object with these optional fields (``required`` ones must be there and not null)."""

    expected = "an object"

    def __init__(self, fields: dict[str, Shape], required: tuple[str, ...] = ()) -> None:
        self.fields, self.required = fields, required

    def conform(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(value, path)
        # Unknown fields are kept (an API cache stores whole records) but must be writable as UTF-8.
        out = {_clean_tree(k): _clean_tree(v) for k, v in value.items() if k not in self.fields}
        for key, shape in self.fields.items():
            got = value.get(key)
            if got is None:
                out.pop(key, None)
                if key in self.required:
                    raise Mismatch(_sub(path, key), None, shape.expected)
                continue
            out[key] = shape.conform(got, _sub(path, key))
        return out


class MapOf(Shape):
    """An object whose keys are free and whose values all have one shape."""

    def __init__(self, value: Shape) -> None:
        self.value = value
        self.expected = "an object"

    def conform(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(value, path)
        return {k: (None if v is None else self.value.conform(v, _sub(path, k))) for k, v in value.items()}


class Of(Shape):
    """A value of one JSON type, taken as it is (``Of(list, "a list")``); bool is never a number."""

    def __init__(self, kind: type, expected: str) -> None:
        self.kind, self.expected = kind, expected

    def conform(self, value: Any, path: str) -> Any:
        if not isinstance(value, self.kind) or (isinstance(value, bool) and self.kind is not bool):
            raise self.fail(value, path)
        return value


STR = Str()
ID = Id()
DATE = Date()
FLAG = Flag()
LANG = Lang(_LANG, 'a language code (like "en" or "pt-BR")')
URLS = Obj({"urls": ListOf(Obj({"expanded_url": STR}))})


def conform(
    value: Any, shape: Shape, where: str, *, record: str = "", hint: str | None = None,
    error: Callable[..., Exception] = SourceError,
) -> Any:  # fmt: skip
    """``value`` normalized to ``shape``, or ``error`` naming ``where``, ``record`` and the field."""
    try:
        return shape.conform(value, "")
    except Mismatch as bad:
        field = f"field `{bad.path}`" if bad.path else "the record"
        place = f"{where} {record}".strip()
        raise error(
            f"{place}: {field} is {describe(bad.value)}, expected {bad.expected}", hint=hint
        ) from None


# ------------------------------------------------------------------ field by field, for nested records
# Parsers that walk deeply nested records (ActivityStreams, atproto) read them a field at a time,
# with the same shapes and the same one-line error as ``conform``.

_BY_TYPE: dict[type, Shape] = {
    str: STR,
    list: Of(list, "a list"),
    dict: Of(dict, "an object"),
    bool: Of(bool, "true/false"),
    int: Of(int, "a number"),
}


class Where:
    """Where a record came from: ``file``, then ``record`` (e.g. ``orderedItems[12]``)."""

    def __init__(self, file: str, record: str = "") -> None:
        self.file, self.record = file, record

    def at(self, record: str) -> Where:
        return Where(self.file, record)

    def error(self, field: str, what: str, hint: str | None = None) -> SourceError:
        place = f"{self.file}: {self.record}" if self.record else self.file
        return SourceError(f"{place}: field `{field}` {what}", hint=hint or "re-download the export")


def get(
    record: Any, key: str, types: type | tuple[type, ...], where: Where, *, required: bool = False
) -> Any:
    """``record[key]`` conformed to the shape of ``types``; None when absent or null (unless ``required``)."""
    if not isinstance(record, dict):
        raise where.error(key, f"belongs to a record that is {describe(record)}, expected an object")
    value = record.get(key)
    if value is None:
        if required:
            raise where.error(key, "is missing")
        return None
    kinds = types if isinstance(types, tuple) else (types,)
    shapes = [_BY_TYPE.get(k) or Of(k, k.__name__) for k in kinds]
    shape = shapes[0] if len(shapes) == 1 else Either(*shapes)
    try:
        return shape.conform(value, key)
    except Mismatch as bad:
        raise where.error(key, f"is {describe(bad.value)}, expected {bad.expected}") from None


def strings(record: Any, key: str, where: Where) -> list[str]:
    """A list of strings (a lone string is read as a list of one, as ActivityStreams allows)."""
    value = get(record, key, (list, str), where)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return ListOf(STR).conform(value, key)
    except Mismatch as bad:
        raise where.error(bad.path, f"is {describe(bad.value)}, expected {bad.expected}") from None
