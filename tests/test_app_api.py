"""The web app through its API (gradio_client), as a program would drive it.

One app and one local Hub for the module; one tiny training (``trained``) that the result,
publish and download tests read. The cancel/queue test trains in two other sessions.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from app_harness import (
    ALICE_TOKEN,
    SAMPLE_ARCHIVE,
    markdown_table,
    progress_of,
    repo_exists,
    served_app,
    wait_until,
)
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("app")) as s:
        yield s


def _client(served):
    from gradio_client import Client

    return Client(served.url, verbose=False, download_files=str(Path(served.store.base).parent / "client"))


def _check(client):
    from gradio_client import handle_file

    return client.predict("", [handle_file(str(SAMPLE_ARCHIVE))], None, "", api_name="/check")


def _check_both(a, b) -> None:
    """Both sessions' data checks at once (checks of different sessions run side by side)."""
    from gradio_client import handle_file

    jobs = [c.submit("", [handle_file(str(SAMPLE_ARCHIVE))], None, "", api_name="/check") for c in (a, b)]
    for job in jobs:
        assert "Data report" in job.result(timeout=300)


def _session(served, before: set):
    """The one session the last client created (sessions are keyed by Gradio's session hash)."""
    new = [sid for sid in list(served.store._sessions) if sid not in before]
    assert len(new) == 1, new
    return served.store.get(new[0])


@pytest.fixture(scope="module")
def trained(served):
    client = _client(served)
    before = set(served.store._sessions)
    report = _check(client)  # the Train button it enables is not part of the API: the browser test sees it
    session = _session(served, before)
    job = client.submit("tiny", 1, None, api_name="/train")
    final = job.result(timeout=300)
    return {"client": client, "session": session, "report": report, "outputs": job.outputs(), "final": final}


def test_data_report_comes_before_training_and_matches_prepare(trained):
    report = json.loads((trained["session"].run_dir / "data_report.json").read_text())
    rows = markdown_table(trained["report"])
    assert len(rows) == 1
    user = report["users"]["wren_at_gullstone"]
    handle, downloaded, dropped, kept, characters, dates, languages = rows[0]
    assert handle == "@wren_at_gullstone (archive)"
    assert (int(downloaded), int(kept), int(characters.replace(",", ""))) == (
        user["downloaded"],
        user["kept"],
        user["characters"],
    )
    assert (
        dropped == f"{user['retweets']} reposts, {user['media_only']} media only, {user['short']} too short, "
        f"{user['duplicates']} duplicates"
    )
    assert dates == f"{user['first_date']} to {user['last_date']}"
    assert languages == "en 379"


def test_too_little_data_is_the_cli_error_and_training_stays_off(served, tmp_path):
    from gradio_client import handle_file

    posts = tmp_path / "few.txt"
    posts.write_text("\n".join(f"a short post number {i} about the sea" for i in range(20)))
    client = _client(served)
    message = client.predict("", [], handle_file(str(posts)), "shorty", api_name="/check")
    assert message.startswith("**Error:** @shorty: only 710 characters left after cleaning (downloaded 20, ")
    assert "need at least 6,000" in message and "\n" not in message
    status = client.predict("tiny", 1, None, api_name="/train")[0]
    assert "Check the data first" in status and progress_of(status) is None


def test_training_streams_stage_progress_loss_and_perplexity(trained):
    outputs = trained["outputs"]
    statuses = [o[0] for o in outputs]
    steps = [progress_of(s) for s in statuses if progress_of(s)]
    assert steps, statuses
    total = steps[-1][1]
    assert steps[-1][0] == total and all(t == total for _, t in steps)
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)  # the bar only moves forward
    assert re.search(r"tokens/s · ETA", statuses[-1])
    assert 'data-state="done"' in statuses[-1]
    assert any("Stage 3/5: <b>train</b>" in s for s in statuses)
    # The loss curve grows as training goes.
    lengths = [len(o[1]["data"]) for o in outputs if isinstance(o[1], dict) and "data" in o[1]]
    assert lengths[-1] == total and lengths == sorted(lengths) and len(set(lengths)) > 1
    summary = json.loads((trained["session"].run_dir / "training_summary.json").read_text())
    rows = markdown_table(trained["final"][2])
    assert rows == [
        ["1", f"{summary['validation_loss']['last']:.3f}", f"{summary['perplexity']['last']:.2f}"]
    ]


