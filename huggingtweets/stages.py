"""The pipeline's stages, each declared once: name, function, the settings its output depends on,
the files it leaves. ``huggingtweets.runner`` runs them in this order, skipping what is done.

Stage functions import their stage module lazily, so importing this (the CLI does, for the stage
names) stays light. They are the one seam tests replace (``runner.run(stages={name: fn})``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.config import RunConfig
from huggingtweets.events import CancelToken, Events, Message, ignore
from huggingtweets.runfolder import bot_name
from huggingtweets.stagerecords import file_identity


@dataclass
class StageContext:
    """What a stage function gets. Stage functions are the one seam tests replace."""

    config: RunConfig
    run_dir: Path
    token: str | None
    endpoint: str
    namespace: str | None = None  # from the publishing pre-flight; None without publishing
    events: Events = ignore
    cancel: CancelToken | None = None
    resume: bool = False  # train only: continue from DIR/checkpoints
    repo_id: str | None = None  # resolved once fetch has named the users (the card shows it)

    def say(self, text: str) -> None:
        """A stage's note for the user, as a ``Message`` event."""
        self.events(Message(text=text))


Stage = Callable[[StageContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class StageSpec:
    """One stage: what it runs, what its output depends on, what it leaves in the run folder."""

    name: str
    run: Stage
    settings: Callable[[StageContext], dict[str, Any]]
    outputs: tuple[str, ...]  # must exist (and be unchanged) for a finished stage to count as finished
    # Publish leaves nothing local to check: the repo may have been deleted (`huggingtweets delete`, a
    # wiped demo Hub) since, so "already done" would print a dead URL. Re-publishing is cheap: an
    # unchanged folder makes no commit.
    always_run: bool = False
    needs_repo_id: bool = False


def _fetch(ctx: StageContext) -> dict:
    from huggingtweets.sources import fetch

    c = ctx.config
    users = fetch(
        ctx.run_dir,
        handles=c.handles,
        archives=c.archives,
        posts_files=c.posts_files,
        max_posts=c.max_posts,
        price_per_read=c.price_per_read,
        echo=ctx.say,
    )
    return {"users": [u["handle"] for u in users]}


def _fetch_settings(ctx: StageContext) -> dict:
    c = ctx.config
    return {
        "handles": sorted(bot_name([h]) for h in c.handles),
        "archives": [[file_identity(p), bot_name([h]) if h else ""] for p, h in c.archives],
        "posts_files": [[file_identity(p), bot_name([h])] for p, h in c.posts_files],
        "max_posts": c.max_posts,
    }


def _prepare(ctx: StageContext) -> dict:
    from huggingtweets.prepare import prepare

    c = ctx.config
    report = prepare(
        ctx.run_dir, seed=c.train.seed, keep_newlines=c.keep_newlines, keep_replies=c.keep_replies
    )
    return {"kept": {h: u["kept"] for h, u in report["users"].items()}}


def _train(ctx: StageContext) -> dict:
    # A child process (or an `accelerate launch` of several): training's process-wide state (threads,
    # allocator, loggers, accelerate's singletons) never reaches the pipeline's own process.
    from huggingtweets.errors import TrainingError
    from huggingtweets.train.child import launched_rank, train_in_child

    summary = train_in_child(
        ctx.run_dir,
        ctx.config.train,
        resume=ctx.resume,
        events=ctx.events,
        cancel=ctx.cancel,
        endpoint=ctx.endpoint,
        # `huggingtweets run` started by `accelerate launch --num_processes N`: the training gets N.
        num_processes=launched_rank()[1],
    )
    if "stopped_after_steps" in summary:
        # A deliberate early stop (train.stop_after_steps) leaves training unfinished, like Ctrl-C.
        raise TrainingError(
            f"training stopped after {summary['stopped_after_steps']} of {summary['total_steps']} steps "
            "(train.stop_after_steps); nothing was published",
            hint="run the same command again without stop_after_steps to resume from the checkpoint",
        )
    return {"steps": summary.get("steps"), "perplexity": summary.get("perplexity")}


def _generate(ctx: StageContext) -> dict:
    from huggingtweets.generate import write_predictions

    predictions = write_predictions(ctx.run_dir, n_samples=ctx.config.samples, seed=ctx.config.train.seed)
    return {"memorization_rate": predictions.get("memorization_rate")}


def _card(ctx: StageContext) -> dict:
    from huggingtweets.card import write_card
    from huggingtweets.publish import card_hub_url

    write_card(
        ctx.run_dir, repo_id=ctx.repo_id, template=ctx.config.template, hub_url=card_hub_url(ctx.endpoint)
    )
    return {"repo_id": ctx.repo_id}


def _card_settings(ctx: StageContext) -> dict:
    # The packaged templates count too: a new huggingtweets version with a new card re-renders it.
    from huggingtweets.publish import card_hub_url

    c = ctx.config
    template = file_identity(c.template) if c.template else _packaged_templates()
    return {"template": template, "repo_id": ctx.repo_id, "hub_url": card_hub_url(ctx.endpoint)}


def _publish(ctx: StageContext) -> dict:
    # The card stage ran before this one: the folder pushed is finished as it is.
    from huggingtweets.librarybars import quiet_hub_bars
    from huggingtweets.publish import publish

    with quiet_hub_bars():  # huggingface_hub's own upload bar would fight our Upload events
        result = publish(
            ctx.run_dir,
            repo_id=ctx.repo_id,
            private=ctx.config.private,
            endpoint=ctx.endpoint,
            token=ctx.token,
            events=ctx.events,
        )
    return {
        "repo_id": result.repo_id,
        "url": result.url,
        "commit": result.commit_oid,
        "created": result.created,
        "changed": result.changed,
        "private": result.private,
    }


def _packaged_templates() -> dict:
    from huggingtweets.paths import templates_dir

    digest = hashlib.sha256()
    root = templates_dir()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return {"packaged": digest.hexdigest()}


STAGE_LIST: tuple[StageSpec, ...] = (
    StageSpec("fetch", _fetch, _fetch_settings, ("users.json", "raw")),
    StageSpec(
        "prepare",
        _prepare,
        lambda ctx: {
            "seed": ctx.config.train.seed,
            "keep_newlines": ctx.config.keep_newlines,
            "keep_replies": ctx.config.keep_replies,
        },
        ("dataset", "data_report.json"),
    ),
    StageSpec(
        "train",
        _train,
        lambda ctx: ctx.config.train.weight_settings(),
        ("model/config.json", "training_summary.json"),
    ),
    StageSpec(
        "generate",
        _generate,
        lambda ctx: {"seed": ctx.config.train.seed, "samples": ctx.config.samples},
        ("predictions.json",),
    ),
    StageSpec(
        "card", _card, _card_settings, ("model/README.md", "model/huggingtweets.json"), needs_repo_id=True
    ),
    StageSpec(
        "publish",
        _publish,
        lambda ctx: {"repo_id": ctx.repo_id, "private": ctx.config.private, "endpoint": ctx.endpoint},
        (),
        always_run=True,
        needs_repo_id=True,
    ),
)
STAGES: tuple[str, ...] = tuple(s.name for s in STAGE_LIST)
# A train record in one of these states, with a matching fingerprint and checkpoints, is resumed.
UNFINISHED = ("running", "failed", "cancelled")
