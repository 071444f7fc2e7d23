"""Training configuration: one frozen dataclass; defaults < config file (YAML/JSON) < flags.

Every knob says what it means and its unit. Unknown keys in a file fail loudly, so a typo never
silently trains with a default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
TRACKERS = ("none", "trackio", "wandb", "tensorboard")
SAVE_DTYPES = ("float32", "bfloat16")
ORIGINAL_LEARNING_RATE = 1.372e-4  # the original huggingtweets' fine-tuning rate for GPT-2
TINY_LEARNING_RATE = 1e-3  # for the tiny base, trained from random weights


@dataclass(frozen=True)
class TrainConfig:
    # --- model -------------------------------------------------------------------------------
    base_model: str = "gpt2"  # "gpt2", "tiny" (offline, built from the run's posts), a Hub id or a folder
    # --- schedule (defaults are the original huggingtweets': 4 epochs, lr 1.372e-4, cosine, no warm-up) ---
    epochs: int = 4  # passes over the training blocks
    # Peak AdamW learning rate, reached after warm-up. None = the original's 1.372e-4 for a pretrained
    # base, 1e-3 for `tiny` (trained from scratch: measured best of 1.4e-4..6e-3 on a real archive).
    learning_rate: float | None = None
    warmup_ratio: float = 0.0  # share of optimizer steps spent warming up linearly from 0 (0 = none)
    weight_decay: float = 0.0  # AdamW decoupled weight decay (0, as the original Trainer default)
    max_grad_norm: float = 1.0  # clip gradients to this global L2 norm (0 = no clipping)
    # --- batches -----------------------------------------------------------------------------
    batch_size: int = 8  # blocks per process per micro-step (above 16 gained nothing on CPU)
    block_size: int = 256  # tokens per packed block (capped at the model's context length)
    gradient_accumulation_steps: int = 1  # micro-steps per optimizer step
    # --- precision and speed -----------------------------------------------------------------
    mixed_precision: str = "auto"  # auto (bf16 where the hardware has it), no, bf16 or fp16 (GPU)
    compile: bool = False  # torch.compile the model: +12-16% on top of bf16, 18-45 s first step on CPU
    cpu_threads: int = 0  # torch threads per process on CPU (0 = torch's default; 1 is fastest for tiny models on a busy CPU)
    attention_dropout: float | None = (
        0.0  # GPT-2 attention dropout; 0 keeps CPU SDPA on its fast kernel; None = base's
    )
    # --- reproducibility ---------------------------------------------------------------------
    seed: int = 42  # seeds Python, NumPy, torch and the data order
    # --- checkpoints -------------------------------------------------------------------------
    checkpoint_every: int = 200  # optimizer steps between checkpoints (0 = only at epoch ends)
    keep_checkpoints: int = 2  # newest checkpoints kept in DIR/checkpoints/
    resume: bool = False  # continue from the newest checkpoint in DIR/checkpoints/
    max_steps: int = 0  # stop after this many optimizer steps in total, schedule included (0 = all epochs)
    stop_after_steps: int = 0  # stop after this many steps, checkpoint, exit; schedule unchanged (0 = off)
    # --- outputs -----------------------------------------------------------------------------
    report_to: str = "none"  # tracker through accelerate: none, trackio, wandb or tensorboard
    # Saved weights' dtype. bfloat16: half the download, and CPU decoding is bound by reading weights
    # (measured 1.6x faster per token for GPT-2 124M here, loss unchanged to 4 decimals).
    save_dtype: str = "bfloat16"
    predictions: int = 10  # samples written to DIR/predictions.json after training (0 = none)
    # --- testing hooks -----------------------------------------------------------------------
    debug_nan_at_step: int = 0  # make the loss NaN at this optimizer step, to exercise the guard (0 = off)

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> InputError:
            flag = "--" + name.replace("_", "-")
            return InputError(f"{flag} {getattr(self, name)!r} is invalid: expected {expected}")

        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise bad("epochs", "a whole number of epochs >= 1")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise bad("learning_rate", "a positive number such as 1.372e-4")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "a share in [0, 1)")
        for name in ("batch_size", "gradient_accumulation_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise bad(name, "a whole number >= 1")
        if not isinstance(self.block_size, int) or self.block_size < 8:
            raise bad("block_size", "a whole number of tokens >= 8")
        for name in (
            "weight_decay",
            "max_grad_norm",
            "checkpoint_every",
            "max_steps",
            "stop_after_steps",
            "predictions",
            "debug_nan_at_step",
            "cpu_threads",
        ):
            if getattr(self, name) < 0:
                raise bad(name, "a number >= 0")
        if self.keep_checkpoints < 1:
            raise bad("keep_checkpoints", "a whole number >= 1")
        if self.attention_dropout is not None and not 0 <= self.attention_dropout < 1:
            raise bad("attention_dropout", "a probability in [0, 1)")
        if self.mixed_precision not in MIXED_PRECISION:
            raise bad("mixed_precision", " | ".join(MIXED_PRECISION))
        if self.report_to not in TRACKERS:
            raise bad("report_to", " | ".join(TRACKERS))
        if self.save_dtype not in SAVE_DTYPES:
            raise bad("save_dtype", " | ".join(SAVE_DTYPES))
        if not str(self.base_model).strip():
            raise bad("base_model", "gpt2, tiny, a Hub id or a local model folder")

    def peak_learning_rate(self, base_is_tiny: bool) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return TINY_LEARNING_RATE if base_is_tiny else ORIGINAL_LEARNING_RATE

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def load(cls, path: Path | str | None = None, **flags: Any) -> TrainConfig:
        """Defaults, then the file at ``path`` (YAML or JSON), then ``flags`` (None values are ignored)."""
        values: dict[str, Any] = {}
        if path is not None:
            values.update(coerce_file_values(read_config_file(path), Path(path).name))
        values.update({k: v for k, v in flags.items() if v is not None})
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise InputError(
                f"Unknown training setting(s) {', '.join(unknown)}: expected one of {', '.join(cls.field_names())}"
            )
        try:
            return cls(**values)
        except TypeError as err:  # a wrong type that the comparisons above could not even evaluate
            raise InputError(f"Invalid training setting: {err}") from err

    def hyperparameters(self) -> dict[str, Any]:
        """What describes the training, for the summary and trackers (not run control or test hooks)."""
        skip = {"resume", "debug_nan_at_step", "stop_after_steps", "predictions"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def read_config_file(path: Path | str) -> dict[str, Any]:
    """A mapping from a ``.yaml``/``.yml``/``.json`` file; keys may use ``-`` or ``_``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Config file {path} does not exist: expected a YAML or JSON file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # json.JSONDecodeError or yaml.YAMLError: both mean "not parseable"
        raise InputError(f"Config file {path.name} cannot be parsed: {type(err).__name__}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"Config file {path.name} holds a {type(data).__name__}: expected a mapping of settings"
        )
    return {str(k).replace("-", "_"): v for k, v in data.items()}


