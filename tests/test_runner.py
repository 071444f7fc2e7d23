"""The run orchestration with fake stages at its one seam: skip, re-run, resume, fail, summarize."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from huggingtweets.config import RunConfig
from huggingtweets.errors import HubError, TrainingError
from huggingtweets.events import StageFinished, StageStarted
from huggingtweets.runner import STAGES, read_record, run, stage_status


class FakeStages:
    """Stage functions that write the files the real ones write, and remember how they were called."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.resume_flags: list[bool] = []
        self.fail: dict[str, BaseException] = {}

    def mapping(self) -> dict:
        return {name: (lambda ctx, name=name: self._stage(name, ctx)) for name in STAGES}

    def _stage(self, name: str, ctx) -> dict:
        self.calls.append(name)
        d: Path = ctx.run_dir
        if name == "train":
            self.resume_flags.append(ctx.resume)
            (d / "checkpoints" / "step-1").mkdir(parents=True, exist_ok=True)
        if name in self.fail:
            raise self.fail.pop(name)
        write = {
            "fetch": {"users.json": [{"handle": "alice"}], "raw/alice.jsonl": ""},
            "prepare": {
                "dataset/dataset_dict.json": {},
                "data_report.json": {"users": {"alice": {"downloaded": 10, "kept": 7}}},
            },
            "train": {
                "model/config.json": {},
                "training_summary.json": {
                    "perplexity": {"best": 12.5, "last": 13.0},
                    "validation_loss": {"best": 2.5, "last": 2.6},
                },
            },
            "generate": {
                "predictions.json": {
                    "memorization_rate": 0.1,
                    "samples": [
                        {"prompt": "p", "text": f"post {i}", "longest_copied_words": 1} for i in range(5)
                    ],
                }
            },
            "card": {"model/README.md": "card", "model/huggingtweets.json": {}},
            "publish": {},
        }[name]
        for rel, content in write.items():
            path = d / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        if name == "publish":
            return {
                "repo_id": ctx.repo_id,
                "url": f"http://hub/{ctx.repo_id}",
                "commit": "abc",
                "private": True,
            }
        return {}


@pytest.fixture
def fake():
    return FakeStages()


@pytest.fixture
def base(tmp_path) -> RunConfig:
    return RunConfig(
        handles=("alice",),
        train={"base_model": "tiny"},
        repo_id="huggingtweets/alice",
        run_dir=str(tmp_path / "run"),
        endpoint="http://hub",
    )


def changed(config: RunConfig, **values) -> RunConfig:
    """``config`` with some settings changed; training settings go to its nested ``train``."""
    from huggingtweets.train.config import FIELDS as TRAIN_FIELDS

    train = {k: values.pop(k) for k in list(values) if k in TRAIN_FIELDS}
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **train), **values)


def go(config: RunConfig, fake: FakeStages, **kw):
    fake.calls.clear()
    # The real pre-flight asks the Hub whether the token may publish; this one names no namespace.
    return run(config, token="hf_fake", stages=fake.mapping(), preflight=lambda *_: None, **kw)


def test_first_run_runs_every_stage_and_a_second_skips_them(base, fake):
    result = go(base, fake)
    assert fake.calls == list(STAGES)
    assert result.ran == list(STAGES) and result.skipped == []
    summary = json.loads((Path(base.run_dir) / "run_summary.json").read_text())
    assert summary["users"] == {"alice": {"downloaded": 10, "kept": 7}}
    assert summary["perplexity"] == {"best": 12.5, "last": 13.0}
    assert summary["memorization_rate"] == 0.1
    assert summary["url"] == "http://hub/huggingtweets/alice"
    assert summary["samples"] == ["post 0", "post 1", "post 2"]
    assert stage_status(base.run_dir) == dict.fromkeys(STAGES, "done")

    again = go(base, fake)
    # Publish always runs: the repo may be gone since (it is cheap: no change makes no commit).
    assert fake.calls == ["publish"]
    assert again.skipped == list(STAGES[:-1]) and again.ran == ["publish"]
    assert again.summary["url"] == "http://hub/huggingtweets/alice"


