"""LoRA through peft: small low-rank adapters trained in place of every weight, merged at save time.

``TrainConfig.lora_r`` > 0 turns it on. Which modules are adapted is the base family's entry in
``basemodel.FAMILIES`` (GPT-2's ``c_attn``/``c_proj``, Llama's attention and MLP projections), or
``lora_target_modules``. The saved bot is a plain transformers model with the adapters merged in
(``merged_state_dict``), so ``pipeline()`` loads it without peft; the adapter files alone are written
to ``DIR/adapter`` (``save_adapter``) for ``publish --publish-adapter``.

QLoRA (``lora_4bit``) loads the base in 4 bits through bitsandbytes, which needs a CUDA GPU; on a
CPU it is refused before anything loads. peft and bitsandbytes are imported only here, lazily.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from huggingtweets.errors import TrainingError

ADAPTER = "default"  # peft's name for the one adapter we train
ADAPTER_DIRNAME = "adapter"  # DIR/adapter: the adapter files, kept out of DIR/model (see save_adapter)
PEFT_INSTALL = "pip install peft"  # or `pip install 'huggingtweets[lora]'`
BNB_INSTALL = "pip install bitsandbytes"


def lora_alpha(config) -> float:
    """The scaling alpha: the setting, else twice the rank."""
    return float(config.lora_alpha) if config.lora_alpha is not None else 2.0 * config.lora_r


def target_modules(config, base) -> list[str]:
    """The module names LoRA adapts: ``lora_target_modules`` where given, else the base family's."""
    if config.lora_target_modules:
        names = [n.strip() for n in config.lora_target_modules.split(",") if n.strip()]
        if names:
            return names
    names = list(base.family.lora_target_modules)
    if not names:
        raise TrainingError(
            f"--lora-r {config.lora_r}: no default LoRA modules for the base's family "
            f"({base.model_type or 'unknown'}): expected GPT-2 or Llama",
            hint="name them, e.g. `--lora-target-modules q_proj,v_proj`",
        )
    return names


def check_lora(config, device_type: str) -> None:
    """Refuse early, before any model loads, what this machine cannot do."""
    if config.lora_4bit and not config.lora_r:
        raise TrainingError(
            "--lora-4bit was given with --lora-r 0: expected a LoRA rank > 0 (QLoRA trains adapters)",
            hint="add `--lora-r 16`, or drop --lora-4bit",
        )
    if not config.lora_r:
        return
    if importlib.util.find_spec("peft") is None:
        raise TrainingError(
            f"--lora-r {config.lora_r} needs the peft package, which is not installed",
            hint=f"run `{PEFT_INSTALL}` (or `pip install 'huggingtweets[lora]'`), or use --lora-r 0",
        )
    if config.lora_4bit:
        if device_type != "cuda":
            raise TrainingError(
                f"--lora-4bit (QLoRA) is not offered on a {device_type.upper()}: bitsandbytes' 4-bit base "
                "needs a CUDA GPU",
                hint="drop --lora-4bit (LoRA on a full-precision base works on a CPU)",
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise TrainingError(
                "--lora-4bit (QLoRA) needs the bitsandbytes package, which is not installed",
                hint=f"run `{BNB_INSTALL}`, or drop --lora-4bit",
            )


def load_kwargs(config, device_index: int = 0) -> dict[str, Any]:
    """Extra ``from_pretrained`` keywords: the 4-bit quantization of QLoRA, else none.

    A 4-bit model cannot be moved once loaded, so it is loaded onto this process's GPU directly.
    """
    if not (config.lora_r and config.lora_4bit):
        return {}
    import torch
    from transformers import BitsAndBytesConfig

    return {
        "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",  # the QLoRA paper's data type
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        ),
        "device_map": {"": device_index},
    }


def apply_lora(model, config, base):
    """``model`` wrapped as a peft model: the base frozen, rank-``lora_r`` adapters trainable."""
    from peft import LoraConfig, get_peft_model

    if config.lora_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    names = target_modules(config, base)
    peft_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=lora_alpha(config),
        lora_dropout=config.lora_dropout,
        target_modules=names,
        fan_in_fan_out=base.family.lora_fan_in_fan_out,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as err:  # peft: "Target modules {...} not found in the base model"
        raise TrainingError(
            f"--lora-target-modules {','.join(names)}: not found in the base model {base.name!r}",
            hint="name modules the base has (Llama: q_proj,v_proj; GPT-2: c_attn,c_proj)",
        ) from err


def parameter_counts(model) -> dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trainable, "total_parameters": total}


def merged_state_dict(peft_model, *, reload_from: Path | None = None, overrides: dict | None = None) -> dict:
    """The plain model's weights with every adapter's delta added, computed beside the weights.

    Nothing is merged in place (training goes on after a best epoch is saved, and merge + unmerge
    would drift the base by rounding). Keys are the base model class's own (no ``base_layer``,
    no ``lora_``), so ``save_pretrained`` writes a model that loads without peft.

    ``reload_from`` (QLoRA, whose base is held in 4 bits): the adapters are merged into the base's
    full-precision weights, loaded again from that folder on the CPU, instead of dequantized ones.
    """
    import torch
    from peft.tuners.lora import LoraLayer

    if reload_from is not None:
        return _merged_into_reloaded_base(peft_model, Path(reload_from), overrides or {})

    inner = peft_model.get_base_model()
    deltas: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, module in inner.named_modules():
            if isinstance(module, LoraLayer) and ADAPTER in module.lora_A:
                deltas[name] = module.get_delta_weight(ADAPTER)
        out = {}
        for key, value in inner.state_dict().items():
            if ".lora_" in key:
                continue
            if ".base_layer." in key:
                module_name, param = key.rsplit(".base_layer.", 1)
                if param == "weight" and module_name in deltas:
                    value = (value.float() + deltas[module_name].float()).to(value.dtype)
                key = f"{module_name}.{param}"
            out[key] = value
    return out


def _merged_into_reloaded_base(peft_model, folder: Path, overrides: dict) -> dict:
    import copy

    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(peft_model.peft_config[ADAPTER])
    config.inference_mode = True
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **overrides)
    fresh = get_peft_model(base, config)
    adapter = {
        k: v.detach().to("cpu", torch.float32) for k, v in get_peft_model_state_dict(peft_model).items()
    }
    set_peft_model_state_dict(fresh, adapter)
    return fresh.merge_and_unload().state_dict()


def save_adapter(peft_model, out: Path, base) -> Path:
    """The adapter alone (adapter_config.json, adapter_model.safetensors) into ``out``.

    Kept out of DIR/model on purpose: transformers' pipeline() treats a folder with an
    adapter_config.json as an adapter and would then need peft to load the bot.
    """
    config = peft_model.peft_config[ADAPTER]
    # peft records the local folder the base came from; the card's base is its Hub id (or name).
    config.base_model_name_or_path = base.hub_id or base.name
    # save_embedding_layers=False: no embedding is trained, and "auto" would look the base up on the Hub.
    peft_model.save_pretrained(str(out), selected_adapters=[ADAPTER], save_embedding_layers=False)
    return Path(out)
