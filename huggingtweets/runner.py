"""``huggingtweets run``: fetch -> prepare -> train -> generate -> card -> publish, resumable.

Each stage that finishes writes ``DIR/.stages/<stage>.json`` (atomically) with a fingerprint of
its settings and of what the stage before it produced. A re-run skips a finished stage whose
fingerprint still matches; a changed setting changes that stage's fingerprint, and because each
fingerprint includes the previous stage's output token, every later stage re-runs too, while
earlier ones are skipped. Training interrupted (crash, Ctrl-C) keeps a "running" record with its
fingerprint; the next run with the same fingerprint resumes from ``DIR/checkpoints``.
Publishing is the last stage and only starts when every earlier one finished in this run or a
matching earlier one, so a failure publishes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingtweets.config import RunConfig, validate
from huggingtweets.errors import Cancelled, HubError, InputError
from huggingtweets.events import CancelToken, Events, Message, StageFinished, StageStarted, ignore
from huggingtweets.runfolder import atomic_write_json, default_run_dir, read_json
from huggingtweets.stagerecords import (
    ALWAYS_RUN,
    STAGES,
    Team,
    build_summary,
    changes,
    file_identity,
    fingerprint,
    outputs_present,
    read_record,
    run_lock,
    stage_status,
    write_record,
)

__all__ = ["STAGES", "RunResult", "StageContext", "build_summary", "file_identity", "read_record", "run",
           "stage_status"]

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass
class StageContext:
    """What a stage function gets. Stage functions are the one seam tests replace."""

    config: RunConfig
    run_dir: Path
    token: str | None
    endpoint: str
    events: Events = ignore
    cancel: CancelToken | None = None
    resume: bool = False  # train only: continue from DIR/checkpoints
    repo_id: str | None = None  # resolved before the card is written (the card shows it)
    namespace: str | None = None

    def say(self, text: str) -> None:
        """A stage's note for the user, as a ``Message`` event."""
        self.events(Message(text=text))


Stage = Callable[[StageContext], "dict[str, Any] | None"]


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: bool = False
    is_main: bool = True  # False in the other processes of an `accelerate launch`: they print nothing


# ---------------------------------------------------------------- the real stages (lazy imports)


def _fetch(ctx: StageContext) -> dict:
    from huggingtweets.sources import fetch

    c = ctx.config
    users = fetch(ctx.run_dir, handles=c.handles, archives=c.archives, posts_files=c.posts_files,
                  max_posts=c.max_posts, price_per_read=c.price_per_read, echo=ctx.say)
    return {"users": [u["handle"] for u in users]}


def _prepare(ctx: StageContext) -> dict:
    from huggingtweets.prepare import prepare

    c = ctx.config
    report = prepare(ctx.run_dir, seed=c.seed, keep_newlines=c.keep_newlines, keep_replies=c.keep_replies)
    return {"kept": {h: u["kept"] for h, u in report["users"].items()}}


# TrainConfig fields that steer a session but not the trained weights: changing one must not
# re-train, and a run stopped with stop_after_steps must resume under the same fingerprint.
RUN_CONTROL = frozenset({"resume", "stop_after_steps", "debug_nan_at_step", "report_to",
                         "keep_checkpoints", "checkpoint_every", "cpu_threads"})
NOT_OVERRIDABLE = frozenset({"resume", "base_model", "predictions"})  # the runner sets these


