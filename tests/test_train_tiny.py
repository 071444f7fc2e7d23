"""The offline tiny base model: a loadable GPT-2 folder with a tokenizer trained on the posts."""

from __future__ import annotations

import json

import pytest

from huggingtweets.errors import InputError
from huggingtweets.train.tiny import build_tiny_base, count_parameters


def test_tiny_base_is_a_loadable_gpt2_folder(tiny_base_dir, train_corpus):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in tiny_base_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    config = json.loads((tiny_base_dir / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert config["attn_pdrop"] == 0.0
    assert config["activation_function"] == "gelu_pytorch_tanh"
    assert config["prefix"] == "<|endoftext|>"

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert tokenizer.bos_token_id == tokenizer.eos_token_id == tokenizer.pad_token_id == eos
    assert model.config.eos_token_id == model.config.bos_token_id == eos
    assert len(tokenizer) <= model.config.vocab_size

    # Byte-level: any text round-trips, including text the tokenizer never saw.
    text = train_corpus["maple_coder"][0] + " 🌊 naïve"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    # Trained on the posts: a frequent word of the corpus is a single token.
    assert len(tokenizer(" tide")["input_ids"]) == 1


def test_tiny_base_is_reproducible_and_sized(tmp_path, train_corpus):
    texts = [t for posts in train_corpus.values() for t in posts]
    small = dict(vocab_size=300, n_layer=1, n_embd=32, n_head=2, n_positions=64)
    a = build_tiny_base(texts, tmp_path / "a", seed=3, **small)
    b = build_tiny_base(texts, tmp_path / "b", seed=3, **small)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()
    assert count_parameters(a) < 100_000


def test_tiny_base_default_is_a_few_million_parameters(tmp_path, train_corpus):
    # A vocabulary of ~1.2k tokens from the small corpus; the transformer blocks dominate.
    texts = [t for posts in train_corpus.values() for t in posts]
    n = count_parameters(build_tiny_base(texts, tmp_path / "tiny"))
    assert 2_000_000 < n < 10_000_000


def test_tiny_base_needs_text(tmp_path):
    with pytest.raises(InputError, match="No text"):
        build_tiny_base(["", "  "], tmp_path / "tiny")
    assert not (tmp_path / "tiny").exists()
