"""Publish a run's finished model folder to the Hub in ONE commit, and delete a bot.

Data flows forward: the card stage has written DIR/model/README.md and huggingtweets.json for
the repo id and Hub being published to; this module checks that (``card_staleness``), validates
the card's YAML locally and with the Hub, and only then creates or uploads anything. It never
renders the card itself (the ``publish`` command runs the card stage first when it must).
Weights, tokenizer, generation config, README, huggingtweets.json, avatars and preview go in a
single ``create_commit`` (all or nothing); unchanged files are skipped by the client, and an
unchanged folder makes no commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets.errors import HubError, InputError, StageError
from huggingtweets.events import Events, Upload, ignore
from huggingtweets.runfolder import LAYOUT, RunFolder, atomic_write_json

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# Files in the repo that publish manages: an avatar no longer in the run is deleted in the same commit.
# `publish --publish-adapter` pushes DIR/adapter as adapter/: a publish without it removes it again.
MANAGED_PREFIXES = ("avatars/", "adapter/")
ADAPTER_PREFIX = "adapter/"
# `publish --gguf` puts the bot's GGUF in DIR/model/: retraining drops it, and so does the next publish.
MANAGED_SUFFIXES = (".gguf",)
MANAGED_NAMES = ("Modelfile",)


# What the card is rendered from, besides the template: newer than the card means the card is stale.
CARD_INPUTS = tuple(LAYOUT[n][0] for n in ("users", "data_report", "training_summary", "predictions"))
# Written just before a new repo is created, removed once its first commit landed (or it was deleted
# again): what a publish killed in between (SIGKILL cannot be caught) left on the Hub.
PENDING = Path(".stages") / "publish-pending.json"


@dataclass(frozen=True)
class PublishTarget:
    """Where a bot goes, resolved once: the one Hub client of the run, the repo, its visibility.

    ``private=None``: private for a new repo, unchanged for an existing one. ``hub_url`` is what the
    card links to (``card_hub_url`` of the client's endpoint).
    """

    client: Any  # huggingtweets.hubclient.HubClient (or a test's fake behind the same seam)
    repo_id: str
    private: bool | None
    hub_url: str


def resolve_target(
    run_dir: Path | str | None,
    *,
    client: Any,
    repo_id: str | None = None,
    namespace: str | None = None,
    private: bool | None = None,
) -> PublishTarget:
    """The target for ``run_dir``'s bot: ``repo_id``, else ``<namespace or the token's user>/<bot name>``.

    A bad repo id is refused before any request; the token's user (``whoami``, asked once per
    client) is asked only when no namespace is given; the namespace must be the user's or an org
    of theirs.
    """
    if repo_id is not None:
        check_repo_id(repo_id)  # before any request, and before anything is read or written
    else:
        if run_dir is None:
            raise ValueError("resolve_target needs a run folder or a repo id")
        repo_id = default_repo_id(Path(run_dir), namespace or client.whoami()["name"])
    repo_id = check_repo_id(repo_id)
    client.check_namespace(repo_id)
    return PublishTarget(
        client=client, repo_id=repo_id, private=private, hub_url=card_hub_url(client.shown_endpoint)
    )


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    url: str
    commit_oid: str | None
    created: bool
    changed: bool
    private: bool | None = None
    # The repo existed but held no bot (a first publish stopped right after creating it).
    completed_empty: bool = False
    # Another repo, still empty, that a killed first publish from this run folder created.
    left_empty: str | None = None


@dataclass(frozen=True)
class RepoState:
    """What a repo on the Hub holds, as far as huggingtweets cares."""

    repo_id: str
    private: bool
    files: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """Nothing but what the Hub puts in a new repo: a publish stopped after creating it."""
        return set(self.files) <= {".gitattributes"}

    def describe(self) -> str:
        visibility = "private" if self.private else "public"
        if self.empty:
            return f"{visibility}, empty: no bot in it, only what the Hub creates (a publish stopped after creating it)"
        weights = [f for f in self.files if f in WEIGHT_FILES]
        what = "a bot" if weights else "no model weights"
        return f"{visibility}, {len(self.files)} files, {what}"


def check_repo_id(repo_id: object) -> str:
    """``repo_id`` if the Hub would take it as ORG/NAME; a one-line ``InputError`` naming it otherwise."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from huggingtweets.card.render import REPO_ID_RE

    ok = isinstance(repo_id, str) and REPO_ID_RE.fullmatch(repo_id) is not None
    if ok:
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            ok = False
    if not ok:
        raise InputError(
            f"repo id {repo_id!r} is not a Hub repo id; expected ORG/NAME: letters, digits, '-', '_' and '.', "
            "at most 96 characters each, no '--' or '..', not starting or ending with '-' or '.'",
            hint="pass ORG/NAME, e.g. huggingtweets/jack",
        )
    return repo_id


