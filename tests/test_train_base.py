"""Resolving --base-model: proxies, and folders or Hub repos with PyTorch .bin weights or none."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import TrainingError
from huggingtweets.train import base
from huggingtweets.train.base import proxy_configured, resolve_base_model


def _no_tiny():
    raise AssertionError("the tiny base must not be built here")


def _bin_only_copy(tiny_base_dir, folder):
    """The tiny base as an older fine-tune ships it: pytorch_model.bin, no safetensors."""
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(tiny_base_dir, folder)
    model = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    for path in folder.glob("*.safetensors"):
        path.unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"https_proxy": "http://proxy:3128"}, True),
        ({"HTTP_PROXY": "http://proxy:3128"}, True),
        ({"all_proxy": "socks5://proxy:1080"}, True),
        ({"Https_Proxy": "http://proxy:3128"}, True),
        ({"HTTPS_PROXY": "  "}, False),
        ({"NO_PROXY": "*", "PATH": "/bin"}, False),
    ],
)
def test_proxy_variables_are_detected_in_any_case(environ, expected):
    assert proxy_configured(environ) is expected


def test_with_a_proxy_the_tcp_precheck_is_skipped_and_failure_is_one_line(tmp_path, monkeypatch):
    def no_direct_connect(*args, **kwargs):
        raise AssertionError("a direct TCP connect says nothing behind a proxy")

    monkeypatch.setattr(base, "_endpoint_reachable", no_direct_connect)
    # Port 9 on loopback refuses at once: the proxy (and so the download) fails without a network.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with pytest.raises(TrainingError) as info:
        resolve_base_model("gpt2", tiny_dir=tmp_path / "tiny", tiny_texts=_no_tiny)
    message = str(info.value)
    assert "cannot be reached" in message and "--base-model tiny" in message and "PATH" in message
    assert "\n" not in message


def test_local_folder_with_only_pytorch_bin_trains(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    folder = _bin_only_copy(tiny_base_dir, tmp_path / "old-finetune")
    base = resolve_base_model(str(folder), tiny_dir=tmp_path / "tiny", tiny_texts=_no_tiny)
    assert (base.folder, base.name, base.kind, base.model_type) == (folder, "old-finetune", "local", "gpt2")
    assert base.prefix == base.eos_token == "<|endoftext|>"  # GPT-2: the EOS ending a post starts the next
    run_dir = tmp_path / "run"
    build_fixture_dataset(run_dir)
    summary = train(run_dir, fixture_train_config(folder, epochs=1, max_steps=2))
    assert summary["steps"] == 2 and summary["base_model"] == "old-finetune"


def test_local_folder_without_weights_says_so(tmp_path, tiny_base_dir):
    folder = tmp_path / "no-weights"
    shutil.copytree(tiny_base_dir, folder)
    for path in folder.glob("*.safetensors"):
        path.unlink()
    with pytest.raises(TrainingError) as info:
        resolve_base_model(str(folder), tiny_dir=tmp_path / "tiny", tiny_texts=_no_tiny)
    assert f"No model weights (*.safetensors or pytorch_model*.bin) in {folder}" in str(info.value)


HUB_SCRIPT = r"""
import json, sys
from pathlib import Path
from huggingface_hub import HfApi
from huggingtweets.train.base import resolve_base_model

api = HfApi()
for repo, folder in (("huggingtweets/bin-only", sys.argv[1]), ("huggingtweets/both", sys.argv[2])):
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=folder)
out = {}
for repo in ("huggingtweets/bin-only", "huggingtweets/both"):
    base = resolve_base_model(repo, tiny_dir=Path(sys.argv[3]), tiny_texts=list)
    out[repo] = sorted(p.name for p in base.folder.iterdir())
print(json.dumps(out))
"""


def test_hub_repo_with_only_pytorch_bin_is_fetched_with_its_weights(hub, tmp_path, tiny_base_dir):
    bin_only = _bin_only_copy(tiny_base_dir, tmp_path / "bin-only")
    both = _bin_only_copy(tiny_base_dir, tmp_path / "both")
    shutil.copy(tiny_base_dir / "model.safetensors", both / "model.safetensors")
    env = hub.env(hub.token)
    env["HF_HOME"] = str(tmp_path / "consumer-hf-home")
    result = subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT, str(bin_only), str(both), str(tmp_path / "tiny")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files = json.loads(result.stdout.strip().splitlines()[-1])
    assert "pytorch_model.bin" in files["huggingtweets/bin-only"]
    # Where safetensors exist, the .bin copy of the same weights is not downloaded.
    assert "model.safetensors" in files["huggingtweets/both"]
    assert "pytorch_model.bin" not in files["huggingtweets/both"]
