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


# --------------------------------------------------------------------------- malformed posts files


def test_csv_field_over_128_kib_is_accepted(tmp_path):
    import csv

    big = "word " * 60_000  # 300 KB: over csv's default field limit of 128 KiB
    path = tmp_path / "long.csv"
    path.write_text(f'id,text\n1,"{big}"\n2,short one here\n', encoding="utf-8")
    limit = csv.field_size_limit()
    _, posts = read_posts_file(path, "longpost")
    assert [(p.id, p.text) for p in posts] == [("1", big), ("2", "short one here")]
    assert csv.field_size_limit() == limit  # the process-wide limit is put back


def test_posts_of_a_megabyte_in_every_format(tmp_path):
    import json

    big = "x" * 1_000_000
    files = {
        "big.txt": big + "\n",
        "big.jsonl": json.dumps({"text": big}) + "\n",
        "big.csv": f"text\n{big}\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        _, posts = read_posts_file(tmp_path / name, "big")
        assert [p.text for p in posts] == [big], name


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"text": "hi there", "created_at": "0001-01-01T00:00:00+14:00"}',
            r"^posts.jsonl line 2: field `created_at` is a string \('0001-01-01T00:00:00\+14:00'\), expected a date",
        ),
        ('{"text": "hi there", "lang": ["en", "fr"]}', r"^posts.jsonl line 2: field `lang` is a list of 2, expected a language code"),
        ('{"text": "hi there", "reply_to": {"handle": "bob"}}', r"^posts.jsonl line 2: field `reply_to` is an object of 1, expected a string"),
        ('{"text": "hi there", "urls": [1, 2]}', r"^posts.jsonl line 2: field `urls` is a list of 2, expected a string or a list, each a string"),
        ('{"text": "hi there", "is_reply": "maybe"}', r"^posts.jsonl line 2: field `is_reply` is a string \('maybe'\), expected a flag"),
        ('{"text": "hi there", "id": [1]}', r"^posts.jsonl line 2: field `id` is a list of 1, expected an id"),
        ('{"text": "hi", "id": ' + "7" * 5000 + "}", r"^posts.jsonl line 2 cannot be read as JSON \(.*[Ee]xceeds the limit"),
        ('{"text": ' + "[" * 50_000 + "]" * 50_000 + "}", r"^posts.jsonl line 2 cannot be read as JSON \(nested too deeply\)"),
    ],
)  # fmt: skip
def test_jsonl_fields_of_the_wrong_shape(tmp_path, line, message):
    path = tmp_path / "posts.jsonl"
    path.write_text('{"text": "a fine first post"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match=message) as info:
        read_posts_file(path, "x")
    assert "\n" not in str(info.value)


def test_csv_cells_are_checked_too(tmp_path):
    path = tmp_path / "dated.csv"
    path.write_text(
        "text,created_at,lang\nfirst post,2023-01-01,en\nsecond post,31/12/2023,\n", encoding="utf-8"
    )
    with pytest.raises(
        SourceError, match=r"^dated.csv row 2: field `created_at` is a string \('31/12/2023'\)"
    ):
        read_posts_file(path, "x")


def test_csv_blank_optional_cells_mean_absent(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("id,text,created_at,lang,is_reply,reply_to,urls\n,just a post,,,,,\n", encoding="utf-8")
    _, posts = read_posts_file(path, "x")
    assert [p.to_dict() for p in posts] == [
        {
            "id": "1", "created_at": None, "text": "just a post", "is_retweet": False, "is_reply": False,
            "reply_to": None, "is_self_thread": False, "lang": None, "urls": [], "source": "file",
        }
    ]  # fmt: skip
