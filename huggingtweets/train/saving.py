"""Saving a trained model so ``pipeline('text-generation', model=DIR)(prompt)`` works with no arguments.

What the pipeline reads in transformers 5 (checked in pipelines/base.py and text_generation.py):
- ``config.prefix`` is prepended to every prompt (``<|endoftext|>`` here, so a prompt reads as the
  start of a post, as the original huggingtweets did); its tokens are cut from the output.
- generation settings come from generation_config.json only; the pipeline's own defaults
  (temperature 0.7, 256 new tokens) fill in only what that file leaves unset.
  ``config.task_specific_params`` (where the original put them) is no longer read.
"""

from __future__ import annotations

from pathlib import Path

EOS_TOKEN = "<|endoftext|>"  # GPT-2's: BOS, EOS and pad at once; the tiny base uses it too

# Long enough for a long post in GPT-2 tokens (280 characters is ~70-100 tokens, more with emoji),
# short enough that a runaway sample ends quickly on a CPU.
POST_MAX_NEW_TOKENS = 100


def post_generation_config(eos_token_id: int, pad_token_id: int):
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
        max_new_tokens=POST_MAX_NEW_TOKENS,
        eos_token_id=eos_token_id,  # <|endoftext|> ends a post
        pad_token_id=pad_token_id,  # set, so generate() prints no "Setting pad_token_id" warning
        bos_token_id=eos_token_id,
    )


def save_model(model, tokenizer, out_dir: Path, *, state_dict=None, dtype: str = "float32") -> Path:
    """``save_pretrained`` (safetensors) + tokenizer + generation_config.json tuned for posts."""
    import torch

    eos_id = tokenizer.eos_token_id
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token = tokenizer.eos_token
    config = model.config
    config.prefix = tokenizer.bos_token or EOS_TOKEN
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = eos_id
    # GPT-2 has no pad id in its config, and must not: generate() drops an all-ones attention mask,
    # and the model then warns about padding whenever a prompt starts with <|endoftext|> (= pad).
    # generation_config.json carries pad_token_id instead, which silences generate()'s own warning.
    if config.pad_token_id == eos_id:
        config.pad_token_id = None
    model.generation_config = post_generation_config(eos_id, tokenizer.pad_token_id)
    if dtype == "bfloat16":
        # Convert each storage once, so tied weights (lm_head = wte) stay one tensor and are saved once.
        converted: dict[int, torch.Tensor] = {}
        state_dict = {
            k: converted.setdefault(v.data_ptr(), v.to(torch.bfloat16)) if v.is_floating_point() else v
            for k, v in (state_dict if state_dict is not None else model.state_dict()).items()
        }
        # The model itself too: save_pretrained records the model's dtype in config.json, and that
        # is what from_pretrained/pipeline (dtype="auto") load the weights as.
        model.to(torch.bfloat16)
    model.save_pretrained(out_dir, state_dict=state_dict)
    tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
