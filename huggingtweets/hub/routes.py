"""URL routing of the local Hub and helpers shared by the endpoint modules."""

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


def route(req: Request) -> Response:
    from huggingtweets.hub import api, transfer

    seg, method = req.segments, req.method
    if not seg:
        # ``GET * HTTP/1.1`` and other targets that are not a path.
        raise HttpError(400, "the request target must be a path starting with '/'")
    if seg == [""]:
        return Response(200, {"message": "huggingtweets local Hub", "api": f"{req.base_url}/api"})
    if seg[0] == "api" and len(seg) >= 2:
        head = seg[1]
        if seg[1:] == ["whoami-v2"] and method == "GET":
            return api.whoami(req)
        if seg[1:] == ["agent-harnesses"] and method == "GET":
            # huggingface_hub 2.4 reads this as a dict (``registry.get(...)``): ``[]`` crashes every
            # request of a client that does not disable telemetry. An empty registry detects no agent.
            return Response(200, {"standardEnvVars": [], "harnesses": {}})
        if seg[1:] == ["repos", "create"] and method == "POST":
            return api.create_repo(req)
        if seg[1:] == ["repos", "delete"] and method in {"POST", "DELETE"}:
            return api.delete_repo(req)
        if seg[1:] == ["validate-yaml"] and method == "POST":
            return api.validate_yaml(req)
        if head in TYPES:
            repo_type = TYPES[head]
            if len(seg) == 2 and method == "GET":
                return api.list_repos(req, repo_type)
            repo_id, rest = split_repo(seg[2:])
            return _repo_api(req, repo_type, repo_id, rest)
    elif seg[0] in {"lfs-upload", "lfs-verify"} and len(seg) >= 2 and seg[1] in TYPES:
        repo_id, rest = split_repo(seg[2:])
        if seg[0] == "lfs-upload" and method == "PUT" and len(rest) == 1:
            return transfer.lfs_put(req, TYPES[seg[1]], repo_id, rest[0])
        if seg[0] == "lfs-verify" and method == "POST" and not rest:
            return transfer.lfs_verify(req, TYPES[seg[1]], repo_id)
    else:
        repo_type = "model"
        parts = seg
        if seg[0] in {"datasets", "spaces"}:
            repo_type, parts = TYPES[seg[0]], seg[1:]
        if len(parts) >= 2 and parts[1].endswith(".git") and parts[2:] == ["info", "lfs", "objects", "batch"]:
            if method == "POST":
                # Segments are already unquoted ("%2F" -> "/"): the name checks of split_repo keep
                # "..", "/" and the like out of the repo id, hence out of the storage paths.
                repo_id, _ = split_repo([parts[0], parts[1][:-4]])
                return transfer.lfs_batch(req, repo_type, repo_id)
        elif len(parts) >= 4 and parts[2] == "resolve" and method in {"GET", "HEAD"}:
            repo_id, rest = split_repo(parts)
            revision, path = take_revision(rest[1:])
            return transfer.resolve(req, repo_type, repo_id, revision, "/".join(path))
    raise HttpError(404, f"no such endpoint: {method} /{'/'.join(seg)}")


def _repo_api(req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
    from huggingtweets.hub import api, transfer, tree

    method = req.method
    action = rest[0] if rest else ""
    if action == "" and method == "GET":
        return api.repo_info(req, repo_type, repo_id, "main")
    if action == "revision" and method == "GET":
        revision, extra = take_revision(rest[1:])
        if not extra:
            return api.repo_info(req, repo_type, repo_id, revision)
    if action == "tree" and method == "GET":
        revision, path = take_revision(rest[1:])
        return tree.tree(req, repo_type, repo_id, revision, "/".join(path))
    if action == "refs" and method == "GET" and len(rest) == 1:
        return tree.refs(req, repo_type, repo_id)
    if action == "commits" and method == "GET":
        revision, _ = take_revision(rest[1:])
        return tree.commits(req, repo_type, repo_id, revision)
    if action == "paths-info" and method == "POST":
        revision, _ = take_revision(rest[1:])
        return tree.paths_info(req, repo_type, repo_id, revision)
    if action == "preupload" and method == "POST":
        revision, _ = take_revision(rest[1:])
        return transfer.preupload(req, repo_type, repo_id, revision)
    if action == "commit" and method == "POST":
        revision, _ = take_revision(rest[1:])
        return transfer.commit(req, repo_type, repo_id, revision)
    if action == "discussions":
        if method == "POST" and len(rest) == 1:
            return api.create_discussion(req, repo_type, repo_id)
        if method == "GET" and len(rest) == 2 and rest[1].isdigit():
            return api.discussion_details(req, repo_type, repo_id, int(rest[1]))
    if action == "settings" and method == "PUT":
        return api.update_settings(req, repo_type, repo_id)
    if action in {"xet-write-token", "xet-read-token"}:
        load_repo(req, repo_type, repo_id)
        raise HttpError(
            501,
            "This local Hub does not speak Xet. Set HF_HUB_DISABLE_XET=1 in the client's environment "
            "(before importing huggingface_hub), or serve without --lfs-threshold so every file goes "
            "as a regular upload.",
        )
    raise HttpError(404, f"no such endpoint: {method} /api/{repo_type}s/{repo_id}/{'/'.join(rest)}")
