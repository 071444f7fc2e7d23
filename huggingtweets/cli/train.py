"""CLI commands ``train`` and ``generate``: flags -> TrainConfig -> library call.

The training flags are generated from TrainConfig's field metadata (``cli.options``); they default
to None so that a ``--config`` file's values apply unless a flag is given (defaults < file < flags).
"""

from __future__ import annotations

from pathlib import Path

import click

from huggingtweets.cli.options import given_train_flags, train_options

RUN_DIR = click.Path(file_okay=False, path_type=Path)


def _writer_lock(run_dir: Path):
    """The run folder's lock, held by the launch's first process (under `accelerate launch` all run
    this command; the lock comes before the trainer's Accelerator, so the launcher's rank says which)."""
    import contextlib

    from huggingtweets.stagerecords import run_lock
    from huggingtweets.train.child import launched_rank

    if launched_rank()[0] != 0:
        return contextlib.nullcontext()
    return run_lock(run_dir, create=False)


@click.command()
@click.option("--run-dir", required=True, type=RUN_DIR, help="Run folder with dataset/ (from `prepare`).")
@train_options
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in DIR/checkpoints.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON file of training settings (keys: the flags' names); flags override it.",
)
# The pipeline's train stage runs this command as its child process (huggingtweets.train.child): the
# parent holds the folder's lock and reads JSON lines instead of a display.
@click.option("--child", is_flag=True, hidden=True)
def train(run_dir: Path, config_file: Path | None, resume: bool, child: bool, **params) -> None:
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

    config = TrainConfig.load(config_file, **given_train_flags(params))
    if child:
        from huggingtweets.train.child import serve

        raise SystemExit(serve(run_dir, config, resume=resume))
    display = renderer()
    try:
        with _writer_lock(run_dir):
            summary = run_training(run_dir, config, resume=resume, events=display)
    finally:
        display.close()
    if not summary:  # the other processes of an `accelerate launch`: the main one reports
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
    if summary.get("phases_s"):
        from huggingtweets.train.speed import format_phases

        click.echo(f"Time: {format_phases(summary['phases_s'])}.")
    if val["last"] is not None:
        click.echo(
            f"Validation loss {val['initial']:.3f} -> {val['last']:.3f} (best {val['best']:.3f}), "
            f"perplexity {ppl['last']:.1f}."
        )
    click.echo(f"Model saved to {run_dir / 'model'}")


@click.command()
@click.option(
    "--run-dir", required=True, type=RUN_DIR, help="Run folder with a trained model/ (or a model folder)."
)
@click.argument("prompt", required=False)
@click.option("-n", "n", type=int, help="Number of posts.  [default: 5, or 10 with --for-card]")
@click.option("--seed", type=int, help="Seed for reproducible samples [default with --for-card: training's].")
@click.option(
    "--for-card",
    is_flag=True,
    help="Write the card's samples into DIR/predictions.json (five fixed prompts, each post checked "
    "for copied training text), as `run` does before the card.",
)
def generate(run_dir: Path, prompt: str | None, n: int | None, seed: int | None, for_card: bool) -> None:
    """Print N posts that start with PROMPT, as `pipeline('text-generation', model=DIR)` makes them.

    With --for-card, sample the model card's posts into DIR/predictions.json instead (the step
    between `train` and `card` when the stages are run one by one).

    \b
    huggingtweets generate --run-dir runs/jack "My dream is" -n 5
    huggingtweets generate --run-dir runs/jack --for-card
    """
    if for_card:
        from huggingtweets.errors import InputError
        from huggingtweets.generate import CARD_SAMPLES, card_samples_seed, write_predictions
        from huggingtweets.stagerecords import run_lock

        if prompt is not None:
            raise InputError(
                f"PROMPT {prompt!r} given with --for-card: the card's samples use fixed prompts",
                hint=f"huggingtweets generate --run-dir {run_dir} --for-card",
            )
        if n is not None and n < 1:
            raise InputError(f"-n {n} is invalid: expected a number of samples >= 1")
        with run_lock(run_dir, create=False):  # the lock every command that writes the folder takes
            result = write_predictions(
                run_dir,
                n_samples=n or CARD_SAMPLES,
                seed=card_samples_seed(run_dir) if seed is None else seed,
            )
        for sample in result["samples"]:
            click.echo(" ".join(sample["text"].split()))
        click.echo(
            f"Wrote {run_dir / 'predictions.json'} ({len(result['samples'])} samples, "
            f"{result['memorization_rate']:.0%} copy {result['memorization_threshold_words']}+ words "
            "of a training post)",
            err=True,
        )
        return
    from huggingtweets.generate import generate as sample

    for text in sample(run_dir, prompt or "My dream is", n=5 if n is None else n, seed=seed):
        click.echo(" ".join(text.split()))  # one post per line, even if a post has line breaks


COMMANDS: list[click.Command] = [train, generate]
