"""X archive import: both formats, zip and folder, parts, notes, edits, avatars, broken archives."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from archive_kit import corrupt_deflate, seed, write_archive, zip_folder

from huggingtweets.errors import SourceError
from huggingtweets.sources.archive import read_archive


def by_id(posts):
    return {p.id: p for p in posts}


def test_tiny_2022_folder(data_fixtures):
    user, posts = read_archive(data_fixtures / "tiny-2022")
    assert (user.handle, user.name, user.source, user.source_detail) == (
        "TinyKeeper",
        "Tiny Keeper",
        "archive",
        "tiny-2022",
    )
    assert user.avatar_url == "https://pbs.twimg.com/profile_images/555/tinyAv.jpg"
    # The avatar, not the banner beside it in profile_media/.
    assert user.avatar_bytes == (data_fixtures / "tiny-2022/data/profile_media/77-tinyAv.jpg").read_bytes()
    assert user.avatar_ext == ".jpg"
    posts = by_id(posts)
    # Nine records over tweets.js + tweets-part1.js, one superseded by its edit.
    assert len(posts) == 8
    assert posts["1600000000000000009"].is_retweet
    reply = posts["1600000000000000008"]
    assert (reply.is_reply, reply.reply_to, reply.is_self_thread) == (True, "harbour_ida", False)
    thread = posts["1600000000000000007"]
    assert (thread.is_reply, thread.is_self_thread) == (True, True)
    assert posts["1600000000000000006"].urls == ["https://bakery.example/rye"]
    assert posts["1600000000000000005"].lang == "zxx"
    assert posts["1600000000000000010"].created_at == "2022-10-03T09:00:00Z"
    assert posts["1600000000000000010"].text.endswith("&amp; quiet.")  # raw: cleaning is prepare's job


def test_edit_chain_keeps_only_last_version(data_fixtures):
    _, posts = read_archive(data_fixtures / "tiny-2022")
    oven = [p for p in posts if "oven" in p.text]
    assert [p.text for p in oven] == ["The new oven arrived today and it is huge."]
    assert oven[0].id == "1600000000000000003"


def test_note_tweet_replaces_truncated_text(data_fixtures):
    _, posts = read_archive(data_fixtures / "tiny-2022")
    note = by_id(posts)["1600000000000000002"]
    assert note.text.endswith("nothing gets cut off at the end of it. The end.")
    assert "…" not in note.text and len(note.text) > 280


def test_zip_with_wrapping_folder_equals_folder(data_fixtures, zip_archive):
    zipped = zip_archive(data_fixtures / "tiny-2022", prefix="twitter-2022-10-03/")
    user_zip, posts_zip = read_archive(zipped)
    user_dir, posts_dir = read_archive(data_fixtures / "tiny-2022")
    assert user_zip.source_detail == "tiny-2022.zip"
    assert (user_zip.handle, user_zip.avatar_bytes) == (user_dir.handle, user_dir.avatar_bytes)
    assert [p.to_dict() for p in posts_zip] == [p.to_dict() for p in posts_dir]


def test_data_folder_given_directly(data_fixtures):
    user, posts = read_archive(data_fixtures / "tiny-2022" / "data")
    assert user.handle == "TinyKeeper" and len(posts) == 8


def test_no_manifest_falls_back_to_file_names(copy_fixture):
    folder = copy_fixture("tiny-2022")
    (folder / "data/manifest.js").unlink()
    user, posts = read_archive(folder)
    assert user.handle == "TinyKeeper" and len(posts) == 8


def test_manifest_naming_absent_files_falls_back(copy_fixture):
    folder = copy_fixture("tiny-2022")
    manifest = folder / "data/manifest.js"
    manifest.write_text(manifest.read_text().replace("data/tweets-part1.js", "data/tweets-part9.js"))
    _, posts = read_archive(folder)
    # tweets.js is still named; the manifest is believed for what exists.
    assert len(posts) == 5


def test_parts_found_by_name_in_order(data_fixtures):
    user, posts = read_archive(data_fixtures / "bare-parts", "someone")
    assert user.handle == "someone" and user.name == "someone"
    assert [p.id for p in posts] == ["4", "2", "3"]


def test_legacy_2020_format(data_fixtures):
    user, posts = read_archive(data_fixtures / "legacy-2020")
    assert (user.handle, user.name, user.avatar_url) == ("OldGameDev", "Old Game Dev", None)
    assert [p.is_retweet for p in posts] == [False, True, False]
    assert posts[2].reply_to == "fan"


def test_handle_check_is_case_insensitive(data_fixtures):
    user, _ = read_archive(data_fixtures / "tiny-2022", "@tinykeeper")
    assert user.handle == "TinyKeeper"  # stored as the archive spells it
    with pytest.raises(SourceError, match=r"belongs to @TinyKeeper, not @someone_else"):
        read_archive(data_fixtures / "tiny-2022", "someone_else")


def test_handle_required_without_account(data_fixtures):
    with pytest.raises(SourceError, match=r"bare-parts has no account.js or manifest.js"):
        read_archive(data_fixtures / "bare-parts")


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("not-ytd", r"not-ytd:data/tweets.js does not start with `window.YTD"),
        ("bad-json", r"bad-json:data/tweets.js holds no valid JSON"),
        ("wrong-shape", r"wrong-shape:data/tweets.js: record 0 is not an object with a 'tweet' object"),
        ("zero-posts", r"archive zero-posts holds zero posts in data/tweets.js"),
        ("no-tweets", r"archive no-tweets holds no tweets data"),
    ],
)
def test_broken_archives(data_fixtures, folder, message):
    with pytest.raises(SourceError, match=message) as info:
        read_archive(data_fixtures / folder, "quiet_one")
    assert "\n" not in str(info.value)


def test_broken_zip_and_missing_path(data_fixtures, zip_archive, tmp_path):
    with pytest.raises(SourceError, match=r"archive no-tweets.zip holds no tweets data"):
        read_archive(zip_archive(data_fixtures / "no-tweets"))
    with pytest.raises(SourceError, match=r"does not exist"):
        read_archive(tmp_path / "nope.zip")
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    with pytest.raises(SourceError, match=r"fake.zip is neither a folder nor a .zip file"):
        read_archive(fake)


def test_shared_smithjd_2022(shared_dir):
    user, posts = read_archive(shared_dir / "data/archives/smithjd-2022", "smithjd")
    assert (user.handle, user.source_detail) == ("smithjd", "smithjd-2022")
    assert len(posts) == 1758
    assert sum(p.is_retweet for p in posts) == 128
    assert all(p.created_at for p in posts)


def test_shared_lumeninferius_2020(shared_dir):
    user, posts = read_archive(shared_dir / "data/archives/lumeninferius-2020")
    assert (user.handle, user.name) == ("LumenInferius", "Lumen Inferius")
    assert user.avatar_url == "https://pbs.twimg.com/profile_images/1154468098419974145/MMo5i6vQ.jpg"
    assert len(posts) == 22


def _load_tool():
    path = Path(__file__).resolve().parent.parent / "tools" / "make_sample_archive.py"
    spec = importlib.util.spec_from_file_location("make_sample_archive", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_archive_is_reproducible_and_committed(tmp_path):
    from huggingtweets.paths import sample_archive

    out = _load_tool().write_zip(tmp_path / "again.zip")
    assert out.read_bytes() == sample_archive().read_bytes()


def test_sample_archive_content(tmp_path):
    from huggingtweets.paths import sample_archive

    shutil.copy(sample_archive(), tmp_path / "sample.zip")
    user, posts = read_archive(tmp_path / "sample.zip")
    assert (user.handle, user.name) == ("wren_at_gullstone", "Wren Callister")
    assert user.avatar_bytes.startswith(b"\x89PNG") and user.avatar_ext == ".png"
    assert len(posts) == 400
    assert sum(p.is_retweet for p in posts) == 6
    assert sum(p.is_self_thread for p in posts) == 1
    assert sum(p.lang in {"zxx", "qme"} for p in posts) == 6
    assert any(len(p.text) > 280 for p in posts)  # the note-tweet
    assert not any("arived" in p.text for p in posts)  # the edit chain's first version


# --------------------------------------------------------------------------- malformed archives
# Valid JSON of the wrong shape, and damaged zips: one SourceError naming file, record and field.


def _set(kind: str, path: list, value):
    """The seeds, with the field at ``path`` of part ``kind`` set to ``value``."""
    parts = {k: seed(k) for k in ("tweets", "account", "profile", "manifest", "note")}
    target = parts[kind]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return {"tweets" if k == "tweets" else k: v for k, v in parts.items()}


@pytest.mark.parametrize(
    ("kind", "path", "value", "message"),
    [
        ("tweets", [0, "full_text"], 5, r"data/tweets.js record 0 \(id 1582825767519809536\): field `full_text` is a number \(5\), expected a string"),
        ("tweets", [1, "entities"], [], r"data/tweets.js record 1 \(id 1552312824818458627\): field `entities` is a list of 0, expected an object"),
        ("tweets", [0, "edit_info"], "edited", r"data/tweets.js record 0 .*: field `edit_info` is a string \('edited'\), expected an object"),
        ("tweets", [2, "in_reply_to_screen_name"], 42, r"data/tweets.js record 2 \(id 1221130902635458567\): field `in_reply_to_screen_name` is a number \(42\)"),
        ("tweets", [1, "entities", "urls", 0, "expanded_url"], {"a": 1}, r"data/tweets.js record 1 .*: field `entities.urls\[0\].expanded_url` is an object of 1, expected a string"),
        ("tweets", [0, "edit_info", "initial", "editTweetIds"], "1,2", r"data/tweets.js record 0 .*: field `edit_info.initial.editTweetIds` is a string \('1,2'\), expected a list, each an id"),
        ("tweets", [0, "lang"], ["en"], r"data/tweets.js record 0 .*: field `lang` is a list of 1, expected a language code"),
        ("tweets", [0, "created_at"], "yesterday", r"data/tweets.js record 0 .*: field `created_at` is a string \('yesterday'\), expected a date"),
        ("account", ["username"], 5, r"data/account.js record 0 \(id 1153674767859441664\): field `username` is a number \(5\), expected a string"),
        ("manifest", ["dataTypes"], [], r"data/manifest.js: field `dataTypes` is a list of 0, expected an object"),
        ("manifest", ["dataTypes", "tweet", "files"], {"fileName": "data/tweet.js"}, r"data/manifest.js: field `dataTypes.tweet.files` is an object of 1, expected a list"),
        ("note", ["core"], "long text", r"data/note-tweet.js record 0 \(id 1600000000000099999\): field `core` is a string \('long text'\), expected an object"),
        ("profile", ["avatarMediaUrl"], 3, r"data/profile.js record 0: field `avatarMediaUrl` is a number \(3\), expected a string"),
    ],
)  # fmt: skip
def test_wrong_field_types_name_file_record_and_field(tmp_path, kind, path, value, message):
    folder = write_archive(tmp_path / "odd-archive", **_set(kind, path, value))
    with pytest.raises(SourceError, match=r"^odd-archive:" + message) as info:
        read_archive(folder)
    assert "\n" not in str(info.value)


def test_seed_archive_reads_as_its_records_say(tmp_path):
    # The untouched seeds parse: the tests above change one field of a valid archive.
    user, posts = read_archive(write_archive(tmp_path / "seeds"))
    assert (user.handle, user.name) == ("LumenInferius", "Lumen Inferius")
    assert [p.id for p in posts] == ["1582825767519809536", "1552312824818458627", "1221130902635458567"]
    assert posts[0].reply_to == "sharon000" and posts[0].created_at == "2022-10-19T20:07:25Z"
    assert posts[1].urls == [
        "https://learningalliances.net/2022/07/musing-about-data-analytics-in-faith-based-organizations/"
    ]


def test_corrupt_deflate_stream(tmp_path):
    zipped = zip_folder(write_archive(tmp_path / "seeds"), tmp_path / "twitter-2022.zip")
    corrupt_deflate(zipped, "data/tweets.js")
    with pytest.raises(
        SourceError,
        match=r"^archive twitter-2022.zip: data/tweets.js cannot be read \(error: .*invalid block type",
    ):
        read_archive(zipped)


def test_corrupt_zip_directory(tmp_path):
    zipped = zip_folder(write_archive(tmp_path / "seeds"), tmp_path / "cut.zip")
    data = zipped.read_bytes()
    # The central directory survives, the members it points to do not.
    zipped.write_bytes(b"\0" * (len(data) - 400) + data[-400:])
    with pytest.raises(SourceError, match=r"^archive cut.zip"):
        read_archive(zipped)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, r"nested too deeply"),
        ('[{"tweet": {"id": ' + "9" * 5000 + "}}]", r"[Ee]xceeds the limit"),
    ],
)
def test_json_that_json_cannot_hold(tmp_path, body, reason):
    folder = write_archive(tmp_path / "deep")
    (folder / "data/tweets.js").write_text("window.YTD.tweets.part0 = " + body)
    with pytest.raises(SourceError, match=r"deep:data/tweets.js holds no valid JSON .*" + reason):
        read_archive(folder)


def test_lone_surrogate_in_text_becomes_replacement_character(tmp_path):
    tweets = seed("tweets")
    tweets[0]["full_text"] = "cut mid-emoji \ud83d"
    folder = write_archive(tmp_path / "cut", tweets=tweets)
    _, posts = read_archive(folder)
    assert posts[0].text == "cut mid-emoji \ufffd"
    posts[0].to_json().encode("utf-8")  # fetch writes it as UTF-8


def test_not_utf8_data_file(tmp_path):
    folder = write_archive(tmp_path / "latin")
    (folder / "data/account.js").write_bytes(
        b'window.YTD.account.part0 = [{"account": {"username": "caf\xe9"}}]'
    )
    with pytest.raises(SourceError, match=r"^archive latin: data/account.js is not UTF-8 text \(byte"):
        read_archive(folder)


def test_unreadable_archive_folder(tmp_path, monkeypatch):
    folder = write_archive(tmp_path / "locked")

    def denied(self, pattern):
        # What listing a folder without read permission raises (tests may run as root, who has it).
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "rglob", denied)
    with pytest.raises(SourceError, match=r"^archive folder locked cannot be listed \(Permission denied\)"):
        read_archive(folder)
