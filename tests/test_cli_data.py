"""`huggingtweets fetch` and `prepare` from the command line, bad inputs included."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT, run_cli
from fixtures_data import replay_client

from huggingtweets.cli import main
from huggingtweets.cli.data import pair_handles
from huggingtweets.paths import sample_archive


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_help_is_light():
    # Nothing heavy is imported to show --help.
    code = (
        "import sys; from click.testing import CliRunner; from huggingtweets.cli import main;"
        "r = CliRunner().invoke(main, ['fetch', '--help']); assert r.exit_code == 0, r.output;"
        "heavy = {'torch', 'transformers', 'datasets', 'tweepy', 'huggingface_hub', 'PIL', 'requests', 'atproto', 'mastodon', 'libipld'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "[]"


def test_fetch_help_lists_the_flags():
    result = invoke("fetch", "--help")
    for flag in ("--archive", "--posts-file", "--handle", "--run-dir", "--max-posts", "--price-per-read"):
        assert flag in result.output
    result = invoke("prepare", "--help")
    for flag in ("--run-dir", "--seed", "--keep-newlines", "--keep-replies / --drop-replies"):
        assert flag in result.output


@pytest.mark.parametrize(
    ("args", "pairs"),
    [
        (["--archive", "a.zip", "--handle", "smithjd"], [("--archive", "a.zip", "smithjd")]),
        (["--handle", "smithjd", "--archive", "a.zip"], [("--archive", "a.zip", "smithjd")]),
        (
            ["--posts-file", "a.csv", "--handle", "alice", "--archive=x.zip", "--handle=bob", "jack"],
            [("--posts-file", "a.csv", "alice"), ("--archive", "x.zip", "bob")],
        ),
        (
            ["--archive", "x.zip", "--posts-file", "b.txt", "--handle", "bo"],
            [("--archive", "x.zip", None), ("--posts-file", "b.txt", "bo")],
        ),
    ],
)
def test_pair_handles(args, pairs):
    assert pair_handles(args) == pairs


def test_sample_fetch_and_prepare_with_default_run_dir(tmp_path):
    result = run_cli("fetch", "--archive", str(sample_archive()), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "runs" / "wren_at_gullstone"
    users = json.loads((run_dir / "users.json").read_text())
    assert users == [
        {
            "avatar_file": "raw/wren_at_gullstone.avatar.png",
            "avatar_url": "https://pbs.twimg.com/profile_images/1360022718044372993/gullstone_lamp.png",
            "handle": "wren_at_gullstone",
            "name": "Wren Callister",
            "source": "archive",
            "source_detail": "sample_archive.zip",
        }
    ]
    assert (run_dir / users[0]["avatar_file"]).read_bytes().startswith(b"\x89PNG")
    result = run_cli("prepare", "--run-dir", "runs/wren_at_gullstone", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "@wren_at_gullstone: kept 379 of 400 posts" in result.stdout
    assert "Warning" not in result.stderr
    assert (run_dir / "dataset" / "dataset_dict.json").is_file()


def test_shared_smithjd_end_to_end(shared_dir, tmp_path):
    archive = shared_dir / "data" / "archives" / "smithjd-2022"
    run_dir = tmp_path / "R"
    result = run_cli("fetch", "--archive", str(archive), "--handle", "smithjd", "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    result = run_cli("prepare", "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    rep = json.loads((run_dir / "data_report.json").read_text())["users"]["smithjd"]
    assert (rep["downloaded"], rep["retweets"]) == (1758, 128)
    drops = ("retweets", "short", "replies", "duplicates", "media_only", "kept")
    assert rep["downloaded"] == sum(rep[k] for k in drops)


def test_prepare_prints_warning_and_drop_replies(tmp_path):
    posts = tmp_path / "p.txt"
    posts.write_text(
        "".join(
            f"Post {i} about my allotment and the slugs that ate every lettuce I planted.\n"
            for i in range(140)
        )
    )
    run_dir = tmp_path / "run"
    assert (
        invoke("fetch", "--posts-file", str(posts), "--handle", "allot", "--run-dir", str(run_dir)).exit_code
        == 0
    )
    result = invoke("prepare", "--run-dir", str(run_dir), "--drop-replies", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "Warning: @allot: only" in result.stderr
    report = json.loads((run_dir / "data_report.json").read_text())
    assert report["settings"]["keep_replies"] is False and report["split"]["seed"] == 3
    # Untagged posts: their script is Latin, which names no language; the GPT-2 fit is estimated.
    assert (
        "@allot: languages und-Latn 100.0%; gpt2 tokenizer: 0.30 tokens per character" in result.output
        and "0.0% of posts over 1,024 tokens (estimated (GPT-2 byte-level BPE))" in result.output
    )
    again = invoke("prepare", "--run-dir", str(run_dir), "--no-detect-languages", "--base-model", "tiny")
    assert again.exit_code == 0, again.output
    assert "@allot: languages unknown\n" in again.output
    report = json.loads((run_dir / "data_report.json").read_text())
    assert (
        report["settings"]["detect_languages"] is False and report["users"]["allot"]["tokenizer_fit"] is None
    )


def test_x_api_fetch_through_the_cli(monkeypatch, tmp_path):
    cassette = REPO_ROOT / "tests" / "fixtures" / "xapi" / "pages_with_rate_limit.yaml"
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-secret-token")
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)  # the 429 in the cassette asks for a wait
    client = replay_client(cassette, token="cli-secret-token")
    tokens = []
    monkeypatch.setattr(
        "huggingtweets.sources.xapi.TweepyXClient", lambda token: tokens.append(token) or client
    )
    run_dir = tmp_path / "api"
    result = invoke(
        "fetch",
        "wren_at_gullstone",
        "--max-posts",
        "50",
        "--price-per-read",
        "0.01",
        "--run-dir",
        str(run_dir),
    )
    assert result.exit_code == 0, result.output
    assert "@wren_at_gullstone: up to 7 post reads x USD 0.01 = about USD 0.07" in result.stderr
    assert "rate limit" in result.stderr and len(slept) == 1
    assert tokens == ["cli-secret-token"] and "cli-secret-token" not in result.output
    users = json.loads((run_dir / "users.json").read_text())
    assert users[0]["source"] == "x-api" and users[0]["avatar_file"] is None
    assert len((run_dir / "raw" / "wren_at_gullstone.jsonl").read_text().splitlines()) == 7


def _bad_inputs(data: Path, tmp_path: Path, zip_archive) -> dict[str, tuple[list[str], str]]:
    return {
        "missing path": (["--archive", str(tmp_path / "nowhere.zip")], r"nowhere.zip does not exist"),
        "zip without tweets": (
            ["--archive", str(zip_archive(data / "no-tweets"))],
            "no-tweets.zip holds no tweets data",
        ),
        "not window.YTD": (
            ["--archive", str(data / "not-ytd"), "--handle", "x"],
            "not-ytd:data/tweets.js does not start with `window.YTD",
        ),
        "wrong shape": (
            ["--archive", str(data / "wrong-shape"), "--handle", "x"],
            "wrong-shape:data/tweets.js: record 0 is not an object",
        ),
        "zero posts": (["--archive", str(data / "zero-posts")], "zero-posts holds zero posts"),
        "csv without text": (
            ["--posts-file", str(data / "posts/no-text.csv"), "--handle", "x"],
            "no-text.csv has no `text` column",
        ),
        "posts file without handle": (["--posts-file", str(data / "posts/lines.txt")], "has no --handle"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing path",
        "zip without tweets",
        "not window.YTD",
        "wrong shape",
        "zero posts",
        "csv without text",
        "posts file without handle",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, data_fixtures, tmp_path, zip_archive):
    args, expected = _bad_inputs(data_fixtures, tmp_path, zip_archive)[case]
    run_dir = tmp_path / "run"
    result = invoke("fetch", *args, "--run-dir", str(run_dir))
    assert result.exit_code == 1
    assert expected in error_line(result)
    assert not run_dir.exists()


def test_bad_input_leaves_an_existing_run_folder_as_it_was(data_fixtures, tmp_path):
    run_dir = tmp_path / "run"
    good = invoke("fetch", "--archive", str(data_fixtures / "tiny-2022"), "--run-dir", str(run_dir))
    assert good.exit_code == 0, good.output
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    bad = invoke(
        "fetch", "--archive", str(data_fixtures / "wrong-shape"), "--handle", "x", "--run-dir", str(run_dir)
    )
    assert bad.exit_code == 1
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert sorted(os.listdir(run_dir)) == [".stages", "raw", "users.json"]  # .stages holds the run lock


def test_unknown_handle_through_the_cli(monkeypatch, tmp_path):
    cassette = REPO_ROOT / "tests" / "fixtures" / "xapi" / "missing_user.yaml"
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-secret-token")
    client = replay_client(cassette)
    monkeypatch.setattr("huggingtweets.sources.xapi.TweepyXClient", lambda token: client)
    run_dir = tmp_path / "run"
    result = invoke("fetch", "no_such_keeper", "--run-dir", str(run_dir))
    assert result.exit_code == 1
    assert "@no_such_keeper is not an X user" in error_line(result)
    assert not run_dir.exists()


def test_missing_token_is_one_line_in_a_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("X_BEARER_TOKEN", "TWITTER_BEARER_TOKEN")}
    result = run_cli("fetch", "jack", "--run-dir", str(tmp_path / "run"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: no X API bearer token found in X_BEARER_TOKEN or TWITTER_BEARER_TOKEN (export "
        "X_BEARER_TOKEN=<your app's bearer token>, or use --archive with your X archive)"
    ]
    assert not (tmp_path / "run").exists()


def test_prepare_not_enough_data_exit_1(tmp_path, data_fixtures):
    run_dir = tmp_path / "run"
    assert (
        invoke("fetch", "--archive", str(data_fixtures / "tiny-2022"), "--run-dir", str(run_dir)).exit_code
        == 0
    )
    result = invoke("prepare", "--run-dir", str(run_dir))
    assert result.exit_code == 1
    assert "@TinyKeeper: only" in error_line(result) and "need at least 6,000" in result.stderr
    assert not (run_dir / "dataset").exists()


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["--posts-file", "p.txt", "--handle", "alice/blog"], "alice/blog"),
        (["--posts-file", "p.txt", "--handle", "../../x"], "../../x"),
        (["--posts-file", "p.txt", "--handle", ".hidden"], ".hidden"),
        (["--posts-file", "p.txt", "--handle", "@"], "@"),
        (["--archive", "ARCHIVE", "--handle", "a\\b"], "a\\b"),
        (["../x"], "../x"),  # an X API handle: refused before the token is even looked for
    ],
)
def test_bad_handle_is_one_line_and_writes_nothing(args, bad, tmp_path, monkeypatch, data_fixtures):
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    (work / "p.txt").write_text("A post long enough to count as one post.\n")
    monkeypatch.chdir(work)
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    args = [str(data_fixtures / "tiny-2022") if a == "ARCHIVE" else a for a in args]
    before = _files_under(tmp_path)
    for run_dir in (["--run-dir", "run"], []):  # given, and the default runs/<handle>
        result = invoke("fetch", *args, *run_dir)
        assert result.exit_code == 1, result.output
        line = error_line(result)
        assert f"{bad!r} is not a valid handle" in line and "letters, digits" in line
        assert _files_under(tmp_path) == before


@pytest.mark.parametrize(
    ("handle", "key"),
    [
        ("alice", "alice"),
        ("@alice", "alice"),
        ("a_b", "a_b"),
        ("bob.bsky.social", "bob.bsky.social"),
        ("@Carol@Mastodon.Social", "carol_at_mastodon.social"),
        ("_x", "_x"),
        ("A" * 50, "A" * 50),
    ],
)
def test_good_handles_pass(handle, key):
    from huggingtweets.sources import check_handle

    assert check_handle(handle) == key


@pytest.mark.parametrize("handle", ["", "A" * 51, "-dash", "mastodon-user", "a b", "a:b", "..", "bob\n"])
def test_bad_handles_fail(handle):
    from huggingtweets.errors import InputError
    from huggingtweets.sources import check_handle

    with pytest.raises(InputError, match="is not a valid handle") as info:
        check_handle(handle)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "args",
    [
        ["wren_at_gullstone", "WREN_at_Gullstone"],
        ["wren_at_gullstone", "--posts-file", "p.txt", "--handle", "@Wren_At_Gullstone"],
        ["TinyKeeper", "--archive", "ARCHIVE"],  # the archive names its own account
        ["tinykeeper", "--archive", "ARCHIVE", "--handle", "TINYKEEPER"],
    ],
)
def test_handle_given_twice_is_refused_before_any_api_read(args, tmp_path, monkeypatch, data_fixtures):
    (tmp_path / "p.txt").write_text("A post long enough to count as one post.\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-secret-token")
    client = replay_client(REPO_ROOT / "tests" / "fixtures" / "xapi" / "pages_with_rate_limit.yaml")
    monkeypatch.setattr("huggingtweets.sources.xapi.TweepyXClient", lambda token: client)
    args = [str(data_fixtures / "tiny-2022") if a == "ARCHIVE" else a for a in args]
    result = invoke("fetch", *args, "--run-dir", "run")
    assert result.exit_code == 1, result.output
    assert "comes from two sources" in error_line(result)
    assert client.adapter.requests == []  # nothing was paid for
    assert not (tmp_path / "run").exists()
