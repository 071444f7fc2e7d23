"""The trainer's speed decisions: the automatic thread count and the wall-time split."""

from __future__ import annotations

import pytest

from huggingtweets.train.speed import Phases, auto_cpu_threads, format_phases


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [
        (2, 0.0, 2),  # idle: every core
        (2, 0.2, 2),  # a little background noise is not a taken core
        (2, 0.9, 1),  # one core busy with other work
        (2, 9.0, 1),  # oversubscribed: never fewer than one
        (16, 3.2, 13),
        (1, 0.0, 1),
    ],
)
def test_auto_threads_leave_the_cores_other_work_uses(cores, load, threads):
    assert auto_cpu_threads(cores, load) == threads


def test_phases_add_up_and_print_in_running_order():
    phases = Phases()
    phases.add("save", 0.5)
    phases.add("train", 10.0)
    phases.add("setup", 1.25)
    with phases("eval"):
        pass
    phases.add("train", 2.0)
    split = phases.split()
    assert split["train"] == 12.0 and split["setup"] == 1.25 and split["eval"] >= 0
    assert format_phases({"save": 0.5, "train": 12.0, "setup": 1.25}) == "setup 1.2 s, train 12.0 s, save 0.5 s"
