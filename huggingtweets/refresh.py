"""Keep published bots fresh: read what their live sources posted since the last training and, when
enough arrived, re-train from the same base on all posts and publish one new commit.

For each repo: ``huggingtweets.json`` names the bot's users, their sources and, for live sources
(X API, Bluesky, Mastodon), the date of the newest post read at training time. Bots built from an
export or a file (even in part) are skipped: those posts are not on the Hub, so the bot cannot be
re-trained on all of them. The live reads go through the per-account caches, so the check costs a
request or two per account and the re-training run reads nothing twice.

Before anything is read, every account's own opt-out signals are read again (its source's ``consent``
hook in ``sources.registry``): a bot of an account that now says no is not re-trained and is reported
as opted out; with ``delete_opted_out`` its repo is deleted, after ``confirm`` agrees (the CLI asks as
``delete`` does, unless ``--yes``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huggingtweets.errors import HuggingtweetsError, InputError
from huggingtweets.train.basemodel import PRESETS

REFRESHED, NOT_ENOUGH, SKIPPED, FAILED = "refreshed", "not enough new posts", "skipped", "failed"
OPTED_OUT = "opted out"
# What a repo's metadata may name as its base: a preset, or a Hub id ("name" or "owner/name"). A local
# folder or a URL written by whoever can push to the repo must never become the training base.
BASE_PRESETS = (*PRESETS, "tiny")
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w-]*(?:\.[\w-]+)*/)?[A-Za-z0-9][\w-]*(?:\.[\w-]+)*$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$")


@dataclass
class RefreshOutcome:
    repo_id: str
    status: str
    reason: str = ""
    new_posts: int | None = None
    deleted: bool = False  # an opted-out bot whose repo was deleted (``delete_opted_out``)


def live_spec(user: dict) -> str | None:
    """The handle that reads ``user`` live again, or None when it came from an export or a file."""
    from huggingtweets.sources.registry import live_spec as spec

    return spec(user)


def _read_metadata(client, repo_id: str) -> dict:
    from huggingtweets.card import METADATA_FILE

    text, _ = client.read_text(repo_id, METADATA_FILE)
    if text is None:
        raise InputError(
            f"{repo_id} has no {METADATA_FILE}: it was not made by this huggingtweets",
            hint="re-create it with huggingtweets run",
        )
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{METADATA_FILE} of {repo_id} is not valid JSON ({err.msg})") from None
    except RecursionError:
        raise InputError(f"{METADATA_FILE} of {repo_id} is nested too deeply to be read") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("users"), list) or not meta["users"]:
        raise InputError(f"{METADATA_FILE} of {repo_id} lists no users")
    check_users(meta["users"], repo_id)
    return meta


def opted_out(specs: list[str], clients=None) -> list[str]:
    """What each account of ``specs`` that now says no says (its signals), read through its source's
    consent hook; nothing of any account's posts is read."""
    from huggingtweets.sources import live_client, parse_handle, registry
    from huggingtweets.sources.consent import OptedOut

    said = []
    for spec in specs:
        handle = parse_handle(spec)
        try:
            registry.live_source(handle.network).check_consent(handle, client=live_client(clients, handle))
        except OptedOut as err:
            said.append(err.message.split(", so it was not read")[0])
    return said


def check_users(users: list, repo_id: str) -> None:
    """The whole users list, before anything is read live: at most MAX_USERS people, each a known
    source, a handle and (where recorded) a timestamp; one line naming the first bad value."""
    from huggingtweets.card import METADATA_FILE
    from huggingtweets.config import MAX_USERS
    from huggingtweets.sources.registry import SOURCES

    where = f"{METADATA_FILE} of {repo_id}"
    fix = "re-create the bot with huggingtweets run"
    if len(users) > MAX_USERS:
        raise InputError(
            f"{where} lists {len(users)} users; a bot imitates at most {MAX_USERS} people", hint=fix
        )
    for n, user in enumerate(users, 1):
        if not isinstance(user, dict):
            raise InputError(f"{where}: user {n} is a {type(user).__name__}, expected an object", hint=fix)
        source = user.get("source")
        if not isinstance(source, str) or source not in SOURCES:
            raise InputError(
                f"{where}: user {n} has source {str(source)[:40]!r}; expected one of "
                f"{', '.join(sorted(SOURCES))}",
                hint=fix,
            )
        if not isinstance(user.get("handle"), str) or not user["handle"].strip():
            raise InputError(f"{where}: user {n} has no handle", hint=fix)
        newest = user.get("newest_post_at")
        if newest is not None and not (isinstance(newest, str) and _TIMESTAMP.match(newest)):
            raise InputError(
                f"{where}: user {n} has newest_post_at {str(newest)[:40]!r}; expected a time like "
                "2026-01-01T00:00:00Z",
                hint=fix,
            )


