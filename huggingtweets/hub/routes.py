"""URL routing of the local Hub: which endpoint function answers a request."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from huggingtweets.hub import api, transfer, tree
from huggingtweets.hub.messages import HttpError, Response
from huggingtweets.hub.repos import TYPES, load_repo, split_repo, take_revision

if TYPE_CHECKING:
    from huggingtweets.hub.messages import Request

log = logging.getLogger("huggingtweets.hub")


def route(req: Request) -> Response:
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
            # huggingface_hub (2.x) reads this as a dict (``registry.get(...)``): ``[]`` crashes every
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
    raise _unknown(req, f"{method} /{'/'.join(seg)}")


def _repo_api(req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
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
    raise _unknown(req, f"{method} /api/{repo_type}s/{repo_id}/{'/'.join(rest)}")


def _unknown(req: Request, what: str) -> HttpError:
    """A request no route answers: kept (``HubServer.unknown_routes``) and logged, since a new
    client version asking for an endpoint this server lacks shows up here first."""
    req.hub.unknown_routes.append(what[:300])
    log.warning("no such endpoint: %s", what[:300])
    return HttpError(404, f"no such endpoint: {what}")