def train_config(config: RunConfig, *, resume: bool = False):
    """The TrainConfig this run trains with: common knobs, then the ``train:`` overrides."""
    from huggingtweets.train import TrainConfig
    from huggingtweets.train.config import coerce_file_values

    known = set(TrainConfig.field_names())
    values: dict[str, Any] = {"base_model": config.base_model, "seed": config.seed}
    if config.epochs is not None:
        values["epochs"] = config.epochs
    if config.learning_rate is not None:
        values["learning_rate"] = config.learning_rate
    for key, _ in config.train:
        if key not in known or key in NOT_OVERRIDABLE:
            raise InputError(
                f"config key 'train.{key}' is not a training setting run takes; "
                f"valid: {', '.join(sorted(known - NOT_OVERRIDABLE))}",
                hint="base_model is a top-level key; sample posts come from the generate stage",
            )
    # The same typing as `train --config FILE` (YAML reads `mixed_precision: no` as False, `1e-3` as text).
    values.update(coerce_file_values(dict(config.train), "the config's train: section"))
    # The generate stage writes predictions.json, so training does not (it would be done twice).
    values.update(resume=resume, predictions=0)
    return TrainConfig(**values)


def _train(ctx: StageContext) -> dict:
    from huggingtweets.errors import TrainingError
    from huggingtweets.train import train

    summary = train(ctx.run_dir, train_config(ctx.config, resume=ctx.resume), events=ctx.events,
                    cancel=ctx.cancel)
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

    predictions = write_predictions(ctx.run_dir, n_samples=ctx.config.samples, seed=ctx.config.seed)
    return {"memorization_rate": predictions.get("memorization_rate")}


def _card(ctx: StageContext) -> dict:
    from huggingtweets.card import write_card
    from huggingtweets.publish import card_hub_url

    write_card(ctx.run_dir, repo_id=ctx.repo_id, template=ctx.config.template,
               hub_url=card_hub_url(ctx.endpoint))
    return {"repo_id": ctx.repo_id}


def _publish(ctx: StageContext) -> dict:
    from huggingtweets.publish import publish

    result = publish(ctx.run_dir, repo_id=ctx.repo_id, private=ctx.config.private,
                     endpoint=ctx.endpoint, token=ctx.token, template=ctx.config.template)
    return {"repo_id": result.repo_id, "url": result.url, "commit": result.commit_oid,
            "created": result.created, "changed": result.changed, "private": result.private}


DEFAULT_STAGES: dict[str, Stage] = {
    "fetch": _fetch, "prepare": _prepare, "train": _train,
    "generate": _generate, "card": _card, "publish": _publish,
}


# ---------------------------------------------------------------- settings per stage


def stage_settings(name: str, ctx: StageContext) -> dict[str, Any]:
    """The settings a stage's output depends on; changing one re-runs that stage and the later ones."""
    c = ctx.config
    if name == "fetch":
        return {"handles": sorted(h.lstrip("@").lower() for h in c.handles),
                "archives": [[file_identity(p), (h or "").lstrip("@").lower()] for p, h in c.archives],
                "posts_files": [[file_identity(p), h.lstrip("@").lower()] for p, h in c.posts_files],
                "max_posts": c.max_posts}
    if name == "prepare":
        return {"seed": c.seed, "keep_newlines": c.keep_newlines, "keep_replies": c.keep_replies}
    if name == "train":
        return {"base_model": c.base_model, "epochs": c.epochs, "learning_rate": c.learning_rate,
                "seed": c.seed, "train": {k: v for k, v in c.train if k not in RUN_CONTROL}}
    if name == "generate":
        return {"seed": c.seed, "samples": c.samples}
    if name == "card":
        # The packaged templates count too: a new huggingtweets version with a new card re-renders it.
        from huggingtweets.publish import card_hub_url

        template = file_identity(c.template) if c.template else _packaged_templates()
        return {"template": template, "repo_id": ctx.repo_id, "hub_url": card_hub_url(ctx.endpoint)}
    if name == "publish":
        return {"repo_id": ctx.repo_id, "private": c.private, "endpoint": ctx.endpoint}
    raise ValueError(f"unknown stage {name!r}")


def _packaged_templates() -> dict:
    from huggingtweets.paths import templates_dir

    digest = hashlib.sha256()
    root = templates_dir()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return {"packaged": digest.hexdigest()}


# ---------------------------------------------------------------- run


