"""``huggingtweets run``: fetch -> prepare -> train -> generate -> card -> publish, resumable.

Each stage is declared once, in ``huggingtweets.stages.STAGE_LIST``: its name, its function, the settings its output
depends on and the files it leaves. A stage that finishes writes ``DIR/.stages/<stage>.json``
(atomically) with a fingerprint of those settings and of what the stage before it produced, and
the identity (size, modification time) of its outputs. A re-run skips a finished stage whose
fingerprint still matches and whose outputs are unchanged; a changed setting changes that stage's
fingerprint, and because each fingerprint includes the previous stage's output token, every later
stage re-runs too, while earlier ones are skipped. Outputs changed under a finished stage (a
stage command run by hand on the folder) re-run it and the later ones. Training interrupted
(crash, Ctrl-C, a cancel) keeps an unfinished record with its fingerprint; the next run with the
same fingerprint resumes from ``DIR/checkpoints``. Publishing is the last stage and only starts
when every earlier one finished in this run or a matching earlier one, so a failure publishes
nothing.
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
from typing import TYPE_CHECKING, Any

from huggingtweets.config import RunConfig, validate
from huggingtweets.errors import Cancelled, HubError, InputError
from huggingtweets.events import CancelToken, Events, StageFinished, StageStarted, ignore
from huggingtweets.runfolder import RunFolder, atomic_write_json, bot_name, default_run_dir
from huggingtweets.stagerecords import (
    build_summary,
    changes,
    file_identity,
    fingerprint,
    outputs_identity,
    read_record,
    run_lock,
    write_record,
)
from huggingtweets.stages import STAGE_LIST, STAGES, UNFINISHED, Stage, StageContext, StageSpec

if TYPE_CHECKING:
    from huggingtweets.hubclient import HubClient

__all__ = [
    "STAGES",
    "STAGE_LIST",
    "RunResult",
    "StageContext",
    "StageSpec",
    "build_summary",
    "file_identity",
    "read_record",
    "run",
    "stage_status",
]

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: bool = False


def stage_status(run_dir: Path | str) -> dict[str, str]:
    """Each stage's recorded status in a run folder ("done", "running", "failed", "cancelled", "not run")."""
    from huggingtweets.errors import StageError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StageError(f"run folder {run_dir} does not exist", hint="run `huggingtweets run ...` first")
    return {name: (read_record(run_dir, name) or {}).get("status", "not run") for name in STAGES}


# ---------------------------------------------------------------- before the stages


def resolve_run_dir(config: RunConfig) -> Path:
    """``--run-dir``, else ``runs/<handles>``; an archive names its owner, so it is read for that."""
    from huggingtweets.sources import check_handle

    # Every handle is parsed here, before anything runs: a bad one fails at once, on every network.
    for handle in (
        *config.handles,
        *(h for _, h in config.posts_files),
        *(h for _, h in config.archives if h),
    ):
        check_handle(handle)
    if config.run_dir:
        return Path(config.run_dir)
    from huggingtweets.sources.safezip import archive_limit

    with archive_limit(config.max_archive_mb):  # an archive without a handle is read for its owner
        return default_run_dir_for(config.handles, config.archives, config.posts_files)


def default_run_dir_for(handles, archives, posts_files) -> Path:
    """``runs/<bot name>`` for these sources, as fetch will name the users (handles checked first:
    one that is not a handle must not become a path)."""
    from huggingtweets.sources import check_handle

    names = [check_handle(h) for h in (*handles, *(h for _, h in posts_files))]
    for archive, handle in archives:
        if handle:
            names.append(check_handle(handle))
            continue
        from huggingtweets.sources import read_export

        user, _ = read_export(archive)  # X, Mastodon or Bluesky: told by the file's content
        names.append(user.handle)
    return default_run_dir(names)


def hub_token() -> str | None:
    """The token from the standard places (HF_TOKEN, `hf auth login`); never printed or stored."""
    from huggingface_hub import get_token

    return get_token()


