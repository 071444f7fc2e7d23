"""The CLI's rendering of events: plain lines off a terminal (thinned steps), one live line on one."""

from __future__ import annotations

import io

from huggingtweets.cli.progress import LiveDisplay, PlainLines, renderer
from huggingtweets.events import EpochEnd, Message, StageFinished, StageStarted, TrainStep, Upload


def step(n: int, total: int = 10) -> TrainStep:
    return TrainStep(
        step=n,
        total_steps=total,
        epoch=1,
        epochs=1,
        loss=2.5,
        learning_rate=1e-3,
        tokens_per_second=1234.0,
        eta_seconds=65.0,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_thin_training_steps_to_one_per_interval_plus_the_last():
    out, clock = io.StringIO(), FakeClock()
    show = PlainLines(out, interval=3.0, clock=clock)
    show(StageStarted(stage="train", index=3, total=5, reason="starting"))
    for n in range(1, 11):
        clock.now = n * 1.0  # one step a second
        show(step(n))
    show(EpochEnd(epoch=1, epochs=1, train_loss=2.6, validation_loss=2.4, perplexity=11.02))
    show(StageFinished(stage="train", index=3, total=5, seconds=10.0))
    show(Message(text="two\nlines"))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "[3/5] train: starting"
    steps = [int(ln.split()[2].split("/")[0]) for ln in lines if ln.startswith("train: step")]
    assert steps == [1, 4, 7, 10]  # every 3 s, and the last step whenever it comes
    assert lines[4] == "train: step 10/10, epoch 1/1, loss 2.5000, lr 1.00e-03, 1,234 tok/s, ETA 01:05"
    assert lines[5] == "train: epoch 1/1 done, train loss 2.6000, validation loss 2.4000, perplexity 11.02"
    assert lines[6] == "[3/5] train: done in 10.0 s"
    assert lines[7] == "two lines"  # one event, one line
    assert len(lines) == 8


def test_a_skipped_stage_is_one_line():
    out = io.StringIO()
    show = PlainLines(out)
    show(StageStarted(stage="fetch", index=1, total=5, reason="already done, skipped"))
    show(StageFinished(stage="fetch", index=1, total=5, skipped=True))
    assert out.getvalue() == "[1/5] fetch: already done, skipped\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_live_display_and_a_pipe_plain_lines():
    assert isinstance(renderer(Terminal()), LiveDisplay)
    assert isinstance(renderer(io.StringIO()), PlainLines)


def test_live_display_keeps_finished_stages_above_one_bar():
    out = Terminal()
    show = LiveDisplay(out)
    show(StageStarted(stage="train", index=3, total=5, reason="starting"))
    for n in range(1, 4):
        show(step(n, total=3))
    assert show.bar is not None and show.bar.n == 3 and show.bar.total == 3
    show(StageFinished(stage="train", index=3, total=5, seconds=1.0))
    assert show.bar is None
    text = out.getvalue()
    assert "[3/5] train: starting" in text and "[3/5] train: done in 1.0 s" in text
    assert "loss 2.500, 1,234 tok/s, ETA 01:05" in text


def test_plain_upload_lines_start_at_zero_end_at_the_total_and_are_thinned():
    out, clock = io.StringIO(), FakeClock()
    show = PlainLines(out, interval=3.0, clock=clock)
    for done in range(0, 1001, 100):  # 11 events, one per second
        show(Upload(bytes_done=done, bytes_total=1000, path=f"f{done}"))
        clock.now += 1.0
    lines = out.getvalue().splitlines()
    assert [int(line.split()[1].replace(",", "")) for line in lines] == [0, 300, 600, 900, 1000]
    assert "\r" not in out.getvalue()


def test_live_display_shows_upload_as_a_bytes_bar():
    out = Terminal()
    show = LiveDisplay(out)
    show(StageStarted(stage="publish", index=5, total=5, reason="starting"))
    show(Upload(bytes_done=0, bytes_total=2048, path=""))
    show(Upload(bytes_done=1024, bytes_total=2048, path="model.safetensors"))
    assert show.bar is not None and (show.bar.unit, show.bar.n, show.bar.total) == ("B", 1024, 2048)
    show(StageFinished(stage="publish", index=5, total=5, seconds=1.0))
    assert show.bar is None and "[5/5] publish: done in 1.0 s" in out.getvalue()