def test_result_shows_samples_card_and_preview(trained):
    memorization, samples, preview, card = trained["final"][4:8]
    predictions = json.loads((trained["session"].run_dir / "predictions.json").read_text())
    assert [[r[0], r[1], int(r[2])] for r in samples["data"]] == [
        [s["prompt"], s["text"], s["longest_copied_words"]] for s in predictions["samples"]
    ]
    assert f"**{predictions['memorization_rate']:.0%}** of the samples" in memorization
    assert Path(preview).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The card as the Hub shows it: header chips, tables, and the avatar inlined (no Hub yet).
    assert '<span class="ht-chip">huggingtweets</span>' in card
    assert "<table>" in card and 'src="data:image/png;base64,' in card
    assert "/resolve/main/avatars/" not in card


def test_try_it_writes_five_posts_from_the_trained_model(trained):
    rows = trained["client"].predict("The lamp", api_name="/try_it")["data"]
    assert len(rows) == 5 and all(r[0].startswith("The lamp") for r in rows)


def test_download_is_a_zip_of_the_model_folder(trained):
    shown = trained["client"].predict(api_name="/download")  # the file box appears with the zip in it
    assert shown["visible"] is True, shown
    path = shown["value"]
    names = {n for n in zipfile.ZipFile(path).namelist() if not n.endswith("/")}  # files, not folders
    model = trained["session"].run_dir / "model"
    assert names == {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()}
    assert {"config.json", "README.md", "model.safetensors"} <= names


def test_wrong_token_is_one_line_and_publishes_nothing(trained, served):
    message, token_box, card = trained["client"].predict(
        "huggingtweets/wren-wrong", True, "hf_not_a_token", api_name="/publish"
    )
    assert message.startswith("**Error:** ") and "\n" not in message
    assert "hf_not_a_token" not in message and token_box == ""
    assert not repo_exists(served.hub_url, "huggingtweets/wren-wrong")


