"""LoRA through peft (issue 21 item 1): adapters train, the base stays frozen, the saved bot is merged."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import TrainingError
from huggingtweets.train.basemodel import BaseModel
from huggingtweets.train.config import TrainConfig


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def _lora_config(tiny_base_dir, **overrides):
    knobs = dict(
        lora_r=4,
        lora_dropout=0.0,
        learning_rate=1e-2,
        epochs=3,
        save_dtype="float32",
        keep_final_checkpoints=True,
    )
    knobs.update(overrides)
    return fixture_train_config(tiny_base_dir, **knobs)


def _base(model_type):
    return BaseModel(
        kind="local",
        name="b",
        hub_id=None,
        model_type=model_type,
        license="mit",
        bos_token=None,
        eos_token="</s>",
        pad_token=None,
        prefix="</s>",
    )


@pytest.mark.slow
def test_lora_trains_adapters_only_and_saves_a_merged_plain_model(tmp_path, tiny_base_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    summary = train(tmp_path, _lora_config(tiny_base_dir))

    # Loss finite and down; only the adapters were trainable.
    assert all(math.isfinite(h["train_loss"]) for h in summary["history"])
    assert summary["history"][-1]["train_loss"] < summary["history"][0]["train_loss"]
    assert summary["perplexity"]["best"] < summary["perplexity"]["initial"]
    lora = summary["lora"]
    assert lora["target_modules"] == ["c_attn", "c_proj"] and lora["alpha"] == 8.0
    assert 0 < lora["trainable_parameters"] < lora["total_parameters"] / 5
    assert summary["hyperparameters"]["lora_r"] == 4

    # The checkpoint's base weights are the base's own (frozen); the adapters moved off their init.
    base = _tensors(tiny_base_dir / "model.safetensors")
    checkpoint = max((tmp_path / "checkpoints").iterdir(), key=lambda p: int(p.name.split("_")[1]))
    trained = _tensors(checkpoint / "model.safetensors")
    frozen = {k: v for k, v in trained.items() if ".base_layer." in k}
    assert len(frozen) == 2 * 3 * 2  # 2 layers x (c_attn, attention's c_proj, MLP's c_proj) x weight, bias
    for key, value in frozen.items():
        plain = key.replace("base_model.model.", "").replace(".base_layer.", ".")
        assert torch.equal(value, base[plain]), key
    lora_b = [v for k, v in trained.items() if "lora_B" in k]
    assert lora_b and all(float(v.abs().max()) > 0 for v in lora_b)  # lora_B starts at zero

    # DIR/model: plain keys only, attention weights changed by the merge, the embedding untouched.
    merged = _tensors(tmp_path / "model/model.safetensors")
    assert not any("lora" in k or "base_layer" in k for k in merged)
    assert not torch.equal(
        merged["transformer.h.0.attn.c_attn.weight"], base["transformer.h.0.attn.c_attn.weight"]
    )
    assert torch.equal(merged["transformer.wte.weight"], base["transformer.wte.weight"])
    assert not (tmp_path / "model/adapter_config.json").exists()

    # The merged model computes what base + adapter compute.
    adapter_config = json.loads((tmp_path / "adapter/adapter_config.json").read_text())
    assert adapter_config["r"] == 4 and adapter_config["base_model_name_or_path"] == tiny_base_dir.name
    ids = torch.tensor([[1, 5, 9, 30, 2, 7]])
    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "model").eval()
    with_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base_dir, activation_function="gelu_pytorch_tanh"),
        tmp_path / "adapter",
    ).eval()
    with torch.no_grad():
        assert torch.allclose(plain(ids).logits, with_adapter(ids).logits, atol=1e-4)


@pytest.mark.slow
def test_lora_resume_matches_the_uninterrupted_run(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    build_fixture_dataset(whole)
    shutil.copytree(whole / "dataset", parts / "dataset")
    config = _lora_config(tiny_base_dir, epochs=2, checkpoint_every=2)
    expected = train(whole, config)
    stopped = train(parts, _lora_config(tiny_base_dir, epochs=2, checkpoint_every=2, stop_after_steps=3))
    assert stopped["stopped_after_steps"] == 3 and not (parts / "training_summary.json").exists()
    resumed = train(parts, config, resume=True)
    assert resumed["steps"] == expected["steps"] and resumed["resumed"]
    assert resumed["validation_loss"]["last"] == pytest.approx(expected["validation_loss"]["last"], abs=1e-5)
    a, b = _tensors(whole / "model/model.safetensors"), _tensors(parts / "model/model.safetensors")
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


CONSUMER = r"""
import json, sys
from pathlib import Path
from huggingface_hub import HfApi

