"""The web app's limits through its API: a check that hangs stops only its own visitor (others'
checks answer meanwhile, and it ends with one line at its time limit), and uploads have a size cap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from app_harness import SAMPLE_ARCHIVE, markdown_table, served_app, wait_until
from check_targets import slow_unless_archive

from huggingtweets.app.check import CheckLimits

pytestmark = pytest.mark.slow
# The good visitor's real check of the sample archive answers in 1-3 s: 15 s leaves it a wide margin on
# a busy machine without the test waiting out a long limit.
CHECK_TIMEOUT = 15


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = dict(
        max_upload_mb=1, check_limits=CheckLimits(timeout=CHECK_TIMEOUT), check=slow_unless_archive
    )
    with served_app(tmp_path_factory.mktemp("app"), **settings) as s:
        yield s


def _client(served):
    from gradio_client import Client

    return Client(served.url, verbose=False, download_files=str(Path(served.store.base).parent / "client"))


def test_a_hanging_check_blocks_no_other_visitor_and_ends_with_one_line(served, tmp_path):
    from gradio_client import handle_file

    posts = tmp_path / "hostile.txt"
    posts.write_text("\n".join(f"a post number {i} about the sea and the lamp" for i in range(50)))
    hostile, good = _client(served), _client(served)
    started = time.monotonic()
    stuck = hostile.submit("", [], handle_file(str(posts)), "mallory", api_name="/check")
    wait_until(lambda: len(served.store) >= 1, 30, "the hostile visitor's check to start")
    report = good.predict("", [handle_file(str(SAMPLE_ARCHIVE))], None, "", api_name="/check")
    assert not stuck.done(), "the good archive waited for the hostile check"
    assert markdown_table(report)[0][0] == "@wren_at_gullstone (archive)"
    message = stuck.result(timeout=CHECK_TIMEOUT + 60)
    assert message.startswith(f"**Error:** the data check ran past {CHECK_TIMEOUT} s and was stopped")
    assert "\n" not in message and time.monotonic() - started < CHECK_TIMEOUT + 60


def test_uploads_over_the_cap_are_refused(served, tmp_path):
    import httpx
    from gradio_client import handle_file

    big = tmp_path / "big.txt"
    big.write_text("a post about the sea and the lamp and the gulls\n" * 30_000)  # ~1.4 MB
    assert big.stat().st_size > 1 << 20
    # The page (and gradio_client) read the cap from the app's config and refuse before sending...
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1048576 bytes"):
        _client(served).predict("", [], handle_file(str(big)), "carol", api_name="/check")
    # ...and the server refuses what is sent anyway.
    with big.open("rb") as fh:
        answer = httpx.post(f"{served.url}gradio_api/upload", files={"files": ("big.txt", fh)}, timeout=60)
    assert answer.status_code == 413, answer.text[:200]
    assert [p for p in Path(served.store.base).rglob("big.txt")] == []


def test_the_handler_refuses_an_oversized_file_with_the_setting_that_raises_the_cap(tmp_path):
    pytest.importorskip("gradio")
    from huggingtweets.app.handlers import _take_upload
    from huggingtweets.app.session import SessionStore
    from huggingtweets.errors import InputError

    big = tmp_path / "archive.zip"
    big.write_bytes(b"\0" * (3 << 20))
    session = SessionStore(tmp_path / "sessions").get("a")
    with pytest.raises(InputError) as err:
        _take_upload(str(big), session, max_upload_mb=2)
    assert str(err.value) == (
        "archive.zip is 3 MB; this app takes uploads of at most 2 MB (upload a smaller file, or start the "
        "app with huggingtweets app --max-upload-mb N)"
    )
    assert not session.uploads.exists() and big in session.foreign_files  # it goes with the session