def default_repo_id(run_dir: Path, namespace: str) -> str:
    from huggingtweets.runfolder import bot_name

    users = RunFolder(run_dir).read("users", needed_by="the repo id")
    return f"{namespace}/{bot_name(u['handle'] for u in users)}"


def card_hub_url(endpoint: str) -> str:
    """Links in the card must be https: a plain-http (local) endpoint links the public Hub instead.

    Credentials inside the endpoint URL never reach the card.
    """
    from huggingtweets.card.render import DEFAULT_HUB_URL
    from huggingtweets.hubclient import without_credentials

    endpoint = without_credentials(endpoint)
    return endpoint.rstrip("/") if endpoint.startswith("https://") else DEFAULT_HUB_URL


def card_staleness(
    run_dir: Path | str,
    *,
    repo_id: str,
    hub_url: str,
    template: str | Path | None = None,
    check_template: bool = False,
) -> str | None:
    """Why DIR/model's card cannot be published as it is to ``repo_id``, or None when it is current.

    Stale: missing, rendered for another repo id or Hub, older than one of ``CARD_INPUTS`` (or
    the template file), or, with ``check_template``, rendered with another template version.
    """
    from huggingtweets.card import METADATA_FILE
    from huggingtweets.runfolder import read_json

    run_dir = Path(run_dir)
    readme, meta_path = RunFolder(run_dir).card, RunFolder(run_dir).metadata
    if not readme.is_file() or not meta_path.is_file():
        return "has no card yet"
    try:
        meta = read_json(meta_path)
    except ValueError:
        return f"has a {METADATA_FILE} that is not valid JSON"
    if not isinstance(meta, dict) or meta.get("repo_id") != repo_id:
        rendered_for = meta.get("repo_id") if isinstance(meta, dict) else None
        return f"has a card rendered for {rendered_for}, not {repo_id}"
    if meta.get("hub_url") != hub_url:
        return f"has a card that links {meta.get('hub_url')}, not {hub_url}"
    from huggingtweets.runfolder import bot_gguf

    if meta.get("gguf") != bot_gguf(run_dir / "model"):
        return "has a card that lists other GGUF files than it holds"
    if check_template:
        from huggingtweets.card.render import template_version

        if meta.get("template_version") != template_version(template):
            return "has a card rendered with another template"
    rendered = min(readme.stat().st_mtime_ns, meta_path.stat().st_mtime_ns)
    inputs = [run_dir / name for name in CARD_INPUTS] + ([Path(template)] if template else [])
    newer = [p.name for p in inputs if p.is_file() and p.stat().st_mtime_ns > rendered]
    if newer:
        return f"has a card older than {', '.join(newer)}"
    return None


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
    folder = RunFolder(run_dir)
    model_dir = folder.model
    if not folder.model_config.is_file():
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


def check_adapter_dir(run_dir: Path) -> Path:
    from huggingtweets.train.lora import ADAPTER_DIRNAME

    adapter = run_dir / ADAPTER_DIRNAME
    if not (adapter / "adapter_config.json").is_file():
        raise StageError(
            f"--publish-adapter: {adapter} holds no LoRA adapter (adapter_config.json missing): "
            "expected a bot trained with --lora-r",
            hint=f"run: huggingtweets train --run-dir {run_dir} --lora-r 16, or publish without --publish-adapter",
        )
    return adapter


