"""``--report-to tensorboard``: the hyperparameters and metrics really reach TensorBoard's event files.

Trains the test tiny model for two epochs with the tracker on, then reads back what accelerate's
TensorBoardTracker wrote (scalars via ``add_scalar``, hyperparameters via ``add_hparams`` and an
``hparams.yml``) with TensorBoard's own reader, and compares it with the run's training summary.
No ``importorskip``: tensorboard is a dev dependency, so a missing one must fail loudly.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from fixtures_train import build_fixture_dataset, fixture_train_config

FAKE_HF_TOKEN = "hf_TrackerTestFakeSecret0123456789abcd"
FAKE_X_TOKEN = "AAAAAAAAAAAAAAAAAAAAAFakeBearerForTrackerTest0123456789"
TOKEN_LIKE = re.compile(r"\bhf_[A-Za-z0-9]{16,}|AAAAAAAAAAAAAAAAAAAA")

# Distinct from the config defaults (lr None, batch 8, 4 epochs), so a default cannot pass for them.
EPOCHS, BATCH_SIZE, LEARNING_RATE = 2, 4, 2e-3


def _event_dirs(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("events.out.tfevents.*")})


def _read_events(root: Path) -> tuple[dict[str, list[tuple[int, float]]], dict[str, object]]:
    """All scalars (tag -> [(step, value)]) and the hparams session's values, from every event file."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
    from tensorboard.plugins.hparams import metadata as hparams_metadata

    scalars: dict[str, list[tuple[int, float]]] = {}
    hparams: dict[str, object] = {}
    for folder in _event_dirs(root):
        acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0})  # 0 = keep every point
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
        try:
            content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
        except KeyError:  # add_hparams writes to its own subfolder: the scalars' folder has none
            continue
        if hparams_metadata.SESSION_START_INFO_TAG in content:
            info = hparams_metadata.parse_session_start_info_plugin_data(
                content[hparams_metadata.SESSION_START_INFO_TAG]
            )
            for key, value in info.hparams.items():
                hparams[key] = getattr(value, value.WhichOneof("kind"))
    return {tag: sorted(points) for tag, points in scalars.items()}, hparams


@pytest.fixture(scope="module")
def tensorboard_run(tmp_path_factory, tiny_base_dir):
    """One tracked training run, started from an unrelated working directory with secrets in the env."""
    from huggingtweets.train import train

    run_dir = tmp_path_factory.mktemp("tracked") / "maple_coder-tidepool_ann"
    build_fixture_dataset(run_dir)
    cwd = tmp_path_factory.mktemp("elsewhere")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("HF_TOKEN", FAKE_HF_TOKEN)
        mp.setenv("X_BEARER_TOKEN", FAKE_X_TOKEN)
        summary = train(
            run_dir,
            fixture_train_config(
                tiny_base_dir,
                epochs=EPOCHS,
                batch_size=BATCH_SIZE,
                learning_rate=LEARNING_RATE,
                report_to="tensorboard",
            ),
        )
    return run_dir, cwd, summary


def test_event_files_land_in_the_run_folder_not_the_working_directory(tensorboard_run):
    run_dir, cwd, _ = tensorboard_run
    logs = run_dir / "logs"
    event_files = list(run_dir.rglob("events.out.tfevents.*"))
    assert event_files, f"no TensorBoard event file anywhere under {run_dir}"
    # accelerate writes to logging_dir/<project name>: DIR/logs/huggingtweets/...
    assert all(p.is_relative_to(logs / "huggingtweets") for p in event_files), event_files
    assert list(cwd.iterdir()) == [], "the tracker wrote into the current working directory"


