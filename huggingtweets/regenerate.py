"""Re-render the model cards of every bot in an org (a CI job after a template change).

For each repo: read ``huggingtweets.json`` (or rebuild it from a README the original tool
published), render, and commit README.md alone when, and only when, it changed. Unchanged cards
are skipped, so an interrupted run can simply be run again. Pacing keeps the job under the Hub's
limits; 429s are retried honouring Retry-After; a failing repo is reported and the job goes on.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from huggingtweets.errors import CardError, HuggingtweetsError
from huggingtweets.events import Events, Message, ignore

UNCHANGED, UPDATED, WOULD_UPDATE, PR_OPENED, PR_EXISTS, SKIPPED, FAILED = (
    "unchanged",
    "updated",
    "would update",
    "pr opened",
    "pr already open",
    "skipped",
    "failed",
)


class EmptyRepo(CardError):
    """The repo holds no bot: a first publish stopped after creating it. Not a failure of this job."""


@dataclass
class RepoOutcome:
    repo_id: str
    status: str
    reason: str = ""
    diff: str = ""
    commit_oid: str | None = None
    origin: str | None = None


@dataclass
class RegenerateReport:
    author: str
    outcomes: list[RepoOutcome] = field(default_factory=list)
    api_calls: int = 0
    seconds: float = 0.0
    retries: int = 0
    waited_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[RepoOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def commits(self) -> int:
        return sum(1 for o in self.outcomes if o.status in (UPDATED, PR_OPENED))


def card_diff(repo_id: str, old: str | None, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{repo_id}/README.md (on the Hub)",
            tofile=f"{repo_id}/README.md (re-rendered)",
        )
    )


def load_metadata(client, repo_id: str) -> tuple[dict, str | None, str | None]:
    """(metadata, current README or None, commit the README was read at)."""
    from huggingtweets.card import METADATA_FILE, metadata_from_original_readme

    meta_text, _ = client.read_text(repo_id, METADATA_FILE)
    readme, commit = client.read_text(repo_id, "README.md")
    if meta_text is not None:
        try:
            meta = json.loads(meta_text)
        except ValueError as err:
            raise CardError(f"{METADATA_FILE} of {repo_id} is not valid JSON ({err})") from err
        if not isinstance(meta, dict):
            raise CardError(f"{METADATA_FILE} of {repo_id} is not a JSON object")
    elif readme is not None:
        meta = metadata_from_original_readme(readme, repo_id)
    else:
        info = client.repo_info(repo_id)
        files = {s.rfilename for s in (getattr(info, "siblings", None) or [])}
        if files <= {".gitattributes"}:
            raise EmptyRepo(
                f"{repo_id} is empty (a first publish stopped after creating it); no card to render",
                hint=f"run huggingtweets publish for it again, or huggingtweets delete {repo_id}",
            )
        raise CardError(f"{repo_id} has neither {METADATA_FILE} nor README.md; nothing to render a card from")
    # The card must describe where the bot lives now (repos get renamed/moved).
    meta["repo_id"] = repo_id
    return meta, readme, commit


def regenerate_one(
    client, repo_id: str, *, template=None, dry_run=False, create_pr=False, playground_url: str | None = None
) -> RepoOutcome:
    """``playground_url``: the card links it ("Try it"); None keeps what the bot's metadata says."""
    from huggingtweets.card.render import render, template_version, validate_card_locally
    from huggingtweets.hubclient import commit_add

    meta, old, commit = load_metadata(client, repo_id)
    if playground_url:
        meta["playground_url"] = playground_url
    new = render(meta, template)
    validate_card_locally(new)
    origin = meta.get("origin")
    if new == old:
        return RepoOutcome(repo_id, UNCHANGED, origin=origin)
    if dry_run:
        return RepoOutcome(repo_id, WOULD_UPDATE, diff=card_diff(repo_id, old, new), origin=origin)
    digest = hashlib.sha256(new.encode("utf-8")).hexdigest()[:10]
    title = f"Re-render model card (template {template_version(template)}, card {digest})"
    if create_pr:
        # Re-runs must not open the same PR twice: look for a PR whose card is already this one.
        for ref in client.pr_refs(repo_id):
            if client.read_text(repo_id, "README.md", revision=ref)[0] == new:
                return RepoOutcome(repo_id, PR_EXISTS, origin=origin)
    info = client.create_commit(
        repo_id,
        [commit_add("README.md", new.encode("utf-8"))],
        message=title,
        description="Only README.md changed: the card was rendered again from the bot's metadata.",
        # Optimistic concurrency: fail rather than overwrite an edit made since we read the card.
        parent_commit=None if create_pr else commit,
        create_pr=create_pr,
    )
    return RepoOutcome(repo_id, PR_OPENED if create_pr else UPDATED, commit_oid=info.oid, origin=origin)


