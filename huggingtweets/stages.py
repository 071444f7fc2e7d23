"""The pipeline's stages, each declared once: name, function, the settings its output depends on,
the files it leaves. ``huggingtweets.runner`` runs them in this order, skipping what is done.

Stage functions import their stage module lazily, so importing this (the CLI does, for the stage
names) stays light. They are the one seam tests replace (``runner.run(stages={name: fn})``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingtweets.config import RunConfig
from huggingtweets.events import CancelToken, Events, Message, ignore
from huggingtweets.runfolder import LAYOUT, bot_name

if TYPE_CHECKING:
    from huggingtweets.publish import PublishTarget
from huggingtweets.stagerecords import file_identity


@dataclass
class StageContext:
    """What a stage function gets. Stage functions are the one seam tests replace."""

    config: RunConfig
    run_dir: Path
    token: str | None
    endpoint: str
    client: Any = None  # the run's one HubClient, from the publishing pre-flight; None without publishing
    events: Events = ignore
    cancel: CancelToken | None = None
    resume: bool = False  # train only: continue from DIR/checkpoints
    repo_id: str | None = None  # resolved once fetch has named the users (the card shows it)
    target: PublishTarget | None = None  # with ``repo_id``, where publish pushes (client, visibility)

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


# ---------------------------------------------------------------- each stage's settings
# A stage reads its settings from one frozen dataclass built from the context (``of``), and the
# same value is its fingerprint (``fingerprint_of``), so no setting reaches a stage without being
# fingerprinted. A field's ``fingerprint`` metadata says how it is recorded: a file by its content's
# identity, a handle by its key; ``None`` leaves out what cannot change the output (a price).


def _identity_pairs(pairs: tuple) -> list:
    return [[file_identity(p), bot_name([h]) if h else ""] for p, h in pairs]


def fingerprint_of(settings: Any) -> dict[str, Any]:
    """The settings as recorded and compared: ``asdict``, each field through its ``fingerprint``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        how = f.metadata.get("fingerprint", "as is")
        value = getattr(settings, f.name)
        if how is None or (value is None and f.metadata.get("omit_none")):
            continue
        if "omit_if" in f.metadata and value == f.metadata["omit_if"]:
            continue  # a setting added later, at the value older run folders were made with
        out[f.name] = how(value) if callable(how) else value
    return out


@dataclass(frozen=True)
class FetchSettings:
    handles: tuple[str, ...] = field(metadata={"fingerprint": lambda hs: sorted(bot_name([h]) for h in hs)})
    archives: tuple[tuple[str, str | None], ...] = field(metadata={"fingerprint": _identity_pairs})
    posts_files: tuple[tuple[str, str], ...] = field(metadata={"fingerprint": _identity_pairs})
    max_posts: int | None
    price_per_read: float = field(metadata={"fingerprint": None})  # the cost estimate only
    max_archive_mb: int = field(metadata={"fingerprint": None})  # a guard: it never changes the posts

    @classmethod
    def of(cls, ctx: StageContext) -> FetchSettings:
        c = ctx.config
        return cls(c.handles, c.archives, c.posts_files, c.max_posts, c.price_per_read, c.max_archive_mb)


@dataclass(frozen=True)
class PrepareSettings:
    seed: int
    keep_newlines: bool
    keep_replies: bool
    detect_languages: bool
    base_model: str  # only whose tokenizer's fit the report measures
    validation: str = field(default="random", metadata={"omit_if": "random"})

    @classmethod
    def of(cls, ctx: StageContext) -> PrepareSettings:
        c = ctx.config
        return cls(
            seed=c.train.seed,
            keep_newlines=c.keep_newlines,
            keep_replies=c.keep_replies,
            detect_languages=c.detect_languages,
            base_model=c.train.base_model,
            validation=c.validation,
        )


@dataclass(frozen=True)
class GenerateSettings:
    seed: int
    samples: int

    @classmethod
    def of(cls, ctx: StageContext) -> GenerateSettings:
        return cls(seed=ctx.config.train.seed, samples=ctx.config.samples)


def _template_identity(template: str | None) -> dict:
    # The packaged templates count too: a new huggingtweets version with a new card re-renders it.
    return file_identity(template) if template else _packaged_templates()


@dataclass(frozen=True)
class CardSettings:
    template: str | None = field(metadata={"fingerprint": _template_identity})
    repo_id: str | None
    hub_url: str
    # Recorded only when set: runs recorded before this setting existed stay current.
    playground_url: str | None = field(default=None, metadata={"omit_none": True})

    @classmethod
    def of(cls, ctx: StageContext) -> CardSettings:
        from huggingtweets.publish import card_hub_url

        c = ctx.config
        return cls(
            template=c.template,
            repo_id=ctx.repo_id,
            hub_url=card_hub_url(ctx.endpoint),
            playground_url=c.playground_url,
        )


