"""``huggingtweets export gguf``: the bot as a .gguf, checked with an independent reader.

The reader is transformers' own GGUF loading (``from_pretrained(folder, gguf_file=...)``): it
dequantizes the file, undoes llama.cpp's layouts with its own code, and must give the bot's logits.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from huggingtweets.errors import HubError, InputError

PROMPTS = ["My dream is to", "the tide came in 123 times today!", "hello world"]


def _logits(model, tokenizer, text):
    import torch

    ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.no_grad():
        return model(ids).logits.float()


def _load_gguf(path: Path, **overrides):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, **overrides).eval()


def _assert_same_logits(bot, tokenizer, exported, *, rel: float):
    for text in PROMPTS:
        want, got = _logits(bot, tokenizer, text), _logits(exported, tokenizer, text)
        assert got.shape == want.shape
        scale = want.abs().max().item()
        diff = (got - want).abs().max().item()
        assert diff <= rel * max(scale, 1.0), f"{text!r}: max |diff| {diff:.4g} over logits up to {scale:.3g}"


def _fields(path: Path) -> dict:
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import read_field

    reader = GGUFReader(path)
    return {key: read_field(reader, key) for key in reader.fields}, reader


def _modelfile(path: Path) -> tuple[str, dict[str, list[str]]]:
    return _parse_modelfile(path.read_text(encoding="utf-8"))


def _parse_modelfile(text: str) -> tuple[str, dict[str, list[str]]]:
    """(FROM, {parameter: [values]}) of an Ollama Modelfile."""
    source, params = None, {}
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "FROM":
            source = rest
        elif word == "PARAMETER":
            name, _, value = rest.partition(" ")
            params.setdefault(name, []).append(value)
    return source, params


def test_gpt2_bot_exports_with_its_logits_tokenizer_and_sampling(trained_run_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from huggingtweets.export.gguf import export_gguf

    run = tmp_path / "run"
    shutil.copytree(trained_run_dir / "model", run / "model")
    result = export_gguf(run)

    assert result.gguf_path == run / "gguf" / "run-f16.gguf" and result.family == "gpt2"
    assert sorted(p.name for p in (run / "gguf").iterdir()) == ["Modelfile", "run-f16.gguf"]  # no temp left
    bot = AutoModelForCausalLM.from_pretrained(run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    # transformers reads gpt2.context_length into n_ctx only, so n_positions keeps GPT-2's 1024
    # unless given (the position table in the file has the bot's own length, checked below).
    exported = _load_gguf(result.gguf_path, n_positions=bot.config.n_positions)
    assert exported.transformer.wpe.weight.shape == bot.transformer.wpe.weight.shape
    _assert_same_logits(bot, tokenizer, exported, rel=1e-2)

    gguf_tokenizer = AutoTokenizer.from_pretrained(result.gguf_path.parent, gguf_file=result.gguf_path.name)
    for text in PROMPTS:
        assert gguf_tokenizer(text)["input_ids"] == tokenizer(text)["input_ids"]

    fields, reader = _fields(result.gguf_path)
    generation = json.loads((run / "model" / "generation_config.json").read_text())
    assert fields["general.architecture"] == ["gpt2"] and fields["general.name"] == ["run"]
    assert fields["gpt2.context_length"] == [bot.config.n_positions]
    assert fields["tokenizer.ggml.model"] == ["gpt2"] and fields["tokenizer.ggml.pre"] == ["gpt-2"]
    assert fields["tokenizer.ggml.eos_token_id"] == [generation["eos_token_id"]]
    assert fields["general.sampling.top_p"] == [pytest.approx(generation["top_p"])]
    assert fields["general.sampling.temp"] == [pytest.approx(generation["temperature"])]
    stored = json.loads(fields["huggingtweets.generation_config"][0])
    assert stored == {k: v for k, v in generation.items() if k != "transformers_version"}
    # f16: matrices in float16, norms and biases in float32, as llama.cpp writes them.
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    assert kinds["blk.0.attn_qkv.weight"] == "F16" and kinds["blk.0.attn_norm.weight"] == "F32"

    source, params = _modelfile(result.modelfile_path)
    assert source == "./run-f16.gguf"
    assert params["temperature"] == ["1"] and float(params["top_p"][0]) == pytest.approx(generation["top_p"])
    assert params["num_predict"] == [str(generation["max_new_tokens"])]
    assert params["num_ctx"] == [str(bot.config.n_positions)]
    assert params["stop"] == ['"<|endoftext|>"']


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory, tiny_base_dir) -> Path:
    """A randomly initialised tiny Llama (grouped-query attention, untied head) with the tiny tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from huggingtweets.train.saving import post_generation_config

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer) + 8,  # rows past the tokenizer, as padded vocabularies have
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger than the default init, so the logits differ visibly per token
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    model.generation_config = post_generation_config(tokenizer.eos_token_id, tokenizer.eos_token_id)
    model.generation_config.top_k = 40
    model.generation_config.repetition_penalty = 1.1
    out = tmp_path_factory.mktemp("tiny-llama") / "llama-bot"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_llama_f16_and_q8_0_give_the_models_logits(tiny_llama_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from huggingtweets.export.gguf import export_gguf

    bot = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    f16 = export_gguf(tiny_llama_dir, out_dir=tmp_path)
    q8 = export_gguf(tiny_llama_dir, out_dir=tmp_path, file_type="q8_0")
    assert (f16.family, f16.gguf_path.name, q8.gguf_path.name) == (
        "llama",
        "llama-bot-f16.gguf",
        "llama-bot-q8_0.gguf",
    )

    exported = _load_gguf(f16.gguf_path)
    assert exported.config.num_key_value_heads == 2 and exported.config.tie_word_embeddings is False
    _assert_same_logits(bot, tokenizer, exported, rel=1e-2)
    _assert_same_logits(bot, tokenizer, _load_gguf(q8.gguf_path), rel=5e-2)
    assert q8.gguf_path.stat().st_size < 0.7 * f16.gguf_path.stat().st_size

    fields, reader = _fields(q8.gguf_path)
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    assert kinds["blk.0.attn_q.weight"] == "Q8_0" and kinds["blk.0.attn_norm.weight"] == "F32"
    assert "output.weight" in kinds  # the untied head is its own tensor
    assert len(fields["tokenizer.ggml.tokens"]) == bot.config.vocab_size
    assert fields["general.sampling.top_k"] == [40]
    assert fields["general.sampling.penalty_repeat"] == [pytest.approx(1.1)]
    _, params = _modelfile(q8.modelfile_path)
    assert params["top_k"] == ["40"] and params["repeat_penalty"] == ["1.1"]


def test_export_from_a_private_repo_on_the_hub(hub, tiny_llama_dir, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from huggingface_hub import HfApi

    from huggingtweets.cli import main

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("alice/llama-bot", private=True)
    api.upload_folder(repo_id="alice/llama-bot", folder_path=str(tiny_llama_dir), commit_message="bot")
    monkeypatch.setenv("HF_TOKEN", hub.token)

    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(main, ["export", "gguf", "alice/llama-bot", "--endpoint", hub.url, "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert f"Wrote {out / 'llama-bot-f16.gguf'} (llama, f16," in ok.output
    fields, _ = _fields(out / "llama-bot-f16.gguf")
    assert fields["general.repo_url"] == ["https://huggingface.co/alice/llama-bot"]

    missing = runner.invoke(
        main, ["export", "gguf", "alice/absent", "--endpoint", hub.url, "--out", str(out)]
    )
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [
        "Error: repo alice/absent not found (it does not exist or is not visible to your token) "
        "(check the repo id (ORG/NAME), or the run folder's path; a private bot needs HF_TOKEN)"
    ]


def _model_folder(root: Path, config: dict, weights: bool = True) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if weights:
        (root / "model.safetensors").write_bytes(b"")
    return root


def test_bad_input_is_a_typed_one_line_error(tmp_path):
    from huggingtweets.export.gguf import export_gguf

    cases = [
        (tmp_path, "is not a run folder: expected DIR/model/config.json"),
        (str(tmp_path / "nope" / "deeper" / "x"), "is neither a folder nor a Hub repo id"),
        (_model_folder(tmp_path / "t5", {"model_type": "t5"}), "model type 't5' cannot be exported to GGUF"),
        (
            _model_folder(tmp_path / "run" / "model", {"model_type": "gpt2"}, weights=False).parent,
            "has no model weights",
        ),
    ]
    for spec, expected in cases:
        with pytest.raises(InputError) as err:
            export_gguf(spec, out_dir=tmp_path / "out")
        assert expected in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="GGUF type 'q4' is not offered; expected one of f16, q8_0"):
        export_gguf(tmp_path, file_type="q4")
    assert not (tmp_path / "out").exists()


def test_unreachable_hub_is_a_one_line_error(tmp_path):
    import socket

    from huggingtweets.export.gguf import export_gguf

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HubError) as err:
        export_gguf("alice/some-bot", endpoint=f"http://user:secret@127.0.0.1:{port}", out_dir=tmp_path)
    message = str(err.value)
    assert message.startswith(
        f"cannot download alice/some-bot: the Hub (http://127.0.0.1:{port}) cannot be reached"
    )
    assert "secret" not in message and "\n" not in message


def test_failed_export_leaves_the_previous_file_and_no_temp(tiny_llama_dir, tmp_path):
    from huggingtweets.export.gguf import export_gguf

    bot = tmp_path / "bot"
    shutil.copytree(tiny_llama_dir, bot)
    out = tmp_path / "out"
    first = export_gguf(bot, out_dir=out)
    before = first.gguf_path.read_bytes()

    tokenizer_json = json.loads((bot / "tokenizer.json").read_text())
    tokenizer_json["pre_tokenizer"] = {"type": "Whitespace"}  # a tokenizer llama.cpp has no name for
    (bot / "tokenizer.json").write_text(json.dumps(tokenizer_json))
    with pytest.raises(InputError, match="pre-tokenizer Whitespace\\) cannot be written to GGUF"):
        export_gguf(bot, out_dir=out)
    assert first.gguf_path.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "bot-f16.gguf"]


def test_greedy_bot_gets_temperature_zero_and_no_sampler_settings():
    from huggingtweets.export.sampling import modelfile_text, sampling_from

    greedy = sampling_from({"do_sample": False, "top_p": 0.9, "top_k": 50, "max_new_tokens": 30})
    _, params = _parse_modelfile(modelfile_text("b-f16.gguf", greedy, context_length=1024, stop=['say "hi"']))
    # generate() ignores top_p/top_k without sampling; Ollama would apply them, so they are left out.
    assert params == {
        "temperature": ["0"],
        "num_predict": ["30"],
        "num_ctx": ["1024"],
        "stop": ['"say \\"hi\\""'],
    }
