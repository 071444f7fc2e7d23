"""CLI commands of the data half: ``fetch`` and ``prepare``.

Nothing heavy is imported here at module level: the library modules are imported inside the
commands, so ``huggingtweets --help`` stays instant.
"""

from __future__ import annotations

import click

from huggingtweets.cli.options import given_run_flags, run_options, source_options

SOURCE_FLAGS = ("--archive", "--posts-file")


def pair_handles(args: list[str]) -> list[tuple[str, str, str | None]]:
    """Pair each ``--handle`` with the ``--archive``/``--posts-file`` it stands beside.

    A handle belongs to the nearest source before it that has none yet, else to the next one:
    ``--posts-file a.csv --handle alice --archive x.zip --handle bob`` pairs a.csv/alice and
    x.zip/bob. Returns ``(flag, path, handle or None)`` in command-line order.
    """
    sources: list[list] = []
    waiting: list[str] = []  # handles given before their source
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        flag, _, inline = arg.partition("=")
        if flag in (*SOURCE_FLAGS, "--handle"):
            value = inline if inline else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if inline else 2
            if flag == "--handle":
                open_sources = [s for s in sources if s[2] is None]
                if open_sources:
                    open_sources[-1][2] = value
                else:
                    waiting.append(value)
            else:
                sources.append([flag, value, waiting.pop(0) if waiting else None])
            continue
        i += 1
    return [tuple(s) for s in sources]


class _FetchCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["huggingtweets.sources"] = pair_handles(list(args))
        return super().parse_args(ctx, args)


@click.command(cls=_FetchCommand)
@click.argument("handles", nargs=-1)
@source_options
@run_options("run_dir", "max_posts", "price_per_read", "max_archive_mb")
@click.pass_context
def fetch(ctx: click.Context, handles: tuple[str, ...], given_handles: tuple[str, ...], **params: object):
    """Fetch a person's posts into DIR/raw/<handle>.jsonl and DIR/users.json.

    HANDLE... are read live: alice, @alice or x:alice from the X API v2 (bearer token in
    X_BEARER_TOKEN); alice.bsky.social, bsky:alice.example.com or did:plc:... from Bluesky, and
    @alice@mastodon.social from that Mastodon instance, both free and without a token
    (MASTODON_ACCESS_TOKEN for an instance that demands one). --archive reads an account export
    (X, Mastodon or Bluesky); --posts-file reads posts from any other network.

    \b
    huggingtweets fetch --archive twitter-archive.zip
    huggingtweets fetch @alice@fosstodon.org bsky:alice.bsky.social
    huggingtweets fetch --posts-file toots.csv --handle alice
    huggingtweets fetch jack --max-posts 200
    """
    from huggingtweets.config import RunConfig
    from huggingtweets.errors import InputError
    from huggingtweets.sources import fetch as fetch_sources

    flags = given_run_flags(params)
    defaults = RunConfig()
    run_dir = flags.get("run_dir")
    pairs = ctx.meta.get("huggingtweets.sources") or []
    paired = [h for _, _, h in pairs if h]
    if len(paired) != len(given_handles):
        raise InputError(
            f"--handle {' '.join(h for h in given_handles if h not in paired)} stands beside no --archive "
            "or --posts-file",
            hint="put each --handle right after the --archive or --posts-file it names",
        )
    archive_args = [(path, handle) for flag, path, handle in pairs if flag == "--archive"]
    file_args = [(path, handle) for flag, path, handle in pairs if flag == "--posts-file"]
    for path, handle in file_args:
        if not handle:
            raise InputError(
                f"--posts-file {path} has no --handle",
                hint=f"huggingtweets fetch --posts-file {path} --handle NAME",
            )
    from huggingtweets.runner import default_run_dir_for
    from huggingtweets.sources.safezip import archive_limit
    from huggingtweets.stagerecords import run_lock

    with archive_limit(flags.get("max_archive_mb", defaults.max_archive_mb)):
        if run_dir is None:
            run_dir = str(default_run_dir_for(handles, archive_args, file_args))
        # the same lock `run` holds: never two writers in one folder
        with run_lock(run_dir, discard_new=True):
            users = fetch_sources(
                run_dir,
                handles=handles,
                archives=archive_args,
                posts_files=file_args,
                max_posts=flags.get("max_posts", defaults.max_posts),
                price_per_read=flags.get("price_per_read", defaults.price_per_read),
                echo=lambda line: click.echo(line, err=True),
            )
    for user in users:
        click.echo(f"@{user['handle']} ({user['name']}): posts from {user['source_detail']}")
    click.echo(
        f"Wrote {run_dir}/users.json and {run_dir}/raw/. Next: huggingtweets prepare --run-dir {run_dir}"
    )


@click.command()
@run_options(
    "run_dir",
    "seed",
    "keep_newlines",
    "keep_replies",
    "detect_languages",
    "validation",
    "base_model",
    required=("run_dir",),
)
def prepare(**params: object):
    """Clean the posts of DIR into DIR/dataset/ (train/validation) and DIR/data_report.json."""
    from huggingtweets.config import RunConfig
    from huggingtweets.prepare import prepare as prepare_run
    from huggingtweets.stagerecords import run_lock

    flags = given_run_flags(params)
    defaults = RunConfig()
    run_dir = flags["run_dir"]
    with run_lock(run_dir, create=False):
        report = prepare_run(
            run_dir,
            seed=flags.get("seed", defaults.train.seed),
            keep_newlines=flags.get("keep_newlines", defaults.keep_newlines),
            keep_replies=flags.get("keep_replies", defaults.keep_replies),
            detect_languages=flags.get("detect_languages", defaults.detect_languages),
            base_model=flags.get("base_model", defaults.train.base_model),
            validation=flags.get("validation", defaults.validation),
        )
    for handle, rep in report["users"].items():
        dropped = ", ".join(
            f"{k.replace('_', '-')} {rep[k]}"
            for k in ("retweets", "replies", "media_only", "short", "duplicates")
        )
        click.echo(
            f"@{handle}: kept {rep['kept']} of {rep['downloaded']} posts ({rep['characters']:,} characters, "
            f"~{rep['tokens']:,} tokens); dropped {dropped}"
        )
        shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in rep["language_shares"].items()) or "unknown"
        fit = rep["tokenizer_fit"]
        fit_text = (
            f"; {fit['base_model']} tokenizer: {fit['tokens_per_character']:.2f} tokens per character, "
            f"{100 * fit['cut_share']:.1f}% of posts over {fit['context_length']:,} tokens ({fit['method']})"
            if fit
            else ""
        )
        click.echo(f"@{handle}: languages {shares}{fit_text}")
    for handle, ov in report["oversampled"].items():
        click.echo(f"@{handle}: oversampled in train from {ov['from']} to {ov['to']} posts")
    split = report["split"]
    click.echo(f"Split (seed {split['seed']}): train {split['train']}, validation {split['validation']}")
    for warning in report["warnings"]:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    click.echo(f"Wrote {run_dir}/dataset/ and {run_dir}/data_report.json")


COMMANDS: list[click.Command] = [fetch, prepare]
