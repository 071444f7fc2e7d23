"""The loop's small helpers: hardware checks, optimizer, evaluation, checkpointed state, environment."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from huggingtweets.errors import TrainingError

# --report-to value -> (module that must be importable, pip package to suggest)
TRACKER_PACKAGES = {
    "trackio": ("trackio", "trackio"),
    "wandb": ("wandb", "wandb"),
    "tensorboard": ("tensorboard", "tensorboard"),
}


def cpu_supports_bf16() -> bool:
    """AVX512-BF16 or AMX: the CPU has native bf16 matmuls (else bf16 autocast is slower than fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine().lower() in {"arm64", "aarch64"} and platform.system() == "Darwin"
    flags = set(re.findall(r"\b(avx512_bf16|amx_bf16)\b", text))
    return bool(flags)


def distributed_on_cpu() -> bool:
    """True under ``accelerate launch``/``torchrun`` with several processes and no GPU.

    accelerate picks its gloo (MULTI_CPU) backend only when asked for the CPU; without this,
    ``accelerate launch --multi_gpu --num_processes 2`` on a CPU-only machine would start two
    independent single-process runs that overwrite each other's files.
    """
    import os

    import torch

    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return world_size > 1 and not torch.cuda.is_available()


def share_cpu_threads(accelerator) -> None:
    """Several processes on one CPU: split the cores between them instead of oversubscribing."""
    import os

    import torch

    if accelerator.device.type != "cpu" or accelerator.num_processes == 1:
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", accelerator.num_processes))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, cores // max(1, local)))


def resolve_mixed_precision(requested: str) -> str:
    """``auto`` -> bf16 where the hardware runs it natively, else fp32 ("no")."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "auto":
        if has_cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_supports_bf16() else "no"
    if requested == "fp16" and not has_cuda:
        raise TrainingError("--mixed-precision fp16 needs a GPU: expected auto, no or bf16 on a CPU")
    return requested


def tracker_for(report_to: str) -> list[str] | None:
    if report_to == "none":
        return None
    module, package = TRACKER_PACKAGES[report_to]
    if importlib.util.find_spec(module) is None:
        raise TrainingError(
            f"--report-to {report_to} needs the {package!r} package, which is not installed",
            hint=f"pip install {package}, or use --report-to none",
        )
    return [report_to]


def make_optimizer(model, config, learning_rate: float):
    """AdamW with the fused kernel where this torch has it for the device, else the foreach one."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = dict(lr=learning_rate, weight_decay=config.weight_decay)
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(params, foreach=True, **kwargs)


def evaluate(model, loader, accelerator) -> float | None:
    """Mean per-token cross-entropy over the validation blocks (padding excluded), all processes."""
    import torch
    import torch.nn.functional as F

    if len(loader) == 0:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
            labels = batch["labels"][:, 1:]
            loss = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
            per_block = torch.stack([loss.sum(1), (labels != -100).sum(1).float()], dim=1)
            # gather_for_metrics drops the blocks repeated to even out the last batch across processes.
            per_block = accelerator.gather_for_metrics(per_block)
            total += float(per_block[:, 0].sum())
            count += int(per_block[:, 1].sum())
    model.train()
    return round(total / count, 6) if count else None


class TrainClock:
    """Seconds spent training, leaving out evaluation and checkpointing (for honest tokens/s)."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._paused = 0.0

    @contextlib.contextmanager
    def paused(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - started

    def training_seconds(self) -> float:
        return max(time.perf_counter() - self._start - self._paused, 1e-9)


@dataclass
class TrainState:
    """Loop counters and metrics; saved in every checkpoint (``register_for_checkpointing``)."""

    global_step: int = 0  # optimizer steps taken
    epoch: int = 0  # epochs completed
    micro_step_in_epoch: int = 0  # batches of the current epoch already consumed
    tokens_seen: int = 0  # real (non-padding) tokens trained on, all processes
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0
    initial_validation_loss: float | None = None
    best_validation_loss: float | None = None
    last_validation_loss: float | None = None
    last_train_loss: float | None = None
    best_epoch: int | None = None  # the epoch (1-based) whose weights are in DIR/model
    epochs_without_improvement: int = 0  # since best_epoch: what `patience` counts
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def running_train_loss(self) -> float | None:
        return round(self.epoch_loss_sum / self.epoch_loss_count, 6) if self.epoch_loss_count else None

    def finish_epoch(self, validation_loss: float | None) -> bool:
        """Record the epoch; True when its weights are the best so far (always, without validation)."""
        self.last_train_loss = self.running_train_loss()
        self.last_validation_loss = validation_loss
        improved = validation_loss is None or (
            self.best_validation_loss is None or validation_loss < self.best_validation_loss
        )
        if improved:
            self.best_epoch, self.epochs_without_improvement = self.epoch + 1, 0
            if validation_loss is not None:
                self.best_validation_loss = validation_loss
        else:
            self.epochs_without_improvement += 1
        self.history.append(
            {
                "epoch": self.epoch + 1,
                "step": self.global_step,
                "train_loss": self.last_train_loss,
                "validation_loss": validation_loss,
                "perplexity": None
                if validation_loss is None
                else round(math.exp(min(validation_loss, 50.0)), 4),
            }
        )
        self.epoch += 1
        self.micro_step_in_epoch = 0
        self.epoch_loss_sum, self.epoch_loss_count = 0.0, 0
        return improved

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)


def environment_summary(accelerator) -> dict[str, Any]:
    """Device, precision, process count and library versions (no paths, no host names)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    device = accelerator.device.type
    if device == "cuda":
        device = f"cuda ({torch.cuda.get_device_name(accelerator.device)})"
    elif device == "cpu":
        device = f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    versions = {"python": platform.python_version()}
    for package in ("huggingtweets", "torch", "transformers", "accelerate", "datasets", "tokenizers"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "device": device,
        "mixed_precision": accelerator.mixed_precision,
        "num_processes": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type.value),
        "versions": versions,
    }
