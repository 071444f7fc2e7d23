"""Archives made to hurt the reader (issue 18, item 3): zip bombs and cyclic CARs are refused from
what they declare, in one line, exit 1, no run folder, within little memory and CPU time; the caps
are a setting (max_archive_mb) for the genuinely huge archive."""

from __future__ import annotations

import base64
import json
import random
import shutil
import zipfile
from pathlib import Path

import libipld
import pytest
from hostile_kit import MB, bomb_zip, car, cid_of, lie_about_size, measured_cli

from huggingtweets.config import RunConfig, parse_mapping
from huggingtweets.errors import InputError, SourceError
from huggingtweets.sources import read_export, safezip
from huggingtweets.sources.bluesky_car import read_car_bytes

MASTODON = Path(__file__).parent / "fixtures" / "mastodon" / "archive"
BLUESKY = Path(__file__).parent / "fixtures" / "bluesky" / "repo.car"
ACTOR = (MASTODON / "actor.json").read_bytes()
BUDGET_BYTES = 200 * MB  # what refusing one hostile input may add to the CLI's resident memory
BUDGET_CPU_S = 5.0


def _refused_in_one_line(result: dict, run_dir: Path, *expected: str) -> str:
    assert result["code"] == 1 and result["returncode"] == 1, result["stderr"]
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result["stderr"]
    for text in expected:
        assert text in lines[0]
    assert not run_dir.exists()
    assert result["extra_bytes"] < BUDGET_BYTES, f"{result['extra_bytes'] / MB:.0f} MB"
    assert result["cpu_s"] < BUDGET_CPU_S, f"{result['cpu_s']:.1f} s of CPU"
    return lines[0]


# ------------------------------------------------------------------------------------------ zip bombs


@pytest.mark.parametrize("network", ["mastodon", "x"])
def test_a_zip_bomb_is_refused_from_its_table_of_contents(tmp_path, network):
    # 300 MB of one byte deflate to ~300 KB: the 310 KB zip that took 638 MB to read
    if network == "mastodon":
        bomb = bomb_zip(
            tmp_path / "export.zip",
            "outbox.json",
            mb=300,
            head=b'{"orderedItems": [',
            others={"actor.json": ACTOR},
        )
        member = "outbox.json"
    else:
        bomb = bomb_zip(
            tmp_path / "twitter.zip", "data/tweets.js", mb=300, head=b"window.YTD.tweets.part0 = ["
        )
        member = "data/tweets.js"
    assert bomb.stat().st_size < 400_000
    run_dir = tmp_path / "run"
    handle = ["--handle", "wren"] if network == "x" else []  # an X archive without account.js
    result = measured_cli(tmp_path, "fetch", "--archive", str(bomb), *handle, "--run-dir", str(run_dir))
    line = _refused_in_one_line(
        result, run_dir, f"{bomb.name}: {member} is compressed", "over the limit of 100:1"
    )
    assert "300 MB" in line


def test_a_zip_that_lies_about_its_size_is_read_no_further_than_it_says(tmp_path):
    bomb = bomb_zip(
        tmp_path / "export.zip",
        "outbox.json",
        mb=300,
        head=b'{"orderedItems": [',
        others={"actor.json": ACTOR},
    )
    lie_about_size(bomb, "outbox.json", 1000)  # small enough to pass every cap
    run_dir = tmp_path / "run"
    result = measured_cli(tmp_path, "fetch", "--archive", str(bomb), "--run-dir", str(run_dir))
    _refused_in_one_line(result, run_dir, "export.zip: cannot read outbox.json")


