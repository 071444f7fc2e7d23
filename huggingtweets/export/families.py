"""Which GGUF architecture, hyper-parameters and tensor layout each base-model family has.

One registry entry per family (house rule 13): ``FAMILIES[config.model_type]``. The layouts follow
llama.cpp's own converter, which is what llama.cpp, Ollama and transformers' GGUF loader expect:
GPT-2's Conv1D weights are stored transposed, Llama's query and key rows are permuted into the
rotary layout llama.cpp uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from huggingtweets.errors import InputError


@dataclass(frozen=True)
class GgufFamily:
    model_type: str  # config.json's model_type
    arch: str  # gguf.MODEL_ARCH member name
    hparams: Callable[[Any, Any], None]  # (config, GGUFWriter) -> writes the architecture's keys
    tensor: Callable[[str, Any, Any], Any]  # (HF name, numpy array, config) -> array as GGUF stores it
    skip: tuple[str, ...] = ()  # HF state-dict suffixes that are buffers, not weights


def _gpt2_hparams(config, writer) -> None:
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_feed_forward_length(config.n_inner or 4 * config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)


_GPT2_TRANSPOSED = (".c_attn.weight", ".c_proj.weight", ".c_fc.weight")


def _gpt2_tensor(name: str, data, config):
    # HF GPT-2 uses Conv1D (in, out); GGUF stores every matrix as (out, in) like nn.Linear.
    return data.T if name.endswith(_GPT2_TRANSPOSED) else data


def _rope_theta(config) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    rope_type = params.get("rope_type", "default")
    if rope_type != "default":
        raise InputError(
            f"rope_type {rope_type!r} of this Llama model is not supported by the GGUF export; expected the "
            "default rotary embedding",
            hint="export a bot trained from a base without RoPE scaling",
        )
    return float(params.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _llama_hparams(config, writer) -> None:
    writer.add_vocab_size(config.vocab_size)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_dimension_count(_head_dim(config))
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)


def _rotary_permute(data, n_head: int):
    # llama.cpp's rotary layout: each head's rows (pairs of halves) interleaved.
    return (
        data.reshape(n_head, 2, data.shape[0] // n_head // 2, *data.shape[1:])
        .swapaxes(1, 2)
        .reshape(data.shape)
    )


def _llama_tensor(name: str, data, config):
    if name.endswith("self_attn.q_proj.weight"):
        return _rotary_permute(data, config.num_attention_heads)
    if name.endswith("self_attn.k_proj.weight"):
        return _rotary_permute(data, config.num_key_value_heads or config.num_attention_heads)
    return data


FAMILIES: dict[str, GgufFamily] = {
    "gpt2": GgufFamily("gpt2", "GPT2", _gpt2_hparams, _gpt2_tensor, skip=(".attn.bias", ".attn.masked_bias")),
    "llama": GgufFamily("llama", "LLAMA", _llama_hparams, _llama_tensor, skip=(".rotary_emb.inv_freq",)),
}


def family_for(model_type: str | None) -> GgufFamily:
    """The registry entry for ``model_type``; a one-line ``InputError`` naming it otherwise."""
    family = FAMILIES.get(model_type or "")
    if family is None:
        raise InputError(
            f"model type {model_type!r} cannot be exported to GGUF; expected one of {', '.join(sorted(FAMILIES))}",
            hint="export a bot trained from a GPT-2 or Llama-family base (e.g. --base-model gpt2)",
        )
    return family
