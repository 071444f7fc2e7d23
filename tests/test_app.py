"""The web app's parts that need no server: session folders, the views, the command, the Space folder."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO_ROOT

from huggingtweets.app.session import SessionStore


class FakeJob:
    def __init__(self) -> None:
        self.running, self.cancelled = True, False

    def cancel(self) -> None:
        self.cancelled, self.running = True, False

    def wait(self, timeout=None) -> bool:
        return True


def test_ending_a_session_deletes_its_uploads_and_run_folder(tmp_path):
    store = SessionStore(tmp_path / "sessions")
    a, b = store.get("a"), store.get("b")
    for s in (a, b):
        s.uploads.mkdir(parents=True)
        (s.uploads / "archive.zip").write_bytes(b"posts")
    gradio_copy = tmp_path / "gradio" / "f00d" / "archive.zip"  # the upload as Gradio's cache holds it
    gradio_copy.parent.mkdir(parents=True)
    gradio_copy.write_bytes(b"posts")
    a.foreign_files.add(gradio_copy)
    store.end("a")
    assert not a.root.exists() and "a" not in store
    assert not gradio_copy.parent.exists()
    assert (b.uploads / "archive.zip").read_bytes() == b"posts"  # another visitor's files stay


def test_ending_a_session_stops_its_training(tmp_path):
    store = SessionStore(tmp_path)
    session = store.get("a")
    session.job = job = FakeJob()
    store.end("a")
    assert job.cancelled and not session.root.exists()


def test_idle_sessions_are_swept_after_the_ttl_but_not_while_training(tmp_path):
    store = SessionStore(tmp_path, ttl=60)
    idle, training, fresh = store.get("idle"), store.get("training"), store.get("fresh")
    training.job = FakeJob()
    now = time.monotonic()
    idle.last_seen = training.last_seen = now - 61
    assert store.sweep(now) == ["idle"]
    assert not idle.root.exists() and training.root.exists() and fresh.root.exists()


def test_session_ids_cannot_escape_the_base_folder(tmp_path):
    store = SessionStore(tmp_path / "base")
    session = store.get("../../etc")
    assert session.root.parent == tmp_path / "base"


def test_closing_the_store_removes_a_base_it_made():
    store = SessionStore()
    store.get("x")
    base = store.base
    store.close()
    assert not base.exists()


def test_data_report_table_escapes_text_and_lists_drops():
    from huggingtweets.app.views import data_report_markdown

    report = {
        "users": {
            "a|b": {
                "downloaded": 10,
                "retweets": 2,
                "replies": 0,
                "media_only": 1,
                "short": 0,
                "duplicates": 0,
                "kept": 7,
                "characters": 12345,
                "first_date": "2020-01-01",
                "last_date": "2021-01-01",
                "languages": {"en": 6, "fr": 1},
                "source": "<script>",
            }
        },
        "split": {"train": 6, "validation": 1},
        "warnings": ["@a: only 12,345 characters kept"],
    }
    text = data_report_markdown(report, notes=["fetching @a: about 10 posts, USD 0.05"])
    row = [line for line in text.splitlines() if line.startswith("| @")][0]
    assert row == (
        "| @a\\|b (&lt;script&gt;) | 10 | 2 reposts, 1 media only | 7 | 12,345 | "
        "2020-01-01 to 2021-01-01 | en 6, fr 1 |"
    )
    assert text.endswith(
        "**Warning:** @a: only 12,345 characters kept\n\n- fetching @a: about 10 posts, USD 0.05"
    )


def test_card_html_inlines_local_images_and_keeps_tables(tmp_path):
    from huggingtweets.app.views import card_html

    model = tmp_path / "model"
    (model / "avatars").mkdir(parents=True)
    (model / "avatars" / "a.png").write_bytes(b"\x89PNG fake")
    (model / "README.md").write_text(
        "---\nlicense: mit\ntags: [huggingtweets]\n---\n"
        '<img src="https://huggingface.co/o/n/resolve/main/avatars/a.png">\n'
        '<img src="https://huggingface.co/o/n/resolve/main/../../etc/passwd">\n\n'
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    out = card_html(model)
    assert '<span class="ht-chip">license: mit</span><span class="ht-chip">huggingtweets</span>' in out
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in out
    assert "resolve/main/../../etc/passwd" in out  # a path outside the model folder is not read
    assert "<td>1</td>" in out


def test_help_imports_no_gradio():
    code = (
        "import sys; from click.testing import CliRunner; from huggingtweets.cli import main;"
        "r1 = CliRunner().invoke(main, ['--help']); r2 = CliRunner().invoke(main, ['app', '--help']);"
        "assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output);"
        "assert ' app ' in r1.output and '--endpoint' in r2.output;"
        "heavy = {'gradio', 'gradio_client', 'torch', 'transformers', 'pandas', 'huggingface_hub'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "[]"


def test_space_folder_is_a_gradio_space_running_this_app():
    space = REPO_ROOT / "space"
    text = (space / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---")[1])
    assert header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert header["hf_oauth"] is True and "write-repos" in header["hf_oauth_scopes"]
    assert "from huggingtweets.app import launch" in (space / header["app_file"]).read_text()
    version = yaml.safe_load((REPO_ROOT / "pyproject.toml").read_text().split("version = ")[1].split("\n")[0])
    wanted = [
        line
        for line in (space / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert wanted == [f"./huggingtweets-{version}-py3-none-any.whl[app]"]  # what `make space` builds


def test_app_without_gradio_is_a_one_line_error(tmp_path):
    # A site folder whose `gradio` cannot be imported stands in for an install without the extra.
    (tmp_path / "gradio").mkdir()
    (tmp_path / "gradio" / "__init__.py").write_text("raise ImportError('No module named gradio')\n")
    env = {"PYTHONPATH": f"{tmp_path}:{REPO_ROOT}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "huggingtweets", "app"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "Error: the web app needs gradio, which is not installed (pip install 'huggingtweets[app]')"
    ]


def test_app_command_serves_the_page_and_cleans_up_on_sigterm(tmp_path):
    import json
    import os
    import signal
    import urllib.request

    pytest.importorskip("gradio", reason="the web app needs the app extra: pip install -e '.[app]'")
    from app_harness import free_port, wait_until

    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "huggingtweets", "app", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def config() -> dict | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    return json.loads(response.read())
            except OSError:
                return None

        served = wait_until(config, 120, "the app to serve its page", every=0.1)
        assert served["title"] == "huggingtweets"
        assert {"check", "train", "cancel", "try_it", "publish", "download"} <= {
            d.get("api_name") for d in served["dependencies"]
        }
        assert [
            p.name.startswith("huggingtweets-app-") for p in tmp_path.iterdir() if p.name != "gradio"
        ] == [True]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("huggingtweets-app-")]
