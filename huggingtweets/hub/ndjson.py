"""Streaming reader for the commit endpoint's NDJSON body, with bounded memory.

A regular-mode commit carries each file as one base64 JSON string, so one line can be hundreds
of MB. ``json.loads`` on such a line would hold the line, the decoded string and the decoded
bytes at once (about 3.5x the file). This reader keeps every line's small parts in memory and
spills any string longer than ``SPILL_AT`` bytes, still JSON-escaped, to a temp file; the parsed
line holds a placeholder (``SpillRef``) the caller decodes in chunks.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SPILL_AT = 1024 * 1024
READ = 4 * 1024 * 1024
MAX_SKELETON = 64 * 1024 * 1024  # a line's non-spilled part; more means an abusive body
_PLACEHOLDER = b'"\\u0000spill:%d"'
_OUTSIDE = re.compile(rb'["\n]')
_INSIDE = re.compile(rb'["\\]')


class NdjsonError(ValueError):
    pass


class SpillRef:
    """A long JSON string left on disk, raw (still escaped as in the request)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh

    def raw_size(self) -> int:
        self.fh.seek(0, 2)
        return self.fh.tell()

    def text(self) -> str:
        self.fh.seek(0)
        return json.loads(b'"' + self.fh.read() + b'"')

    def base64_chunks(self) -> tuple[int, Iterator[bytes]]:
        """(decoded size, decoded chunks) for base64 content; NdjsonError if it is not base64."""
        n = self.raw_size()
        self.fh.seek(max(n - 2, 0))
        tail = self.fh.read()
        if n % 4 or b"\\" in tail:
            return self._fallback()
        size = n // 4 * 3 - tail.count(b"=")

        def chunks() -> Iterator[bytes]:
            self.fh.seek(0)
            while block := self.fh.read(READ):  # READ is a multiple of 4: blocks decode alone
                if b"\\" in block:
                    raise NdjsonError("base64 content contains a JSON escape")
                try:
                    yield base64.b64decode(block, validate=True)
                except (binascii.Error, ValueError):
                    raise NdjsonError("content is not valid base64") from None

        return size, chunks()

    def _fallback(self) -> tuple[int, Iterator[bytes]]:
        # Escaped or oddly sized: decode the slow way (rare; json.dumps never escapes base64).
        try:
            data = base64.b64decode(self.text(), validate=True)
        except (binascii.Error, ValueError):
            raise NdjsonError("content is not valid base64") from None
        return len(data), iter([data])


def _restore(value: Any, spills: list[SpillRef]) -> Any:
    if isinstance(value, str) and value.startswith("\x00spill:") and value[7:].isdigit():
        index = int(value[7:])
        return spills[index] if index < len(spills) else value
    if isinstance(value, dict):
        return {k: _restore(v, spills) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, spills) for v in value]
    return value


def iter_lines(fh: IO[bytes], spill_dir: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) for each non-empty line; long strings become SpillRef.

    Spill files are deleted when the next line is read (or the generator is closed).
    """
    skeleton = bytearray()
    string = bytearray()
    spills: list[SpillRef] = []
    spill: IO[bytes] | None = None
    in_string = escape = False
    number = 0

    def finish() -> Iterator[tuple[int, Any]]:
        if skeleton.strip():
            try:
                parsed = json.loads(bytes(skeleton))
            except (ValueError, UnicodeDecodeError):
                raise NdjsonError(f"line {number} is not valid JSON") from None
            yield number, _restore(parsed, spills)

    try:
        while block := fh.read(READ):
            i = 0
            while i < len(block):
                if not in_string:
                    m = _OUTSIDE.search(block, i)
                    end = m.start() if m else len(block)
                    skeleton += block[i:end]
                    if m is None:
                        i = end
                    elif block[end : end + 1] == b'"':
                        in_string, i = True, end + 1
                        string.clear()
                    else:
                        number += 1
                        yield from finish()
                        for ref in spills:
                            ref.fh.close()
                        skeleton.clear()
                        spills = []
                        i = end + 1
                    if len(skeleton) > MAX_SKELETON:
                        raise NdjsonError(f"line {number + 1} is too large outside its file contents")
                    continue
                if escape:  # the byte after a backslash, split across blocks
                    piece, i, escape = block[i : i + 1], i + 1, False
                else:
                    m = _INSIDE.search(block, i)
                    end = m.start() if m else len(block)
                    piece = block[i:end]
                    if m is not None and block[end : end + 1] == b"\\":
                        piece += block[end : end + 2]
                        escape = end + 1 >= len(block)
                        i = end + 2
                    elif m is not None:
                        i = end + 1
                        in_string = False
                    else:
                        i = end
                if spill is not None:
                    spill.write(piece)
                else:
                    string.extend(piece)
                    if len(string) > SPILL_AT:
                        spill = tempfile.TemporaryFile(dir=spill_dir)
                        spill.write(string)
                        string.clear()
                if not in_string:
                    if spill is not None:
                        skeleton += _PLACEHOLDER % len(spills)
                        spills.append(SpillRef(spill))
                        spill = None
                    else:
                        skeleton += b'"' + string + b'"'
        if in_string:
            raise NdjsonError(f"line {number + 1} ends inside a string (truncated body?)")
        number += 1
        yield from finish()
    finally:
        for ref in spills:
            ref.fh.close()
        if spill is not None:
            spill.close()