@dataclass(frozen=True)
class PublishSettings:
    repo_id: str | None
    private: bool | None
    endpoint: str

    @classmethod
    def of(cls, ctx: StageContext) -> PublishSettings:
        return cls(repo_id=ctx.repo_id, private=ctx.config.private, endpoint=ctx.endpoint)


def _settings(kind: type) -> Callable[[StageContext], dict[str, Any]]:
    return lambda ctx: fingerprint_of(kind.of(ctx))


# ---------------------------------------------------------------- the stages


def _fetch(ctx: StageContext, clients=None) -> dict:
    from huggingtweets.sources import fetch
    from huggingtweets.sources.safezip import archive_limit

    s = FetchSettings.of(ctx)
    with archive_limit(s.max_archive_mb):
        users = fetch(
            ctx.run_dir,
            handles=s.handles,
            archives=s.archives,
            posts_files=s.posts_files,
            max_posts=s.max_posts,
            price_per_read=s.price_per_read,
            clients=clients,
            echo=ctx.say,
        )
    return {"users": [u["handle"] for u in users]}


def fetch_stage(clients=None) -> Stage:
    """The fetch stage reading live accounts through ``clients`` (``sources.collect``'s seam)."""
    return functools.partial(_fetch, clients=clients)


def _fetch_settings(ctx: StageContext) -> dict[str, Any]:
    from huggingtweets.sources.safezip import archive_limit

    s = FetchSettings.of(ctx)
    with archive_limit(s.max_archive_mb):  # an archive's identity is its table of contents
        return fingerprint_of(s)


def _prepare(ctx: StageContext) -> dict:
    from huggingtweets.prepare import prepare

    report = prepare(ctx.run_dir, **dataclasses.asdict(PrepareSettings.of(ctx)))
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

    s = GenerateSettings.of(ctx)
    predictions = write_predictions(ctx.run_dir, n_samples=s.samples, seed=s.seed)
    return {"memorization_rate": predictions.get("memorization_rate")}


def _card(ctx: StageContext) -> dict:
    from huggingtweets.card import write_card

    s = CardSettings.of(ctx)
    write_card(
        ctx.run_dir,
        repo_id=s.repo_id,
        template=s.template,
        hub_url=s.hub_url,
        playground_url=s.playground_url,
    )
    return {"repo_id": s.repo_id}


def _publish(ctx: StageContext) -> dict:
    # The card stage ran before this one: the folder pushed is finished as it is.
    from huggingtweets.librarybars import quiet_hub_bars
    from huggingtweets.publish import publish_run, resolve_target

    s = PublishSettings.of(ctx)
    target = ctx.target
    if target is None:  # a pre-flight replaced by a test gave no client
        from huggingtweets.hubclient import HubClient

        client = HubClient(endpoint=s.endpoint, token=ctx.token)
        target = resolve_target(ctx.run_dir, client=client, repo_id=s.repo_id, private=s.private)
    with quiet_hub_bars():  # huggingface_hub's own upload bar would fight our Upload events
        # The card stage rendered the card just before: publish_run finds it current.
        result = publish_run(ctx.run_dir, target, events=ctx.events)
    return {
        "repo_id": result.repo_id,
        "url": result.url,
        "commit": result.commit_oid,
        "created": result.created,
        "changed": result.changed,
        "private": result.private,
    }


def _paths(*names: str) -> tuple[str, ...]:
    """A stage's checked outputs, by their names in the run folder's layout."""
    return tuple(LAYOUT[n][0] for n in names)


def _packaged_templates() -> dict:
    from huggingtweets.paths import templates_dir

    digest = hashlib.sha256()
    root = templates_dir()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return {"packaged": digest.hexdigest()}


STAGE_LIST: tuple[StageSpec, ...] = (
    StageSpec("fetch", _fetch, _fetch_settings, _paths("users", "raw")),
    StageSpec(
        "prepare",
        _prepare,
        _settings(PrepareSettings),
        _paths("dataset", "data_report"),
    ),
    StageSpec(
        "train",
        _train,
        lambda ctx: ctx.config.train.weight_settings(),
        _paths("model_config", "training_summary"),
    ),
    StageSpec(
        "generate",
        _generate,
        _settings(GenerateSettings),
        _paths("predictions"),
    ),
    StageSpec("card", _card, _settings(CardSettings), _paths("card", "metadata"), needs_repo_id=True),
    StageSpec(
        "publish",
        _publish,
        _settings(PublishSettings),
        (),
        always_run=True,
        needs_repo_id=True,
    ),
)
STAGES: tuple[str, ...] = tuple(s.name for s in STAGE_LIST)
# A train record in one of these states, with a matching fingerprint and checkpoints, is resumed.
UNFINISHED = ("running", "failed", "cancelled")