folder = Path(sys.argv[1])
api = HfApi()  # endpoint and token from HF_ENDPOINT / HF_TOKEN
api.create_repo("huggingtweets/lora-bot")
api.upload_folder(repo_id="huggingtweets/lora-bot", folder_path=folder)

import transformers
generator = transformers.pipeline("text-generation", model="huggingtweets/lora-bot")
text = generator("my dream is", max_new_tokens=8, do_sample=False)[0]["generated_text"]
print(json.dumps({"text": text, "peft_imported": "peft" in sys.modules}))
"""


@pytest.mark.slow
def test_merged_lora_bot_loads_with_pipeline_and_no_peft(hub, tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    run = tmp_path / "run"
    build_fixture_dataset(run)
    train(run, _lora_config(tiny_base_dir, epochs=1, keep_final_checkpoints=False))
    env = hub.env(hub.token)
    env["HF_HOME"] = str(tmp_path / "consumer-hf-home")  # empty cache: everything comes from the server
    env.pop("PYTHONPATH", None)  # only transformers and the Hub client: not even huggingtweets
    result = subprocess.run(
        [sys.executable, "-c", CONSUMER, str(run / "model")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["text"].startswith("my dream is") and len(out["text"]) > len("my dream is")
    assert out["peft_imported"] is False


def test_lora_settings_are_flags_and_yaml_keys(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("lora_r: 8\nlora-target-modules: q_proj,v_proj\n")
    config = TrainConfig.load(path, lora_alpha="4", lora_dropout="0.1")
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (8, 4.0, 0.1)
    assert config.lora_target_modules == "q_proj,v_proj"
    assert config.weight_settings()["lora_r"] == 8  # a different rank re-trains
    assert config.weight_settings()["lora_dropout"] == 0.1
    # A full fine-tune: its fingerprint is the one from before LoRA existed, whatever the LoRA details say.
    full = TrainConfig(lora_dropout=0.3).weight_settings()
    assert not any(k.startswith("lora_") for k in full) and full == TrainConfig().weight_settings()
    assert [k for k in TrainConfig().hyperparameters() if k.startswith("lora_")] == ["lora_r"]
    with pytest.raises(Exception, match="lora-r"):
        TrainConfig.load(lora_r="-1")


def test_target_modules_come_from_the_family_or_the_setting():
    from huggingtweets.train.lora import lora_alpha, target_modules

    assert target_modules(TrainConfig(lora_r=4), _base("gpt2")) == ["c_attn", "c_proj"]
    llama = target_modules(TrainConfig(lora_r=4), _base("llama"))
    assert llama == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert target_modules(TrainConfig(lora_r=4, lora_target_modules=" q_proj, v_proj "), _base("llama")) == [
        "q_proj",
        "v_proj",
    ]
    with pytest.raises(TrainingError, match=r"no default LoRA modules .*\(mamba\)") as err:
        target_modules(TrainConfig(lora_r=4), _base("mamba"))
    assert "--lora-target-modules" in err.value.hint
    assert (
        lora_alpha(TrainConfig(lora_r=16)) == 32.0 and lora_alpha(TrainConfig(lora_r=16, lora_alpha=8)) == 8
    )


def test_qlora_is_refused_on_a_cpu_and_without_a_rank():
    from huggingtweets.train.lora import check_lora

    with pytest.raises(TrainingError, match="not offered on a CPU") as err:
        check_lora(TrainConfig(lora_r=8, lora_4bit=True), "cpu")
    assert "\n" not in str(err.value)
    with pytest.raises(TrainingError, match="--lora-r 0"):
        check_lora(TrainConfig(lora_4bit=True), "cuda")
    check_lora(TrainConfig(lora_r=8), "cpu")  # plain LoRA is fine on a CPU
    check_lora(TrainConfig(), "cpu")


def test_missing_peft_is_one_line_naming_the_install(monkeypatch):
    import importlib.util

    from huggingtweets.train import lora

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a)
    )
    with pytest.raises(TrainingError, match="needs the peft package") as err:
        lora.check_lora(TrainConfig(lora_r=8), "cpu")
    assert "pip install peft" in err.value.hint
    lora.check_lora(TrainConfig(), "cpu")  # a full fine-tune never needs peft


@pytest.mark.slow
def test_lora_on_cpu_with_4bit_fails_before_loading(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    with pytest.raises(TrainingError, match="QLoRA\\) is not offered on a CPU"):
        train(tmp_path, _lora_config(tiny_base_dir, lora_4bit=True))
    assert not (tmp_path / "model").exists()


def test_app_train_form_has_the_lora_rank():
    from huggingtweets.app.handlers import _train_fields
    from huggingtweets.errors import InputError

    assert _train_fields("smollm2-135m", None, "", 16.0) == {"base_model": "smollm2-135m", "lora_r": 16}
    with pytest.raises(InputError, match=r"`lora r: -2` in the Train form: expected a whole number >= 0"):
        _train_fields("gpt2", None, "", -2)


def test_publish_adapter_pushes_adapter_folder_and_a_plain_publish_removes_it(hub, card_run_dir):
    from huggingface_hub import HfApi

    from huggingtweets.card import write_card
    from huggingtweets.errors import StageError
    from huggingtweets.publish import publish

    repo = "huggingtweets/ada_l-grace_h"
    api = HfApi(endpoint=hub.url, token=hub.token)
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"merged weights")
    write_card(card_run_dir, repo_id=repo)
    with pytest.raises(StageError, match=r"holds no LoRA adapter .*--lora-r") as err:
        publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token, adapter=True)
    assert "\n" not in str(err.value) and not api.repo_exists(repo)

    adapter = card_run_dir / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8, "peft_type": "LORA"}')
    (adapter / "adapter_model.safetensors").write_bytes(b"adapter weights")
    publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token, adapter=True)
    files = set(api.list_repo_files(repo))
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "model.safetensors"} <= files
    assert "adapter_config.json" not in files  # at the root, pipeline() would take the bot for an adapter

    publish(card_run_dir, org="huggingtweets", endpoint=hub.url, token=hub.token)
    assert not any(f.startswith("adapter/") for f in api.list_repo_files(repo))


def test_merging_into_a_reloaded_base_equals_the_delta_merge(tiny_base_dir):
    """QLoRA's save path (the base loaded again in full precision) gives the same weights, here on a
    CPU with an unquantized base: the code that a 4-bit GPU run takes, checked where it can be."""
    import torch
    from transformers import AutoModelForCausalLM

    from huggingtweets.train.lora import apply_lora, merged_state_dict

    torch.manual_seed(0)
    overrides = {"activation_function": "gelu_pytorch_tanh"}
    model = apply_lora(
        AutoModelForCausalLM.from_pretrained(tiny_base_dir, **overrides),
        TrainConfig(lora_r=4),
        _base("gpt2"),
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)  # as if trained: B starts at zero
    beside = merged_state_dict(model)
    reloaded = merged_state_dict(model, reload_from=tiny_base_dir, overrides=overrides)
    assert beside.keys() == reloaded.keys()
    assert max(float((beside[k] - reloaded[k]).abs().max()) for k in beside) < 1e-6
    base = AutoModelForCausalLM.from_pretrained(tiny_base_dir).state_dict()
    assert not torch.equal(
        beside["transformer.h.1.mlp.c_proj.weight"], base["transformer.h.1.mlp.c_proj.weight"]
    )
