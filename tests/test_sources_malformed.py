"""Malformed data through the X API parsing and the CLI: one line, exit 1, nothing half-written.

The parsers' own cases are in test_sources_archive.py and test_sources_files.py; the property-based
tests (test_parsers_property.py) feed them mutated real records.
"""

from __future__ import annotations

import json

import pytest
from archive_kit import corrupt_deflate, seed, write_archive, zip_folder
from click.testing import CliRunner

from huggingtweets.cli import main
from huggingtweets.errors import SourceError
from huggingtweets.sources.xapi import fetch_user

# --------------------------------------------------------------------------- X API answers


class FakeX:
    """An ``XClient`` answering with the bodies it is given (the X API seam)."""

    def __init__(self, user: dict, *pages: dict) -> None:
        self.user, self.pages = user, list(pages)

    def get_user(self, username: str) -> dict:
        return self.user

    def get_users_tweets(self, user_id, *, max_results, since_id, until_id=None, pagination_token=None):
        return self.pages.pop(0) if self.pages else {"meta": {"result_count": 0}}


USER = {"data": {"id": "900", "name": "Wren", "username": "wren", "public_metrics": {"tweet_count": 2}}}
PAGE = {
    "data": [
        {"id": "1002", "text": "Fog at dusk, horn till dawn.", "created_at": "2022-11-12T08:00:00.000Z", "lang": "en"},
        {"id": "1001", "text": "Bread at the quay.", "in_reply_to_user_id": "321", "referenced_tweets": [{"type": "replied_to", "id": "5"}]},
    ],
    "includes": {"users": [{"id": "321", "username": "ida"}]},
    "meta": {"result_count": 2},
}  # fmt: skip


def _fetch(client, tmp_path):
    return fetch_user("wren", client, cache_dir=tmp_path / "cache", echo=lambda _: None, progress=False)


def test_good_answers_parse(tmp_path):
    user, posts = _fetch(FakeX(USER, PAGE), tmp_path)
    assert user.handle == "wren"
    assert [(p.id, p.created_at, p.reply_to, p.is_reply) for p in posts] == [
        ("1002", "2022-11-12T08:00:00Z", None, False),
        ("1001", None, "ida", True),
    ]


def _changed(body: dict, path: list, value):
    body = json.loads(json.dumps(body))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("user", "page", "message"),
    [
        (_changed(USER, ["data", "id"], 5.5), PAGE, r"^X API answer for user @wren: field `data.id` is a number \(5.5\), expected an id"),
        (_changed(USER, ["data", "public_metrics"], [2]), PAGE, r"field `data.public_metrics` is a list of 1, expected an object"),
        (_changed(USER, ["data", "username"], "../../etc/x"), PAGE, r"field `data.username` is a string \('../../etc/x'\), expected an X username"),
        ({"errors": ["gone"]}, PAGE, r"^X API answer for user @wren: field `errors\[0\]` is a string \('gone'\), expected an object"),
        (USER, _changed(PAGE, ["data", 0, "lang"], ["en"]), r"^X API answer for the posts of @wren: field `data\[0\].lang` is a list of 1"),
        (USER, _changed(PAGE, ["data", 1, "entities"], {"urls": [{"expanded_url": "https://a.example"}, 3]}), r"field `data\[1\].entities.urls\[1\]` is a number \(3\), expected an object"),
        (USER, _changed(PAGE, ["includes", "users", 0], {"id": "321"}), r"field `includes.users\[0\].username` is null, expected a string"),
        (USER, _changed(PAGE, ["data", 0, "id"], "not-a-number"), r"field `data\[0\].id` is a string \('not-a-number'\), expected an id"),
        (USER, _changed(PAGE, ["meta"], "done"), r"field `meta` is a string \('done'\), expected an object"),
    ],
)  # fmt: skip
def test_answers_of_the_wrong_shape(tmp_path, user, page, message):
    with pytest.raises(SourceError, match=message):
        _fetch(FakeX(user, page), tmp_path)
    # A bad answer never reaches the cache that later fetches build on: no cache file is written.
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_damaged_cache_is_named(tmp_path):
    _fetch(FakeX(USER, PAGE), tmp_path)
    cache = tmp_path / "cache" / "wren.json"
    state = json.loads(cache.read_text())
    state["tweets"][1]["text"] = {"oops": True}
    cache.write_text(json.dumps(state))
    with pytest.raises(
        SourceError, match=r"^X API cache wren.json tweets\[1\]: field `text` is an object of 1"
    ):
        _fetch(FakeX(USER), tmp_path)


# --------------------------------------------------------------------------- through the CLI


def _bad_archive(tmp_path, part: str, change) -> str:
    parts = {"tweets": seed("tweets"), "account": seed("account"), "manifest": seed("manifest")}
    change(parts[part])
    return str(write_archive(tmp_path / "archive", **parts))


def _corrupt_zip(tmp_path) -> str:
    zipped = zip_folder(write_archive(tmp_path / "archive"), tmp_path / "twitter.zip")
    corrupt_deflate(zipped, "data/tweets.js")
    return str(zipped)


def _posts(tmp_path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


CASES = {
    "corrupt deflate": (lambda t: ["--archive", _corrupt_zip(t)], "twitter.zip: data/tweets.js cannot be read"),
    "full_text a number": (
        lambda t: ["--archive", _bad_archive(t, "tweets", lambda v: v[0].update(full_text=5))],
        "field `full_text` is a number (5), expected a string",
    ),
    "username a number": (
        lambda t: ["--archive", _bad_archive(t, "account", lambda v: v.update(username=5))],
        "data/account.js record 0 (id 1153674767859441664): field `username` is a number (5)",
    ),
    "dataTypes a list": (
        lambda t: ["--archive", _bad_archive(t, "manifest", lambda v: v.update(dataTypes=[]))],
        "data/manifest.js: field `dataTypes` is a list of 0, expected an object",
    ),
    "year 1 at +14:00": (
        lambda t: ["--posts-file", _posts(t, "p.jsonl", '{"text": "hello there you", "created_at": "0001-01-01T00:00:00+14:00"}\n'), "--handle", "al"],
        "p.jsonl line 1: field `created_at` is a string ('0001-01-01T00:00:00+14:00'), expected a date",
    ),
    "lang a list": (
        lambda t: ["--posts-file", _posts(t, "p.jsonl", '{"text": "hello there you", "lang": ["en"]}\n'), "--handle", "al"],
        "p.jsonl line 1: field `lang` is a list of 1, expected a language code",
    ),
}  # fmt: skip


def _error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_one_line_exit_1_nothing_written(tmp_path, case):
    make_args, expected = CASES[case]
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(main, ["fetch", *make_args(tmp_path), "--run-dir", str(run_dir)])
    assert result.exit_code == 1, result.output
    assert expected in _error_line(result)
    assert "Traceback" not in result.output
    assert not run_dir.exists()


def test_cli_existing_run_folder_is_left_as_it_was(tmp_path):
    run_dir = tmp_path / "run"
    good = CliRunner().invoke(
        main, ["fetch", "--archive", str(write_archive(tmp_path / "ok")), "--run-dir", str(run_dir)]
    )
    assert good.exit_code == 0, good.output
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    make_args, _ = CASES["lang a list"]
    bad = CliRunner().invoke(main, ["fetch", *make_args(tmp_path), "--run-dir", str(run_dir)])
    assert bad.exit_code == 1
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
