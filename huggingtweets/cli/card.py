"""CLI commands of the card stage: ``card``, ``publish``, ``delete`` and ``cards regenerate``.

Thin: flags -> library call -> a few lines of output. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from huggingtweets.cli.options import given_run_flags, run_options
from huggingtweets.config import field_help
from huggingtweets.export.gguf import FILE_TYPES as GGUF_TYPES

RUN_DIR = click.option(
    "--run-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The run folder (trained model in DIR/model/).",
)  # fmt: skip
TEMPLATE = click.option(
    "--template", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A jinja2 card template to use instead of the bundled templates/modelcard.md.j2.",
)  # fmt: skip
ENDPOINT = click.option(
    "--endpoint",
    metavar="URL",
    envvar="HF_ENDPOINT",
    help="Hub URL [default: HF_ENDPOINT or huggingface.co].",
)


def _card_repo_id(run_dir: Path, repo_id: str | None) -> str:
    from huggingtweets.publish import default_repo_id
    from huggingtweets.runfolder import RunFolder

    if repo_id:
        return repo_id
    folder = RunFolder(run_dir)
    if folder.metadata.is_file():
        return folder.read("metadata")["repo_id"]
    # Offline default, the original tool's org; `publish` renders it again for another repo id.
    return default_repo_id(run_dir, "huggingtweets")


def _card_samples(run_dir: Path) -> None:
    """The card's samples, sampled here when the folder has none (stages run one by one)."""
    from huggingtweets.generate import ensure_card_samples

    made = ensure_card_samples(run_dir)
    if made is not None:
        click.echo(
            f"Sampled {len(made['samples'])} posts for the card into {run_dir / 'predictions.json'}", err=True
        )


@click.command("card")
@RUN_DIR
@TEMPLATE
@click.option("--repo-id", metavar="ORG/NAME", help="Repo id the card refers to [default: as last rendered, "
              "else huggingtweets/<handles>]; publish renders it again when it pushes elsewhere.")  # fmt: skip
def card(run_dir: Path, template: Path | None, repo_id: str | None) -> None:
    """Write the model card: DIR/model/README.md, huggingtweets.json, avatars/ and predictions.png.

    Samples the card's posts first (as `generate --for-card`) when DIR/predictions.json is missing.

    \b
    huggingtweets card --run-dir runs/jack
    huggingtweets card --run-dir runs/jack --template my-card.md.j2
    """
    from huggingtweets.card import write_card
    from huggingtweets.stagerecords import run_lock

    with run_lock(run_dir, create=False):  # the lock every command that writes the folder takes
        _card_samples(run_dir)
        path = write_card(run_dir, repo_id=_card_repo_id(run_dir, repo_id), template=template)
    click.echo(f"Wrote {path}")


@click.command("publish")
@RUN_DIR
@run_options("repo_id", "org", "private")
@ENDPOINT
@TEMPLATE
@click.option("--gguf", type=click.Choice(GGUF_TYPES), is_flag=False, flag_value="f16", default=None,
              help="Also push the bot as GGUF (default f16) and an Ollama Modelfile, in the same commit; "
              "the card gets a 'Run it locally' section.")  # fmt: skip
@click.option("--publish-adapter", is_flag=True, default=False,
              help="Also push the LoRA adapter (DIR/adapter, from --lora-r) as adapter/; the bot itself "
              "is merged and loads without peft.")  # fmt: skip
def publish(run_dir: Path, endpoint, template, gguf, publish_adapter, **params) -> None:
    """Push DIR/model/ (weights, tokenizer, card, avatars, preview) to the Hub in one commit.

    The token comes from HF_TOKEN or `hf auth login`; it is never printed. The card stage runs
    first when the folder's card is missing or stale (rendered for another repo id or Hub, or
    older than its inputs). Publishing the same folder again makes no commit.

    \b
    huggingtweets publish --run-dir runs/jack
    huggingtweets publish --run-dir runs/jack --org my-bots --public
    huggingtweets publish --run-dir runs/jack --gguf q8_0
    huggingtweets publish --run-dir runs/jack --publish-adapter
    """
    from huggingtweets.cli.progress import renderer
    from huggingtweets.hubclient import HubClient
    from huggingtweets.librarybars import quiet_hub_bars
    from huggingtweets.publish import check_repo_id, publish_run, resolve_target
    from huggingtweets.stagerecords import run_lock

    flags = given_run_flags(params)  # the same knobs as `run`'s, typed by the same coercer
    repo_id, org, private = flags.get("repo_id"), flags.get("org"), flags.get("private")

    if repo_id is not None:
        check_repo_id(repo_id)  # before the card is touched
    if publish_adapter:
        from huggingtweets.publish import check_adapter_dir

        check_adapter_dir(run_dir)  # before any request
    target = resolve_target(
        run_dir, client=HubClient(endpoint=endpoint), repo_id=repo_id, namespace=org, private=private
    )
    # The lock every command that writes the folder takes: the card may be rendered again here, and
    # what is pushed must not change under the upload.
    with run_lock(run_dir, create=False):
        if gguf:
            from huggingtweets.export.gguf import export_into_bot

            path, written = export_into_bot(run_dir, file_type=gguf)
            click.echo(f"{'Wrote' if written else 'Up to date:'} {path}", err=True)
        display = renderer()
        try:
            with quiet_hub_bars():
                result = publish_run(
                    run_dir,
                    target,
                    template=template,
                    events=display,
                    adapter=publish_adapter,
                    rendered=lambda stale: click.echo(
                        f"Rendered the card for {target.repo_id}: the model folder {stale}.", err=True
                    ),
                )
        finally:
            display.close()
    visibility = "private" if result.private else "public"
    if result.completed_empty:
        click.echo(
            f"Completed {result.repo_id} ({visibility}): it held no bot, as an earlier publish stopped "
            f"after creating it: {result.url} (commit {result.commit_oid})"
        )
    elif result.changed:
        verb = "Created" if result.created else "Updated"
        click.echo(f"{verb} {result.repo_id} ({visibility}): {result.url} (commit {result.commit_oid})")
    else:
        click.echo(f"No changes: {result.repo_id} is up to date ({visibility}): {result.url}")
    if result.left_empty:
        click.echo(
            f"Note: an earlier publish from this folder stopped after creating {result.left_empty}, which "
            f"is still empty (private); delete it with: huggingtweets delete {result.left_empty}"
        )
    if result.private:
        click.echo(
            "This bot imitates a real person, so it is private. With their consent, make it public with: "
            f"huggingtweets publish --run-dir {run_dir} --repo-id {result.repo_id} --public"
        )