def resolve_run_dir(config: RunConfig) -> Path:
    """``--run-dir``, else ``runs/<handles>``; an archive names its owner, so it is read for that."""
    if config.run_dir:
        return Path(config.run_dir)
    handles = [*config.handles, *(h for _, h in config.posts_files)]
    for archive, handle in config.archives:
        if handle:
            handles.append(handle)
            continue
        from huggingtweets.sources.archive import read_archive

        user, _ = read_archive(archive)
        handles.append(user.handle)
    return default_run_dir(handles)


def hub_token() -> str | None:
    """The token from the standard places (HF_TOKEN, `hf auth login`); never printed or stored."""
    from huggingface_hub import get_token

    return get_token()


def _preflight(ctx: StageContext) -> None:
    """Fail before hours of training when the bot could not be published anyway: no token, a token
    the Hub refuses, or a namespace it may not write to."""
    if not ctx.token:
        raise HubError("no Hugging Face token found; publishing needs one with write access",
                       hint="set HF_TOKEN or run `hf auth login`, or pass --no-publish")
    from huggingtweets.hubclient import HubClient

    client = HubClient(endpoint=ctx.endpoint, token=ctx.token)
    c = ctx.config
    ctx.namespace = (c.repo_id or "").split("/")[0] or c.org or client.whoami()["name"]
    # Archive owners are known only after fetch; the name here is only for the error message.
    name = (c.repo_id or "").partition("/")[2] or "-".join(sorted(
        h.lstrip("@").lower() for h in (*c.handles, *(h for _, h in c.posts_files), *(h for _, h in c.archives if h))
    )) or "NAME"
    client.check_namespace(f"{ctx.namespace}/{name}")


# Not a stage (it records nothing), but it talks to the Hub, so it sits at the same seam.
DEFAULT_STAGES["preflight"] = _preflight


def _resolve_repo_id(ctx: StageContext) -> str:
    if ctx.config.repo_id:
        return ctx.config.repo_id
    users = read_json(ctx.run_dir / "users.json")
    name = "-".join(sorted(u["handle"].lower() for u in users))
    # Without publishing there may be no token to ask whose namespace it is; the card still
    # needs a repo id for its usage snippet, so the original's org stands in.
    return f"{ctx.namespace or ctx.config.org or 'huggingtweets'}/{name}"


