"""The app's data check in a process of its own: bounded in time and memory, typed errors back as
one line, nothing else slowed down. No server here: ``run_check`` and the upload cap directly."""

from __future__ import annotations

import threading
import time

import pytest
from check_targets import dies, echo, hungry, refuses, sleepy
from hostile_kit import bomb_zip

from huggingtweets.app.check import CheckLimits, run_check
from huggingtweets.errors import InputError, SourceError


def test_a_check_that_runs_too_long_is_stopped_with_one_line(tmp_path):
    started = time.monotonic()
    with pytest.raises(InputError) as err:
        run_check(tmp_path, {}, limits=CheckLimits(timeout=3), target=sleepy)
    assert time.monotonic() - started < 30
    assert str(err.value) == (
        "the data check ran past 3 s and was stopped (try fewer or smaller sources, or run huggingtweets "
        "fetch on your own machine)"
    )


def test_a_check_that_takes_too_much_memory_is_stopped(tmp_path):
    with pytest.raises(InputError) as err:
        run_check(tmp_path, {}, limits=CheckLimits(timeout=60, max_memory_mb=300), target=hungry)
    assert str(err.value).startswith(
        "reading these files took more than 300 MB of memory; the check was stopped"
    )


def test_typed_errors_and_results_come_back_from_the_check_process(tmp_path):
    with pytest.raises(SourceError) as err:
        run_check(tmp_path, {}, target=refuses)
    assert str(err.value) == "outbox.json is not an export (download the archive again)"
    with pytest.raises(InputError, match=r"^the data check stopped unexpectedly \(exit code 3\)"):
        run_check(tmp_path, {}, target=dies)
    sources = {"handles": (), "archives": (("a.zip", None),), "posts_files": ()}
    report, notes = run_check(tmp_path / "run", sources, target=echo)
    assert report == {"run_dir": str(tmp_path / "run"), "sources": sources} and notes == ["a note"]


@pytest.mark.slow
def test_a_zip_bomb_is_refused_by_the_real_check_and_a_slow_check_blocks_no_other(tmp_path):
    bomb = bomb_zip(tmp_path / "export.zip", "data/tweets.js", mb=300, head=b"window.YTD.tweets.part0 = [")
    slow: list[BaseException] = []

    def slow_check():
        # The bomb is refused in well under a second: 8 s keeps this check running well past that.
        try:
            run_check(tmp_path / "slow", {}, limits=CheckLimits(timeout=8), target=sleepy)
        except InputError as err:
            slow.append(err)

    thread = threading.Thread(target=slow_check)
    thread.start()
    with pytest.raises(SourceError) as err:
        run_check(tmp_path / "run", {"archives": ((str(bomb), "wren"),)})
    assert thread.is_alive()  # answered while the slow check still runs: no check waits for another
    assert "data/tweets.js" in str(err.value) and "\n" not in str(err.value)
    thread.join(60)
    assert [str(e).split(" (")[0] for e in slow] == ["the data check ran past 8 s and was stopped"]


def test_a_session_runs_one_check_at_a_time(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs the app extra")
    from types import SimpleNamespace

    from check_targets import echo

    from huggingtweets.app.handlers import Handlers
    from huggingtweets.app.session import SessionStore

    store = SessionStore(tmp_path / "sessions")
    handlers = Handlers(store, check=echo)
    request = SimpleNamespace(session_hash="a")
    session = store.get("a")
    with session.checking:  # a check of this session is in flight
        message, _ = handlers.check_data("jack", None, None, "", request)
    assert message == "**Error:** a data check is already running; wait for it"
    message, train = handlers.check_data("", None, None, "", request)  # the lock was given back
    assert message.startswith("**Error:** no source given") and train == {
        "__type__": "update",
        "interactive": False,
    }


def test_the_check_process_does_not_run_the_apps_main_script_again(tmp_path):
    """A Space's app.py launches the app at import, with no __main__ guard: the check's process must
    not execute it again (multiprocessing's spawn would, starting a second app per check)."""
    import subprocess
    import sys

    from conftest import REPO_ROOT

    script = tmp_path / "app.py"
    script.write_text(
        "import sys\n"
        f"open({str(tmp_path / 'starts')!r}, 'a').write('x')\n"
        "from huggingtweets.app.check import run_check\n"
        "from check_targets import echo\n"
        f"print(run_check({str(tmp_path / 'run')!r}, {{}}, target=echo)[1])\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'tests'}"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['a note']" and (tmp_path / "starts").read_text() == "x"


def test_ending_a_session_kills_its_check_before_deleting_its_folder(tmp_path):
    """Else the check would go on writing the visitor's posts into the folder just deleted."""
    from huggingtweets.app.session import SessionStore

    store = SessionStore(tmp_path / "sessions")
    session = store.get("a")
    errors: list[InputError] = []

    def check():
        try:
            run_check(
                session.run_dir,
                {},
                limits=CheckLimits(timeout=60),
                target=sleepy,
                started=lambda process: setattr(session, "check_process", process),
            )
        except InputError as err:
            errors.append(err)

    thread = threading.Thread(target=check)
    thread.start()
    deadline = time.monotonic() + 30
    while session.check_process is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process = session.check_process
    store.end("a")
    assert process.poll() is not None and not session.root.exists()
    thread.join(30)
    assert not thread.is_alive() and str(errors[0]).startswith("the data check stopped unexpectedly")