def check_publishing(config: RunConfig, token: str | None, endpoint: str) -> HubClient:
    """Fail before hours of training when the bot could not be published anyway: no token, a token
    the Hub refuses, or a namespace it may not write to. Returns the run's one Hub client (its
    ``whoami`` asked once, here), which the publish target is built on once fetch named the users."""
    if not token:
        raise HubError(
            "no Hugging Face token found; publishing needs one with write access",
            hint="set HF_TOKEN or run `hf auth login`, or pass --no-publish",
        )
    from huggingtweets.hubclient import HubClient

    client = HubClient(endpoint=endpoint, token=token)
    namespace = _namespace(config, client)
    # Archive owners are known only after fetch; the name here is only for the error message.
    from huggingtweets.sources import check_handle

    # handle keys, as fetch will name the users: "@a@b.social" is "a_at_b.social" in a repo name
    known = [
        check_handle(h)
        for h in (*config.handles, *(h for _, h in config.posts_files), *(h for _, h in config.archives if h))
    ]
    name = (config.repo_id or "").partition("/")[2] or (bot_name(known) if known else "NAME")
    client.check_namespace(f"{namespace}/{name}")
    return client


def _namespace(config: RunConfig, client: HubClient | None) -> str:
    # Without publishing there may be no token to ask whose namespace it is; the card still
    # needs a repo id for its usage snippet, so the original's org stands in.
    fallback = client.whoami()["name"] if client is not None else "huggingtweets"
    return (config.repo_id or "").split("/")[0] or config.org or fallback


def _resolve_repo_id(ctx: StageContext) -> str:
    """The bot's repo id, once fetch has named the users; with a Hub client, also the publish target."""
    from huggingtweets.publish import PublishTarget, card_hub_url

    repo_id = ctx.config.repo_id
    if not repo_id:
        users = RunFolder(ctx.run_dir).read("users", needed_by="the repo id")
        repo_id = f"{_namespace(ctx.config, ctx.client)}/{bot_name(u['handle'] for u in users)}"
    if ctx.client is not None:
        ctx.target = PublishTarget(
            client=ctx.client,
            repo_id=repo_id,
            private=ctx.config.private,
            hub_url=card_hub_url(ctx.client.shown_endpoint),
        )
    return repo_id


# ---------------------------------------------------------------- run


