"""Saving a trained model so ``pipeline('text-generation', model=DIR)(prompt)`` works with no arguments.

What the pipeline reads in transformers 5 (checked in pipelines/base.py and text_generation.py):
- ``config.prefix`` is prepended to every prompt (the base's ``BaseModel.prefix``: ``<|endoftext|>``
  for GPT-2, the BOS ``<|im_start|>`` for SmolLM2), the very token each post starts with in training
  (``data.pack``), so a prompt reads as the start of a post; its tokens are cut from the output.
- generation settings come from generation_config.json only; the pipeline's own defaults
  (temperature 0.7, 256 new tokens) fill in only what that file leaves unset.
  ``config.task_specific_params`` (where the original put them) is no longer read.
- the weights are loaded as ``config.json``'s ``dtype`` (pipeline and from_pretrained default to
  ``dtype="auto"``, which reads it before the files' own dtype). We always write float32 there:
  bfloat16 weights computed in bfloat16 are 7x slower per token on a CPU without native bf16
  (AVX2 only, most laptops and CI runners), and never faster than float32 on a CPU with it (see
  benchmarks/RESULTS.md). The files may still hold bfloat16 (half the download); they are upcast
  once at load. A GPU user who wants bf16 compute passes ``dtype=torch.bfloat16``.
"""

from __future__ import annotations

import math
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"  # GPT-2's: BOS, EOS and pad at once; the tiny base uses it too

# When the posts are unknown: long enough for a long post in GPT-2 tokens (280 characters is ~70-100
# tokens, more with emoji), short enough that a runaway sample ends quickly on a CPU.
POST_MAX_NEW_TOKENS = 100
# A sample may run this much longer than a long training post (POST_LENGTH_QUANTILE) before it is cut.
POST_LENGTH_MARGIN = 1.5
# The post length the cap is sized from: the 95th percentile, not the longest, since one outlier
# post (a thread pasted into one) would set what every runaway sample costs. On a CPU a decode step
# of a 135M base costs ~0.1 s whatever the batch (memory-bound; benchmarks/RESULTS.md): the sample
# archive's cap fell from 184 to 88 new tokens.
POST_LENGTH_QUANTILE = 0.95


def post_max_new_tokens(tokenizer, texts, *, context: int = 1024) -> int:
    """The cap on new tokens per sample: a long post in tokens (plus its EOS), with margin.

    Sampling stops each sequence at EOS, and a call of n sequences runs until all n stopped or
    this cap is reached, so the cap is what a runaway sample costs. Sized from the person's own
    posts (short-post accounts get a short cap, long-post ones a long one): the 95th percentile of
    their lengths times 1.5, rounded up to 8.
    """
    texts = [t for t in texts if t]
    if not texts:
        return POST_MAX_NEW_TOKENS
    # verbose=False: a post longer than the model's context is fine here (it is only measured).
    ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    lengths = sorted(len(x) + 1 for x in ids)
    long_post = lengths[max(0, math.ceil(POST_LENGTH_QUANTILE * len(lengths)) - 1)]
    cap = -(-math.ceil(long_post * POST_LENGTH_MARGIN) // 8) * 8
    return max(16, min(cap, context * 3 // 4))  # the prompt needs the rest of the context


def post_suppressed_tokens(tokenizer, texts) -> list[int] | None:
    """Ids of the tokens that write a line break, when none of the person's posts has one; else None.

    Cleaning joins each post's lines (unless ``keep_newlines``), so a bot that sounds like the
    person writes one-line posts; a pretrained base still knows line breaks, and a sample that
    starts a new line tends to run on into lists and headings until the token cap (seen in the
    demo with SmolLM2). generation_config.json's ``suppress_tokens`` keeps them out of every
    ``generate()`` and ``pipeline()`` call with no argument from the user.
    """
    if not texts or any("\n" in t or "\r" in t for t in texts):
        return None
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return [
        i for i, piece in enumerate(pieces) if i not in special and ("\n" in piece or "\r" in piece)
    ] or None


def post_generation_config(
    eos_token_id: int,
    pad_token_id: int,
    *,
    max_new_tokens: int | None = None,
    bos_token_id: int | None = None,
    suppress_tokens: list[int] | None = None,
):
    """Generation settings for posts, read by ``generate()`` and ``pipeline()`` from generation_config.json.

    transformers 5 reads generation defaults only from generation_config.json (not from
    ``config.task_specific_params`` as the original relied on), and the text-generation pipeline's
    own defaults (temperature 0.7, 256 new tokens) apply only to what this file leaves unset.
    """
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=True,  # posts should vary; greedy decoding repeats the most common post
        top_p=0.95,
        temperature=1.0,  # set explicitly: left unset, the pipeline would use its 0.7
        max_new_tokens=max_new_tokens or POST_MAX_NEW_TOKENS,
        eos_token_id=eos_token_id,  # <|endoftext|> ends a post
        pad_token_id=pad_token_id,  # set, so generate() prints no "Setting pad_token_id" warning
        bos_token_id=eos_token_id if bos_token_id is None else bos_token_id,  # as config.json says
        suppress_tokens=suppress_tokens,  # line breaks, for a person whose posts have none
    )


def save_model(
    model,
    tokenizer,
    out_dir: Path,
    *,
    state_dict=None,
    dtype: str = "float32",
    max_new_tokens: int | None = None,
    prefix: str | None = None,
    suppress_tokens: list[int] | None = None,
) -> Path:
    """``save_pretrained`` (safetensors) + tokenizer + generation_config.json tuned for posts.

    ``dtype`` is the files' dtype only; config.json always says float32 (see the module's note).
    ``max_new_tokens`` caps a sample's length (see ``post_max_new_tokens``); None keeps the default.
    ``suppress_tokens``: token ids no sample may write (see ``post_suppressed_tokens``).
    ``prefix`` is the token posts started with in training (``BaseModel.prefix``; by default the
    tokenizer's own BOS, else its EOS). config.json and generation_config.json say the same BOS/EOS/pad.
    """
    import torch

    from huggingtweets.train.basemodel import frame_prefix

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token = tokenizer.eos_token
    eos_id, bos_id, pad_id = tokenizer.eos_token_id, tokenizer.bos_token_id, tokenizer.pad_token_id
    config = model.config
    config.prefix = prefix or frame_prefix(tokenizer.bos_token, tokenizer.eos_token)
    config.bos_token_id = bos_id
    config.eos_token_id = eos_id
    # A pad id that every prompt starts with must not be in config.json: generate() then drops an
    # all-ones attention mask and the model warns about padding (GPT-2: prefix = EOS = pad).
    # generation_config.json carries pad_token_id anyway, which silences generate()'s own warning.
    prefix_ids = tokenizer(config.prefix, add_special_tokens=False)["input_ids"]
    config.pad_token_id = None if prefix_ids[:1] == [pad_id] else pad_id
    model.generation_config = post_generation_config(
        eos_id, pad_id, max_new_tokens=max_new_tokens, bos_token_id=bos_id, suppress_tokens=suppress_tokens
    )
    model.to(torch.float32)  # save_pretrained writes the model's dtype into config.json
    if dtype == "bfloat16":
        # Convert each storage once, so tied weights (lm_head = wte) stay one tensor and are saved once.
        converted: dict[int, torch.Tensor] = {}
        state_dict = {
            k: converted.setdefault(v.data_ptr(), v.to(torch.bfloat16)) if v.is_floating_point() else v
            for k, v in (state_dict if state_dict is not None else model.state_dict()).items()
        }
    model.save_pretrained(out_dir, state_dict=state_dict)
    tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
