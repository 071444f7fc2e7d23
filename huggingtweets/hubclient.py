"""The one seam between huggingtweets and the Hugging Face Hub: a small class around ``HfApi``.

- The token comes from the standard places (``HF_TOKEN``, ``hf auth login``) and is never printed.
- 429 is retried honouring ``Retry-After``; 5xx and dropped connections with exponential backoff.
- 401/403/404 and ownership problems become one-line ``HubError``s that name the fix.
- Every HTTP request is counted, and paced under an API-call budget (``Pacer``) when one is set.

Tests put the local Hub server (or a fault-injecting proxy in front of it) behind this class.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlparse

from huggingtweets.errors import HubError


class _QuietNoOpCommit(logging.Filter):
    """An unchanged re-publish is a normal outcome here (reported as "unchanged"), not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No files have been modified since last commit" not in record.getMessage()

PUBLIC_HUB = "https://huggingface.co"
LOGIN_HINT = "run: hf auth login (or set HF_TOKEN) with a token that has write access"


# --------------------------------------------------------------------------- pacing


@dataclass
class Pacer:
    """Sliding-window limits: at most ``max_calls`` HTTP requests per ``per_s`` seconds (one budget for
    the whole process, as the Hub counts API calls per token), and at most ``max_commits_per_hour``
    commits to each repo (the Hub's commit limit is per repo, so each repo has its own window).
    Waits (sleeps) rather than fails when a window is full."""

    max_calls: int | None = 1000
    per_s: float = 300.0
    max_commits_per_hour: int | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    waited_s: float = 0.0
    _calls: deque = field(default_factory=deque)
    _commits: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _admit(self, window: Callable[[], deque], limit: int | None, span: float) -> None:
        if not limit:
            return
        while True:
            # Decide under the lock, sleep outside it: a full window must not freeze the other
            # workers (whose repos may have room), and Ctrl-C must land in a plain sleep.
            with self._lock:
                q = window()
                now = self.clock()
                while q and now - q[0] >= span:
                    q.popleft()
                if len(q) < limit:
                    q.append(now)
                    return
                wait = span - (now - q[0])
                self.waited_s += wait
            self.sleep(wait)

    def before_request(self) -> None:
        self._admit(lambda: self._calls, self.max_calls, self.per_s)

    def before_commit(self, repo_id: str = "") -> None:
        self._admit(lambda: self._commits.setdefault(repo_id, deque()), self.max_commits_per_hour, 3600.0)


_REQUESTS = {"count": 0}
_ACTIVE_PACER: dict[str, Pacer | None] = {"pacer": None}
_HOOK_LOCK = threading.Lock()
_COUNT_LOCK = threading.Lock()
_HOOK_INSTALLED = {"done": False}


def _install_request_hook() -> None:
    """Count (and pace) every HTTP request the Hub client makes, through its public client factory."""
    with _HOOK_LOCK:
        if _HOOK_INSTALLED["done"]:
            return
        import httpx2
        from huggingface_hub import set_client_factory
        from huggingface_hub.utils._http import hf_request_event_hook

        def on_request(request) -> None:
            pacer = _ACTIVE_PACER["pacer"]
            if pacer is not None:
                pacer.before_request()
            with _COUNT_LOCK:
                _REQUESTS["count"] += 1

        def factory():
            return httpx2.Client(
                event_hooks={"request": [hf_request_event_hook, on_request]},
                follow_redirects=True,
                timeout=None,
            )

        set_client_factory(factory)
        _HOOK_INSTALLED["done"] = True


def requests_made() -> int:
    return _REQUESTS["count"]


# --------------------------------------------------------------------------- errors


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None)


