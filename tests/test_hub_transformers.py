"""transformers, unmodified, loads a model pushed to the local Hub: ``pipeline(..., model='org/name')``.

The consumer runs in a subprocess so HF_ENDPOINT is set before huggingface_hub/transformers import.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, os, sys
from pathlib import Path

texts = ["my dream is to post all day", "the best posts are short", "posting again today",
         "short posts are the best", "dream big post small"] * 20
out = Path(sys.argv[1])
try:
    from huggingtweets.train.tiny import build_tiny_base
    build_tiny_base(texts, out, vocab_size=300, n_layer=1, n_embd=32, n_head=2, n_positions=64)
except ImportError:  # the train stage is not there yet: the same tiny GPT-2 by hand
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=320, n_positions=64, n_embd=32, n_layer=1, n_head=2,
                                       bos_token_id=0, eos_token_id=0))
    model.save_pretrained(out)
    fast.save_pretrained(out)

from huggingface_hub import HfApi
api = HfApi()  # endpoint and token from HF_ENDPOINT / HF_TOKEN
api.create_repo("huggingtweets/tiny-bot")
(out / "README.md").write_text("---\nlicense: mit\ntags: [huggingtweets]\n---\n# tiny\n")
commit = api.upload_folder(repo_id="huggingtweets/tiny-bot", folder_path=out)

import transformers
generator = transformers.pipeline("text-generation", model="huggingtweets/tiny-bot")
text = generator("my dream is", max_new_tokens=8, do_sample=False)[0]["generated_text"]
print(json.dumps({"commit": commit.oid, "text": text,
                  "cached": sorted(os.listdir(os.environ["HF_HOME"] + "/hub"))}))
"""


@pytest.mark.slow
def test_pipeline_loads_pushed_tiny_gpt2(hub, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="huggingtweets.hub")
    env = hub.env(hub.token)
    env["HF_HOME"] = str(tmp_path / "consumer-hf-home")  # empty cache: everything comes from the server
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "tiny")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["text"].startswith("my dream is") and len(out["text"]) > len("my dream is")
    assert "models--huggingtweets--tiny-bot" in out["cached"]

    lines = [r.getMessage() for r in caplog.records if r.name == "huggingtweets.hub"]
    statuses = [int(line.split()[2]) for line in lines if line.split()[0] in {"GET", "HEAD", "POST", "PUT"}]
    assert statuses and all(s < 500 for s in statuses), lines
    # the optional files transformers probes for are clean 404s, not errors
    assert any(line.startswith("HEAD /huggingtweets/tiny-bot/resolve/") and " 404 " in line for line in lines)
    assert any(
        line.startswith("GET /huggingtweets/tiny-bot/resolve/") and "model.safetensors 200" in line
        for line in lines
    )
