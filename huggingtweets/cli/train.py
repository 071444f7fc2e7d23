"""CLI commands ``train`` and ``generate``: flags -> TrainConfig -> library call.

Flags default to None so that a ``--config`` file's values apply unless a flag is given
(defaults < file < flags). Values are checked by TrainConfig, so a bad one is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

import click

RUN_DIR = click.Path(file_okay=False, path_type=Path)


def _is_main_process() -> bool:
    # Under `accelerate launch` every process runs this command; only the main one prints.
    from accelerate import PartialState

    return PartialState().is_main_process


@click.command()
@click.option("--run-dir", required=True, type=RUN_DIR, help="Run folder with dataset/ (from `prepare`).")
@click.option(
    "--base-model",
    metavar="gpt2|tiny|HUB_ID|PATH",
    help="Model to fine-tune; `tiny` builds a small GPT-2 offline from the posts. [default: gpt2]",
)
@click.option("--epochs", type=int, help="Passes over the data. [default: 4]")
@click.option(
    "--learning-rate",
    type=float,
    help="Peak AdamW learning rate (cosine schedule). [default: 1.372e-4; 1e-3 for tiny]",
)
@click.option("--warmup-ratio", type=float, help="Share of steps warming up linearly. [default: 0]")
@click.option("--batch-size", type=int, help="Blocks per process per step. [default: 8]")
@click.option("--block-size", type=int, help="Tokens per packed block. [default: 256]")
@click.option("--gradient-accumulation-steps", type=int, help="Micro-steps per optimizer step. [default: 1]")
@click.option("--seed", type=int, help="Seed for weights init, data order and dropout. [default: 42]")
@click.option(
    "--mixed-precision",
    type=click.Choice(["auto", "no", "bf16", "fp16"]),
    help="auto = bf16 where the hardware supports it. [default: auto]",
)
@click.option(
    "--compile/--no-compile", "compile_", default=None, help="torch.compile the model. [default: off]"
)
@click.option(
    "--report-to",
    type=click.Choice(["none", "trackio", "wandb", "tensorboard"]),
    help="Tracker for hyperparameters and metrics. [default: none]",
)
@click.option(
    "--checkpoint-every", type=int, help="Steps between checkpoints; 0 = epoch ends only. [default: 200]"
)
@click.option(
    "--save-dtype",
    type=click.Choice(["float32", "bfloat16"]),
    help="Saved weights' dtype. [default: bfloat16]",
)
@click.option(
    "--resume", is_flag=True, default=None, help="Continue from the last checkpoint in DIR/checkpoints."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON file of training settings; flags override it.",
)
def train(run_dir: Path, config_file: Path | None, compile_: bool | None, **flags) -> None:
    """Fine-tune a causal LM on DIR/dataset; write DIR/model/ and DIR/training_summary.json.

    \b
    huggingtweets train --run-dir runs/jack
    huggingtweets train --run-dir runs/jack --base-model tiny --epochs 8 --learning-rate 2e-3
    huggingtweets train --run-dir runs/jack --resume
    accelerate launch --num_processes 2 -m huggingtweets train --run-dir runs/jack
    """
    from huggingtweets.cli.progress import renderer
    from huggingtweets.train import TrainConfig
    from huggingtweets.train import train as run_training

    config = TrainConfig.load(config_file, compile=compile_, **flags)
    display = renderer()
    try:
        summary = run_training(run_dir, config, events=display)
    finally:
        display.close()
    if not _is_main_process():
        return
    if "stopped_after_steps" in summary:
        click.echo(
            f"Stopped after {summary['stopped_after_steps']} of {summary['total_steps']} steps; "
            f"continue with: huggingtweets train --run-dir {run_dir} --resume",
            err=True,
        )
        return
    val, ppl = summary["validation_loss"], summary["perplexity"]
    click.echo(
        f"Trained {summary['base_model']} for {summary['steps']} steps "
        f"({summary['tokens_per_second']:,.0f} tokens/s, {summary['wall_time_s']:.0f} s)."
    )
    if val["last"] is not None:
        click.echo(
            f"Validation loss {val['initial']:.3f} -> {val['last']:.3f} (best {val['best']:.3f}), "
            f"perplexity {ppl['last']:.1f}."
        )
    if "memorization_rate" in summary:
        click.echo(
            f"Memorization: {summary['memorization_rate']:.0%} of samples copy 8+ words of a training post."
        )
    click.echo(f"Model saved to {run_dir / 'model'}")


@click.command()
@click.option(
    "--run-dir", required=True, type=RUN_DIR, help="Run folder with a trained model/ (or a model folder)."
)
@click.argument("prompt", default="My dream is")
@click.option("-n", "n", type=int, default=5, show_default=True, help="Number of posts.")
@click.option("--seed", type=int, help="Seed for reproducible samples.")
def generate(run_dir: Path, prompt: str, n: int, seed: int | None) -> None:
    """Print N posts that start with PROMPT, as `pipeline('text-generation', model=DIR)` makes them.

    \b
    huggingtweets generate --run-dir runs/jack "My dream is" -n 5
    """
    from huggingtweets.generate import generate as sample

    for text in sample(run_dir, prompt, n=n, seed=seed):
        click.echo(" ".join(text.split()))  # one post per line, even if a post has line breaks


COMMANDS: list[click.Command] = [train, generate]