# Settings with a fixed set of text values: checked here too, so a bad one names the file and key.
CHOICES = {"mixed_precision": MIXED_PRECISION, "report_to": TRACKERS, "save_dtype": SAVE_DTYPES}
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


def coerce_file_values(values: dict[str, Any], file_name: str) -> dict[str, Any]:
    """File values converted to each setting's declared type; unknown keys are passed on untouched.

    YAML reads ``mixed_precision: no`` as False and ``learning_rate: 1e-3`` (no dot) as text, and an
    empty ``max_grad_norm:`` as None; flags arrive typed by click, so only file values need this.
    """
    types = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    out = {}
    for key, value in values.items():
        if key not in types:
            out[key] = value
            continue
        try:
            out[key] = _coerce(key, value, types[key])
        except ValueError as err:
            shown = (
                "" if value is None else " " + (str(value).lower() if isinstance(value, bool) else str(value))
            )
            raise InputError(f"`{key}:{shown}` in {file_name}: expected {err}") from None
    return out


def _coerce(key: str, value: Any, annotation: str) -> Any:
    """``value`` as the type named by ``annotation``; ValueError(what was expected) otherwise."""
    optional = "None" in annotation
    kind = annotation.replace("| None", "").replace("None |", "").strip()
    if value is None:
        if optional:
            return None
        raise ValueError(_expected(key, kind))
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ValueError(_expected(key, kind))
    if kind in ("int", "float"):
        if isinstance(value, bool):  # True is an int in Python, never a count or a rate here
            raise ValueError(_expected(key, kind))
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError(_expected(key, kind)) from None
        if not isinstance(number, (int, float)):
            raise ValueError(_expected(key, kind))
        if kind == "float":
            return float(number)
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(_expected(key, kind))
        return int(number)
    # Text settings.
    choices = CHOICES.get(key)
    if isinstance(value, bool) and choices:
        # YAML 1.1 reads no/off/false as False; "no" (or "none") is what the user meant where valid.
        words = ("yes",) if value else ("no", "none")
        value = next((w for w in words if w in choices), value)
    if not isinstance(value, str):
        raise ValueError(_expected(key, kind))
    if choices and value not in choices:
        raise ValueError(_expected(key, kind))
    return value


def _expected(key: str, kind: str) -> str:
    if key in CHOICES:
        return "one of " + " | ".join(CHOICES[key])
    return {
        "int": "a whole number",
        "float": "a number such as 1e-3 or 0.5",
        "bool": "true or false",
        "str": "text",
    }.get(kind, kind)