def run(
    config: RunConfig,
    *,
    token: str | None = None,
    events: Events = ignore,
    cancel: CancelToken | None = None,
    stages: dict[str, Stage] | None = None,
    preflight: Callable[[RunConfig, str | None, str], HubClient | None] | None = None,
    rerun_from: str | None = None,
) -> RunResult:
    """Run every stage that is not already finished with the same settings; return the summary.

    Progress goes to ``events`` (``StageStarted``/``StageFinished`` per stage, the training's
    ``TrainStep``/``EpochEnd``, ``Message`` notes). ``cancel`` stops training at its next step
    with a checkpoint (``errors.Cancelled``); the same call again resumes from it. ``stages``
    replaces stage functions by name and ``preflight`` the publishing check (tests).
    The pipeline is one process; training runs in a child process of its own (``train.child``).
    """
    validate(config)
    if rerun_from is not None and rerun_from not in STAGES:
        raise InputError(f"stage {rerun_from!r} does not exist; expected one of {', '.join(STAGES)}")
    impl = {s.name: (stages or {}).get(s.name, s.run) for s in STAGE_LIST}
    endpoint = (config.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    run_dir = resolve_run_dir(config)
    token = (token if token is not None else hub_token()) if config.publish else None
    client = (preflight or check_publishing)(config, token, endpoint) if config.publish else None
    ctx = StageContext(
        config=config,
        run_dir=run_dir,
        token=token,
        endpoint=endpoint,
        client=client,
        events=events,
        cancel=cancel,
    )
    created = not run_dir.exists()
    try:
        with run_lock(run_dir):
            return _run_stages(ctx, impl, rerun_from=rerun_from)
    except BaseException:
        if created and not any((read_record(run_dir, n) or {}).get("status") == "done" for n in STAGES):
            # Nothing finished in a folder this run made: leave no lock or record behind.
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _finished(run_dir: Path, spec: StageSpec, record: dict | None, fp: str) -> bool:
    return bool(
        record
        and record.get("status") == "done"
        and record.get("fingerprint") == fp
        and all((run_dir / rel).exists() for rel in spec.outputs)
        and record.get("outputs") == outputs_identity(run_dir, spec.outputs)
    )


def _run_stages(ctx: StageContext, impl: dict[str, Stage], *, rerun_from: str | None) -> RunResult:
    config, run_dir, events = ctx.config, ctx.run_dir, ctx.events
    specs = STAGE_LIST if config.publish else STAGE_LIST[:-1]
    result = RunResult(run_dir=run_dir, summary={})
    results: dict[str, dict] = {}
    upstream = ""
    for i, spec in enumerate(specs):
        name = spec.name
        where = {"stage": name, "index": i + 1, "total": len(specs)}
        if spec.needs_repo_id and ctx.repo_id is None:
            ctx.repo_id = _resolve_repo_id(ctx)
        settings = spec.settings(ctx)
        fp = fingerprint(name, settings, upstream)
        record = read_record(run_dir, name)
        forced = rerun_from is not None and i >= STAGES.index(rerun_from)
        if not forced and not spec.always_run and _finished(run_dir, spec, record, fp):
            result.skipped.append(name)
            results[name] = record.get("result") or {}
            upstream = record["chain"]
            events(StageStarted(**where, reason="already done, skipped"))
            events(StageFinished(**where, skipped=True, result=results[name]))
            continue
        ctx.resume = (
            name == "train"
            and not forced
            and record is not None
            and record.get("status") in UNFINISHED
            and record.get("fingerprint") == fp
            and RunFolder(run_dir).checkpoints.is_dir()
            and any(RunFolder(run_dir).checkpoints.iterdir())
        )
        events(StageStarted(**where, reason=_why(spec, record, fp, settings, forced, ctx.resume)))
        if name == "train" and not ctx.resume:
            # Checkpoints of other settings must not be resumed by accident.
            shutil.rmtree(RunFolder(run_dir).checkpoints, ignore_errors=True)
        result.resumed = result.resumed or ctx.resume
        write_record(run_dir, name, "running", fp, settings)
        started = time.perf_counter()
        try:
            out = impl[name](ctx) or {}
        except Exception as err:
            status = "cancelled" if isinstance(err, Cancelled) else "failed"
            write_record(run_dir, name, status, fp, settings, error=str(err))
            raise
        upstream = hashlib.sha256(f"{fp}:{uuid.uuid4().hex}".encode()).hexdigest()
        write_record(
            run_dir,
            name,
            "done",
            fp,
            settings,
            chain=upstream,
            result=out,
            outputs=outputs_identity(run_dir, spec.outputs),
        )
        results[name] = out
        result.ran.append(name)
        events(StageFinished(**where, seconds=round(time.perf_counter() - started, 3), result=out))
    result.summary = build_summary(run_dir, results, ran=result.ran, skipped=result.skipped)
    atomic_write_json(RunFolder(run_dir).run_summary, result.summary)
    return result


def _why(spec: StageSpec, record: dict | None, fp: str, settings: dict, forced: bool, resume: bool) -> str:
    from huggingtweets.redact import redact

    if resume:
        return "resuming from the last checkpoint"
    if forced:
        return "re-running (asked to)"
    if record is None:
        return "starting"
    if record.get("status") != "done":
        return "starting again (the last attempt did not finish)"
    if record.get("fingerprint") == fp:
        if spec.always_run:
            return "checking the Hub copy (an unchanged bot makes no commit)"
        return "outputs missing or changed since it ran, running again"
    changed = redact(changes(record.get("settings") or {}, settings))
    return (
        f"settings changed ({changed}), running again"
        if changed
        else "an earlier stage re-ran, running again"
    )