def test_publish_to_the_local_hub_then_pipeline_loads_it(trained, served, tmp_path):
    repo = "huggingtweets/wren-app"
    message, token_box, card = trained["client"].predict(repo, True, ALICE_TOKEN, api_name="/publish")
    assert message == f"Published to [{repo}]({served.hub_url}/{repo}) (private). "
    assert token_box == "" and ALICE_TOKEN not in card
    assert html.escape(repo) in card  # the card now names the repo it went to
    assert repo_exists(served.hub_url, repo)
    env = {
        **__import__("os").environ,
        "HF_ENDPOINT": served.hub_url,
        "HF_HUB_DISABLE_XET": "1",
        "HF_TOKEN": ALICE_TOKEN,
        "HF_HOME": str(tmp_path / "consumer"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    code = (
        "import json, sys; from transformers import pipeline; "
        f"g = pipeline('text-generation', model={repo!r}); "
        "print(json.dumps([o['generated_text'] for o in g('My dream is', num_return_sequences=2)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    texts = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(texts) == 2 and all(t.startswith("My dream is") for t in texts)


def test_cancel_keeps_the_checkpoint_the_next_train_resumes_and_a_second_session_waits(served):
    from gradio_client.utils import Status

    a, b = _client(served), _client(served)
    _check_both(a, b)
    epochs = 200  # far more than the test lets run: it is cancelled after a few steps

    def step(job) -> int:
        found = [progress_of(o[0]) for o in job.outputs()]
        return max((p[0] for p in found if p), default=0)

    job_a = a.submit("tiny", epochs, None, api_name="/train")
    wait_until(lambda: step(job_a) >= 2, 120, "the first session's training to start")
    job_b = b.submit("tiny", epochs, None, api_name="/train")
    queued = wait_until(
        lambda: (s := job_b.status()).code == Status.IN_QUEUE and s, 30, "the second session to be queued"
    )
    assert queued.rank == 0 and step(job_b) == 0  # it waits while the first one trains
    assert a.predict(api_name="/cancel").startswith("Cancelling")
    first = job_a.result(timeout=120)
    assert "Cancelled: the checkpoint is kept" in first[0]
    stopped_at = progress_of(first[0])[0]

    wait_until(lambda: step(job_b) >= 1, 120, "the second session's training to start after the first")
    b.predict(api_name="/cancel")
    job_b.result(timeout=120)

    job_a2 = a.submit("tiny", epochs, None, api_name="/train")
    wait_until(lambda: step(job_a2) >= 1, 120, "the resumed training to step")
    a.predict(api_name="/cancel")
    again = job_a2.result(timeout=120)
    assert "train: resuming from the last checkpoint" in again[3].splitlines()
    resumed_steps = [p[0] for o in job_a2.outputs() if (p := progress_of(o[0]))]
    assert min(resumed_steps) > stopped_at  # it went on from the checkpoint, not from step 1


def test_two_sessions_train_at_once_when_the_setting_allows_two(tmp_path):
    """Each training is a process of its own: with max_trainings=2 neither waits for the other."""
    with served_app(tmp_path, max_trainings=2) as served:
        a, b = _client(served), _client(served)
        _check_both(a, b)

        def step(job) -> int:
            found = [progress_of(o[0]) for o in job.outputs()]
            return max((p[0] for p in found if p), default=0)

        job_a = a.submit("tiny", 200, None, api_name="/train")
        job_b = b.submit("tiny", 200, None, api_name="/train")
        # Both step while the other one is still running: neither is queued behind the other.
        wait_until(lambda: step(job_a) >= 2 and step(job_b) >= 2, 240, "both sessions to train")
        assert not job_a.done() and not job_b.done()
        for client, job in ((a, job_a), (b, job_b)):
            assert client.predict(api_name="/cancel").startswith("Cancelling")
            assert "Cancelled: the checkpoint is kept" in job.result(timeout=120)[0]


def test_max_trainings_below_one_is_a_one_line_error():
    pytest.importorskip("gradio")
    from huggingtweets.app import create_app
    from huggingtweets.errors import InputError

    with pytest.raises(
        InputError, match=r"max trainings 0 is invalid: expected a whole number of at least 1"
    ):
        create_app(max_trainings=0)


def _fetch(served, path) -> int:
    import httpx

    return httpx.get(f"{served.url}gradio_api/file={path}", timeout=30).status_code


def test_the_session_folder_is_not_served_only_what_the_page_shows(trained, served):
    session = trained["session"]
    for private in (
        session.run_dir / "data_report.json",
        session.run_dir / "model" / "config.json",
        next(session.uploads.iterdir()),
        next((session.run_dir / "raw").iterdir()),
    ):
        assert private.is_file() and _fetch(served, private) == 403, private
    trained["client"].predict(api_name="/download")
    shown = [
        p for p in session.foreign_files if p.suffix in (".png", ".zip") and p.name != SAMPLE_ARCHIVE.name
    ]
    assert {p.suffix for p in shown} == {".png", ".zip"}  # the preview and the model zip(s) it handed out
    assert all(_fetch(served, p) == 200 for p in shown)


def test_ending_the_session_deletes_every_copy_gradio_serves(trained, served):
    """Last in this module: it ends the trained session."""
    session = trained["session"]
    trained["client"].predict(api_name="/download")
    cache = Path(served.store.base).parent / "gradio"  # GRADIO_TEMP_DIR of the harness

    def made_by_the_bot() -> list[Path]:  # the preview and the model zip (uploads are archives)
        return [p for p in cache.rglob("*") if p.suffix in (".png", ".zip") and p.name != SAMPLE_ARCHIVE.name]

    copies = made_by_the_bot()
    assert {p.suffix for p in copies} == {".png", ".zip"} and set(copies) <= session.foreign_files
    served.store.end(session.id)
    assert not session.root.exists() and made_by_the_bot() == []
    assert all(_fetch(served, p) in (403, 404) for p in copies)