def regenerate(
    author: str,
    *,
    tag: str | None = "huggingtweets",
    template: str | Path | None = None,
    dry_run: bool = False,
    create_pr: bool = False,
    max_commits_per_hour: int | None = 128,
    max_calls_per_5min: int | None = 1000,
    endpoint: str | None = None,
    token: str | None = None,
    client=None,
    repos: list[str] | None = None,
    workers: int = 4,
    events: Events = ignore,
    playground_url: str | None = None,
) -> RegenerateReport:
    """Re-render every bot card of ``author``; see the module docstring. Never raises per repo.

    ``events`` gets one ``Message`` per repo as it finishes (``[n/total] ORG/NAME: status``), from
    the calling thread; the caller renders them (the CLI: plain lines in a CI log).
    """
    from huggingtweets.card.render import check_playground_url, resolve_template
    from huggingtweets.hubclient import HubClient, Pacer

    if template is not None:
        resolve_template(template)  # a bad --template fails once, up front, not per repo
    if playground_url:
        check_playground_url(playground_url)
    if client is None:
        pacer = Pacer(max_calls=max_calls_per_5min, per_s=300.0, max_commits_per_hour=max_commits_per_hour)
        client = HubClient(endpoint=endpoint, token=token, pacer=pacer)
    start_calls, start = client.requests, time.perf_counter()
    report = RegenerateReport(author)
    repo_ids = repos if repos is not None else client.list_models(author, tag)

    def one(repo_id: str) -> RepoOutcome:
        try:
            return regenerate_one(
                client,
                repo_id,
                template=template,
                dry_run=dry_run,
                create_pr=create_pr,
                playground_url=playground_url,
            )
        except EmptyRepo as err:
            return RepoOutcome(repo_id, SKIPPED, reason=str(err))
        except HuggingtweetsError as err:
            return RepoOutcome(repo_id, FAILED, reason=str(err))
        except Exception as err:  # noqa: BLE001 - one broken repo must not stop the job over the rest
            return RepoOutcome(repo_id, FAILED, reason=f"{type(err).__name__}: {err}".splitlines()[0])

    # Each repo is a few round trips: a few in flight hide the latency; the pacer still caps the rate.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = [pool.submit(one, repo_id) for repo_id in repo_ids]
        try:
            for n, done in enumerate(as_completed(futures), 1):
                if isinstance(done.exception(), BaseException) and not isinstance(
                    done.exception(), Exception
                ):
                    raise done.exception()  # KeyboardInterrupt/SystemExit in a worker stops the run
                events(progress_message(done.result(), n, len(repo_ids)))
        except BaseException:
            # Ctrl-C: stop queued repos at once (the ones in flight finish); a re-run does the rest.
            for future in futures:
                future.cancel()
            raise
        report.outcomes = [f.result() for f in futures]
    report.api_calls = client.requests - start_calls
    report.seconds = time.perf_counter() - start
    report.retries = client.retries
    report.waited_s = client.pacer.waited_s if getattr(client, "pacer", None) else 0.0
    return report


def progress_message(outcome: RepoOutcome, n: int, total: int) -> Message:
    """The line for one finished repo; failures and skips say why (the reason is one line)."""
    why = f": {outcome.reason}" if outcome.reason else ""
    level = "warning" if outcome.status == FAILED else "info"
    return Message(text=f"cards [{n}/{total}] {outcome.repo_id}: {outcome.status}{why}", level=level)


def summary_table(report: RegenerateReport) -> str:
    """The closing table: counts per status, then one line per failed repo with its reason."""
    statuses = (UNCHANGED, UPDATED, WOULD_UPDATE, PR_OPENED, PR_EXISTS, SKIPPED, FAILED)
    rows = [(s, report.count(s)) for s in statuses if report.count(s) or s in (UNCHANGED, UPDATED, FAILED)]
    width = max(len(s) for s, _ in rows)
    lines = [f"{'status'.ljust(width)}  repos", f"{'-' * width}  -----"]
    lines += [f"{s.ljust(width)}  {n}" for s, n in rows]
    lines.append(f"{'total'.ljust(width)}  {len(report.outcomes)}")
    for o in report.outcomes:
        if o.status == SKIPPED:
            lines.append(f"skipped {o.repo_id}: {o.reason}")
    for o in report.failed:
        lines.append(f"failed {o.repo_id}: {o.reason}")
    return "\n".join(lines)
