"""Repo endpoints: whoami, create/delete/list/info, validate-yaml, discussions (pull requests), settings."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from huggingtweets.hub.auth import valid_name
from huggingtweets.hub.cards import as_json_safe, derive_repo_metadata, parse_metadata
from huggingtweets.hub.messages import HttpError, Response
from huggingtweets.hub.repos import load_repo, paginate, repo_url, require_write, resolve_or_404
from huggingtweets.hub.storage import StorageError, lfs_pointer

if TYPE_CHECKING:
    from huggingtweets.hub.messages import Request
    from huggingtweets.hub.storage import Storage


def whoami(req: Request) -> Response:
    p = req.principal
    if p is None:
        raise HttpError(401, "You must be authenticated (send a token) to call whoami.")
    return Response(
        200,
        {
            "type": "user",
            "id": p.user,
            "name": p.user,
            "fullname": p.user,
            "email": None,
            "emailVerified": False,
            "isPro": False,
            "canPay": False,
            "avatarUrl": "",
            "orgs": [
                {"type": "org", "id": o, "name": o, "fullname": o, "roleInOrg": "write"} for o in p.orgs
            ],
            "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": "write"}},
        },
    )


def _json_object(req: Request) -> dict:
    body = req.json()
    if not isinstance(body, dict):
        raise HttpError(400, "request body must be a JSON object")
    return body


def _target(req: Request, body: dict) -> tuple[str, str]:
    repo_type = body.get("type") or "model"
    if repo_type not in {"model", "dataset", "space"}:
        raise HttpError(400, f"invalid repo type {repo_type!r}: expected model, dataset or space")
    name, org = body.get("name"), body.get("organization")
    if not isinstance(name, str) or not valid_name(name) or (org is not None and not isinstance(org, str)):
        raise HttpError(400, f"invalid repo name {name!r}: letters, digits, '.', '_', '-' (max 96)")
    if req.principal is None:
        raise HttpError(401, "You must be authenticated (a write token) to do this.")
    ns = org or req.principal.user
    if not valid_name(ns):
        raise HttpError(400, f"invalid namespace {ns!r}")
    return repo_type, f"{ns}/{name}"


def create_repo(req: Request) -> Response:
    body = _json_object(req)
    repo_type, repo_id = _target(req, body)
    require_write(req, repo_id.split("/")[0])
    private = bool(body.get("private")) or body.get("visibility") == "private"
    try:
        req.hub.storage.create_repo(repo_type, repo_id, private=private, author=req.principal.user)
    except StorageError as err:
        if err.status != 409:
            raise
        # create_repo(exist_ok=True) reads "url" from the 409 reply too.
        return Response(
            409, {"error": str(err), "url": repo_url(req, repo_type, repo_id)}, {"X-Error-Message": str(err)}
        )
    return Response(200, {"url": repo_url(req, repo_type, repo_id), "name": repo_id, "id": repo_id})


def delete_repo(req: Request) -> Response:
    body = _json_object(req)
    repo_type, repo_id = _target(req, body)
    load_repo(req, repo_type, repo_id, write=True)
    req.hub.storage.delete_repo(repo_type, repo_id)
    return Response(200, {})


def update_settings(req: Request, repo_type: str, repo_id: str) -> Response:
    load_repo(req, repo_type, repo_id, write=True)
    body = _json_object(req)
    fields = {}
    if "private" in body or "visibility" in body:
        fields["private"] = bool(body.get("private")) or body.get("visibility") == "private"
    req.hub.storage.update_repo(repo_type, repo_id, **fields)
    return Response(200, {})


def validate_yaml(req: Request) -> Response:
    body = _json_object(req)
    content = body.get("content")
    if not isinstance(content, str):
        return Response(400, {"errors": [{"message": '"content" must be a string'}], "warnings": []})
    _, errors = parse_metadata(content)
    return Response(400 if errors else 200, {"errors": errors, "warnings": []})


# ---------------------------------------------------------------------------- entries
def _read_small(storage: Storage, entry: dict | None, limit: int = 4 * 1024 * 1024) -> bytes | None:
    if entry is None or entry["size"] > limit:
        return None
    try:
        return storage.blob_path(entry["sha256"]).read_bytes()
    except FileNotFoundError:
        return None


def card_and_config(storage: Storage, tree: dict) -> tuple[dict | None, dict | None]:
    card = config = None
    readme = _read_small(storage, tree.get("README.md"))
    if readme is not None:
        data, errors = parse_metadata(readme.decode("utf-8", "replace"))
        card = as_json_safe(data) if data and not errors else None
    raw = _read_small(storage, tree.get("config.json"))
    if raw is not None:
        try:
            config = json.loads(raw)
        except ValueError:
            config = None
        config = config if isinstance(config, dict) else None
    return card, config


def repo_summary(
    req: Request, repo: dict, revision: str = "main", *, full: bool = True, blobs: bool = False
) -> dict:
    storage = req.hub.storage
    oid = resolve_or_404(req, repo, revision)
    commit = storage.get_commit(oid)
    tree = commit["tree"]
    card, config = card_and_config(storage, tree)
    derived = derive_repo_metadata(card, config, list(tree))
    info = {
        "_id": hashlib.sha1(f"{repo['type']}/{repo['id']}/{repo['createdAt']}".encode()).hexdigest()[:24],
        "id": repo["id"],
        "author": repo["id"].split("/")[0],
        "sha": oid,
        "lastModified": commit["date"],
        "createdAt": repo["createdAt"],
        "private": repo["private"],
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        **derived,
    }
    if repo["type"] == "model":
        info["modelId"] = repo["id"]
    if full:
        siblings = []
        for path in sorted(tree):
            sib: dict = {"rfilename": path}
            if blobs:
                e = tree[path]
                sib.update(size=e["size"], blobId=e["oid"])
                if e["lfs"]:
                    sib["lfs"] = {
                        "size": e["size"],
                        "sha256": e["sha256"],
                        "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
                    }
            siblings.append(sib)
        info["siblings"] = siblings
        info["spaces"] = []
        info["usedStorage"] = sum(e["size"] for e in tree.values())
        if card is not None:
            info["cardData"] = card
        if config is not None:
            info["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
    return info


def repo_info(req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    return Response(200, repo_summary(req, repo, revision, blobs=req.flag("blobs")))


def list_repos(req: Request, repo_type: str) -> Response:
    from huggingtweets.hub.auth import may_read

    author = req.param("author")
    search = (req.param("search") or "").lower()
    filters = [f for f in req.query.get("filter", []) if f]
    full = req.flag("full") or req.flag("cardData")
    try:
        limit = int(req.param("limit")) if req.param("limit") else None
    except ValueError:
        raise HttpError(400, f"limit must be an integer, got {req.param('limit')!r}") from None
    out = []
    for repo in req.hub.storage.list_repos(repo_type):
        ns = repo["id"].split("/")[0]
        if author and ns != author:
            continue
        if search and search not in repo["id"].lower():
            continue
        if not may_read(req.principal, ns, repo["private"]):
            continue
        info = repo_summary(req, repo, full=full)
        if filters and not all(f in info["tags"] or f == repo["id"] for f in filters):
            continue
        if not req.flag("cardData"):
            info.pop("cardData", None)
        out.append(info)
    sort = req.param("sort")
    if sort in {"lastModified", "createdAt", "likes", "downloads", "id"}:
        out.sort(key=lambda i: i[sort], reverse=req.param("direction", "-1") == "-1" and sort != "id")
    return paginate(req, out, limit=limit)


def create_discussion(req: Request, repo_type: str, repo_id: str) -> Response:
    load_repo(req, repo_type, repo_id)
    if req.principal is None:
        raise HttpError(401, "You must be authenticated to open a discussion or pull request.")
    body = _json_object(req)
    title = body.get("title")
    if not isinstance(title, str) or len(title.strip()) < 3:
        raise HttpError(400, "a discussion needs a title of at least 3 characters")
    num = req.hub.storage.open_pull_request(
        repo_type,
        repo_id,
        title=title.strip(),
        description=str(body.get("description") or ""),
        author=req.principal.user,
        pull_request=bool(body.get("pullRequest")),
    )
    return Response(200, {"num": num, "url": f"{repo_url(req, repo_type, repo_id)}/discussions/{num}"})


def discussion_details(req: Request, repo_type: str, repo_id: str, num: int) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    for d in repo["discussions"]:
        if d["num"] == num:
            return Response(
                200,
                {
                    "num": num,
                    "title": d["title"],
                    "status": d["status"],
                    "createdAt": d["createdAt"],
                    "author": {"name": d["author"]},
                    "isPullRequest": d["isPullRequest"],
                    "repo": {"name": repo_id, "type": repo_type},
                    "events": [],
                    "changes": {"base": f"refs/heads/{d['base']}"},
                    "filesWithConflicts": [],
                    "diff": "",
                },
            )
    raise HttpError(404, f"Discussion {num} not found in {repo_id}")
