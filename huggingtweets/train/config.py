"""Training configuration: one frozen dataclass whose fields carry their own help, choices and bounds.

defaults < config file (YAML/JSON) < flags. Each field's metadata (as in trl's ``*_config.py`` and
``HfArgumentParser``) is the one place that says what a knob means, which values it takes and
whether it changes the trained weights. Read from it:

- the ``train`` and ``run`` flags (``huggingtweets.cli.options``), with this help text;
- ``coerce``: file values and flag text into the field's type, checked against its bounds;
- the train stage's fingerprint (``weight_settings``): only knobs that change the weights re-train;
- the hyperparameters recorded in training_summary.json, which the card shows (``hyperparameters``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets import settings
from huggingtweets.errors import InputError
from huggingtweets.settings import BadValue, knob, shown

__all__ = ["BadValue", "knob", "shown"]  # the field-metadata helpers, as their home was here before

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
TRACKERS = ("none", "trackio", "wandb", "tensorboard")
SAVE_DTYPES = ("float32", "bfloat16")
COMPILE = ("auto", "yes", "no")
ORIGINAL_LEARNING_RATE = 1.372e-4  # the original huggingtweets' fine-tuning rate for GPT-2
ORIGINAL_EPOCHS = 4  # the original's epochs
# Chosen by benchmarks/bench_sweep.py (RESULTS.md, "Defaults by measurement"): on SmolLM2-135M and
# two real people, 2x the original rate beat 1x and 4x at every epoch; epoch 3 of a 3-epoch run
# gained 0.3-1.3% perplexity over epoch 2, and 2 epochs at 2x matched 4 at 1x on a whole archive
# (issue 19: 63.3 against 63.5) in 43% of the time.
PRETRAINED_LEARNING_RATE = 2 * ORIGINAL_LEARNING_RATE
PRETRAINED_EPOCHS = 2
# The tiny base learns from random weights: with 450-600 posts a person, 1e-3 beat 2e-3 (whose curve
# stalled at 1.40x the best perplexity) and came within 1% of its 10-epoch best at epoch 8 (1.35x at
# epoch 4, the earlier default); bench_sweep.py --bases tiny --epochs 10 --max-posts 800.
TINY_LEARNING_RATE = 1e-3
TINY_EPOCHS = 8
# LoRA's adapters start at zero (B = 0) and move ~10x slower at a full fine-tune's rate; measured on
# SmolLM2-135M in benchmarks/RESULTS.md ("LoRA vs full fine-tune").
LORA_LEARNING_RATE = 1e-3
# A pretrained base overfits a person's posts within a few epochs (SmolLM2-135M: best at epoch 2 of 4,
# issue 19); a tiny base learning from scratch has noisier validation and keeps improving longer.
PRETRAINED_PATIENCE = 1
TINY_PATIENCE = 2
# Caps that keep a typo (`--epochs 1e20`) from planning a run that never ends: a person's posts
# are learnt in a few epochs; the demo uses 10.
# From this many parameters a base is "large": the activations of a batch 8 x 256 step are GBs.
# On a CPU its step then recomputes activations (gradient_checkpointing auto), runs as 4 micro-steps
# of 2 blocks (batch_size / gradient_accumulation_steps unset) and returns freed memory
# (train/speed.py): a SmolLM2-135M training peaks at 2.86 GB instead of 4.5-8 (benchmarks/RESULTS.md).
LARGE_BASE_PARAMETERS = 50_000_000
CHECKPOINTING_MIN_PARAMETERS = LARGE_BASE_PARAMETERS
BATCH_SIZE = 8  # blocks per optimizer step, when neither batch setting is given
LARGE_BASE_MICRO_BATCH = 2  # blocks per micro-step of a large base on a CPU (4 micro-steps of 2 = 8)
MAX_EPOCHS = 1000
MAX_STEPS = 10_000_000  # optimizer steps in total, for max_steps and for the planned schedule
MAX_SEED = 2**32 - 1  # NumPy's seed range; torch and Python take it too


@dataclass(frozen=True)
class TrainConfig:
    # --- model
    base_model: str = knob(
        "gpt2",
        "Model to fine-tune: gpt2, tiny (a small GPT-2 built offline from the "
        "posts), a Hub id or a local folder.",
        metavar="gpt2|tiny|HUB_ID|PATH",
    )
    # --- LoRA (huggingtweets/train/lora.py): train small low-rank adapters instead of every weight; they
    # are merged into the weights at save time, so the bot loads with pipeline() and no peft.
    lora_r: int = knob(
        0,
        "LoRA rank (0 = full fine-tune). Trains rank-r adapters on the family's projections (needs peft).",
        min=0,
        max=4096,
    )
    # None = 2 x rank, the ratio the LoRA paper's and peft's examples use.
    lora_alpha: float | None = knob(None, "LoRA scaling alpha (empty = 2 x --lora-r).", above=0)
    lora_dropout: float = knob(0.05, "Dropout on the LoRA adapters' input.", min=0, below=1)
    # None = the base family's (basemodel.FAMILIES): GPT-2's c_attn,c_proj; Llama's attention and MLP.
    lora_target_modules: str | None = knob(
        None,
        "Comma-separated module names LoRA adapts (empty = the base family's).",
        metavar="NAME,NAME",
    )
    lora_4bit: bool = knob(
        False,
        "QLoRA: load the base in 4 bits (bitsandbytes, GPU only; needs --lora-r).",
    )
    # --- schedule (cosine, no warm-up; epochs and rate per base kind, chosen by measurement above)
    epochs: int | None = knob(
        None,
        f"Passes over the training blocks. Default: {PRETRAINED_EPOCHS} for a pretrained base, "
        f"{TINY_EPOCHS} for tiny, {ORIGINAL_EPOCHS} with LoRA (--lora-r).",
        min=1,
        max=MAX_EPOCHS,
    )
    # None = 2x the original's 1.372e-4 for a pretrained base, 1e-3 for `tiny` (trained from scratch:
    # measured best of 1.4e-4..6e-3 on a real archive) and for LoRA.
    learning_rate: float | None = knob(
        None,
        "Peak AdamW learning rate, reached after warm-up (cosine schedule). Default: "
        f"{PRETRAINED_LEARNING_RATE:g} for a pretrained base, {TINY_LEARNING_RATE:g} for tiny and for "
        "LoRA (--lora-r).",
        above=0,
    )
    # Measured on SmolLM2-135M (issue 19): validation perplexity 69.8 -> 63.5 -> 66.2 -> 66.8 over 4
    # epochs; the best epoch's weights are kept whatever this says, it only saves the epochs after it.
    patience: int | None = knob(
        None,
        "Stop when validation perplexity has not improved for this many epochs (0 = never stop early); "
        "the best epoch's weights are saved either way. Default: 1, or 2 for tiny.",
        min=0,
        max=MAX_EPOCHS,
    )
    warmup_ratio: float = knob(0.0, "Share of optimizer steps warming up linearly from 0.", min=0, below=1)
    weight_decay: float = knob(0.0, "AdamW decoupled weight decay.", min=0)
    max_grad_norm: float = knob(1.0, "Clip gradients to this global L2 norm (0 = no clipping).", min=0)
    # --- batches
    # None: 8 blocks per optimizer step; on a CPU a large base (50M+ parameters) takes them as 4
    # micro-steps of 2 (the same update, a quarter of the activations and logits alive at once).
    batch_size: int | None = knob(
        None,
        "Blocks per process per micro-step (above 16 gained nothing on CPU). Default: 8, or 2 with 4 "
        f"accumulation steps for bases of {LARGE_BASE_PARAMETERS // 1_000_000}M+ parameters on a CPU "
        "(same update, less memory).",
        min=1,
        max=65536,
    )
    block_size: int = knob(
        256, "Tokens per packed block (capped at the model's context length).", min=8, max=1_048_576
    )
    gradient_accumulation_steps: int | None = knob(
        None,
        "Micro-steps per optimizer step. Default: 1, or 4 where --batch-size defaults to 2.",
        min=1,
        max=65536,
    )
    # --- precision and speed
    mixed_precision: str = knob(
        "auto", "auto = bf16 where the hardware has it; fp16 needs a GPU.", choices=MIXED_PRECISION
    )
    compile: str = knob(
        "auto",
        "torch.compile the model. auto = only where it earns back its first step: never on a CPU "
        "(measured no gain, 25-31 s first step), on a GPU for runs of 10,000+ steps.",
        choices=COMPILE,
        # How the same training runs, not what it learns: switching it neither re-trains nor blocks a
        # resume (compiled dropout draws other masks, as another thread count sums in another order).
        affects_weights=False,
    )
    # Measured (benchmarks/bench_memory.py, SmolLM2-135M, batch 8 x 256, fp32): the activations kept
    # for backward are ~2.9 GB of a 6.7 GB peak after two steps; recomputing them cut it to 4.3 GB at
    # the same tokens/s under load. Small bases keep them (a few MB, and recompute would cost time).
    gradient_checkpointing: str = knob(
        "auto",
        "Recompute each layer's activations during backward instead of keeping them (less memory, more "
        f"compute). auto = for bases of {CHECKPOINTING_MIN_PARAMETERS // 1_000_000}M+ parameters.",
        choices=COMPILE,
        # Non-reentrant checkpointing replays each layer with its saved RNG state: the same gradients.
        affects_weights=False,
    )
    cpu_threads: int = knob(
        0,
        "Torch threads per process on CPU (0 = auto: the cores that other work leaves free, train/speed.py).",
        min=0,
        max=4096,
        affects_weights=False,
    )
    # 0 keeps CPU SDPA on its fast kernel.
    attention_dropout: float | None = knob(
        0.0, "GPT-2 attention dropout (empty = the base model's).", min=0, below=1
    )
    # --- reproducibility
    seed: int = knob(
        42,
        "Seed for the train/validation split, the weights' init, data order, dropout and sample posts.",
        min=0,
        max=MAX_SEED,
    )
    # --- checkpoints
    checkpoint_every: int = knob(
        200,
        "Optimizer steps between checkpoints (0 = only at epoch ends).",
        min=0,
        max=MAX_STEPS,
        affects_weights=False,
    )
    keep_checkpoints: int = knob(
        2, "Newest checkpoints kept in DIR/checkpoints/.", min=1, max=1000, affects_weights=False
    )
    # A finished run needs none of them (resume only continues an unfinished one), and for a 135M
    # base they are 3 GB beside a 270 MB model (issue 19).
    keep_final_checkpoints: bool = knob(
        False,
        "Keep DIR/checkpoints/ once training has finished (they are for resuming an unfinished run).",
        affects_weights=False,
    )
    max_steps: int = knob(
        0,
        "Stop after this many optimizer steps in total, schedule included (0 = all epochs).",
        min=0,
        max=MAX_STEPS,
    )
    stop_after_steps: int = knob(
        0,
        "Stop after this many steps with a checkpoint, schedule unchanged (0 = off); the next run resumes.",
        min=0,
        max=MAX_STEPS,
        affects_weights=False,
        recorded=False,
    )
    # --- outputs
    report_to: str = knob(
        "none",
        "Tracker for hyperparameters and metrics, through accelerate.",
        choices=TRACKERS,
        affects_weights=False,
    )
    # bfloat16: half the download, loss unchanged to 4 decimals. config.json always says float32, so a
    # default pipeline() upcasts and never computes in bf16, emulated 6x slower on AVX2-only CPUs.
    save_dtype: str = knob(
        "bfloat16", "Saved weights' file dtype (they load as float32).", choices=SAVE_DTYPES
    )
    # --- testing hooks
    debug_nan_at_step: int = knob(
        0,
        "Make the loss NaN at this optimizer step, to exercise the guard (0 = off).",
        min=0,
        affects_weights=False,
        recorded=False,
    )

    def __post_init__(self) -> None:
        settings.check_all(self)

    def early_stop_patience(self, base_is_tiny: bool) -> int:
        if self.patience is not None:
            return self.patience
        return TINY_PATIENCE if base_is_tiny else PRETRAINED_PATIENCE

    def checkpointing_for(self, parameters: int) -> bool:
        """Whether a base of ``parameters`` parameters recomputes its activations in backward."""
        if self.gradient_checkpointing == "auto":
            return parameters >= CHECKPOINTING_MIN_PARAMETERS
        return self.gradient_checkpointing == "yes"

    def micro_batching(self, parameters: int, device_type: str) -> tuple[int, int]:
        """(blocks per micro-step, micro-steps per optimizer step) for this base on this device.

        A setting given is kept as given; with neither given, a large base on a CPU trains 8 blocks
        per optimizer step as 4 micro-steps of 2. Measured on SmolLM2-135M (whole training process,
        VmHWM; benchmarks/RESULTS.md): 2.86 GB at 86 tokens/s, against 3.20 GB at 96 tokens/s in
        micro-steps of 4 and 5.8 GB at 116 tokens/s in one micro-step of 8 without checkpointing.
        What stays is ~2.6 GB (process, weights, gradients, AdamW); the rest is the micro-step's
        fp32 logits over a 49k vocabulary and their gradient.
        """
        if self.batch_size is None and self.gradient_accumulation_steps is None:
            if device_type == "cpu" and parameters >= LARGE_BASE_PARAMETERS:
                return LARGE_BASE_MICRO_BATCH, BATCH_SIZE // LARGE_BASE_MICRO_BATCH
        return self.batch_size or BATCH_SIZE, self.gradient_accumulation_steps or 1

    def epochs_for(self, base_is_tiny: bool) -> int:
        if self.epochs is not None:
            return self.epochs
        if base_is_tiny:
            return TINY_EPOCHS
        # LoRA's adapters start at zero and need more steps; they were not part of the sweep.
        return ORIGINAL_EPOCHS if self.lora_r else PRETRAINED_EPOCHS

    def peak_learning_rate(self, base_is_tiny: bool) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if base_is_tiny:
            return TINY_LEARNING_RATE
        return LORA_LEARNING_RATE if self.lora_r else PRETRAINED_LEARNING_RATE

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def load(cls, path: Path | str | None = None, **flags: Any) -> TrainConfig:
        """Defaults, then the file at ``path`` (YAML or JSON), then ``flags`` (None values are ignored).

        Flag values may be text (as typed on the command line): they go through ``coerce`` too.
        """
        values: dict[str, Any] = {}
        if path is not None:
            values.update(coerce_mapping(read_config_file(path), where=Path(path).name))
        for name, value in flags.items():
            if value is None:
                continue
            if name not in FIELDS:
                raise InputError(f"unknown training setting {name!r}: expected one of {', '.join(FIELDS)}")
            values[name] = coerce_flag(name, value)
        return cls(**values)

    def hyperparameters(self) -> dict[str, Any]:
        """What describes the training, for the summary, trackers and the card (no session control)."""
        return {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if FIELDS[k].metadata["recorded"] and k not in self._unused_lora_knobs()
        }

    def weight_settings(self) -> dict[str, Any]:
        """The knobs the trained weights depend on: the train stage's fingerprint."""
        # A full fine-tune's fingerprint leaves LoRA out: folders trained before it existed stay current.
        unused = {*self._unused_lora_knobs(), *(("lora_r",) if not self.lora_r else ())}
        return {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if FIELDS[k].metadata["affects_weights"] and k not in unused
        }

    def _unused_lora_knobs(self) -> tuple[str, ...]:
        """The adapter's knobs when no adapter is trained (--lora-r 0): they change nothing."""
        return () if self.lora_r else LORA_DETAILS


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}
LORA_DETAILS = ("lora_alpha", "lora_dropout", "lora_target_modules", "lora_4bit")


