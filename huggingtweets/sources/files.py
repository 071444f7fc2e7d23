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
from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.record import Post, UserInfo, parse_date

_TRUE = {"1", "true", "yes"}


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


def _post(row: dict, index: int) -> Post:
    urls = row.get("urls")
    if isinstance(urls, str):
        urls = urls.split()
    reply_to = row.get("reply_to") or None
    return Post(
        id=str(row.get("id") or index),
        created_at=parse_date(row.get("created_at") or row.get("date")),
        text=row["text"],
        is_retweet=_flag(row.get("is_retweet")),
        is_reply=_flag(row.get("is_reply")) or bool(reply_to),
        reply_to=reply_to,
        lang=row.get("lang") or None,
        urls=list(urls) if isinstance(urls, list) else [],
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
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise SourceError(
                f"{path.name} line {lineno} has no string `text` field",
                hint='expected one JSON object per line, like {"text": "..."}',
            )
        posts.append(_post(row, lineno))
    return posts


def _read_csv(path: Path, text: str) -> list[Post]:
    # A quoted field may hold line breaks: the reader must see the text whole, not split into lines.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    if "text" not in columns:
        raise SourceError(
            f"{path.name} has no `text` column (columns: {', '.join(columns) or 'none'})",
            hint="expected a CSV whose header row names a `text` column",
        )
    return [_post(row, i) for i, row in enumerate(reader, 1) if (row.get("text") or "").strip()]


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
        posts = [_post({"text": line}, i) for i, line in enumerate(_lines(text), 1) if line.strip()]
    if not posts:
        raise SourceError(f"posts file {path.name} holds zero posts", hint="expected at least one post")
    handle = handle.lstrip("@")
    return UserInfo(handle=handle, name=handle, source="file", source_detail=path.name), posts