def test_training_and_validation_metrics_are_logged_per_step_and_epoch(tensorboard_run):
    run_dir, _, summary = tensorboard_run
    scalars, _ = _read_events(run_dir / "logs")
    steps, history = summary["steps"], summary["history"]
    assert steps == summary["hyperparameters"]["total_steps"] > EPOCHS
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))

    # Per optimizer step: loss, learning rate and throughput, each at steps 1..N exactly once.
    for tag in ("train/loss", "train/lr", "train/tokens_per_second"):
        assert [s for s, _ in scalars[tag]] == list(range(1, steps + 1)), tag
        assert all(math.isfinite(v) for _, v in scalars[tag]), tag
    assert all(v > 0 for _, v in scalars["train/loss"] + scalars["train/tokens_per_second"])
    # Cosine from the peak, no warm-up; each point is the rate after that step's scheduler.step().
    lrs = [v for _, v in scalars["train/lr"]]
    assert lrs[0] == pytest.approx(LEARNING_RATE, rel=0.01) and lrs[0] <= LEARNING_RATE * (1 + 1e-6)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False)) and lrs[-1] == pytest.approx(0.0, abs=1e-9)

    # Per epoch, at the epoch's last step: the same numbers the training summary records.
    epoch_steps = [h["step"] for h in history]
    for tag, key in (
        ("eval/loss", "validation_loss"),
        ("eval/perplexity", "perplexity"),
        ("train/epoch_loss", "train_loss"),
    ):
        assert [s for s, _ in scalars[tag]] == epoch_steps, tag
        logged = [v for _, v in scalars[tag]]
        assert all(math.isfinite(v) for v in logged), tag
        assert logged == pytest.approx([h[key] for h in history], rel=1e-5), tag  # stored as float32
    for (_, ppl), (_, loss) in zip(scalars["eval/perplexity"], scalars["eval/loss"], strict=True):
        assert ppl == pytest.approx(math.exp(loss), rel=1e-3)

    # The logged step losses are the real ones: their per-epoch mean is the epoch's train loss.
    bounds = [0, *epoch_steps]
    for epoch, entry in enumerate(history):
        losses = [v for s, v in scalars["train/loss"] if bounds[epoch] < s <= bounds[epoch + 1]]
        assert sum(losses) / len(losses) == pytest.approx(entry["train_loss"], rel=1e-4)


def test_hyperparameters_are_recorded_without_paths_or_secrets(tensorboard_run, tiny_base_dir):
    run_dir, _, summary = tensorboard_run
    _, hparams = _read_events(run_dir / "logs")
    assert hparams, "no hparams plugin data (add_hparams session start info) in the event files"
    assert hparams["learning_rate"] == pytest.approx(LEARNING_RATE)
    assert hparams["epochs"] == EPOCHS
    assert hparams["batch_size"] == BATCH_SIZE
    assert hparams["effective_batch_size"] == BATCH_SIZE
    assert hparams["total_steps"] == summary["steps"]
    assert hparams["report_to"] == "tensorboard"
    # A local base folder is recorded by its name only, never the path given on the command line.
    assert hparams["base_model"] == tiny_base_dir.name == summary["base_model"]
    # Everything the summary calls a hyperparameter reached TensorBoard (None is sent as "none";
    # torch's add_hparams stores a bool as a number, since bool is an int).
    expected = {k: "none" if v is None else v for k, v in summary["hyperparameters"].items()}
    assert hparams == pytest.approx({k: float(v) if isinstance(v, bool) else v for k, v in expected.items()})

    # accelerate also keeps a YAML copy beside the events: the same values.
    yml_files = list((run_dir / "logs").rglob("hparams.yml"))
    assert len(yml_files) == 1
    assert yaml.safe_load(yml_files[0].read_text(encoding="utf-8")) == expected

    machine_dirs = {str(run_dir.parent), str(tiny_base_dir.parent), str(Path.home()), str(Path.cwd())}
    for key, value in hparams.items():
        if not isinstance(value, str):
            continue
        assert not Path(value).is_absolute(), f"hparam {key}={value!r} is an absolute path"
        assert not any(d in value for d in machine_dirs), f"hparam {key}={value!r} names a local folder"
        assert not TOKEN_LIKE.search(value), f"hparam {key} looks like a token"
    # No secret from the environment anywhere in what the tracker wrote.
    for path in (run_dir / "logs").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert FAKE_HF_TOKEN.encode() not in data and FAKE_X_TOKEN.encode() not in data, path