def _operations(model_dir: Path, remote_files: list[str], adapter_dir: Path | None = None) -> list:
    from huggingtweets.hubclient import commit_add, commit_delete

    local = {}
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            local[rel] = path
    if adapter_dir is not None:
        # Under adapter/, not beside config.json: pipeline() would take the repo for an adapter.
        for path in sorted(adapter_dir.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                local[ADAPTER_PREFIX + path.name] = path
    ops = [commit_add(rel, str(path)) for rel, path in local.items()]
    managed = [
        f
        for f in remote_files
        if f.startswith(MANAGED_PREFIXES) or f.endswith(MANAGED_SUFFIXES) or f in MANAGED_NAMES
    ]
    stale = [f for f in managed if f not in local]
    return ops + commit_delete(stale)


def publish_run(
    run_dir: Path | str,
    target: PublishTarget,
    *,
    template: str | Path | None = None,
    events: Events = ignore,
    rendered: Any = None,
    adapter: bool = False,
) -> PublishResult:
    """The one publish flow (``run``, ``huggingtweets publish``, the app): render the card again when
    it is missing or stale for this target, then push the model folder in one commit.

    ``rendered(reason)`` is told when the card was rendered again. ``adapter`` also pushes the LoRA
    adapter (DIR/adapter) as adapter/. The caller holds the run lock.
    """
    from huggingtweets.card import write_card

    run_dir = Path(run_dir)
    stale = card_staleness(
        run_dir,
        repo_id=target.repo_id,
        hub_url=target.hub_url,
        template=template,
        check_template=template is not None,
    )
    if stale:
        from huggingtweets.generate import ensure_card_samples

        ensure_card_samples(run_dir)  # stages run one by one may have left no samples yet
        write_card(run_dir, repo_id=target.repo_id, template=template, hub_url=target.hub_url)
        if rendered is not None:
            rendered(stale)
    return publish(run_dir, target, events=events, adapter=adapter)


def publish(
    run_dir: Path | str,
    target: PublishTarget | None = None,
    *,
    repo_id: str | None = None,
    org: str | None = None,
    private: bool | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    client=None,
    events: Events = ignore,
    adapter: bool = False,
) -> PublishResult:
    """Publish DIR/model/ to ``target`` (or one resolved from the keywords), as its card was rendered.

    ``private=None``: private for a new repo, unchanged otherwise. ``events`` gets ``Upload``
    records: 0 of the total before the first byte, then after each file's bytes went up, ending at
    the total.
    """
    from huggingtweets.card.render import validate_card_locally
    from huggingtweets.hubclient import HubClient
    from huggingtweets.runfolder import read_json

    run_dir = Path(run_dir)
    if target is None:
        if repo_id is not None:
            check_repo_id(repo_id)  # before any request, and before anything is read or written
        _check_model_dir(run_dir)  # before any request
        client = client or HubClient(endpoint=endpoint, token=token)
        target = resolve_target(run_dir, client=client, repo_id=repo_id, namespace=org, private=private)
    model_dir = _check_model_dir(run_dir)
    adapter_dir = check_adapter_dir(run_dir) if adapter else None
    client, repo_id, private = target.client, target.repo_id, target.private

    # The card stage's output must be for this repo and this Hub; validated (locally, then by the
    # Hub) before anything is created or uploaded.
    stale = card_staleness(run_dir, repo_id=repo_id, hub_url=target.hub_url)
    if stale:
        raise StageError(
            f"{model_dir} {stale}",
            hint=f"run: huggingtweets card --run-dir {run_dir} --repo-id {repo_id} "
            "(the huggingtweets publish command does it for you)",
        )
    readme = (model_dir / "README.md").read_text(encoding="utf-8")
    validate_card_locally(readme)
    client.validate_card(readme)
    meta = read_json(model_dir / "huggingtweets.json")
    left_empty = _left_empty(run_dir, client, repo_id)

    info = client.repo_info(repo_id)
    created = info is None
    # Visibility changes only with a successful commit: a failed `publish --public` must not leave
    # the old content public. Hiding is safe at any time, so it happens first (new content is never
    # public by accident) and is undone if the commit fails; showing happens after the commit.
    # A new repo is always created private and made public, if asked, once its content is in.
    if created:
        was_private, parent, remote = True, None, []
        # The Hub creates a repo only on its own request, never with a commit: a publish killed
        # between the two leaves an empty private repo. Recorded here, so the next publish from
        # this folder says where it is (and completes it when it publishes there again).
        atomic_write_json(run_dir / PENDING, {"repo_id": repo_id, "endpoint": client.shown_endpoint})
        client.create_repo(repo_id, private=True)
    else:
        was_private = bool(getattr(info, "private", False))
        parent = getattr(info, "sha", None)
        remote = [s.rfilename for s in (getattr(info, "siblings", None) or [])]
    empty_before = not created and RepoState(repo_id, was_private, tuple(remote)).empty
    want_private = was_private if private is None else private
    if want_private and not was_private:
        client.set_private(repo_id, True)

    summary, description = commit_message(meta)
    try:
        commit = client.create_commit(
            repo_id,
            _operations(model_dir, remote, adapter_dir),
            message=summary,
            description=description,
            parent_commit=parent,
            progress=lambda done, total, path: events(Upload(done, total, path)),
        )
    except BaseException:
        try:
            if created:
                # All or nothing: do not leave an empty repo behind when the first commit failed.
                client.delete_repo(repo_id)
                (run_dir / PENDING).unlink(missing_ok=True)
            elif want_private != was_private:
                client.set_private(repo_id, was_private)
        except HubError:
            pass
        raise
    (run_dir / PENDING).unlink(missing_ok=True)
    if not want_private and was_private:
        client.set_private(repo_id, False)
    is_private = want_private
    changed = parent is None or commit.oid != parent
    return PublishResult(
        repo_id=repo_id,
        url=f"{client.shown_endpoint}/{repo_id}",
        commit_oid=commit.oid if changed else None,
        created=created,
        changed=changed,
        private=is_private,
        completed_empty=empty_before and changed,
        left_empty=left_empty,
    )


def _left_empty(run_dir: Path, client: Any, repo_id: str) -> str | None:
    """Another repo that an earlier, killed publish from this folder created and left empty."""
    from huggingtweets.runfolder import read_json

    try:
        pending = read_json(run_dir / PENDING)
    except (OSError, ValueError):
        return None
    other = pending.get("repo_id") if isinstance(pending, dict) else None
    if not isinstance(other, str) or other == repo_id or pending.get("endpoint") != client.shown_endpoint:
        return None  # the same repo is completed by this publish (``completed_empty``)
    try:
        check_repo_id(other)
        info = client.repo_info(other)
    except (HubError, InputError):
        return None
    if info is None:
        (run_dir / PENDING).unlink(missing_ok=True)  # deleted since: nothing left to describe
        return None
    files = tuple(s.rfilename for s in (getattr(info, "siblings", None) or []))
    if not RepoState(other, bool(getattr(info, "private", False)), files).empty:
        (run_dir / PENDING).unlink(missing_ok=True)
        return None
    return other


def inspect_repo(
    repo_id: str, *, endpoint: str | None = None, token: str | None = None, client=None
) -> RepoState:
    """What ``repo_id`` holds; a one-line ``HubError`` when it is absent or not the token user's to change."""
    from huggingtweets.hubclient import HubClient

    check_repo_id(repo_id)
    client = client or HubClient(endpoint=endpoint, token=token)
    client.check_namespace(repo_id)
    info = client.repo_info(repo_id)
    if info is None:
        raise HubError(
            f"repo {repo_id} not found (it does not exist or is not visible to your token)",
            hint="check the repo id (ORG/NAME) and that your token can see it",
            status=404,
        )
    files = tuple(sorted(s.rfilename for s in (getattr(info, "siblings", None) or [])))
    return RepoState(repo_id, bool(getattr(info, "private", False)), files)


def delete(repo_id: str, *, endpoint: str | None = None, token: str | None = None, client=None) -> RepoState:
    """Delete a bot's repo, empty ones included (the CLI asks for confirmation first); returns what it held."""
    from huggingtweets.hubclient import HubClient

    check_repo_id(repo_id)
    client = client or HubClient(endpoint=endpoint, token=token)
    state = inspect_repo(repo_id, client=client)
    client.delete_repo(repo_id)
    return state
