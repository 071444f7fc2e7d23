"""Mastodon account archives: the two real exports in ../shared (counts from their READMEs) and a small
one of our own writing (tests/fixtures/mastodon/archive) for each edge case."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from huggingtweets.errors import SourceError
from huggingtweets.sources import export_kind, read_export
from huggingtweets.sources.mastodon_archive import read_mastodon_archive

FIXTURE = Path(__file__).parent / "fixtures" / "mastodon" / "archive"


def zipped(folder: Path, dest: Path, *, under: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, under + file.name)
    return dest


def test_real_export_ricard(shared_dir):
    # README: Create 752 = public 687 + unlisted 40 + followers-only 8 + direct 17; Announce 103;
    # replies to own posts 6; languages en 736 ... (of all Creates).
    user, posts = read_export(shared_dir / "data/archives/mastodon-ricard-2023")
    assert (user.handle, user.display, user.name) == (
        "ricard_at_ricard.social",
        "@ricard@ricard.social",
        "Ricard Torres",
    )
    assert (
        user.network == "mastodon" and user.instance == "ricard.social" and user.source == "mastodon-archive"
    )
    assert user.left_out == {"followers_only": 8, "direct": 17}
    assert len(posts) == 687 + 40 + 103
    assert sum(p.is_retweet for p in posts) == 103 and all(p.text == "" for p in posts if p.is_retweet)
    assert sum(p.is_self_thread for p in posts) == 6
    assert user.avatar_bytes[:3] == b"\xff\xd8\xff" and user.avatar_ext == ".jpg"  # avatar.jpg, a JPEG
    polls = [
        p
        for p in posts
        if p.text.startswith("\U0001f44b  Do you optional chaining") or "optional chaining" in p.text
    ]
    assert polls and "#Frontend" in polls[0].text  # a poll keeps its question; hashtags stay words
    assert not any("<p>" in p.text or "<span" in p.text for p in posts)
    langs = Counter(p.lang for p in posts if not p.is_retweet)
    assert langs["en"] > 700 and set(langs) <= {"en", "de", "da", "sv", "pt", "it", "ru", "nl"}


def test_real_outbox_alone_philhawksworth(shared_dir):
    # README: outbox.json only (no actor.json); Create 190 = public 153 + unlisted 10 + followers-only 1
    # + direct 26; Announce 26.
    user, posts = read_export(shared_dir / "data/archives/mastodon-philhawksworth-2022/outbox.json")
    assert user.display == "@philhawksworth@indieweb.social" and user.avatar_bytes is None
    assert user.left_out == {"followers_only": 1, "direct": 26}
    assert len(posts) == 153 + 10 + 26 and sum(p.is_retweet for p in posts) == 26
    assert not any("[redacted: direct message]" in p.text for p in posts)  # no direct message is ever read


def test_own_fixture_every_edge_case(tmp_path):
    archive = zipped(FIXTURE, tmp_path / "my-export.bin")  # no .zip name: found by its content
    assert export_kind(archive) == "mastodon"
    user, posts = read_export(archive, "@ingrid@harbour.example")
    by_id = {p.id.rsplit("/", 1)[1]: p for p in posts}
    assert (
        user.name == "Ingrid Havn" and user.avatar_ext == ".png" and user.avatar_bytes.startswith(b"\x89PNG")
    )
    assert user.left_out == {"followers_only": 1, "direct": 1}
    assert "1061" not in by_id and "1062" not in by_id  # followers-only and direct are never read
    assert by_id["1060"].text.startswith("Unlisted: the ferry is late")  # unlisted is used
    assert (
        by_id["1063"].text
        == "Which net knot should the children learn first this spring at the harbour school?"
    )
    assert by_id["1064"].text.startswith("The storm took") and "sad news" not in by_id["1064"].text  # no CW
    thread = by_id["1065"]
    assert thread.is_reply and thread.is_self_thread and thread.reply_to == "ingrid@harbour.example"
    assert thread.text.endswith("#pier")
    link = by_id["1066"]
    assert link.urls == ["https://news.example/harbour/lamp-2025"]
    assert link.text == "Read about it here https://news.example/harbour/lamp-2025 if you like old lamps."
    assert sum(p.is_retweet for p in posts) == 2
    assert len(posts) == 60 + 1 + 1 + 1 + 1 + 1 + 2


def test_zip_with_a_folder_above_and_unpacked_folder_read_the_same(tmp_path):
    a = read_mastodon_archive(zipped(FIXTURE, tmp_path / "a.zip", under="archive-2025/"))
    b = read_mastodon_archive(FIXTURE)
    assert (a[0].source_detail, b[0].source_detail) == ("a.zip", "archive")  # a file name, never a path
    a[0].source_detail = b[0].source_detail
    assert a[0].to_dict() == b[0].to_dict() and a[0].avatar_bytes == b[0].avatar_bytes
    assert [p.to_dict() for p in a[1]] == [p.to_dict() for p in b[1]]


def test_handle_of_another_account_is_refused(tmp_path):
    with pytest.raises(SourceError, match="belongs to @ingrid@harbour.example, not @bob@harbour.example"):
        read_export(FIXTURE, "@bob@harbour.example")


@pytest.mark.parametrize(
    ("outbox", "message"),
    [
        ([1, 2], "the file holds list, expected an OrderedCollection"),
        ({"type": "OrderedCollection"}, "field `orderedItems` is missing"),
        ({"orderedItems": {"a": 1}}, "field `orderedItems` is an object of 1, expected a list"),
        (
            {"orderedItems": ["x"]},
            r"orderedItems\[0\]: field `type` belongs to a record that is a string \('x'\), expected an object",
        ),
        (
            {"orderedItems": [{"type": "Create", "object": {"type": "Note", "id": "u", "to": [], "cc": 5}}]},
            r"orderedItems\[0\]: field `cc` is a number \(5\), expected a list or a string",
        ),
        (
            {
                "orderedItems": [
                    {
                        "type": "Create",
                        "object": {
                            "type": "Note",
                            "id": "u",
                            "to": ["https://www.w3.org/ns/activitystreams#Public"],
                            "content": ["<p>x</p>"],
                        },
                    }
                ]
            },
            r"orderedItems\[0\].object: field `content` is a list of 1, expected a string",
        ),
    ],
)
def test_outbox_of_the_wrong_shape_is_one_line(tmp_path, outbox, message):
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    (folder / "outbox.json").write_text(json.dumps(outbox))
    with pytest.raises(SourceError, match=message) as err:
        read_export(folder)
    assert "\n" not in str(err.value) and "outbox.json" in str(err.value)


def test_corrupt_zip_and_bad_json_are_source_errors(tmp_path):
    good = zipped(FIXTURE, tmp_path / "a.zip")
    data = bytearray(good.read_bytes())
    start = data.index(b"outbox.json") + 40
    data[start : start + 200] = bytes(200)  # break the deflate stream of outbox.json
    (tmp_path / "b.zip").write_bytes(bytes(data))
    with pytest.raises(SourceError, match="b.zip"):
        read_export(tmp_path / "b.zip")
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    (folder / "outbox.json").write_text('{"orderedItems": [')
    with pytest.raises(SourceError, match="outbox.json is not valid JSON"):
        read_export(folder)


def test_lone_surrogates_become_replacement_characters(tmp_path):
    # JSON may carry "\ud83d" alone (half an emoji); UTF-8 cannot, and raw/<key>.jsonl is UTF-8.
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    outbox = json.loads((folder / "outbox.json").read_text())
    outbox["orderedItems"][0]["object"]["content"] = "<p>half an emoji \ud83d here, and more words</p>"
    (folder / "outbox.json").write_text(json.dumps(outbox))  # ensure_ascii: written as \\ud83d
    from huggingtweets.sources import fetch

    fetch(tmp_path / "run", archives=[folder])
    raw = (tmp_path / "run/raw/ingrid_at_harbour.example.jsonl").read_text(encoding="utf-8")
    assert "half an emoji \ufffd here" in raw


# ------------------------------------------------------------------ addressing: the object decides

FOLLOWERS = "https://harbour.example/users/ingrid/followers"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _create(n: int, activity: dict, obj: dict) -> dict:
    note = {
        "type": "Note",
        "id": f"https://harbour.example/users/ingrid/statuses/{n}",
        "content": f"<p>post {n}</p>",
    }
    return {
        "type": "Create",
        "actor": "https://harbour.example/users/ingrid",
        **activity,
        "object": {**note, **obj},
    }


def test_the_objects_own_addressing_decides():
    from huggingtweets.sources.mastodon_archive import parse_outbox

    items = [
        # followers only on the object, inside an activity whose cc names Public: private
        _create(1, {"to": [FOLLOWERS], "cc": [PUBLIC]}, {"to": [FOLLOWERS], "cc": []}),
        # empty lists on the object in a Public activity: nobody, not the activity's audience
        _create(2, {"to": [PUBLIC], "cc": [FOLLOWERS]}, {"to": [], "cc": []}),
        # one key present and empty is still the object speaking
        _create(3, {"to": [PUBLIC]}, {"cc": []}),
        # no to/cc keys at all on the object: the activity's addressing stands in
        _create(4, {"to": [PUBLIC]}, {}),
        _create(5, {"cc": [PUBLIC]}, {"to": [FOLLOWERS], "cc": [PUBLIC]}),  # unlisted, on the object
        _create(6, {"to": [PUBLIC]}, {"to": None}),  # null is no Public either
        # a boost addressed to followers only
        {"type": "Announce", "id": "https://harbour.example/a/7", "to": [FOLLOWERS], "object": "https://x.example/1"},
        {"type": "Announce", "id": "https://harbour.example/a/8", "to": [PUBLIC], "object": "https://x.example/2"},
    ]  # fmt: skip
    posts, left_out, _ = parse_outbox({"orderedItems": items}, "outbox.json")
    assert [p.id.rsplit("/", 1)[1] for p in posts] == ["4", "5", "8"]
    assert left_out == {"followers_only": 2, "direct": 3}


def test_a_followers_only_object_in_a_public_activity_never_reaches_the_run_folder(tmp_path):
    from huggingtweets.sources import fetch

    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    outbox = json.loads((folder / "outbox.json").read_text())
    secret = _create(9001, {"to": [PUBLIC], "cc": [FOLLOWERS]}, {"to": [FOLLOWERS], "cc": []})
    secret["object"]["content"] = "<p>only for my followers: the spare key is under the blue pot</p>"
    outbox["orderedItems"].append(secret)
    (folder / "outbox.json").write_text(json.dumps(outbox))
    users = fetch(tmp_path / "run", archives=[folder])
    raw = (tmp_path / "run/raw/ingrid_at_harbour.example.jsonl").read_text(encoding="utf-8")
    assert "blue pot" not in raw
    assert users[0]["left_out"] == {"followers_only": 2, "direct": 1}


# ------------------------------------------------------------------ paths stay inside the archive

SECRET_PNG = b"\x89PNG\r\n\x1a\n" + b"not yours to publish" * 4


def _icon(folder: Path, url: str) -> None:
    actor = json.loads((folder / "actor.json").read_text())
    actor["icon"]["url"] = url
    (folder / "actor.json").write_text(json.dumps(actor))


@pytest.mark.parametrize("how", ["parent", "absolute", "backslashes", "symlink", "zip"])
def test_an_avatar_path_outside_the_archive_is_never_read(tmp_path, how):
    from huggingtweets.sources import fetch

    secret = tmp_path / "secret.png"
    secret.write_bytes(SECRET_PNG)
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    url = {
        "parent": "../secret.png",
        "absolute": str(secret),
        "backslashes": "..\\secret.png",
        "symlink": "avatar-link.png",
        "zip": "../secret.png",
    }[how]
    _icon(folder, url)
    archive = folder
    if how == "symlink":
        (folder / "avatar-link.png").symlink_to(secret)
    if how == "zip":  # a member literally named ../secret.png is refused by name, as in a folder
        archive = zipped(folder, tmp_path / "export.zip")
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr("../secret.png", SECRET_PNG)
    users = fetch(tmp_path / "run", archives=[archive])
    assert not list((tmp_path / "run/raw").glob("*avatar*"))
    assert users[0]["avatar_file"] is None
    assert users[0]["notes"] == [
        f"actor.json icon.url ({'avatar-link.png' if how == 'symlink' else 'secret.png'}) points outside "
        "the archive: ignored, the bot has no avatar"
    ]
    assert str(tmp_path) not in json.dumps(users)  # no path of this machine in users.json


def test_an_avatar_inside_the_archive_is_still_read_and_the_note_reaches_the_report(tmp_path):
    from huggingtweets.prepare import prepare
    from huggingtweets.sources import fetch

    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    (folder / "pics").mkdir()
    shutil.move(folder / "avatar.png", folder / "pics/me.png")
    _icon(folder, "pics/../pics/me.png")  # normalised, still inside
    users = fetch(tmp_path / "ok", archives=[folder])
    assert users[0]["avatar_file"] == "raw/ingrid_at_harbour.example.avatar.png" and "notes" not in users[0]
    _icon(folder, "/etc/passwd")
    fetch(tmp_path / "bad", archives=[folder])
    report = prepare(tmp_path / "bad")
    assert (
        "@ingrid@harbour.example: actor.json icon.url (passwd) points outside the archive"
        in report["warnings"][0]
    )