def _big_but_honest(tmp_path: Path, mb: int) -> Path:
    """The fixture archive with ``mb`` MB of incompressible padding in outbox.json: a large real export."""
    outbox = json.loads((MASTODON / "outbox.json").read_text())
    outbox["padding"] = base64.b64encode(random.Random(7).randbytes(mb * MB * 3 // 4)).decode()
    folder = tmp_path / "export"
    shutil.copytree(MASTODON, folder)
    (folder / "outbox.json").write_text(json.dumps(outbox))
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, file.name)
    return archive


def test_the_size_cap_names_the_member_and_the_setting_raises_it(tmp_path):
    archive = _big_but_honest(tmp_path, 3)
    run_dir = tmp_path / "run"
    small = measured_cli(
        tmp_path, "fetch", "--archive", str(archive), "--run-dir", str(run_dir), "--max-archive-mb", "2"
    )
    line = _refused_in_one_line(
        small, run_dir, "big.zip: outbox.json inflates to 3 MB, over the limit of 2 MB per archive"
    )
    assert "raise the limit: --max-archive-mb N (config key max_archive_mb)" in line
    raised = measured_cli(
        tmp_path, "fetch", "--archive", str(archive), "--run-dir", str(run_dir), "--max-archive-mb", "4"
    )
    assert raised["code"] == 0, raised["stderr"]
    assert (run_dir / "raw" / "ingrid_at_harbour.example.jsonl").is_file()


def test_caps_per_member_in_total_and_by_method(tmp_path):
    honest = random.Random(3).randbytes(700 * 1024)
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("one.bin", honest)
        zf.writestr("two.bin", honest)
        zf.writestr("squeezed.bin", b"a" * (2 * MB))
        zf.writestr("tiny.bin", b"a" * 4096)  # 4 KB at any ratio is harmless
        zf.writestr("bz.bin", b"hello", compress_type=zipfile.ZIP_BZIP2)
    with zipfile.ZipFile(path) as zf:
        with safezip.archive_limit(1):
            capped = safezip.CappedZip(zf, "a.zip")
            assert capped.read("one.bin") == honest and capped.read("tiny.bin") == b"a" * 4096
            with pytest.raises(
                SourceError,
                match=r"^archive a.zip: reading two.bin takes the files read to 1 MB, over the limit of 1 MB",
            ):
                capped.read("two.bin")
        capped = safezip.CappedZip(zf, "a.zip")  # the default limits again
        with pytest.raises(
            SourceError,
            match=r"^archive a.zip: squeezed.bin is compressed [\d,]+:1 .* over the limit of 100:1",
        ):
            capped.read("squeezed.bin")
        with pytest.raises(
            SourceError, match="bz.bin is compressed with zip method 12; expected deflate or stored"
        ):
            capped.read("bz.bin")
        with pytest.raises(KeyError):
            capped.read("absent.bin")


def test_many_small_squeezed_members_break_the_total_ratio(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(8):
            zf.writestr(f"m{i}.bin", b" " * (MB // 2))  # each under the 1 MB floor of the ratio check
    with zipfile.ZipFile(path) as zf:
        capped = safezip.CappedZip(zf, "many.zip")
        capped.read("m0.bin")
        capped.read("m1.bin")
        with pytest.raises(
            SourceError, match=r"reading m2.bin takes the files read to a compression of [\d,]+:1"
        ):
            capped.read("m2.bin")


def test_the_setting_is_one_config_field_with_the_readers_default():
    assert RunConfig().max_archive_mb == safezip.DEFAULT_MAX_MB
    assert parse_mapping({"max-archive-mb": 4096}) == {"max_archive_mb": 4096}
    with pytest.raises(
        InputError, match="`max_archive_mb: \\*\\*\\*` in config: expected a whole number >= 1"
    ):
        parse_mapping({"max_archive_mb": "big"})
    with pytest.raises(InputError, match="max_archive_mb is 0; expected a positive number of MB"):
        with safezip.archive_limit(0):
            pass


# ------------------------------------------------------------------------------------------ CARs


def _commit(data: bytes) -> bytes:
    did = "did:plc:ferrypiltmarensolbergxa2"
    return libipld.encode_dag_cbor(
        {"did": did, "version": 3, "data": data, "rev": "3a", "prev": None, "sig": b""}
    )


def test_a_node_that_links_to_itself_is_refused_at_once(tmp_path):
    # The 2.7 KB CAR: an MST node filed under a CID it links to; 122 s of CPU before.
    claimed = cid_of(b"whatever this node says it is")
    node = libipld.encode_dag_cbor({"l": claimed, "e": []})
    commit = _commit(claimed)
    path = tmp_path / "cyclic.car"
    path.write_bytes(car(cid_of(commit), [(cid_of(commit), commit), (claimed, node)]))
    with pytest.raises(
        SourceError,
        match=r"^cyclic.car is not a readable CAR repository export \(block bafyrei\w+ does not hash to its CID",
    ):
        read_export(path)
    run_dir = tmp_path / "run"
    result = measured_cli(
        tmp_path,
        "fetch",
        "--archive",
        str(path),
        "--handle",
        "bsky:maren.example.com",
        "--run-dir",
        str(run_dir),
        timeout=60,
    )
    _refused_in_one_line(result, run_dir, "cyclic.car", "does not hash to its CID")


def test_a_node_reached_twice_is_refused_at_once(tmp_path):
    # Every hash checks out, yet each node links to the one below twice (left and right): 2**60 visits.
    record = libipld.encode_dag_cbor(
        {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00Z"}
    )
    blocks = [(cid_of(record), record)]
    below = None
    for _ in range(60):
        node = libipld.encode_dag_cbor(
            {"l": below, "e": [{"p": 0, "k": b"app.bsky.feed.post/3a", "v": cid_of(record), "t": below}]}
        )
        blocks.append((cid_of(node), node))
        below = cid_of(node)
    commit = _commit(below)
    path = tmp_path / "dag.car"
    path.write_bytes(car(cid_of(commit), [(cid_of(commit), commit), *blocks]))
    run_dir = tmp_path / "run"
    result = measured_cli(
        tmp_path,
        "fetch",
        "--archive",
        str(path),
        "--handle",
        "bsky:maren.example.com",
        "--run-dir",
        str(run_dir),
        timeout=60,
    )
    _refused_in_one_line(
        result,
        run_dir,
        "dag.car: MST node 61: field `link` leads to MST node bafyrei",
        "a second time: not a tree",
    )


def test_a_block_changed_after_export_or_of_another_kind_is_refused():
    data = bytearray(BLUESKY.read_bytes())
    at = data.index(b"the morning ferry left on time")
    data[at] = ord("T")  # one letter of one post
    with pytest.raises(
        SourceError,
        match=r"export.car is not a readable CAR .*does not hash to its CID: the file was altered",
    ):
        read_car_bytes(bytes(data), "export.car")
    record = libipld.encode_dag_cbor({"x": 1})
    sha1 = b"\x01\x71\x11\x14" + bytes(20)  # a CIDv1 with a sha1 multihash
    with pytest.raises(SourceError, match="is not addressed by a CIDv1 with sha2-256 and dag-cbor or raw"):
        read_car_bytes(car(sha1, [(sha1, record)]), "export.car")
    # the honest export still reads, every block verified
    assert len(read_car_bytes(BLUESKY.read_bytes(), "repo.car")[2]) == 72


def test_run_takes_the_setting_from_its_flag_and_its_config_file(tmp_path):
    archive = _big_but_honest(tmp_path, 3)
    run_dir = tmp_path / "run"
    flag = measured_cli(tmp_path, "run", "--archive", str(archive), "--no-publish", "--max-archive-mb", "2")
    assert flag["code"] == 1 and "outbox.json inflates to 3 MB, over the limit of 2 MB" in flag["stderr"]
    config = tmp_path / "bot.yaml"
    config.write_text(f"archives: [{archive}]\nmax_archive_mb: 2\nrun_dir: {run_dir}\npublish: false\n")
    from_file = measured_cli(tmp_path, "run", "--config", str(config))
    assert from_file["code"] == 1 and "over the limit of 2 MB per archive" in from_file["stderr"]
    assert not run_dir.exists()


def test_a_table_of_contents_too_long_to_open_is_refused_before_it_is_read(tmp_path):
    # zipfile reads every entry of the table when it opens a zip (~650 bytes of memory each): 3,000
    # empty files list ~285 KB, over the 64 KB that --max-archive-mb 8 allows (8 MB / 128).
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("outbox.json", (MASTODON / "outbox.json").read_bytes())
        zf.writestr("actor.json", ACTOR)
        for i in range(3000):
            zf.writestr(f"media_attachments/files/{i:012d}/original.png", b"")
    run_dir = tmp_path / "run"
    small = measured_cli(
        tmp_path, "fetch", "--archive", str(archive), "--run-dir", str(run_dir), "--max-archive-mb", "8"
    )
    _refused_in_one_line(
        small,
        run_dir,
        "archive many.zip: its table of contents is",
        "(3,002 files listed), over the limit of 65,536 bytes",
    )
    with safezip.archive_limit(8), pytest.raises(SourceError, match="its table of contents is"):
        read_export(archive)
    with safezip.archive_limit(64):
        user, posts = read_export(archive)
    assert user.handle == "ingrid_at_harbour.example" and posts
    # the run's fingerprint of the archive reads the same table, under the same cap
    from huggingtweets.stagerecords import file_identity

    with safezip.archive_limit(8), pytest.raises(SourceError, match="its table of contents is"):
        file_identity(archive)
    assert file_identity(archive)["zip_toc_sha256"]


# ------------------------------------------------------------------ an unpacked X archive's links


def test_links_out_of_an_x_archive_folder_are_never_read(tmp_path):
    from archive_kit import write_archive

    from huggingtweets.sources.archive import read_archive

    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8\xff" + b"not yours to publish" * 4)
    folder = write_archive(tmp_path / "archive")
    media = folder / "data" / "profile_media"
    media.mkdir()
    (media / "1153674767859441664-MMo5i6vQ.jpg").symlink_to(secret)
    user, posts = read_archive(folder)
    assert posts and user.avatar_bytes is None  # the link is skipped, the archive still reads
    tweets = folder / "data" / "tweets.js"
    tweets.rename(tmp_path / "tweets.js")
    tweets.symlink_to(tmp_path / "tweets.js")
    with pytest.raises(SourceError, match=r"^archive archive: data/tweets.js is a link that leads outside"):
        read_archive(folder)