def recorded_base(meta: dict, repo_id: str) -> str:
    """The base model the metadata records, when it is a preset or a Hub id; anything else (a path,
    a URL, a wrong type) is refused: a local base is given on the command line with --base-model."""
    summary = meta.get("training_summary")
    summary = summary if isinstance(summary, dict) else {}
    hyper = summary.get("hyperparameters")
    hyper = hyper if isinstance(hyper, dict) else {}
    base = hyper.get("base_model") or summary.get("base_model") or meta.get("base_model_fallback")
    if base is None:
        return "gpt2"
    if isinstance(base, str) and (base in BASE_PRESETS or _HUB_ID.match(base)):
        if base in BASE_PRESETS or not Path(base).expanduser().exists():
            return base
    raise InputError(
        f"{repo_id} records base model {str(base)[:80]!r}, which is not a Hub id (owner/name) or "
        f"one of {', '.join(BASE_PRESETS)}",
        hint=f"give the base on the command line: huggingtweets refresh {repo_id} --base-model PATH",
    )


def refresh_one(
    client,
    repo_id: str,
    *,
    token: str | None,
    min_new_posts: int,
    work_dir: Path,
    overrides: dict | None = None,
    echo: Callable[[str], None] = print,
    clients=None,
) -> RefreshOutcome:
    from huggingtweets.config import RunConfig
    from huggingtweets.runner import run
    from huggingtweets.sources import collect

    meta = _read_metadata(client, repo_id)
    users = meta["users"]
    overrides = dict(overrides or {})
    train_overrides = dict(overrides.pop("train", {}) or {})
    # checked before anything is read live: a bad base fails the repo, not the training later
    base = train_overrides.get("base_model") or recorded_base(meta, repo_id)
    specs = [live_spec(u) for u in users]
    if not any(specs):
        return RefreshOutcome(
            repo_id, SKIPPED, "built only from account exports or files: nothing to read live"
        )
    if not all(specs):
        return RefreshOutcome(
            repo_id,
            SKIPPED,
            "built partly from an account export or file that is not on the "
            "Hub, so it cannot be re-trained on all posts",
        )
    if not all(u.get("newest_post_at") for u in users):
        return RefreshOutcome(
            repo_id,
            SKIPPED,
            "its card does not record the newest post it learned from "
            "(made by an older huggingtweets): re-create it with huggingtweets run",
        )
    said_no = opted_out(specs, clients)
    if said_no:
        return RefreshOutcome(repo_id, OPTED_OUT, "; ".join(said_no) + "; not re-trained")
    found = {info.handle.lower(): posts for info, posts in collect(handles=specs, echo=echo, clients=clients)}
    new = 0
    for user in users:
        posts = found.get(str(user["handle"]).lower(), [])
        new += sum(1 for p in posts if p.created_at and p.created_at > user["newest_post_at"])
    if new < min_new_posts:
        return RefreshOutcome(
            repo_id,
            NOT_ENOUGH,
            f"{new} new since the last training, {min_new_posts} needed; nothing changed",
            new,
        )
    summary = meta.get("training_summary")
    hyper = (summary.get("hyperparameters") if isinstance(summary, dict) else None) or {}
    info = client.repo_info(repo_id)
    train = {"base_model": str(base)}
    if isinstance(hyper, dict) and type(hyper.get("epochs")) is int:
        train["epochs"] = hyper["epochs"]
    # a local base folder is recorded by its name only: --base-model says where it is
    train.update(train_overrides)
    config = RunConfig(
        handles=tuple(specs),
        train=train,
        repo_id=repo_id,
        private=bool(getattr(info, "private", True)),
        endpoint=client.endpoint,
        run_dir=str(work_dir / repo_id.replace("/", "__")),
    )
    config = dataclasses.replace(config, **overrides)
    from huggingtweets.stages import fetch_stage

    run(config, token=token, rerun_from="fetch", stages={"fetch": fetch_stage(clients)})
    return RefreshOutcome(repo_id, REFRESHED, f"re-trained on {new} new posts and published", new)


