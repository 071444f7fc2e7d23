"""Publish a run's model folder to the Hub in ONE commit, and delete a bot.

render -> validate -> push: the card is (re)written for the final repo id, its YAML is validated
locally and by the Hub, and only then is anything created or uploaded. Weights, tokenizer,
generation config, README, huggingtweets.json, avatars and preview go in a single ``create_commit``
(all or nothing); unchanged files are skipped by the client, and an unchanged folder makes no commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingtweets.errors import HubError, StageError

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# Files in the repo that publish manages: an avatar no longer in the run is deleted in the same commit.
MANAGED_PREFIXES = ("avatars/",)


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    url: str
    commit_oid: str | None
    created: bool
    changed: bool
    private: bool | None = None


def default_repo_id(run_dir: Path, namespace: str) -> str:
    from huggingtweets.runfolder import bot_name, read_json

    users_file = run_dir / "users.json"
    if not users_file.is_file():
        raise StageError(f"{users_file} is missing", hint=f"run: huggingtweets fetch --run-dir {run_dir}")
    return f"{namespace}/{bot_name(u['handle'] for u in read_json(users_file))}"


def card_hub_url(endpoint: str) -> str:
    """Links in the card must be https: a plain-http (local) endpoint links the public Hub instead."""
    from huggingtweets.card.render import DEFAULT_HUB_URL

    return endpoint.rstrip("/") if endpoint.startswith("https://") else DEFAULT_HUB_URL


def commit_message(meta: dict) -> tuple[str, str]:
    """(summary, description) stating the data counts."""
    users = meta["data_report"]["users"]
    total = {
        k: sum(int(users[u["handle"]].get(k) or 0) for u in meta["users"]) for k in ("downloaded", "kept")
    }
    handles = ", ".join("@" + u["handle"] for u in meta["users"])
    summary = f"Publish bot of {handles}: {total['kept']} of {total['downloaded']} posts kept for training"
    lines = []
    for u in meta["users"]:
        s = users[u["handle"]]
        drops = ", ".join(
            f"{s.get(k) or 0} {label}"
            for k, label in (
                ("retweets", "retweets"),
                ("short", "short"),
                ("replies", "replies"),
                ("duplicates", "duplicates"),
                ("media_only", "media only"),
            )
        )
        lines.append(
            f"@{u['handle']}: {s.get('downloaded')} downloaded, {s.get('kept')} kept ({drops} dropped)"
        )
    return summary, "\n".join(lines)


def _check_model_dir(run_dir: Path) -> Path:
    model_dir = run_dir / "model"
    if not model_dir.is_dir() or not (model_dir / "config.json").is_file():
        raise StageError(
            f"{model_dir} holds no trained model (config.json missing); nothing to publish",
            hint=f"run: huggingtweets train --run-dir {run_dir}",
        )
    if not any((model_dir / name).is_file() for name in WEIGHT_FILES):
        raise StageError(
            f"{model_dir} has no weights ({' or '.join(WEIGHT_FILES[:1])} missing); nothing to publish",
            hint=f"run: huggingtweets train --run-dir {run_dir}",
        )
    return model_dir


def _operations(model_dir: Path, remote_files: list[str]) -> list:
    from huggingtweets.hubclient import commit_add, commit_delete

    local = {}
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            local[rel] = path
    ops = [commit_add(rel, str(path)) for rel, path in local.items()]
    stale = [f for f in remote_files if f.startswith(MANAGED_PREFIXES) and f not in local]
    return ops + commit_delete(stale)


def publish(
    run_dir: Path | str,
    *,
    repo_id: str | None = None,
    org: str | None = None,
    private: bool | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    template: str | Path | None = None,
    client=None,
) -> PublishResult:
    """Publish DIR/model/ to the Hub. ``private=None``: private for a new repo, unchanged otherwise."""
    from huggingtweets.card import write_card
    from huggingtweets.card.render import REPO_ID_RE, validate_card_locally
    from huggingtweets.hubclient import HubClient
    from huggingtweets.runfolder import read_json

    run_dir = Path(run_dir)
    model_dir = _check_model_dir(run_dir)
    client = client or HubClient(endpoint=endpoint, token=token)
    me = client.whoami()
    repo_id = repo_id or default_repo_id(run_dir, org or me["name"])
    if not REPO_ID_RE.match(repo_id):
        raise HubError(f"repo id {repo_id!r} is not NAMESPACE/NAME", hint="pass --repo-id ORG/NAME")
    client.check_namespace(repo_id)

    # render -> validate (locally, then by the Hub) before anything is created or uploaded.
    readme_path = write_card(
        run_dir, repo_id=repo_id, template=template, hub_url=card_hub_url(client.endpoint)
    )
    readme = readme_path.read_text(encoding="utf-8")
    validate_card_locally(readme)
    client.validate_yaml(readme)
    meta = read_json(model_dir / "huggingtweets.json")

    info = client.repo_info(repo_id)
    created = info is None
    # Visibility changes only with a successful commit: a failed `publish --public` must not leave
    # the old content public. Hiding is safe at any time, so it happens first (new content is never
    # public by accident) and is undone if the commit fails; showing happens after the commit.
    # A new repo is always created private and made public, if asked, once its content is in.
    if created:
        was_private, parent, remote = True, None, []
        client.create_repo(repo_id, private=True)
    else:
        was_private = bool(getattr(info, "private", False))
        parent = getattr(info, "sha", None)
        remote = [s.rfilename for s in (getattr(info, "siblings", None) or [])]
    want_private = was_private if private is None else private
    if want_private and not was_private:
        client.set_private(repo_id, True)

    summary, description = commit_message(meta)
    try:
        commit = client.create_commit(
            repo_id,
            _operations(model_dir, remote),
            message=summary,
            description=description,
            parent_commit=parent,
        )
    except BaseException:
        try:
            if created:
                # All or nothing: do not leave an empty repo behind when the first commit failed.
                client.delete_repo(repo_id)
            elif want_private != was_private:
                client.set_private(repo_id, was_private)
        except HubError:
            pass
        raise
    if not want_private and was_private:
        client.set_private(repo_id, False)
    is_private = want_private
    changed = parent is None or commit.oid != parent
    return PublishResult(
        repo_id=repo_id,
        url=f"{client.endpoint}/{repo_id}",
        commit_oid=commit.oid if changed else None,
        created=created,
        changed=changed,
        private=is_private,
    )


def delete(repo_id: str, *, endpoint: str | None = None, token: str | None = None, client=None) -> None:
    """Delete a bot's repo (the CLI asks for confirmation first)."""
    from huggingtweets.hubclient import HubClient

    client = client or HubClient(endpoint=endpoint, token=token)
    client.check_namespace(repo_id)
    if client.repo_info(repo_id) is None:
        raise HubError(
            f"repo {repo_id} not found (it does not exist or is not visible to your token)",
            hint="check the repo id (ORG/NAME) and that your token can see it",
        )
    client.delete_repo(repo_id)
