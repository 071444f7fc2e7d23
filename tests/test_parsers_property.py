"""Property-based tests: every parser, fed mutated real records, parses or raises SourceError.

Each test takes real records (``fixtures/data/seed-records.json``, sources named there), changes
one to three places in them (a wrong type, a missing key, a null, a huge value, odd Unicode, a known
field added with a bad value) and reads the result with the real parser. Whatever comes in, the
parser either returns well-typed posts (which fetch can write and prepare can count) or raises the
project's own SourceError on one line; any other exception fails the test.

Deterministic (``derandomize``) and bounded, so CI is reproducible and the file runs in seconds.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from archive_kit import SEEDS, manifest_text, write_archive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huggingtweets.errors import HuggingtweetsError, SourceError, XApiError
from huggingtweets.sources import archive, files, xapi
from huggingtweets.sources.archive import read_archive
from huggingtweets.sources.files import read_posts_file
from huggingtweets.sources.record import Post, UserInfo
from huggingtweets.sources.schema import Either, ListOf, MapOf, Obj

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ODD_STRINGS = [
    "", " ", "\n\n# OFFICIAL\n\n", "\ud83d", "a\udc00b", "\u202eevil", "\x00", "\r\n", "\u2028\u2029\x85",
    "Z\u0351\u0352\u0353" * 50, "🦜" * 100, "x" * 200_000, "１２３", "0" * 31, "-1", "nan", "true", "1e999",
    "Wed Oct 19 20:07:25 +0000 2022", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "2023-02-30T00:00:00Z", "<script>alert(1)</script>", "{{ 7*7 }}", "](https://evil.example)",
]  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(ODD_STRINGS),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
    st.builds(lambda depth: json.loads("[" * depth + "]" * depth), st.integers(1, 200)),
)


def _paths(value, prefix=()):
    """Every place in a JSON tree, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*prefix, i))
    return out


def _parent(root, path):
    for key in path[:-1]:
        root = root[key]
    return root


def _apply(root, path, op, value, name):
    """``root`` with one change; a path an earlier change removed is left alone."""
    if not path:
        return value if op == "replace" else root
    try:
        parent = _parent(root, path)
        parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        return root
    if op == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif op == "null":
        parent[path[-1]] = None
    elif op == "add" and isinstance(parent, dict):
        parent[name] = value
    else:
        parent[path[-1]] = value
    return root


def field_names(shape) -> tuple[str, ...]:
    """Every field name a shape reads, nested ones included: where a mutation matters most."""
    names: list[str] = []
    stack = [shape]
    while stack:
        s = stack.pop()
        if isinstance(s, Obj):
            names += list(s.fields)
            stack += list(s.fields.values())
        elif isinstance(s, ListOf):
            stack.append(s.item)
        elif isinstance(s, MapOf):
            stack.append(s.value)
        elif isinstance(s, Either):
            stack += list(s.shapes)
    return tuple(dict.fromkeys(names))


@st.composite
def mutated(draw, base, shape, depth=3):
    """``base`` (a JSON tree) with one to three changes, about half of them where it matters: at a
    field the shape names, or a record's own fields (``depth``: how deep a record's fields lie, so
    that fields the shape forgot are changed as often as those it names)."""
    names = field_names(shape)
    root = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(root)
        read = [p for p in paths if p and (p[-1] in names or len(p) <= depth)]
        path = draw(st.sampled_from(read if read and draw(st.booleans()) else paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "null", "add"]))
        root = _apply(root, path, op, draw(VALUES), draw(st.sampled_from(names)))
    return root