def _retry_after(err: BaseException) -> float | None:
    response = getattr(err, "response", None)
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _server_message(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if response is not None:
        try:
            body = response.json()
            if isinstance(body, dict) and body.get("error"):
                return str(body["error"]).splitlines()[0][:200]
        except Exception:  # noqa: BLE001 - any non-JSON body: fall back to the exception's text
            pass
    return str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__


def is_public_hub(endpoint: str | None) -> bool:
    host = urlparse(endpoint or PUBLIC_HUB).hostname or ""
    return host == "huggingface.co" or host.endswith(".huggingface.co") or host == "hf.co"


# --------------------------------------------------------------------------- client


class HubClient:
    """``HfApi`` with retries, pacing, request counting and one-line errors."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        pacer: Pacer | None = None,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or PUBLIC_HUB).rstrip("/")
        if not is_public_hub(endpoint) and "HF_HUB_DISABLE_XET" not in os.environ:
            # Self-hosted/local endpoints speak LFS, not Xet. The client reads this variable at
            # import; when it was imported earlier (e.g. by transformers), set its parsed value too.
            os.environ["HF_HUB_DISABLE_XET"] = "1"
            from huggingface_hub import constants

            constants.HF_HUB_DISABLE_XET = True
        from huggingface_hub import HfApi, get_token

        _install_request_hook()
        self.endpoint = endpoint
        self._token = token or get_token()
        self.api = HfApi(endpoint=endpoint, token=self._token or False)
        self.pacer = pacer
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.retries = 0
        self._lock = threading.Lock()
        self._whoami: dict | None = None
        _ACTIVE_PACER["pacer"] = pacer

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def __repr__(self) -> str:  # never shows the token
        return f"HubClient(endpoint={self.endpoint!r}, token={'set' if self._token else 'none'})"

    # -- the retry/error core ------------------------------------------------------------

    def call(
        self, what: str, fn: Callable[..., Any], *args: Any, repo_id: str | None = None, **kwargs: Any
    ) -> Any:
        """Run ``fn``; retry 429 (after Retry-After) and 5xx/connection errors; map the rest."""
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            try:
                return fn(*args, **kwargs)
            except HfHubHTTPError as err:
                # The Hub answers 401 for a repo it hides from this token: it is "not found" to us.
                status = 404 if isinstance(err, RepositoryNotFoundError) else _status(err)
                retryable = status == 429 or (status is not None and status >= 500)
                if not retryable or attempt == self.max_retries:
                    mapped = self._map(err, what, repo_id)
                    mapped.status = status  # callers branch on it (404 = absent) without parsing text
                    raise mapped from None
                wait = _retry_after(err) if status == 429 else None
                wait = min(self.max_backoff_s, delay if wait is None else wait)
            except (httpx2.TransportError, ConnectionError) as err:
                if attempt == self.max_retries:
                    raise HubError(
                        f"cannot reach the Hub at {self.endpoint} while trying to {what} ({type(err).__name__})",
                        hint="check --endpoint / HF_ENDPOINT and your network, then run the same command again",
                    ) from None
                wait = min(self.max_backoff_s, delay)
            with self._lock:
                self.retries += 1
            self.sleep(wait)
            delay = min(self.max_backoff_s, delay * 2)
        raise AssertionError("unreachable")

    def _map(self, err: BaseException, what: str, repo_id: str | None) -> HubError:
        from huggingface_hub.errors import RepositoryNotFoundError

        status = 404 if isinstance(err, RepositoryNotFoundError) else _status(err)
        where = f" {repo_id}" if repo_id else ""
        if status == 401:
            return HubError(
                f"the Hub rejected the token (401) while trying to {what}{where}", hint=LOGIN_HINT
            )
        if status == 403:
            user = (self._whoami or {}).get("name", "this token's user")
            return HubError(
                f"{user} may not {what}{where} (403: the repo belongs to someone else or the token is read-only)",
                hint="use --org ORG you belong to, --repo-id YOURNAME/NAME, or a token with write access",
            )
        if isinstance(err, RepositoryNotFoundError) or status == 404:
            return HubError(
                f"repo{where or ' '} not found while trying to {what} (404: it does not exist or is private to "
                "another account)",
                hint="check the repo id (huggingface.co/ORG/NAME) and that your token can see it",
            )
        if status == 429:
            return HubError(
                f"the Hub kept rate-limiting (429) while trying to {what}{where}",
                hint="wait a few minutes and run the same command again (finished work is skipped)",
            )
        return HubError(f"the Hub answered {status} while trying to {what}{where}: {_server_message(err)}")

    def _need_token(self, what: str) -> None:
        if not self._token:
            raise HubError(f"no Hugging Face token found; one is needed to {what}", hint=LOGIN_HINT)

    # -- operations ----------------------------------------------------------------------

    def whoami(self) -> dict:
        self._need_token("find your Hub user name")
        if self._whoami is None:
            self._whoami = self.call("read the token's user (whoami)", self.api.whoami)
        return self._whoami

    def namespaces(self) -> list[str]:
        """The token user's name and orgs: the namespaces it may publish to."""
        me = self.whoami()
        orgs = [o.get("name") for o in me.get("orgs") or [] if isinstance(o, dict) and o.get("name")]
        return [me["name"], *orgs]

    def check_namespace(self, repo_id: str) -> None:
        namespace = repo_id.split("/", 1)[0]
        allowed = self.namespaces()
        if namespace not in allowed:
            raise HubError(
                f"{allowed[0]} cannot write to {repo_id}: {namespace} is neither {allowed[0]} nor one of "
                f"{allowed[0]}'s orgs ({', '.join(allowed[1:]) or 'none'})",
                hint=f"use --org ORG or --repo-id {allowed[0]}/{repo_id.split('/', 1)[1]}",
            )

    def repo_info(self, repo_id: str):
        """The repo's ModelInfo, or None when it does not exist (or is invisible to this token)."""
        try:
            return self.call("read", self.api.model_info, repo_id, repo_id=repo_id)
        except HubError as err:
            if getattr(err, "status", None) == 404:
                return None
            raise

    def create_repo(self, repo_id: str, *, private: bool) -> str:
        self._need_token("create a repo")
        return str(
            self.call(
                "create", self.api.create_repo, repo_id, private=private, exist_ok=True, repo_id=repo_id
            )
        )

    def set_private(self, repo_id: str, private: bool) -> None:
        self.call(
            "change the visibility of",
            self.api.update_repo_settings,
            repo_id,
            private=private,
            repo_id=repo_id,
        )

    def delete_repo(self, repo_id: str) -> None:
        self._need_token("delete a repo")
        self.call("delete", self.api.delete_repo, repo_id, repo_id=repo_id)

    def validate_yaml(self, readme: str) -> None:
        """Ask the Hub to validate the card's YAML header (before anything is uploaded)."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        def post() -> list[str]:
            response = get_session().post(
                f"{self.endpoint}/api/validate-yaml",
                json={"content": readme, "repoType": "model"},
                headers=build_hf_headers(token=self._token or False),
            )
            if response.status_code == 400:
                try:
                    return [str(e.get("message", e)) for e in response.json().get("errors", [])] or [
                        "invalid"
                    ]
                except ValueError:
                    return [response.text[:200] or "invalid"]
            hf_raise_for_status(response)  # 429/5xx are retried by call()
            return []

        errors = self.call("validate the model card for", post)
        if errors:
            raise HubError(
                f"the Hub rejected the card's YAML header: {'; '.join(errors)}",
                hint="fix the template or pass --template PATH, then publish again",
            )

    def create_commit(
        self,
        repo_id: str,
        operations: list,
        *,
        message: str,
        description: str | None = None,
        parent_commit: str | None = None,
        create_pr: bool = False,
    ):
        self._need_token("commit")
        if self.pacer is not None:
            self.pacer.before_commit(repo_id)
        hf_logger = logging.getLogger("huggingface_hub.hf_api")
        quiet = _QuietNoOpCommit()
        hf_logger.addFilter(quiet)
        try:
            return self.call(
                "commit to",
                self.api.create_commit,
                repo_id,
                operations,
                commit_message=message,
                commit_description=description,
                parent_commit=parent_commit,
                create_pr=create_pr,
                repo_id=repo_id,
            )
        finally:
            hf_logger.removeFilter(quiet)

    def pr_refs(self, repo_id: str) -> list[str]:
        """Git refs of the repo's pull requests (``refs/pr/N``)."""

        def refs() -> list[str]:
            found = self.api.list_repo_refs(repo_id, include_pull_requests=True)
            return [r.ref for r in (found.pull_requests or [])]

        return self.call("list the pull requests of", refs, repo_id=repo_id)

    def list_models(self, author: str, tag: str | None = None) -> list[str]:
        """Repo ids of ``author``'s models (with ``tag`` when given), all pages."""

        def listing() -> list[str]:
            return sorted(m.id for m in self.api.list_models(author=author, filter=tag or None))

        return self.call(f"list the models of {author}", listing)

    def read_text(self, repo_id: str, path: str, revision: str = "main") -> tuple[str | None, str | None]:
        """(text or None when the file is absent, commit sha it was read at): one GET."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        url = f"{self.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
        headers = build_hf_headers(token=self._token or False)

        def get() -> tuple[str | None, str | None]:
            response = get_session().get(url, headers=headers, follow_redirects=True)
            commit = response.headers.get("X-Repo-Commit")
            if response.status_code == 404 and response.headers.get("X-Error-Code") == "EntryNotFound":
                return None, commit
            hf_raise_for_status(response)
            return response.content.decode("utf-8"), commit

        return self.call(f"read {path} of", get, repo_id=repo_id)


def commit_add(path_in_repo: str, data: bytes | str) -> Any:
    from huggingface_hub import CommitOperationAdd

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data)


def commit_delete(paths: Iterable[str]) -> list:
    from huggingface_hub import CommitOperationDelete

    return [CommitOperationDelete(path_in_repo=p) for p in paths]
