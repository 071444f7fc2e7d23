"""``huggingtweets refresh``: re-train published bots whose live sources posted enough since."""

from __future__ import annotations

import sys

import click


@click.command("refresh")
@click.argument("repo_ids", nargs=-1, metavar="REPO_ID...")
@click.option(
    "--author", metavar="ORG", help="Also every huggingtweets bot of this Hub user or organization."
)
@click.option(
    "--min-new-posts",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Re-train only when at least this many new posts arrived, all users together.",
)
@click.option(
    "--base-model",
    metavar="NAME",
    help="Re-train from this base instead of the recorded one (needed when the bot was trained from "
    "a local folder: a bot's huggingtweets.json may name only a Hub id, gpt2 or tiny).",
)
@click.option(
    "--delete-opted-out",
    is_flag=True,
    help="Delete the bots of accounts that now signal they are not to be read (asks first, as delete does).",
)
@click.option("--yes", is_flag=True, help="With --delete-opted-out: do not ask for confirmation.")
@click.option(
    "--endpoint",
    metavar="URL",
    envvar="HF_ENDPOINT",
    help="Hub URL [default: HF_ENDPOINT or huggingface.co].",
)
def refresh(
    repo_ids: tuple[str, ...],
    author: str | None,
    min_new_posts: int,
    base_model: str | None,
    delete_opted_out: bool,
    yes: bool,
    endpoint: str | None,
) -> None:
    """Re-train bots on what their live sources (X API, Bluesky, Mastodon) posted since their last
    training, and publish one new commit each; bots with too few new posts are left as they are.

    Bots made from an account export or a posts file are skipped: those posts are not on the Hub.
    Every account's opt-out signals (#nobot in the bio, Mastodon's noindex, Bluesky's
    !no-unauthenticated...) are read again first: a bot of an account that now says no is not
    re-trained, and is reported; --delete-opted-out deletes it.
    Exits 1 when any bot failed. The Hub token comes from HF_TOKEN or `hf auth login`.

    \b
    huggingtweets refresh huggingtweets/alice_at_fosstodon.org
    huggingtweets refresh --author huggingtweets --min-new-posts 100
    huggingtweets refresh --author huggingtweets --delete-opted-out
    """
    from huggingtweets.refresh import FAILED
    from huggingtweets.refresh import refresh as refresh_bots

    overrides = {"train": {"base_model": base_model}} if base_model else None
    outcomes = refresh_bots(
        list(repo_ids),
        author=author,
        min_new_posts=min_new_posts,
        endpoint=endpoint,
        overrides=overrides,
        echo=click.echo,
        delete_opted_out=delete_opted_out,
        confirm=None if yes else (lambda question: click.confirm(question, default=False)),
    )
    if any(o.status == FAILED for o in outcomes):
        sys.exit(1)


COMMANDS = [refresh]
