"""The one seam between huggingtweets and the Hugging Face Hub: a small class around ``HfApi``.

- The token comes from the standard places (``HF_TOKEN``, ``hf auth login``) and is never printed;
  neither are credentials inside an endpoint URL (``http://user:hf_...@host``).
- 429 is retried honouring ``Retry-After``; 5xx and dropped connections with exponential backoff.
- 401/403/404 and ownership problems become one-line ``HubError``s that name the fix, with the
  HTTP ``status`` as a field.
- Each client counts the Hub calls it makes (``requests``) and paces them under its own budget
  (``Pacer``) when one is given.

A client changes nothing outside itself: no environment variable, no module state of
``huggingface_hub``, no process-wide HTTP client or hook. huggingface_hub shares one HTTP session
per process (its client factory is process-wide), so a hook there would count and pace every
download of transformers in the same process too; the counting happens here, at the seam, one
count per HTTP request an operation makes (see ``COMMIT_REQUESTS``) and per retry.

Tests put the local Hub server (or a fault-injecting proxy in front of it) behind this class.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from huggingtweets.errors import HubError

PUBLIC_HUB = "https://huggingface.co"
LOGIN_HINT = "run: hf auth login (or set HF_TOKEN) with a token that has write access"
# HTTP requests of one create_commit without LFS files: preupload, commit, and the README check
# huggingface_hub makes itself before uploading when README.md is among the files.
COMMIT_REQUESTS = 2

# Shorter hf_ tokens than the package-wide rule takes: a Hub message may quote a test or truncated one.
_TOKEN_SHAPED = re.compile(r"\bhf_[A-Za-z0-9]{6,}")


def redact(text: str) -> str:
    """``text`` without URL credentials (``scheme://user:pass@`` -> ``scheme://***@``) or hf_ tokens."""
    from huggingtweets.redact import redact as redact_secrets

    return redact_secrets(_TOKEN_SHAPED.sub("hf_***", text))


def without_credentials(url: str) -> str:
    """``url`` with its ``user:password@`` part removed (for links that are shown or published)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


# --------------------------------------------------------------------------- pacing


@dataclass
class Pacer:
    """Sliding-window limits: at most ``max_calls`` HTTP requests per ``per_s`` seconds (the Hub
    counts API calls per token: share one Pacer between the clients of one token), and at most ``max_commits_per_hour``
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


def _card_errors(text: str) -> list[str]:
    """The messages of a validate-yaml 400 body (JSON ``{"errors": [...]}``), else its first line."""
    import json

    try:
        body = json.loads(text)
        found = [str(e.get("message", e)) for e in body.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError):
        found = []
    lines = [ln.strip(" -") for ln in text.splitlines() if ln.strip(" -")]
    return found or [ln for ln in lines if not ln.startswith("Invalid metadata")] or ["invalid"]


def is_public_hub(endpoint: str | None) -> bool:
    host = urlsplit(endpoint or PUBLIC_HUB).hostname or ""
    return host == "huggingface.co" or host.endswith(".huggingface.co") or host == "hf.co"


class _QuietNoOpCommitHere(logging.Filter):
    """An unchanged re-publish is a normal outcome here (reported as "unchanged"), not a warning.

    Only records of the thread that makes the commit are dropped: another thread's commit in the
    same process keeps its warning.
    """

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread or "No files have been modified since last commit" not in (
            record.getMessage()
        )


# --------------------------------------------------------------------------- client


class HubClient:
    """``HfApi`` with retries, pacing, request counting and one-line errors; no global state."""

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
        anonymous: bool = False,
    ) -> None:
        """``anonymous``: no token at all, not even a stored one (the web app acting for a visitor)."""
        from huggingface_hub import HfApi, get_token

        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or PUBLIC_HUB).rstrip("/")
        # What messages, results and cards show: never the credentials an endpoint URL may carry.
        self.shown_endpoint = without_credentials(self.endpoint)
        self._token = None if anonymous else (token or get_token())
        self.api = HfApi(endpoint=self.endpoint, token=self._token or False)
        self.pacer = pacer
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.retries = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._whoami: dict | None = None
        self._validated: set[str] = set()  # sha256 of cards this Hub accepted already

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def __repr__(self) -> str:  # never shows the token
        return f"HubClient(endpoint={self.shown_endpoint!r}, token={'set' if self._token else 'none'})"

    # -- the retry/error core ------------------------------------------------------------

    def _admit(self, requests: int) -> None:
        """Pace (when a budget is set) and count the HTTP requests of one attempt."""
        if self.pacer is not None:
            for _ in range(requests):
                self.pacer.before_request()
        with self._lock:
            self.requests += requests

    def call(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        repo_id: str | None = None,
        requests: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn`` (``requests`` HTTP requests); retry 429 (after Retry-After) and 5xx/connection
        errors; map the rest to ``HubError``."""
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            self._admit(requests)
            try:
                return fn(*args, **kwargs)
            except HfHubHTTPError as err:
                # The Hub answers 401 for a repo it hides from this token: it is "not found" to us.
                status = 404 if isinstance(err, RepositoryNotFoundError) else _status(err)
                retryable = status == 429 or (status is not None and status >= 500)
                if not retryable or attempt == self.max_retries:
                    raise self._map(err, what, repo_id, status) from None
                wait = _retry_after(err) if status == 429 else None
                wait = min(self.max_backoff_s, delay if wait is None else wait)
            except (httpx2.TransportError, ConnectionError) as err:
                if attempt == self.max_retries:
                    raise HubError(
                        f"cannot reach the Hub at {self.shown_endpoint} while trying to {what} "
                        f"({type(err).__name__})",
                        hint="check --endpoint / HF_ENDPOINT and your network, then run the same command again",
                    ) from None
                wait = min(self.max_backoff_s, delay)
            with self._lock:
                self.retries += 1
            self.sleep(wait)
            delay = min(self.max_backoff_s, delay * 2)
        raise AssertionError("unreachable")

    def _map(self, err: BaseException, what: str, repo_id: str | None, status: int | None) -> HubError:
        where = f" {repo_id}" if repo_id else ""
        if status == 401:
            return HubError(
                f"the Hub rejected the token (401) while trying to {what}{where}", hint=LOGIN_HINT, status=401
            )
        if status == 403:
            user = (self._whoami or {}).get("name", "this token's user")
            return HubError(
                f"{user} may not {what}{where} (403: the repo belongs to someone else or the token is read-only)",
                hint="use --org ORG you belong to, --repo-id YOURNAME/NAME, or a token with write access",
                status=403,
            )
        if status == 404:
            return HubError(
                f"repo{where or ' '} not found while trying to {what} (404: it does not exist or is private to "
                "another account)",
                hint="check the repo id (huggingface.co/ORG/NAME) and that your token can see it",
                status=404,
            )
        if status == 429:
            return HubError(
                f"the Hub kept rate-limiting (429) while trying to {what}{where}",
                hint="wait a few minutes and run the same command again (finished work is skipped)",
                status=429,
            )
        # The library's message may quote the request URL, credentials included.
        message = redact(_server_message(err))
        return HubError(f"the Hub answered {status} while trying to {what}{where}: {message}", status=status)

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
            if err.status == 404:
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

    def validate_card(self, readme: str) -> bool:
        """Have this client's Hub check the card's YAML header (``POST /api/validate-yaml``).

        The request ``ModelCard.validate`` makes, sent to this client's endpoint: ``validate``
        itself always asks the endpoint huggingface_hub read from ``HF_ENDPOINT`` at import.
        """
        digest = hashlib.sha256(readme.encode("utf-8")).hexdigest()
        if digest in self._validated:
            return True
        try:
            self.call("validate the model card for", self._post_validate_yaml, readme)
        except ValueError as err:
            raise HubError(
                f"the Hub rejected the card's YAML header: {'; '.join(_card_errors(str(err)))}",
                hint="fix the template or pass --template PATH, then publish again",
            ) from None
        with self._lock:
            self._validated.add(digest)
        return True

    def _post_validate_yaml(self, readme: str) -> None:
        from huggingface_hub.errors import HfHubHTTPError
        from huggingface_hub.utils import get_session, hf_raise_for_status

        response = get_session().post(
            f"{self.endpoint}/api/validate-yaml",
            json={"repoType": "model", "content": readme},
            headers={"Accept": "text/plain"},
        )
        try:
            hf_raise_for_status(response)
        except HfHubHTTPError:
            if response.status_code == 400:
                raise ValueError(response.text) from None
            raise

    def _preupload(self, repo_id: str, additions: list, progress: Callable[[int, int, str], None]) -> int:
        """Upload the LFS files of ``additions`` one by one, reporting bytes after each; the bytes
        sent. Regular files travel inside the commit itself, so the caller counts them after it."""
        total = sum(op.upload_info.size for op in additions)
        done = 0
        progress(done, total, "")
        readme = next((op for op in additions if op.path_in_repo == "README.md"), None)
        if readme is not None:
            # No byte goes up before the Hub has accepted the card (create_commit's own order).
            with readme.as_file() as f:
                self.validate_card(f.read().decode("utf-8"))
        for op in additions:
            # huggingface_hub uploads the file when the Hub takes it as LFS; a regular file (below the
            # LFS threshold, so small) travels inside the commit. Which one it was is only kept in
            # private attributes, so every file counts as sent once its turn is over.
            self.call(
                "upload files to",
                self.api.preupload_lfs_files,
                repo_id,
                additions=[op],
                free_memory=False,
                repo_id=repo_id,
            )
            done += op.upload_info.size
            progress(done, total, op.path_in_repo)
        return done

    def create_commit(
        self,
        repo_id: str,
        operations: list,
        *,
        message: str,
        description: str | None = None,
        parent_commit: str | None = None,
        create_pr: bool = False,
        progress: Callable[[int, int, str], None] | None = None,
    ):
        """One atomic commit of ``operations``. With ``progress(bytes_done, bytes_total, path)``,
        LFS files are uploaded one at a time before the commit and reported as they go; the bytes of
        regular files are reported once the commit carrying them succeeded."""
        from huggingface_hub import CommitOperationAdd

        self._need_token("commit")
        if self.pacer is not None:
            self.pacer.before_commit(repo_id)
        readme = any(getattr(op, "path_in_repo", None) == "README.md" for op in operations)
        hf_logger = logging.getLogger("huggingface_hub.hf_api")
        quiet = _QuietNoOpCommitHere()
        hf_logger.addFilter(quiet)
        additions = [op for op in operations if isinstance(op, CommitOperationAdd)]
        try:
            if progress is not None:
                self._preupload(repo_id, additions, progress)
                # The modes are known now: create_commit asks for no more of them.
                requests = COMMIT_REQUESTS - 1 + int(readme)
            else:
                requests = COMMIT_REQUESTS + int(readme)
            commit = self.call(
                "commit to",
                self.api.create_commit,
                repo_id,
                operations,
                commit_message=message,
                commit_description=description,
                parent_commit=parent_commit,
                create_pr=create_pr,
                repo_id=repo_id,
                requests=requests,
            )
            if progress is not None:
                total = sum(op.upload_info.size for op in additions)
                # Said once more after the commit: the bytes are on the Hub only now.
                progress(total, total, "")
            return commit
        except ValueError as err:
            # create_commit checks README.md's YAML with the Hub before it uploads anything.
            raise HubError(
                f"the Hub rejected the card's YAML header: {'; '.join(_card_errors(str(err)))}",
                hint="fix the template or pass --template PATH, then publish again",
            ) from None
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

    def read_bytes(self, repo_id: str, path: str, revision: str = "main") -> tuple[bytes | None, str | None]:
        """(bytes or None when the file is absent, commit sha it was read at): one GET."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        url = f"{self.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
        headers = build_hf_headers(token=self._token or False)

        def get() -> tuple[bytes | None, str | None]:
            response = get_session().get(url, headers=headers, follow_redirects=True)
            commit = response.headers.get("X-Repo-Commit")
            if response.status_code == 404 and response.headers.get("X-Error-Code") == "EntryNotFound":
                return None, commit
            hf_raise_for_status(response)
            return response.content, commit

        return self.call(f"read {path} of", get, repo_id=repo_id)


def commit_add(path_in_repo: str, data: bytes | str) -> Any:
    from huggingface_hub import CommitOperationAdd

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data)


def commit_delete(paths: Iterable[str]) -> list:
    from huggingface_hub import CommitOperationDelete

    return [CommitOperationDelete(path_in_repo=p) for p in paths]
