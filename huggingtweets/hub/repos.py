"""What every endpoint module shares: repo loading, rights, revisions, path checks, pagination.

The endpoint modules (``api``, ``transfer``, ``tree``) and the dispatcher (``routes``) import from
here; this module imports none of them, so the hub package has no import circle.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from huggingtweets.hub.auth import may_read, valid_name
from huggingtweets.hub.messages import HttpError, Response

if TYPE_CHECKING:
    from huggingtweets.hub.messages import Request

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def repo_url(req: Request, repo_type: str, repo_id: str) -> str:
    return f"{req.base_url}/{URL_PREFIX[repo_type]}{repo_id}"


def not_found_repo(repo_id: str) -> HttpError:
    return HttpError(404, f"Repository Not Found for {repo_id}.", "RepoNotFound")


def load_repo(req: Request, repo_type: str, repo_id: str, *, write: bool = False) -> dict:
    """The repo record if the caller may see it (404 otherwise); with write, 401/403 checks too."""
    ns = repo_id.split("/")[0]
    repo = req.hub.storage.get_repo(repo_type, repo_id)
    if repo is None or not may_read(req.principal, ns, repo["private"]):
        raise not_found_repo(repo_id)
    if write:
        require_write(req, ns)
    return repo


def require_write(req: Request, namespace: str) -> None:
    if req.principal is None:
        raise HttpError(401, "You must be authenticated (a write token) to do this.")
    if not req.principal.may_write(namespace):
        raise HttpError(403, f"You don't have the rights to write to the namespace {namespace!r}")


def resolve_or_404(req: Request, repo: dict, revision: str) -> str:
    oid = req.hub.storage.resolve(repo, revision)
    if oid is None:
        raise HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
    return oid


def take_revision(parts: list[str]) -> tuple[str, list[str]]:
    """First path parts -> (revision, rest); accepts ``refs/pr/1`` quoted or not."""
    if not parts or not parts[0]:
        raise HttpError(400, "a revision is required in the URL")
    if parts[0] == "refs" and len(parts) >= 3 and parts[1] in {"pr", "heads", "tags", "convert"}:
        return "/".join(parts[:3]), parts[3:]
    return parts[0], parts[1:]


def paginate(req: Request, items: list, *, limit: int | None = None) -> Response:
    """One page of ``items`` and, when more remain, a ``Link: <...>; rel="next"`` header."""
    size = req.hub.page_size if limit is None else max(1, min(limit, req.hub.page_size))
    try:
        start = max(0, int(base64.urlsafe_b64decode((req.param("cursor") or "").encode() + b"==") or b"0"))
    except ValueError:
        raise HttpError(400, "invalid pagination cursor") from None
    page = items[start : start + size]
    headers = {}
    if start + size < len(items):
        query = {k: v for k, v in req.query.items() if k != "cursor"}
        query["cursor"] = [base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")]
        path = "/".join(quote(s, safe="") for s in req.segments)
        headers["Link"] = f'<{req.base_url}/{path}?{urlencode(query, doseq=True)}>; rel="next"'
    return Response(200, page, headers)


def split_repo(parts: list[str]) -> tuple[str, list[str]]:
    """``[ns, name, *rest]`` -> ("ns/name", rest); 404 unless both are valid Hub names.

    Every route that names a repo goes through here: the parts are unquoted already, so this is
    what keeps "..", "/" (from "%2F") and empty names away from the data folder's paths.
    """
    if len(parts) < 2 or not valid_name(parts[0]) or not valid_name(parts[1]):
        raise HttpError(404, "Repository Not Found: expected <namespace>/<name> in the URL", "RepoNotFound")
    return f"{parts[0]}/{parts[1]}", parts[2:]


def check_path(path: object) -> str:
    """A repo-relative file path: no leading '/', no '..' or empty parts, nothing under .git/.

    Backslashes are refused too: ``..\\..\\x`` is a plain name here, but a Windows checkout of the
    repo (or any tool that treats ``\\`` as a separator) would read it as a way out of the folder.
    """
    if not isinstance(path, str) or not path or len(path) > 1000:
        raise HttpError(400, f"invalid path in repo: {path!r}")
    parts = path.split("/")
    control = any(ord(c) < 32 or ord(c) == 127 for c in path)
    if (
        path.startswith("/")
        or any(p in {"", ".", ".."} for p in parts)
        or parts[0] == ".git"
        or control
        or "\\" in path
    ):
        raise HttpError(
            400, f"invalid path in repo: {path!r} (relative, '/'-separated, no '..', empty parts or '\\')"
        )
    return path