def refresh(
    repo_ids: list[str] = (),
    *,
    author: str | None = None,
    min_new_posts: int = 50,
    endpoint: str | None = None,
    token: str | None = None,
    work_dir: Path | str | None = None,
    overrides: dict | None = None,
    echo: Callable[[str], None] = print,
    clients=None,
    delete_opted_out: bool = False,
    confirm: Callable[[str], bool] | None = None,
) -> list[RefreshOutcome]:
    """Refresh ``repo_ids`` and/or every huggingtweets bot of ``author``; never raises per repo.
    ``clients``: the live clients' factories by network (``sources.collect``); None: the real ones.
    ``delete_opted_out``: delete the repos of bots whose accounts now say no, each once ``confirm``
    (the question) returns True; None: without asking (``--yes``)."""
    from huggingtweets.hubclient import HubClient
    from huggingtweets.sources.livecache import cache_root

    if not repo_ids and not author:
        raise InputError(
            "nothing to refresh: give REPO_ID... or --author ORG",
            hint="e.g. huggingtweets refresh --author huggingtweets",
        )
    from huggingtweets.runner import hub_token

    token = token or hub_token()
    client = HubClient(endpoint=endpoint, token=token)
    ids = list(dict.fromkeys([*repo_ids, *(client.list_models(author, "huggingtweets") if author else [])]))
    work = Path(work_dir) if work_dir else cache_root("refresh")
    outcomes = []
    for repo_id in ids:
        try:
            outcome = refresh_one(
                client,
                repo_id,
                token=token,
                min_new_posts=min_new_posts,
                work_dir=work,
                overrides=overrides,
                echo=echo,
                clients=clients,
            )
        except HuggingtweetsError as err:
            outcome = RefreshOutcome(repo_id, FAILED, str(err))
        except Exception as err:  # noqa: BLE001 - one repo's surprise must not end the others
            outcome = RefreshOutcome(repo_id, FAILED, _unexpected(err, token))
        if outcome.status == OPTED_OUT and delete_opted_out:
            outcome = _delete(client, outcome, confirm)
        echo(f"{repo_id}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
        outcomes.append(outcome)
    return outcomes


def _delete(client, outcome: RefreshOutcome, confirm: Callable[[str], bool] | None) -> RefreshOutcome:
    """``outcome``'s repo deleted as ``huggingtweets delete`` does: say what it holds, ask, delete."""
    from huggingtweets.publish import delete, inspect_repo

    try:
        state = inspect_repo(outcome.repo_id, client=client)
        question = f"Delete {outcome.repo_id} ({state.describe()}) and all its files from the Hub? This cannot be undone"
        if confirm is not None and not confirm(question):
            return dataclasses.replace(outcome, reason=outcome.reason + "; kept: deletion declined")
        delete(outcome.repo_id, client=client)
    except HuggingtweetsError as err:
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; not deleted: {err}")
    return dataclasses.replace(
        outcome, reason=f"{outcome.reason}; deleted ({state.describe()})", deleted=True
    )


def _unexpected(err: Exception, token: str | None) -> str:
    """One line for an error no stage turned into ours, with the token (if it shows) blanked."""
    text = " ".join(str(err).split())[:200]
    if token:
        text = text.replace(token, "***")
    return f"unexpected {type(err).__name__}" + (f": {text}" if text else "")