@click.command("delete")
@click.argument("repo_id", metavar="REPO_ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@ENDPOINT
def delete(repo_id: str, yes: bool, endpoint: str | None) -> None:
    """Delete a bot's repo from the Hub (asks first unless --yes).

    Says what the repo holds first; an empty repo (a publish stopped right after creating it) is
    deleted like any other.

    \b
    huggingtweets delete huggingtweets/jack
    """
    from huggingtweets.hubclient import HubClient
    from huggingtweets.publish import delete as do_delete
    from huggingtweets.publish import inspect_repo

    client = HubClient(endpoint=endpoint)
    state = inspect_repo(repo_id, client=client)
    if not yes:
        click.confirm(
            f"Delete {repo_id} ({state.describe()}) and all its files from the Hub? This cannot be undone",
            abort=True,
        )
    do_delete(repo_id, client=client)
    click.echo(f"Deleted {repo_id} ({state.describe()})")


@click.group("cards")
def cards() -> None:
    """Maintain the cards of bots already on the Hub."""


@cards.command("regenerate")
@click.option("--author", required=True, metavar="ORG", help="The user or org whose bots to re-render.")
@click.option("--filter", "tag", default="huggingtweets", show_default=True, metavar="TAG",
              help="Only repos with this tag.")  # fmt: skip
@TEMPLATE
@click.option("--dry-run", is_flag=True, help="Print a unified diff per repo; commit nothing.")
@click.option("--create-pr", is_flag=True, help="Open a pull request per repo instead of committing to main.")
@click.option("--max-commits-per-hour", type=click.IntRange(min=1), default=128, show_default=True,
              help="Commits per hour to any one repo (the Hub's limit is per repo).")  # fmt: skip
@click.option("--max-calls-per-5min", type=click.IntRange(min=1), default=1000, show_default=True,
              help="HTTP request budget (the Hub allows about 1,000 API calls per 5 minutes).")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Repos processed at once (hides network latency; the budgets above still apply).")  # fmt: skip
@ENDPOINT
@click.option(
    "--playground-url",
    metavar="URL",
    help=field_help("playground_url").replace("Default: no link.", "Default: as each bot's metadata says."),
)
def regenerate(
    author,
    tag,
    template,
    dry_run,
    create_pr,
    max_commits_per_hour,
    max_calls_per_5min,
    workers,
    endpoint,
    playground_url,
) -> None:
    """Re-render every bot card of ORG and commit the ones that changed (README.md only).

    Repos without huggingtweets.json (published by the original tool) are rebuilt from their
    README. Interrupted, run it again: unchanged cards are skipped. Exits 1 if any repo failed.

    \b
    huggingtweets cards regenerate --author huggingtweets --dry-run
    huggingtweets cards regenerate --author huggingtweets --create-pr
    """
    from huggingtweets.cli.progress import renderer
    from huggingtweets.regenerate import WOULD_UPDATE, summary_table
    from huggingtweets.regenerate import regenerate as do_regenerate

    display = renderer()
    try:
        report = do_regenerate(
            author,
            tag=tag or None,
            template=template,
            dry_run=dry_run,
            create_pr=create_pr,
            max_commits_per_hour=max_commits_per_hour,
            max_calls_per_5min=max_calls_per_5min,
            workers=workers,
            endpoint=endpoint,
            events=display,
            playground_url=playground_url,
        )
    finally:
        display.close()
    if dry_run:
        for outcome in report.outcomes:
            if outcome.status == WOULD_UPDATE:
                click.echo(outcome.diff, nl=False)
    click.echo(summary_table(report))
    click.echo(
        f"{len(report.outcomes)} repos in {report.seconds:.1f} s, {report.api_calls} API calls"
        f"{', dry run: nothing committed' if dry_run else ''}",
        err=True,
    )
    if report.failed:
        sys.exit(1)


COMMANDS: list[click.Command] = [card, publish, delete, cards]
