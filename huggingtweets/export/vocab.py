"""The bot's tokenizer as GGUF metadata (``tokenizer.ggml.*``), as llama.cpp's converter writes it.

Only byte-level BPE tokenizers are offered (GPT-2's, the tiny base's, SmolLM2's): they map to
llama.cpp's ``gpt2`` tokenizer model. llama.cpp also needs the pre-tokenizer's name; it is read
from tokenizer.json's pre-tokenizer (``PRE_TOKENIZERS``) instead of llama.cpp's hash of a sample
text, which knows no tokenizer trained on a run's own posts.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingtweets.errors import InputError


def _kinds(node: dict | None) -> tuple:
    """The pre-tokenizer as a comparable tuple of (type, distinguishing option)."""
    if not node:
        return ()
    if node.get("type") == "Sequence":
        return tuple(k for child in node.get("pretokenizers", []) for k in _kinds(child))
    if node.get("type") == "Digits":
        return (("Digits", bool(node.get("individual_digits"))),)
    if node.get("type") == "ByteLevel":
        return (("ByteLevel", bool(node.get("use_regex", True))),)
    return ((node.get("type"), None),)


# tokenizer.json pre-tokenizer -> llama.cpp's pre-tokenizer name (llama-vocab.cpp).
PRE_TOKENIZERS = {
    (("ByteLevel", True),): "gpt-2",
    (("Digits", True), ("ByteLevel", True)): "smollm",
}


def pre_tokenizer_name(tokenizer_json: dict) -> str:
    model = (tokenizer_json.get("model") or {}).get("type")
    kinds = _kinds(tokenizer_json.get("pre_tokenizer"))
    name = PRE_TOKENIZERS.get(kinds) if model == "BPE" else None
    if name is None:
        shown = " + ".join(k for k, _ in kinds) or "none"
        raise InputError(
            f"tokenizer ({model or 'unknown'} model, pre-tokenizer {shown}) cannot be written to GGUF; "
            "expected a byte-level BPE tokenizer like GPT-2's or SmolLM2's",
            hint="export a bot trained from gpt2, tiny or a SmolLM2 base",
        )
    return name


def write_vocab(writer, tokenizer, model_dir: Path, vocab_size: int) -> list[str]:
    """Write tokens, types, merges and special ids; returns the texts that end a post (stop strings)."""
    import gguf

    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise InputError(f"{model_dir} has no tokenizer.json; expected the tokenizer saved with the bot")
    tokenizer_json = json.loads(path.read_text(encoding="utf-8"))
    pre = pre_tokenizer_name(tokenizer_json)

    by_id = {i: tok for tok, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(max(vocab_size, len(by_id))):
        if i not in by_id:  # the embedding has rows past the tokenizer's vocabulary
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=len(tokens))
    if not special.merges:
        raise InputError(f"{path} has no BPE merges; expected a byte-level BPE tokenizer")
    special.add_to_gguf(writer, quiet=True)
    eos = special.special_token_ids.get("eos")
    return [tokens[eos]] if eos is not None and 0 <= eos < len(tokens) else []