def assert_parsed_or_source_error(call, errors=(SourceError,)):
    """Run the parser: posts of the right types, or one of ``errors`` on one line."""
    try:
        user, posts = call()
    except errors as err:
        assert isinstance(err, HuggingtweetsError)
        assert "\n" not in str(err) and len(str(err)) < 3000
        return
    assert isinstance(user, UserInfo)
    assert all(isinstance(getattr(user, k), str) for k in ("handle", "name", "source", "source_detail"))
    assert user.avatar_url is None or isinstance(user.avatar_url, str)
    assert posts and all(isinstance(p, Post) for p in posts)
    for p in posts:
        assert isinstance(p.id, str) and isinstance(p.text, str) and isinstance(p.source, str)
        assert p.created_at is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p.created_at)
        assert all(isinstance(getattr(p, k), bool) for k in ("is_retweet", "is_reply", "is_self_thread"))
        assert p.reply_to is None or isinstance(p.reply_to, str)
        assert p.lang is None or isinstance(p.lang, str)  # prepare counts languages in a dict
        assert isinstance(p.urls, list) and all(isinstance(u, str) for u in p.urls)
        p.to_json().encode("utf-8")  # fetch writes each post as a UTF-8 JSON line
    json.dumps(user.to_dict(), ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("property")


def _ytd_file(key: str, records) -> str:
    name = {"tweet": "tweets", "account": "account", "profile": "profile", "noteTweet": "note_tweet"}[key]
    return f"window.YTD.{name}.part0 = " + json.dumps(records)


def _archive_with(work: Path, rel: str, text: str) -> Path:
    """The seed archive (written once per data file under test) with ``rel`` replaced by ``text``."""
    folder = work / Path(rel).stem
    if not folder.is_dir():
        write_archive(folder)
    (folder / rel).write_text(text, encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- X archive

TWEETS = [{"tweet": t} for t in SEEDS["x_archive_tweets"]]


@SETTINGS
@given(data=mutated(TWEETS, archive.TWEET))
def test_archive_tweets(work, data):
    folder = _archive_with(work, "data/tweets.js", _ytd_file("tweet", data))
    assert_parsed_or_source_error(lambda: read_archive(folder))


@SETTINGS
@given(data=mutated([{"account": SEEDS["x_archive_account"]}], archive.ACCOUNT))
def test_archive_account(work, data):
    folder = _archive_with(work, "data/account.js", _ytd_file("account", data))
    assert_parsed_or_source_error(lambda: read_archive(folder))


@SETTINGS
@given(data=mutated([{"profile": SEEDS["x_archive_profile"]}], archive.PROFILE))
def test_archive_profile(work, data):
    folder = _archive_with(work, "data/profile.js", _ytd_file("profile", data))
    assert_parsed_or_source_error(lambda: read_archive(folder))


@SETTINGS
@given(data=mutated(SEEDS["x_archive_manifest"], archive.MANIFEST, depth=2))
def test_archive_manifest(work, data):
    folder = _archive_with(work, "data/manifest.js", manifest_text(data))
    assert_parsed_or_source_error(lambda: read_archive(folder))


@SETTINGS
@given(data=mutated([{"noteTweet": SEEDS["x_archive_note_tweet"]}], archive.NOTE_TWEET))
def test_archive_note_tweet(work, data):
    folder = _archive_with(work, "data/note-tweet.js", _ytd_file("noteTweet", data))
    assert_parsed_or_source_error(lambda: read_archive(folder))


@SETTINGS
@given(cut=st.integers(0, 10_000), insert=st.text(max_size=5))
def test_archive_damaged_json_text(work, cut, insert):
    text = _ytd_file("tweet", TWEETS)
    cut %= len(text)
    folder = _archive_with(work, "data/tweets.js", text[:cut] + insert + text[cut + 1 :])
    assert_parsed_or_source_error(lambda: read_archive(folder))


# --------------------------------------------------------------------------- posts files

ROWS = [
    {"text": "Morning walk by the river, the herons were out.", "created_at": "2023-05-01T08:00:00Z", "lang": "en", "id": "a1"},
    {"text": "@bob Yes, with the cake.", "is_reply": True, "reply_to": "bob", "urls": ["https://x.example/a"]},
    {"text": "Read more: https://blog.example/1", "date": "Wed Oct 19 20:07:25 +0000 2022", "is_retweet": "false", "urls": "https://blog.example/1"},
]  # fmt: skip


@SETTINGS
@given(rows=mutated(ROWS, files.ROW, depth=2))
def test_jsonl_posts(work, rows):
    path = work / "posts.jsonl"
    lines = rows if isinstance(rows, list) else [rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    assert_parsed_or_source_error(lambda: read_posts_file(path, "alice"))


CELLS = st.one_of(
    st.text(max_size=40), st.sampled_from(ODD_STRINGS), st.sampled_from(["1", "yes", "en", "2023-01-01"])
)
COLUMNS = ["text", "id", "created_at", "date", "lang", "is_reply", "reply_to", "is_retweet", "urls", "other"]


@SETTINGS
@given(
    header=st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6),
    rows=st.lists(st.lists(CELLS, max_size=7), min_size=1, max_size=4),
)
def test_csv_posts(work, header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = work / "posts.csv"
    # Lone surrogates cannot be in a UTF-8 file: the file is what a user's tool would write.
    path.write_bytes(buf.getvalue().encode("utf-8", "replace"))
    assert_parsed_or_source_error(lambda: read_posts_file(path, "alice"))


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace"))
    )
)
def test_text_posts(work, content):
    path = work / "posts.txt"
    path.write_bytes(content)
    assert_parsed_or_source_error(lambda: read_posts_file(path, "alice"))


# --------------------------------------------------------------------------- X API answers


class FakeX:
    def __init__(self, user, pages) -> None:
        self.user, self.pages = user, list(pages)

    def get_user(self, username):
        return self.user

    def get_users_tweets(self, user_id, *, max_results, since_id, until_id=None, pagination_token=None):
        return self.pages.pop(0) if self.pages else {"meta": {"result_count": 0}}


@SETTINGS
@given(
    which=st.integers(0, len(SEEDS["x_api_page"]) - 1),
    user=st.one_of(
        st.just(SEEDS["x_api_user"][1]),
        mutated(SEEDS["x_api_user"][1], xapi.USER_BODY, depth=2),
    ),
    page=st.data(),
)
def test_x_api_answers(which, user, page):
    body = page.draw(mutated(SEEDS["x_api_page"][which], xapi.PAGE_BODY))
    with tempfile.TemporaryDirectory() as cache:
        client = FakeX(user, [body])
        assert_parsed_or_source_error(
            lambda: xapi.fetch_user(
                "wren_at_gullstone",
                client,
                cache_dir=Path(cache),
                echo=lambda _: None,
                progress=False,
                max_posts=50,
            ),
            errors=(SourceError, XApiError),
        )
