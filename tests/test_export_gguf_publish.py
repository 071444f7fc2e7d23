"""``publish --gguf``: the bot's GGUF and Modelfile go up in the publish commit, the card says how to run it."""

from __future__ import annotations

from click.testing import CliRunner
from fixtures_card import parse_card

from huggingtweets.cli import main

REPO = "alice/ada_l-grace_h"
GGUF = "ada_l-grace_h-f16.gguf"


def _publish(hub, run_dir, *extra):
    return CliRunner().invoke(main, ["publish", "--run-dir", str(run_dir), "--endpoint", hub.url, *extra])


def test_publish_gguf_in_the_same_commit_with_a_run_it_locally_section(
    hub, tiny_run_dir, monkeypatch, tmp_path
):
    import torch
    from huggingface_hub import HfApi, hf_hub_download
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_TOKEN", hub.token)
    api = HfApi(endpoint=hub.url, token=hub.token)

    first = _publish(hub, tiny_run_dir, "--gguf")
    assert first.exit_code == 0, first.output
    files = set(api.list_repo_files(REPO))
    assert {GGUF, "Modelfile", "model.safetensors", "README.md"} <= files
    assert len(api.list_repo_commits(REPO)) == 2  # the Hub's initial commit, then ours with everything

    body = parse_card(_readme(api))["body"]
    section = body.split("## Run it locally", 1)[1].split("\n## ", 1)[0]
    assert f"--hf-repo {REPO} --hf-file {GGUF}" in section
    assert f"hf download {REPO} {GGUF} Modelfile --local-dir bot" in section

    # The pushed file is the pushed bot: transformers' GGUF loading gives its logits.
    folder = tmp_path / "dl"
    for name in (GGUF, "Modelfile"):
        hf_hub_download(REPO, name, local_dir=folder, endpoint=hub.url, token=hub.token)
    bot = AutoModelForCausalLM.from_pretrained(tiny_run_dir / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_run_dir / "model")
    exported = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=GGUF, n_positions=bot.config.n_positions
    )
    ids = torch.tensor([tokenizer("My dream is to sail")["input_ids"]])
    with torch.no_grad():
        want, got = bot(ids).logits, exported.eval()(ids).logits.float()
    assert (got - want).abs().max().item() <= 1e-2 * max(want.abs().max().item(), 1.0)
    assert f"FROM ./{GGUF}" in (folder / "Modelfile").read_text()

    again = _publish(hub, tiny_run_dir, "--gguf")
    assert again.exit_code == 0 and f"Up to date: {tiny_run_dir / 'model' / GGUF}" in again.output
    assert "No changes" in again.output

    # Retraining replaces DIR/model/ whole, without the GGUF: the next publish removes it from the
    # repo (it was made from the old weights), and the card, now stale, is rendered without the section.
    model = tiny_run_dir / "model"
    for name in (GGUF, "Modelfile"):
        (model / name).unlink()
    plain = _publish(hub, tiny_run_dir)
    assert plain.exit_code == 0, plain.output
    assert "lists other GGUF files than it holds" in plain.output
    files = set(api.list_repo_files(REPO))
    assert GGUF not in files and "Modelfile" not in files and "model.safetensors" in files
    assert "## Run it locally" not in _readme(api)


def _readme(api) -> str:
    from pathlib import Path

    return Path(api.hf_hub_download(REPO, "README.md")).read_text(encoding="utf-8")
