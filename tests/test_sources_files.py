"""Plain posts files: JSONL (text field), CSV (text column), text (one post per line)."""

from __future__ import annotations

import pytest

from huggingtweets.errors import SourceError
from huggingtweets.sources.files import read_posts_file


def test_jsonl(data_fixtures):
    user, posts = read_posts_file(data_fixtures / "posts/toots.jsonl", "@alice")
    assert user.to_dict() == {
        "handle": "alice",
        "name": "alice",
        "avatar_url": None,
        "avatar_file": None,
        "source": "file",
        "source_detail": "toots.jsonl",
    }
    assert [p.id for p in posts] == ["a1", "2", "3"]
    assert [p.created_at for p in posts] == ["2023-05-01T08:00:00Z", "2023-05-02T08:00:00Z", None]
    assert posts[0].lang == "en" and posts[1].lang is None
    assert (posts[2].is_reply, posts[2].reply_to) == (True, "bob")
    assert {p.source for p in posts} == {"file"}


def test_csv(data_fixtures):
    _, posts = read_posts_file(data_fixtures / "posts/blog.csv", "bloggy")
    # The third row has an empty text and is skipped.
    assert [p.text for p in posts] == [
        'A post with a comma, and "quotes" inside it.',
        "Another perfectly ordinary post about the garden.",
    ]
    assert posts[0].created_at == "2023-01-01T00:00:00Z"


def test_text_one_post_per_line(data_fixtures):
    _, posts = read_posts_file(data_fixtures / "posts/lines.txt", "liner")
    assert [p.text for p in posts] == [
        "First post on its own line, nothing fancy at all.",
        "Second post after a blank line that is skipped.",
        "Third post closes the file.",
    ]


def test_csv_without_text_column(data_fixtures):
    with pytest.raises(SourceError, match=r"no-text.csv has no `text` column \(columns: id, body\)"):
        read_posts_file(data_fixtures / "posts/no-text.csv", "x")


def test_jsonl_line_without_text(data_fixtures):
    with pytest.raises(SourceError, match=r"bad.jsonl line 2 has no string `text` field"):
        read_posts_file(data_fixtures / "posts/bad.jsonl", "x")


def test_jsonl_line_not_json(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(SourceError, match=r"broken.jsonl line 2 is not JSON"):
        read_posts_file(path, "x")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(SourceError, match=r"posts file .*nope.txt does not exist"):
        read_posts_file(tmp_path / "nope.txt", "x")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(SourceError, match=r"posts file empty.txt holds zero posts"):
        read_posts_file(empty, "x")


def test_csv_keeps_quoted_multi_line_fields(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(
        'id,text\n1,"First line of the post,\nsecond line of the same post."\n2,"Has a\u2028line separator"\n'
        "3,A plain one-line post follows.\n",
        encoding="utf-8",
    )
    _, posts = read_posts_file(path, "multi")
    assert [(p.id, p.text) for p in posts] == [
        ("1", "First line of the post,\nsecond line of the same post."),
        ("2", "Has a\u2028line separator"),
        ("3", "A plain one-line post follows."),
    ]


def test_jsonl_and_text_split_on_newlines_only(tmp_path):
    import json

    odd = "para one\u2028para two\u2029end\x85next\x0cform"
    path = tmp_path / "odd.jsonl"
    # ensure_ascii=False writes U+2028 and U+0085 raw, as many exporters do.
    path.write_bytes(
        (json.dumps({"text": odd}, ensure_ascii=False) + "\r\n" + '{"text": "second"}\n').encode()
    )
    _, posts = read_posts_file(path, "odd")
    assert [p.text for p in posts] == [odd, "second"]
    text_file = tmp_path / "odd.txt"
    text_file.write_bytes(f"{odd}\r\nsecond line\n".encode())
    _, posts = read_posts_file(text_file, "odd")
    assert [p.text for p in posts] == [odd, "second line"]
