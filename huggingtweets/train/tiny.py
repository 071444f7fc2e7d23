"""An offline tiny GPT-2: the base model for tests, the demo, and machines without network.

The tokenizer is a byte-level BPE trained on the run's own posts (so a small vocabulary still
covers them well), with ``<|endoftext|>`` as BOS, EOS and pad, exactly as GPT-2 has. The weights
are a random initialisation; training fine-tunes them like any other base.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from huggingtweets.errors import InputError
from huggingtweets.runfolder import atomic_dir
from huggingtweets.train.saving import EOS_TOKEN, post_generation_config

# Defaults: about 4.4M parameters with vocab 4096. Measured on the 2-core CPU, this size learns
# a person's style in about a minute; wider or deeper mostly costs time on so little data.
TINY_DEFAULTS = {
    "vocab_size": 4096,  # upper bound on BPE tokens; a small corpus may yield fewer
    "n_layer": 4,  # transformer blocks
    "n_embd": 256,  # hidden width
    "n_head": 4,  # attention heads (n_embd must divide evenly)
    "n_positions": 256,  # longest context in tokens; a long post is ~100 GPT-2 tokens
}


def train_post_tokenizer(texts: Iterable[str], vocab_size: int):
    """A GPT-2-style byte-level BPE (no prefix space, ``<|endoftext|>`` special) fitted on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],  # id 0, as the first special token
        # Every byte is in the vocabulary, so any later text (emoji, other scripts) still encodes.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def build_tiny_base(
    texts: Iterable[str],
    out_dir: Path | str,
    *,
    seed: int = 0,
    vocab_size: int = TINY_DEFAULTS["vocab_size"],
    n_layer: int = TINY_DEFAULTS["n_layer"],
    n_embd: int = TINY_DEFAULTS["n_embd"],
    n_head: int = TINY_DEFAULTS["n_head"],
    n_positions: int = TINY_DEFAULTS["n_positions"],
) -> Path:
    """Write a randomly initialised tiny GPT-2 with a tokenizer trained on ``texts`` to ``out_dir``.

    The folder loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` / ``pipeline()``.
    Returns ``out_dir``. The same texts and seed give the same folder.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise InputError(
            "No text to build the tiny base model from: expected at least one non-empty post",
            hint="run `huggingtweets prepare` first",
        )
    if n_embd % n_head:
        raise InputError(f"n_embd={n_embd} is not divisible by n_head={n_head}: expected a multiple")
    out_dir = Path(out_dir)

    raw = train_post_tokenizer(texts, vocab_size)
    model_json = json.loads(raw.to_str())["model"]
    tokenizer = GPT2Tokenizer(
        vocab=model_json["vocab"],
        merges=[tuple(m) if not isinstance(m, str) else tuple(m.split(" ")) for m in model_json["merges"]],
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=n_positions,
    )
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    # Round the embedding table up to a multiple of 64: matmuls are faster on aligned sizes.
    n_vocab = -(-len(tokenizer) // 64) * 64

    config = GPT2Config(
        vocab_size=n_vocab,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        # Attention dropout > 0 makes CPU SDPA fall back to its slow math kernel (measured
        # +7-14% speed and 25% less memory with 0); residual/embedding dropout still regularise.
        attn_pdrop=0.0,
        # Same function as GPT-2's gelu_new, but a fused PyTorch kernel.
        activation_function="gelu_pytorch_tanh",
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        # No pad id in the model config (as GPT-2 has none): generate() drops an all-ones attention
        # mask and the model then warns about "padding" whenever a prompt starts with <|endoftext|>,
        # i.e. on every pipeline call. generation_config.json carries pad_token_id instead.
        pad_token_id=None,
        # The text-generation pipeline prepends config.prefix to every prompt, so a prompt reads
        # like the start of a post (what follows <|endoftext|> in training), as the original did.
        prefix=EOS_TOKEN,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)

    model.generation_config = post_generation_config(eos_id, eos_id)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out_dir


def count_parameters(model_dir: Path | str) -> int:
    """Parameter count of a saved model folder, read from its safetensors header (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(Path(model_dir) / "model.safetensors"), framework="pt") as fh:
        for name in fh.keys():
            shape = fh.get_slice(name).get_shape()
            n = 1
            for d in shape:
                n *= d
            total += n
    return total