@pytest.mark.parametrize(
    ("change", "first_rerun"),
    [
        ({"keep_newlines": True}, "prepare"),
        ({"seed": 7}, "prepare"),
        ({"epochs": 1}, "train"),
        ({"batch_size": 4}, "train"),
        ({"detect_languages": False}, "prepare"),
        # The data report measures the base's tokenizer on the posts: a few seconds of prepare again.
        ({"base_model": "gpt2"}, "prepare"),
        ({"repo_id": "huggingtweets/other"}, "card"),
        ({"private": False}, "publish"),
        ({"endpoint": "http://elsewhere"}, "publish"),
        ({"endpoint": "https://hub.example"}, "card"),  # an https Hub is linked from the card
        ({"handles": ("bob",)}, "fetch"),
    ],
)
def test_a_changed_setting_reruns_only_its_stage_and_the_later_ones(base, fake, change, first_rerun):
    go(base, fake)
    go(changed(base, **change), fake)
    assert fake.calls == list(STAGES[STAGES.index(first_rerun) :])


def test_changed_template_reruns_card_and_publish(base, fake, tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("one")
    config = dataclasses.replace(base, template=str(template))
    go(config, fake)
    go(config, fake)
    assert fake.calls == ["publish"]
    template.write_text("two")  # same path, new content: the fingerprint holds the content hash
    go(config, fake)
    assert fake.calls == ["card", "publish"]


def test_missing_output_reruns_that_stage_and_the_later_ones(base, fake):
    go(base, fake)
    (Path(base.run_dir) / "predictions.json").unlink()
    go(base, fake)
    assert fake.calls == ["generate", "card", "publish"]


def test_a_failed_stage_publishes_nothing_and_the_rerun_continues(base, fake):
    fake.fail["card"] = TrainingError("boom")
    with pytest.raises(TrainingError):
        go(base, fake)
    assert "publish" not in fake.calls
    assert read_record(Path(base.run_dir), "card")["status"] == "failed"
    assert read_record(Path(base.run_dir), "publish") is None
    assert not (Path(base.run_dir) / "run_summary.json").exists()
    go(base, fake)
    assert fake.calls == ["card", "publish"]


def test_interrupted_training_resumes_from_its_checkpoint(base, fake):
    fake.fail["train"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        go(base, fake)
    assert read_record(Path(base.run_dir), "train")["status"] == "running"
    result = go(base, fake)
    assert fake.calls == ["train", "generate", "card", "publish"]
    assert fake.resume_flags == [False, True]
    assert result.resumed


def test_checkpoints_of_other_settings_are_not_resumed(base, fake):
    fake.fail["train"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        go(base, fake)
    stale = Path(base.run_dir) / "checkpoints" / "step-1" / "marker"
    stale.write_text("old settings")
    go(changed(base, epochs=2), fake)
    assert fake.resume_flags == [False, False]
    assert not stale.exists()


def test_rerun_from_forces_that_stage_and_the_later_ones(base, fake):
    go(base, fake)
    go(base, fake, rerun_from="generate")
    assert fake.calls == ["generate", "card", "publish"]


def test_no_publish_stops_after_the_card(base, fake):
    result = go(dataclasses.replace(base, publish=False), fake)
    assert fake.calls == list(STAGES[:-1])
    assert result.summary["url"] is None and result.summary["card"].endswith("README.md")


def test_publishing_without_a_token_fails_before_any_work(base, fake, monkeypatch):
    monkeypatch.setattr("huggingtweets.runner.hub_token", lambda: None)
    stages = fake.mapping()  # and the real pre-flight check
    with pytest.raises(HubError, match="no Hugging Face token"):
        run(base, stages=stages)
    assert fake.calls == []


def test_a_token_that_may_not_write_there_fails_before_any_work(base, fake, hub):
    """bob is no member of the huggingtweets org: the local Hub says so before anything is trained."""
    stages = fake.mapping()
    config = dataclasses.replace(base, endpoint=hub.url)
    with pytest.raises(HubError, match="cannot write to huggingtweets/"):
        run(config, token=hub.other_token, stages=stages)
    assert fake.calls == []
    with pytest.raises(HubError, match="cannot write to huggingtweets/"):
        run(
            dataclasses.replace(config, repo_id=None, org="huggingtweets"),
            token=hub.other_token,
            stages=stages,
        )
    run(config, token=hub.token, stages=stages)  # alice may
    assert fake.calls == list(STAGES)


def test_default_repo_id_is_namespace_and_sorted_handles(base, fake):
    config = dataclasses.replace(base, repo_id=None, org="bots", publish=False)
    go(config, fake)
    assert read_record(Path(base.run_dir), "card")["settings"]["repo_id"] == "bots/alice"


def test_messages_say_why_a_stage_runs(base, fake):
    go(base, fake)
    seen: list = []
    run(
        changed(base, epochs=3),
        token="t",
        stages=fake.mapping(),
        preflight=lambda *_: None,
        events=seen.append,
    )
    reasons = {e.stage: e.reason for e in seen if isinstance(e, StageStarted)}
    assert reasons["fetch"] == "already done, skipped"
    assert reasons["train"].startswith("settings changed (epochs default -> 3)")
    assert reasons["generate"] == "an earlier stage re-ran, running again"


def test_train_section_of_a_yaml_config_is_typed_like_train_config(base, tmp_path):
    from huggingtweets.config import build_config, load_config_file
    from huggingtweets.errors import InputError

    cfg = tmp_path / "bot.yaml"
    cfg.write_text(
        "handles: [alice]\ntrain:\n  mixed_precision: no\n  warmup_ratio: 1e-1\n", encoding="utf-8"
    )
    tc = build_config(load_config_file(cfg)).train
    assert (tc.mixed_precision, tc.warmup_ratio) == ("no", 0.1)
    cfg.write_text("handles: [alice]\ntrain:\n  batch_size: many\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"`train.batch_size: \*\*\*` in bot.yaml: expected a whole number"):
        load_config_file(cfg)
    for key in ("batch_sise", "resume"):
        cfg.write_text(f"handles: [alice]\ntrain:\n  {key}: 1\n", encoding="utf-8")
        with pytest.raises(InputError, match=f"unknown training setting 'train.{key}'"):
            load_config_file(cfg)


def test_session_knobs_do_not_change_the_training_fingerprint(base, fake):
    """stop_after_steps, checkpoint_every, report_to... steer a session, not the weights."""
    go(changed(base, checkpoint_every=1, stop_after_steps=3, cpu_threads=1, report_to="tensorboard"), fake)
    go(base, fake)
    assert fake.calls == ["publish"]
    go(changed(base, max_steps=3), fake)
    assert fake.calls == list(STAGES[STAGES.index("train") :])


def test_file_identity_follows_content_not_paths_or_times(tmp_path):
    import os
    import shutil
    import zipfile

    from huggingtweets.runner import file_identity

    posts = tmp_path / "posts.txt"
    posts.write_text("one\ntwo\n")
    first = file_identity(posts)
    os.utime(posts, (0, 0))
    assert file_identity(posts) == first
    posts.write_text("one\nthree\n")
    assert file_identity(posts) != first

    zipped = tmp_path / "archive.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("data/tweets.js", "window.YTD.tweets.part0 = []")
    copy = tmp_path / "copy" / "archive.zip"
    copy.parent.mkdir()
    shutil.copy(zipped, copy)
    assert file_identity(copy) == file_identity(zipped)
    with zipfile.ZipFile(copy, "w") as z:
        z.writestr("data/tweets.js", "window.YTD.tweets.part0 = [{}]")
    assert file_identity(copy) != file_identity(zipped)

    folder = tmp_path / "unpacked"
    (folder / "data" / "tweets_media").mkdir(parents=True)
    (folder / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = []")
    before = file_identity(folder)
    (folder / "data" / "tweets_media" / "big.jpg").write_bytes(b"\xff" * 1000)  # media is not read
    assert file_identity(folder) == before
    (folder / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = [{}]")
    assert file_identity(folder) != before


def test_a_second_run_on_the_same_folder_is_refused_while_one_runs(base, fake):
    from huggingtweets.errors import InputError

    seen = {}

    def nested(ctx):
        with pytest.raises(InputError, match="another huggingtweets command is writing to") as err:
            run(base, token="t", stages=fake.mapping(), preflight=lambda *_: None)
        seen["error"] = str(err.value)
        return {}

    stages = fake.mapping()
    stages["prepare"] = nested
    run(dataclasses.replace(base, publish=False), token="t", stages=stages)
    assert "another" in seen["error"]


def test_every_stage_reports_start_and_finish_in_order(base, fake):
    seen: list = []
    go(base, fake, events=seen.append)
    kinds = [(type(e).__name__, e.stage, e.index, e.total) for e in seen]
    n = len(STAGES)
    assert kinds == [
        pair
        for i, name in enumerate(STAGES)
        for pair in (("StageStarted", name, i + 1, n), ("StageFinished", name, i + 1, n))
    ]
    assert all(not e.skipped and e.seconds >= 0 for e in seen if isinstance(e, StageFinished))
    again: list = []
    go(base, fake, events=again.append)
    finished = {e.stage: e.skipped for e in again if isinstance(e, StageFinished)}
    assert finished == {**dict.fromkeys(STAGES[:-1], True), "publish": False}


def test_a_cancelled_stage_is_recorded_as_unfinished(base, fake):
    from huggingtweets.errors import Cancelled

    fake.fail["train"] = Cancelled("stop")
    with pytest.raises(Cancelled):
        go(base, fake)
    assert read_record(Path(base.run_dir), "train")["status"] == "cancelled"
    go(base, fake)
    assert fake.resume_flags == [False, True]


def test_outputs_changed_under_a_finished_stage_rerun_it_and_the_later_ones(base, fake):
    """`huggingtweets fetch --run-dir` on the run's folder rewrites users.json: fetch's record no longer holds."""
    go(base, fake)
    (Path(base.run_dir) / "users.json").write_text(json.dumps([{"handle": "mallory"}]))
    go(base, fake)
    assert fake.calls == list(STAGES)
    go(base, fake)
    assert fake.calls == ["publish"]


def test_a_run_that_fails_in_a_folder_it_made_leaves_nothing_behind(base, fake, tmp_path):
    from huggingtweets.errors import SourceError

    fake.fail["fetch"] = SourceError("archive is corrupt")
    with pytest.raises(SourceError):
        go(base, fake)
    assert not Path(base.run_dir).exists()  # no .stages/run.lock, no fetch.json
    # A folder that was there before keeps what it had.
    Path(base.run_dir).mkdir()
    (Path(base.run_dir) / "notes.txt").write_text("mine")
    fake.fail["fetch"] = SourceError("archive is corrupt")
    with pytest.raises(SourceError):
        go(base, fake)
    assert (Path(base.run_dir) / "notes.txt").read_text() == "mine"


def test_the_bot_name_is_one_function_wherever_it_is_used(base, fake, tmp_path):
    from huggingtweets.publish import default_repo_id
    from huggingtweets.runfolder import bot_name, default_run_dir

    assert bot_name(["@Zed", "alice", "ALICE"]) == "alice-zed"
    assert default_run_dir(["@Zed", "alice"]) == Path("runs/alice-zed")
    fake_users = [{"handle": "@Zed"}, {"handle": "alice"}]

    class Users(FakeStages):
        def _stage(self, name, ctx):
            out = super()._stage(name, ctx)
            if name == "fetch":
                (ctx.run_dir / "users.json").write_text(json.dumps(fake_users))
            return out

    users = Users()
    go(dataclasses.replace(base, repo_id=None, org="bots", publish=False), users)
    assert read_record(Path(base.run_dir), "card")["settings"]["repo_id"] == "bots/alice-zed"
    assert default_repo_id(Path(base.run_dir), "bots") == "bots/alice-zed"


def test_records_hold_no_token_shaped_value(base, fake):
    secret = "hf_" + "a1B2c3D4" * 4
    config = changed(base, base_model=secret)
    config = dataclasses.replace(config, endpoint=f"http://user:{secret}@hub.example", publish=False)
    fake.fail["train"] = TrainingError(f"cannot fetch base model {secret!r}")
    with pytest.raises(TrainingError):
        go(config, fake)
    for path in (Path(base.run_dir) / ".stages").glob("*.json"):
        assert secret not in path.read_text(), path.name
    assert read_record(Path(base.run_dir), "train")["settings"]["base_model"] == "***"