def run(config: RunConfig, *, token: str | None = None, events: Events = ignore,
        cancel: CancelToken | None = None, stages: dict[str, Stage] | None = None,
        rerun_from: str | None = None) -> RunResult:
    """Run every stage that is not already finished with the same settings; return the summary.

    Progress goes to ``events`` (``StageStarted``/``StageFinished`` per stage, the training's
    ``TrainStep``/``EpochEnd``, ``Message`` notes). ``cancel`` stops training at its next step
    with a checkpoint (``errors.Cancelled``); the same call again resumes from it.
    Under ``accelerate launch`` the main process runs every stage and the others join training.
    """
    validate(config)
    if rerun_from is not None and rerun_from not in STAGES:
        raise InputError(f"stage {rerun_from!r} does not exist; expected one of {', '.join(STAGES)}")
    impl = {**DEFAULT_STAGES, **(stages or {})}
    endpoint = (config.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    team = Team()
    run_dir = resolve_run_dir(config)
    ctx = StageContext(config=config, run_dir=run_dir, token=None, endpoint=endpoint,
                       events=events if team.is_main else ignore, cancel=cancel)
    if not team.is_main:
        return _follow(team, ctx, impl["train"])
    if config.publish:
        ctx.token = token if token is not None else hub_token()
    announced = False
    if team.state is not None:  # a plan left by an earlier launch must not be read as this one's
        team.plan_path(run_dir).unlink(missing_ok=True)
    try:
        if config.publish:
            impl["preflight"](ctx)
        with run_lock(run_dir):
            result = _lead(ctx, impl, team, rerun_from=rerun_from)
        announced = True
    finally:
        if not announced and team.state is not None and not team.plan_path(run_dir).is_file():
            team.announce(run_dir, "abort")
    return result


def _follow(team: Team, ctx: StageContext, train: Stage) -> RunResult:
    plan = team.follow(ctx.run_dir)
    result = RunResult(run_dir=ctx.run_dir, summary={}, is_main=False)
    if plan["train"] == "abort":
        return result
    if plan["train"] == "run":
        ctx.resume = bool(plan["resume"])
        train(ctx)
        result.ran.append("train")
    return result


def _lead(ctx: StageContext, impl: dict[str, Stage], team: Team, *, rerun_from: str | None) -> RunResult:
    config, run_dir, events = ctx.config, ctx.run_dir, ctx.events
    names = STAGES if config.publish else STAGES[:-1]
    result = RunResult(run_dir=run_dir, summary={})
    results: dict[str, dict] = {}
    upstream = ""
    for i, name in enumerate(names):
        where = {"stage": name, "index": i + 1, "total": len(names)}
        if name in ("card", "publish") and ctx.repo_id is None:
            ctx.repo_id = _resolve_repo_id(ctx)
        settings = stage_settings(name, ctx)
        fp = fingerprint(name, settings, upstream)
        record = read_record(run_dir, name)
        forced = rerun_from is not None and i >= STAGES.index(rerun_from)
        if (not forced and name not in ALWAYS_RUN and record and record.get("status") == "done"
                and record.get("fingerprint") == fp and outputs_present(run_dir, name)):
            if name == "train":
                team.announce(run_dir, "skip")
            result.skipped.append(name)
            results[name] = record.get("result") or {}
            upstream = record["chain"]
            events(StageStarted(**where, reason="already done, skipped"))
            events(StageFinished(**where, skipped=True, result=results[name]))
            continue
        ctx.resume = (name == "train" and not forced and record is not None
                      and record.get("status") in UNFINISHED and record.get("fingerprint") == fp
                      and (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()))
        events(StageStarted(**where, reason=_why(name, record, fp, settings, forced, ctx.resume)))
        if name == "train" and not ctx.resume:
            # Checkpoints of other settings must not be resumed by accident.
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        result.resumed = result.resumed or ctx.resume
        write_record(run_dir, name, "running", fp, settings)
        if name == "train":
            team.announce(run_dir, "run", ctx.resume)
        started = time.perf_counter()
        try:
            out = impl[name](ctx) or {}
        except Exception as err:
            status = "cancelled" if isinstance(err, Cancelled) else "failed"
            write_record(run_dir, name, status, fp, settings, error=str(err))
            raise
        upstream = hashlib.sha256(f"{fp}:{uuid.uuid4().hex}".encode()).hexdigest()
        write_record(run_dir, name, "done", fp, settings, chain=upstream, result=out)
        results[name] = out
        result.ran.append(name)
        events(StageFinished(**where, seconds=round(time.perf_counter() - started, 3), result=out))
    result.summary = build_summary(run_dir, results, ran=result.ran, skipped=result.skipped)
    atomic_write_json(run_dir / "run_summary.json", result.summary)
    return result


# A train record in one of these states, with a matching fingerprint and checkpoints, is resumed.
UNFINISHED = ("running", "failed", "cancelled")


def _why(name: str, record: dict | None, fp: str, settings: dict, forced: bool, resume: bool) -> str:
    if resume:
        return "resuming from the last checkpoint"
    if forced:
        return "re-running (asked to)"
    if record is None:
        return "starting"
    if record.get("status") != "done":
        return "starting again (the last attempt did not finish)"
    if record.get("fingerprint") == fp:
        if name in ALWAYS_RUN:
            return "checking the Hub copy (an unchanged bot makes no commit)"
        return "outputs missing, running again"
    changed = changes(record.get("settings") or {}, settings)
    return f"settings changed ({changed}), running again" if changed else "an earlier stage re-ran, running again"
