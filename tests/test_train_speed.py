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
    assert (
        format_phases({"save": 0.5, "train": 12.0, "setup": 1.25}) == "setup 1.2 s, train 12.0 s, save 0.5 s"
    )


def test_precision_rule_is_bf16_only_where_native():
    import torch

    from huggingtweets.errors import TrainingError
    from huggingtweets.train.runtime import cpu_supports_bf16, resolve_mixed_precision

    if torch.cuda.is_available():
        pytest.skip("the CPU rule; on a GPU auto follows the GPU's bf16 support")
    # The rule every benchmark contender and the trainer share: emulated bf16 is slower than fp32.
    assert resolve_mixed_precision("auto") == ("bf16" if cpu_supports_bf16() else "no")
    assert resolve_mixed_precision("no") == "no"
    with pytest.raises(TrainingError, match="fp16 needs a GPU"):
        resolve_mixed_precision("fp16")


def test_optimizer_is_the_fused_adamw_kernel():
    import argparse

    import torch

    from huggingtweets.train.runtime import make_optimizer

    model = torch.nn.Linear(4, 4)
    optimizer = make_optimizer(model, argparse.Namespace(weight_decay=0.0), 1e-3)
    # torch >= 2.4 has fused AdamW on CPU as on CUDA: the same code path a GPU run takes.
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"] is True
    before = model.weight.detach().clone()
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, model.weight)
