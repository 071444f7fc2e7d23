"""The trainer's speed decisions: the automatic thread count and the wall-time split."""

from __future__ import annotations

import pytest

from huggingtweets.train.speed import (
    GPU_COMPILE_MIN_STEPS,
    Phases,
    auto_cpu_threads,
    format_phases,
    should_compile,
)


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


@pytest.mark.parametrize(
    ("setting", "device", "steps", "compiled"),
    [
        ("auto", "cpu", 10**7, False),  # measured: no faster per step on a CPU, 25-31 s first step
        ("auto", "cuda", GPU_COMPILE_MIN_STEPS - 1, False),  # a bot's usual run: never paid back
        ("auto", "cuda", GPU_COMPILE_MIN_STEPS, True),
        ("yes", "cpu", 1, True),  # asked for: always
        ("no", "cuda", 10**7, False),
    ],
)
def test_compile_auto_compiles_only_where_the_first_step_is_paid_back(setting, device, steps, compiled):
    assert should_compile(setting, device, steps) is compiled


ALLOCATOR_PROBE = """
import ctypes, json
import torch
from huggingtweets.train.speed import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def rss():  # resident bytes
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

big = 64 * 2**20 // 4  # 64 MiB of float32: over glibc's largest mmap threshold (32 MiB)
seen = {}
x = torch.ones(big); seen["default_mapped"] = libc.mallinfo2().hblks; del x
seen["default_after_free"] = libc.mallinfo2().hblks
with keep_freed_memory():
    y = torch.ones(big); seen["kept_mapped"] = libc.mallinfo2().hblks; del y
    seen["kept_rss_after_free"] = rss()
seen["rss_after_exit"] = rss()
z = torch.ones(big); seen["restored_mapped"] = libc.mallinfo2().hblks; del z
print(json.dumps(seen))
"""


def test_training_keeps_big_tensors_on_the_heap_and_gives_the_memory_back_after():
    import json
    import platform
    import subprocess
    import sys

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the allocator setting is glibc's; elsewhere keep_freed_memory does nothing")
    # A fresh interpreter: in this one, earlier trainings left free chunks in the heap that a big
    # allocation may reuse, whatever the setting.
    done = subprocess.run(
        [sys.executable, "-c", ALLOCATOR_PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    base = seen["default_after_free"]
    assert seen["default_mapped"] == base + 1  # glibc's default: a big block is its own mapping
    assert seen["kept_mapped"] == base  # from the heap, so a step reuses what the last one freed
    # Kept (resident) once freed, and given back to the system on the way out.
    assert seen["rss_after_exit"] < seen["kept_rss_after_free"] - 48 * 2**20
    assert seen["restored_mapped"] == base + 1  # glibc's defaults again


RETURN_PROBE = (
    ALLOCATOR_PROBE.split("big = ")[0]
    + """
import contextlib, sys
from huggingtweets.train.speed import return_freed_memory
x = torch.ones(16 * 2**20 // 4); del x  # glibc slides its mmap threshold up to this size (max 32 MiB)
mid = 4 * 2**20 // 4  # 4 MiB of float32: an activation of a 135M model's step
seen = {"before": libc.mallinfo2().hblks}
with return_freed_memory() if sys.argv[1] == "return" else contextlib.nullcontext():
    v = torch.ones(mid); seen["mapped"] = libc.mallinfo2().hblks
    held = rss(); del v
    seen["rss_drop"] = held - rss()
print(json.dumps(seen))
"""
)


def test_a_large_base_gives_each_freed_activation_back_to_the_system():
    import json
    import platform
    import subprocess
    import sys

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the allocator setting is glibc's; elsewhere return_freed_memory does nothing")
    seen = {}
    for mode in ("glibc", "return"):
        done = subprocess.run(
            [sys.executable, "-c", RETURN_PROBE, mode], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        seen[mode] = json.loads(done.stdout)
    # glibc's own rule: the block lands in the heap and stays resident once freed.
    assert seen["glibc"]["mapped"] == seen["glibc"]["before"]
    assert seen["glibc"]["rss_drop"] < 2**20
    # Returned: its own mapping, unmapped when torch frees it; the resident size falls by its size.
    assert seen["return"]["mapped"] == seen["return"]["before"] + 1
    assert seen["return"]["rss_drop"] >= 3 * 2**20


def test_a_large_base_returns_freed_memory_and_a_small_one_keeps_it():
    from huggingtweets.train.config import LARGE_BASE_PARAMETERS
    from huggingtweets.train.speed import allocator_for

    assert allocator_for(134_515_008).name == "return"
    assert allocator_for(LARGE_BASE_PARAMETERS - 1).name == "keep"


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


def test_switching_compile_or_threads_neither_retrains_nor_blocks_a_resume():
    from huggingtweets.train.config import TrainConfig

    base = TrainConfig()
    # The train stage's fingerprint: only settings that change what is learnt.
    assert TrainConfig(compile="yes", cpu_threads=1).weight_settings() == base.weight_settings()
    assert TrainConfig(learning_rate=2e-4).weight_settings() != base.weight_settings()


def test_thread_probe_keeps_what_measured_faster():
    from huggingtweets.train.speed import ThreadProbe

    # A busy machine where two threads spin: one thread is faster per token.
    probe = ThreadProbe((1, 2), rounds=2)
    order = []
    for seconds in (9.0, 1.0, 3.0, 1.2, 2.5):  # warm-up (ignored), then 1, 2, 1, 2 threads
        order.append(probe.threads_for_next_step())
        probe.step_done(seconds, tokens=100)
    assert order == [None, 1, 2, 1, 2]
    assert probe.chosen == 1 and not probe.probing and probe.threads_for_next_step() == 1
    assert probe.record() == {
        "chosen": 1,
        "ms_per_1k_tokens": {"1": [10000.0, 12000.0], "2": [30000.0, 25000.0]},
    }
    # A load average near 1 from an editor, but two threads really are faster: two are kept.
    probe = ThreadProbe((1, 2), rounds=1)
    for seconds in (5.0, 2.0, 1.1):
        probe.step_done(seconds, tokens=50)
    assert probe.chosen == 2
    assert ThreadProbe((2, 2)).chosen == 2  # one candidate: nothing to measure


def test_training_records_the_thread_probe(tmp_path, tiny_base_dir):
    from fixtures_train import build_fixture_dataset, fixture_train_config

    from huggingtweets.train import train
    from huggingtweets.train.speed import cpu_cores

    if cpu_cores() < 2:
        pytest.skip("one core: there is nothing to choose")
    build_fixture_dataset(tmp_path)
    summary = train(tmp_path, fixture_train_config(tiny_base_dir, epochs=1, max_steps=6, cpu_threads=0))
    probe = summary["thread_probe"]
    assert probe["chosen"] in (1, cpu_cores())
    assert all(len(times) == 2 and all(t > 0 for t in times) for times in probe["ms_per_1k_tokens"].values())
    assert summary["device"].endswith(f"{probe['chosen']} threads)")
