"""The trainer on a fixture run folder: it learns, saves a pipeline-ready model, resumes, guards NaN."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from fixtures_train import build_fixture_dataset, fixture_train_config

from huggingtweets.errors import TrainingError
from huggingtweets.runfolder import read_json


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_training_learns_and_changes_the_weights(trained_run_dir, tiny_base_dir):
    summary = read_json(trained_run_dir / "training_summary.json")
    val = summary["validation_loss"]
    assert all(math.isfinite(v) for v in (val["initial"], val["best"], val["last"], summary["train_loss"]))
    # Learned visibly: well below the untrained model, on held-out posts.
    assert val["last"] < val["initial"] - 1.0
    assert val["best"] <= val["last"] + 1e-9
    assert summary["perplexity"]["last"] == pytest.approx(math.exp(val["last"]), rel=1e-3)
    assert summary["steps"] == summary["hyperparameters"]["total_steps"] > 0
    assert summary["tokens_seen"] == summary["train_tokens_per_epoch"] * summary["hyperparameters"]["epochs"]
    assert [h["epoch"] for h in summary["history"]] == list(
        range(1, summary["hyperparameters"]["epochs"] + 1)
    )
    assert summary["num_processes"] == 1 and summary["versions"]["torch"]

    before, after = (
        _tensors(tiny_base_dir / "model.safetensors"),
        _tensors(trained_run_dir / "model/model.safetensors"),
    )
    assert before.keys() == after.keys()  # the tied lm_head is saved once, as in the base
    assert {str(t.dtype) for t in after.values() if t.is_floating_point()} == {"torch.bfloat16"}
    changed = [name for name in before if not (before[name].to(after[name].dtype) == after[name]).all()]
    assert len(changed) == len(before)  # every tensor moved (biases and norms included)


def test_summary_holds_no_absolute_paths_or_secrets(trained_run_dir):
    text = (trained_run_dir / "training_summary.json").read_text()
    summary = json.loads(text)
    assert str(trained_run_dir.parent) not in text and str(trained_run_dir.home()) not in text
    assert summary["base_model"] == "tiny" and summary["hyperparameters"]["base_model"] == "tiny"
    assert "hf_" not in text and "token" not in json.dumps(summary["hyperparameters"])


def test_saved_model_works_in_pipeline_with_no_arguments(trained_run_dir, capfd):
    from transformers import AutoTokenizer, pipeline, set_seed

    model_dir = trained_run_dir / "model"
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} <= {
        p.name for p in model_dir.iterdir()
    }
    gen = read_json(model_dir / "generation_config.json")
    assert gen["do_sample"] is True and gen["top_p"] == 0.95 and gen["temperature"] == 1.0
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert gen["eos_token_id"] == gen["pad_token_id"] == tokenizer.eos_token_id
    assert read_json(model_dir / "config.json")["prefix"] == "<|endoftext|>"

    capfd.readouterr()
    set_seed(0)
    generator = pipeline("text-generation", model=str(model_dir))
    texts = [out["generated_text"] for out in generator("My dream is", num_return_sequences=5)]
    assert len(texts) == 5
    # bfloat16 files (half the download) computed in float32, as config.json says: bf16 compute is
    # emulated, 7x slower, on CPUs without native bf16.
    assert str(generator.model.dtype) == "torch.float32"
    assert read_json(model_dir / "config.json")["dtype"] == "float32"
    for text in texts:
        assert text.startswith("My dream is")
        assert "<|endoftext|>" not in text and "\n" not in text[len("My dream is") : len("My dream is") + 1]
    # No warning about pad tokens or attention masks: generation_config.json covers them.
    err = capfd.readouterr().err
    assert "pad_token_id" not in err and "attention_mask" not in err

    # The same call as tensors: the pipeline prepended <|endoftext|> and the posts end at EOS.
    set_seed(0)
    outs = generator("My dream is", num_return_sequences=5, return_tensors=True)
    eos = tokenizer.eos_token_id
    prompt_ids = tokenizer("<|endoftext|>My dream is")["input_ids"]
    ended = 0
    for out in outs:
        ids = list(out["generated_token_ids"])
        assert ids[: len(prompt_ids)] == prompt_ids
        # generation_config.json's max_new_tokens caps a sample; most stop earlier, at a post's end.
        assert len(ids) <= len(prompt_ids) + gen["max_new_tokens"]
        ended += eos in ids[len(prompt_ids) :]  # padded with EOS after its end to the batch's longest
    assert ended >= 3


def test_max_new_tokens_is_sized_from_the_posts(trained_run_dir):
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    model_dir = trained_run_dir / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = load_from_disk(str(trained_run_dir / "dataset"))["train"]["text"]
    lengths = sorted(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)  # + EOS
    long_post = lengths[math.ceil(0.95 * len(lengths)) - 1]
    gen = read_json(model_dir / "generation_config.json")
    cap = gen["max_new_tokens"]
    context = read_json(model_dir / "config.json")["n_positions"]
    # Room for a long post (95th percentile) with its EOS and half again, rounded up to 8: not a fixed
    # 100, and never so much that prompt + sample outgrow the model's context.
    assert cap == min(math.ceil(long_post * 1.5 / 8) * 8, context * 3 // 4)
    assert cap != 100
    # The posts are one line each: the tokens that write a line break are kept out of every sample.
    assert not any("\n" in t for t in texts)
    suppressed = gen["suppress_tokens"]
    assert tokenizer.convert_tokens_to_ids("\u010a") in suppressed  # byte-level BPE's "\n"
    assert all("\n" in tokenizer.decode([i]) or "\r" in tokenizer.decode([i]) for i in suppressed)


def test_the_token_cap_follows_most_posts_not_one_outlier_and_line_breaks_follow_the_person(
    trained_run_dir,
):
    from transformers import AutoTokenizer

    from huggingtweets.train.saving import post_max_new_tokens, post_suppressed_tokens

    tokenizer = AutoTokenizer.from_pretrained(trained_run_dir / "model")
    short = ["the gulls are loud today"] * 99
    outlier = " ".join(["a long thread pasted into one post"] * 60)
    assert post_max_new_tokens(tokenizer, short + [outlier]) == post_max_new_tokens(tokenizer, short) < 40
    assert post_max_new_tokens(tokenizer, short + [outlier] * 10) > 200  # a person who writes long posts
    # A person whose posts keep their line breaks (keep_newlines) keeps them in the bot's samples too.
    assert post_suppressed_tokens(tokenizer, short + ["first line\nsecond line"]) is None
    assert post_suppressed_tokens(tokenizer, short)


def test_summary_splits_the_wall_time_into_phases(trained_run_dir):
    summary = read_json(trained_run_dir / "training_summary.json")
    phases = summary["phases_s"]
    assert set(phases) == {"setup", "train", "eval", "checkpoint", "save"}
    assert all(seconds >= 0 for seconds in phases.values()) and phases["train"] > 0
    # The phases are parts of the command's wall time, measured apart (setup excludes evaluation).
    assert sum(phases.values()) <= summary["wall_time_s"] + 0.05
    assert sum(phases.values()) >= 0.9 * summary["wall_time_s"]


def test_predictions_file(trained_run_dir):
    predictions = read_json(trained_run_dir / "predictions.json")
    assert len(predictions["samples"]) == 10
    assert predictions["memorization_threshold_words"] == 8
    for sample in predictions["samples"]:
        assert sample["text"].startswith(sample["prompt"])
        assert isinstance(sample["longest_copied_words"], int) and sample["longest_copied_words"] >= 0
    copied = sum(s["longest_copied_words"] >= 8 for s in predictions["samples"]) / 10
    assert predictions["memorization_rate"] == pytest.approx(copied)
    # Data flows forward: generate writes its own file and leaves the training summary alone.
    assert "memorization_rate" not in read_json(trained_run_dir / "training_summary.json")


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    build_fixture_dataset(whole)
    shutil.copytree(whole / "dataset", parts / "dataset")
    # Residual dropout stays on (0.1), so matching also proves the RNG state is restored.
    config = fixture_train_config(tiny_base_dir, epochs=2)
    expected = train(whole, config)

    stopped = train(parts, fixture_train_config(tiny_base_dir, epochs=2, stop_after_steps=5))
    assert stopped["stopped_after_steps"] == 5
    assert not (parts / "model").exists() and (parts / "checkpoints").is_dir()
    resumed = train(parts, fixture_train_config(tiny_base_dir, epochs=2), resume=True)

    assert resumed["resumed"] is True and resumed["steps"] == expected["steps"]
    assert resumed["tokens_seen"] == expected["tokens_seen"]
    assert resumed["train_loss"] == pytest.approx(expected["train_loss"], abs=1e-5)
    assert resumed["validation_loss"]["last"] == pytest.approx(expected["validation_loss"]["last"], abs=1e-5)
    a, b = _tensors(whole / "model/model.safetensors"), _tensors(parts / "model/model.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    config = fixture_train_config(tiny_base_dir, epochs=1, checkpoint_every=2, debug_nan_at_step=5)
    with pytest.raises(TrainingError, match=r"nan at step 5.*checkpoints/checkpoint_1") as info:
        train(tmp_path, config)
    assert "--learning-rate" in str(info.value)
    assert not (tmp_path / "model").exists()
    checkpoint = tmp_path / "checkpoints" / "checkpoint_1"
    weights = _tensors(checkpoint / "model.safetensors")
    assert all(bool(t.isfinite().all()) for t in weights.values())
    # The kept checkpoint resumes to a finished, finite run.
    summary = train(tmp_path, fixture_train_config(tiny_base_dir, epochs=1), resume=True)
    assert math.isfinite(summary["validation_loss"]["last"])


def test_resume_without_checkpoint_is_an_error(tmp_path, tiny_base_dir):
    from huggingtweets.train import train

    build_fixture_dataset(tmp_path)
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(tmp_path, fixture_train_config(tiny_base_dir), resume=True)


def test_missing_tracker_package_is_named(tmp_path, tiny_base_dir):
    import importlib.util

    from huggingtweets.train import train

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    build_fixture_dataset(tmp_path)
    with pytest.raises(TrainingError, match="pip install wandb"):
        train(tmp_path, fixture_train_config(tiny_base_dir, report_to="wandb"))


def test_steps_and_epochs_are_reported_and_cancel_checkpoints_then_resume_finishes(tmp_path, tiny_base_dir):
    from huggingtweets.errors import Cancelled
    from huggingtweets.events import CancelToken, EpochEnd, TrainStep
    from huggingtweets.train import train
    from huggingtweets.train.checkpoints import checkpoint_folders

    build_fixture_dataset(tmp_path)
    token, seen = CancelToken(), []

    def on_event(event):
        seen.append(event)
        if isinstance(event, TrainStep) and event.step == 3:
            token.cancel()

    config = fixture_train_config(tiny_base_dir, epochs=2)
    with pytest.raises(Cancelled, match=r"cancelled after 3 of \d+ steps"):
        train(tmp_path, config, events=on_event, cancel=token)
    steps = [e for e in seen if isinstance(e, TrainStep)]
    assert [e.step for e in steps] == [1, 2, 3]
    assert all(math.isfinite(e.loss) and e.tokens_per_second > 0 and e.eta_seconds >= 0 for e in steps)
    assert checkpoint_folders(tmp_path) and not (tmp_path / "model").exists()

    more: list = []

    summary = train(tmp_path, config, resume=True, events=more.append)
    resumed_steps = [e.step for e in more if isinstance(e, TrainStep)]
    assert resumed_steps == list(range(4, summary["steps"] + 1))
    assert steps[0].total_steps == summary["steps"]
    epochs = [e for e in more if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[-1].validation_loss == summary["validation_loss"]["last"]
    assert summary["resumed"] is True


def test_compile_yes_trains_the_same_and_saves_clean_weight_names(tmp_path, tiny_base_dir):
    """`--compile yes` on a CPU (auto never compiles there): trains as eager does, plain key names."""
    from huggingtweets.train import train

    eager_dir, compiled_dir = tmp_path / "eager", tmp_path / "compiled"
    build_fixture_dataset(eager_dir)
    shutil.copytree(eager_dir / "dataset", compiled_dir / "dataset")
    knobs = dict(epochs=1, max_steps=3, save_dtype="float32")
    eager = train(eager_dir, fixture_train_config(tiny_base_dir, **knobs))
    compiled = train(compiled_dir, fixture_train_config(tiny_base_dir, **knobs, compile="yes"))
    assert eager["compiled"] is False and compiled["compiled"] is True
    assert compiled["steps"] == eager["steps"] == 3
    # Residual dropout draws its masks from inductor's own generator when compiled: close, not equal.
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], abs=0.02)
    e, c = eager["validation_loss"], compiled["validation_loss"]
    assert c["initial"] == pytest.approx(e["initial"], abs=1e-4)
    assert c["last"] == pytest.approx(e["last"], abs=0.02)
    assert c["last"] < c["initial"] - 0.2  # it trained: 6.24 -> 5.85 in three steps
    a, b = _tensors(eager_dir / "model/model.safetensors"), _tensors(compiled_dir / "model/model.safetensors")
    assert sorted(a) == sorted(b) and not any("_orig_mod" in k for k in b)
    # Not bit-equal to eager's (the dropout masks differ); both moved from the base alike.
    base = _tensors(tiny_base_dir / "model.safetensors")
    moved = {name: max(float((t[k] - base[k]).abs().max()) for k in base) for name, t in (("e", a), ("c", b))}
    assert 0.3 < moved["c"] / moved["e"] < 3, moved


def test_gradient_checkpointing_yes_trains_the_same_as_keeping_activations(tmp_path, tiny_base_dir):
    """`--gradient-checkpointing yes` recomputes activations in backward: the same steps, the same losses;
    auto leaves a small base (the test tiny one) alone."""
    from huggingtweets.train import train

    kept_dir, recomputed_dir = tmp_path / "kept", tmp_path / "recomputed"
    build_fixture_dataset(kept_dir)
    shutil.copytree(kept_dir / "dataset", recomputed_dir / "dataset")
    knobs = dict(epochs=1, max_steps=3, save_dtype="float32")
    kept = train(kept_dir, fixture_train_config(tiny_base_dir, **knobs))
    recomputed = train(
        recomputed_dir, fixture_train_config(tiny_base_dir, **knobs, gradient_checkpointing="yes")
    )
    assert kept["gradient_checkpointing"] is False and recomputed["gradient_checkpointing"] is True
    # A small base keeps freed memory for the next step (large ones return it: test_train_speed).
    assert kept["allocator"] == recomputed["allocator"] == "keep"
    # This process's peak resident memory, in MB: at least torch and the model loaded.
    assert 100 < kept["peak_memory_mb"] < 64_000
    assert recomputed["steps"] == kept["steps"] == 3
    assert recomputed["train_loss"] == pytest.approx(kept["train_loss"], abs=1e-4)
    assert recomputed["validation_loss"]["last"] == pytest.approx(kept["validation_loss"]["last"], abs=1e-4)
    assert recomputed["validation_loss"]["last"] < recomputed["validation_loss"]["initial"] - 0.2


def test_gradient_checkpointing_auto_is_for_large_bases():
    from huggingtweets.train.config import CHECKPOINTING_MIN_PARAMETERS, TrainConfig

    auto = TrainConfig()
    assert auto.checkpointing_for(134_515_008) and not auto.checkpointing_for(
        CHECKPOINTING_MIN_PARAMETERS - 1
    )
    assert TrainConfig(gradient_checkpointing="no").checkpointing_for(134_515_008) is False
    assert TrainConfig(gradient_checkpointing="yes").checkpointing_for(1_000) is True


def test_a_large_base_on_a_cpu_takes_its_eight_blocks_as_four_micro_steps_of_two():
    from huggingtweets.train.config import LARGE_BASE_PARAMETERS, TrainConfig

    auto = TrainConfig()
    assert auto.micro_batching(134_515_008, "cpu") == (2, 4)
    assert auto.micro_batching(LARGE_BASE_PARAMETERS - 1, "cpu") == (8, 1)
    assert auto.micro_batching(134_515_008, "cuda") == (8, 1)  # a GPU's memory is not the limit here
    # A setting given is kept as given: either one turns the automatic split off.
    assert TrainConfig(batch_size=8).micro_batching(134_515_008, "cpu") == (8, 1)
    assert TrainConfig(gradient_accumulation_steps=4).micro_batching(134_515_008, "cpu") == (8, 4)
    assert TrainConfig(batch_size=2, gradient_accumulation_steps=3).micro_batching(10, "cpu") == (2, 3)
