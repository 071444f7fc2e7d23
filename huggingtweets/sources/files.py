"""Posts from any other network (Mastodon, Bluesky, a blog) in a plain file.

- ``.jsonl`` / ``.ndjson``: one JSON object per line with a ``text`` field (and, optionally, ``id``,
  ``created_at``, ``lang``, ``is_reply``, ``reply_to``, ``is_retweet``, ``urls``).
- ``.csv``: a header row with a ``text`` column (optional columns as above).
- anything else (``.txt``): one post per line; blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.record import Post, UserInfo
from huggingtweets.sources.schema import DATE, FLAG, LANG, STR, Either, Key, ListOf, Obj, conform

# One post of a file; CSV gives every cell as a string, JSON lines may type them.
ROW = Obj(
    {
        "text": STR, "id": Key(), "created_at": DATE, "date": DATE, "lang": LANG,
        "is_retweet": FLAG, "is_reply": FLAG, "reply_to": STR, "urls": Either(STR, ListOf(STR)),
    },
    required=("text",),
)  # fmt: skip
_C_LONG_MAX = min(sys.maxsize, 2**31 - 1)  # csv's limit is a C long: 32 bits on Windows
_HINT = (
    "fix that value in the file: a post has a `text` string and, optionally, `id`, `created_at` "
    '(ISO 8601), `lang` (a code like "en"), `is_reply`/`is_retweet` (true/false), `reply_to` and `urls`'
)


def _post(row: dict, index: int, where: str, record: str) -> Post:
    row = conform(row, ROW, where, record=record, hint=_HINT)
    urls = row.get("urls")
    if isinstance(urls, str):
        urls = urls.split()
    reply_to = row.get("reply_to") or None
    return Post(
        id=row.get("id") or str(index),
        created_at=row.get("created_at") or row.get("date"),
        text=row["text"],
        is_retweet=row.get("is_retweet", False),
        is_reply=row.get("is_reply", False) or bool(reply_to),
        reply_to=reply_to,
        lang=row.get("lang") or None,
        urls=list(urls or []),
        source="file",
    )


def _lines(text: str) -> list[str]:
    # Only "\n" ends a line: str.splitlines() also splits on U+2028, U+0085, form feeds and more,
    # which may stand inside a post (and inside a JSON string, unescaped).
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_jsonl(path: Path, text: str) -> list[Post]:
    posts = []
    for lineno, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise SourceError(f"{path.name} line {lineno} is not JSON ({err.msg})") from None
        except (ValueError, RecursionError) as err:  # a 4,300+ digit integer; nesting too deep
            reason = (
                "nested too deeply" if isinstance(err, RecursionError) else " ".join(str(err).split())[:120]
            )
            raise SourceError(f"{path.name} line {lineno} cannot be read as JSON ({reason})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise SourceError(
                f"{path.name} line {lineno} has no string `text` field",
                hint='expected one JSON object per line, like {"text": "..."}',
            )
        posts.append(_post(row, lineno, path.name, f"line {lineno}"))
    return posts


def _read_csv(path: Path, text: str) -> list[Post]:
    # A quoted field may hold line breaks: the reader must see the text whole, not split into lines.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    # csv refuses fields over 128 KiB by default, where text and JSON lines files take a post of
    # any length. No field can be longer than the file, which is already in memory: that bounds it.
    # The limit is process-wide, so it is put back afterwards.
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, min(len(text) + 1, _C_LONG_MAX)))
    try:
        columns = reader.fieldnames or []
        if "text" not in columns:
            raise SourceError(
                f"{path.name} has no `text` column (columns: {', '.join(map(str, columns)) or 'none'})",
                hint="expected a CSV whose header row names a `text` column",
            )
        # Rows count from 1 after the header, as spreadsheets number them from 2.
        return [
            _post(row, i, path.name, f"row {i}")
            for i, row in enumerate(reader, 1)
            if isinstance(row.get("text"), str) and row["text"].strip()
        ]
    except csv.Error as err:
        raise SourceError(f"{path.name} is not a readable CSV file (line {reader.line_num}: {err})") from None
    finally:
        csv.field_size_limit(old_limit)


def read_posts_file(path: Path | str, handle: str) -> tuple[UserInfo, list[Post]]:
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"posts file {path} does not exist", hint="check the path given to --posts-file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as err:
        raise SourceError(f"posts file {path.name} cannot be read as UTF-8 text ({err})") from None
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        posts = _read_jsonl(path, text)
    elif suffix == ".csv":
        posts = _read_csv(path, text)
    else:
        posts = [
            _post({"text": line}, i, path.name, f"line {i}")
            for i, line in enumerate(_lines(text), 1)
            if line.strip()
        ]
    if not posts:
        raise SourceError(f"posts file {path.name} holds zero posts", hint="expected at least one post")
    handle = handle.lstrip("@")
    return UserInfo(handle=handle, name=handle, source="file", source_detail=path.name), posts