def flag_name(name: str) -> str:
    return settings.flag_of(FIELDS[name])


def kind_of(name: str) -> tuple[str, bool]:
    """(``int`` | ``float`` | ``bool`` | ``str``, optional) from the field's annotation."""
    return settings.kind_of(FIELDS[name])


def expected(name: str) -> str:
    """What a field takes, in words: its type and bounds."""
    return settings.expected(FIELDS[name])


def check(name: str, value: Any) -> str | None:
    """None when ``value`` (already typed) is valid for field ``name``, else what was expected."""
    return settings.check(FIELDS[name], value)


def coerce(name: str, value: Any) -> Any:
    """One value for field ``name`` in its type (``settings.coerce``); raises ``BadValue(expected)``."""
    return settings.coerce(FIELDS[name], value)


def coerce_flag(name: str, value: Any) -> Any:
    """``coerce`` for a command-line flag: an error names the flag (``--batch-size 0``)."""
    return settings.coerce_flag(FIELDS[name], value)


def coerce_mapping(values: dict[str, Any], *, where: str, prefix: str = "") -> dict[str, Any]:
    """File values (keys with ``-`` or ``_``) into typed TrainConfig keyword arguments.

    An error names the key as written with its ``prefix`` (``train.batch_size``) and ``where``
    (the file's name): "`train.batch_size: 0` in bot.yaml: expected a whole number >= 1".
    """
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = settings.norm_key(raw_key)
        if key not in FIELDS:
            raise InputError(
                f"{where} has unknown training setting '{prefix}{raw_key}': expected one of "
                f"{', '.join(FIELDS)}"
            )
        out[key] = settings.coerce_key(FIELDS[key], raw_key, value, where=where, prefix=prefix)
    return out


def read_config_file(path: Path | str) -> dict[str, Any]:
    """A mapping from a ``.yaml``/``.yml``/``.json`` file; keys may use ``-`` or ``_``."""
    data = settings.read_settings_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        # The same words as a `run --config` file's (config.parse_mapping).
        raise InputError(
            f"{Path(path).name} holds {type(data).__name__}; expected a mapping of settings (key: value)"
        )
    return {settings.norm_key(k): v for k, v in data.items()}
