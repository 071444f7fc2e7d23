"""Typed reads from parsed JSON/CBOR records: anything of the wrong shape is a SourceError that names
the file, the record and the field, never a TypeError or KeyError deep in a parser."""

from __future__ import annotations

from typing import Any

from huggingtweets.errors import SourceError
from huggingtweets.sources.schema import clean_text  # lone surrogates -> U+FFFD, as for the X parsers

_NAMES = {str: "a string", list: "a list", dict: "an object", bool: "true/false", int: "a number"}


class Where:
    """Where a record came from: ``file``, then ``record`` (e.g. ``orderedItems[12]``)."""

    def __init__(self, file: str, record: str = "") -> None:
        self.file, self.record = file, record

    def at(self, record: str) -> Where:
        return Where(self.file, record)

    def error(self, field: str, what: str, hint: str | None = None) -> SourceError:
        place = f"{self.file}: {self.record}" if self.record else self.file
        return SourceError(f"{place}: field {field!r} {what}", hint=hint or "re-download the export")


def get(
    record: Any, key: str, types: type | tuple[type, ...], where: Where, *, required: bool = False
) -> Any:
    """``record[key]`` when it has one of ``types``; None when absent or null (unless ``required``)."""
    if not isinstance(record, dict):
        raise where.error(key, f"belongs to a record that is {_name(record)}, expected an object")
    value = record.get(key)
    if value is None:
        if required:
            raise where.error(key, "is missing")
        return None
    types = types if isinstance(types, tuple) else (types,)
    # bool is an int in Python; a number field that holds true/false is still the wrong shape.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(_NAMES.get(t, t.__name__) for t in types)
        raise where.error(key, f"is {_name(value)}, expected {expected}")
    return clean_text(value) if isinstance(value, str) else value


def strings(record: Any, key: str, where: Where) -> list[str]:
    """A list of strings (a lone string is read as a list of one, as ActivityStreams allows)."""
    value = get(record, key, (list, str), where)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not all(isinstance(v, str) for v in value):
        raise where.error(key, "holds something other than strings")
    return [clean_text(v) for v in value]


def _name(value: Any) -> str:
    if value is None:
        return "null"
    for t, name in _NAMES.items():
        if type(value) is t:
            return name
    return type(value).__name__
