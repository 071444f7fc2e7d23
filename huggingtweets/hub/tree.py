"""Listing a revision: tree, paths-info, refs and commit history (with ``expand`` last commits)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from huggingtweets.hub.messages import HttpError, Response
from huggingtweets.hub.repos import check_path, load_repo, paginate, resolve_or_404
from huggingtweets.hub.storage import lfs_pointer

if TYPE_CHECKING:
    from huggingtweets.hub.messages import Request
    from huggingtweets.hub.storage import Storage


def file_entry(path: str, e: dict) -> dict:
    out = {"type": "file", "oid": e["oid"], "size": e["size"], "path": path}
    if e["lfs"]:
        out["lfs"] = {
            "oid": e["sha256"],
            "size": e["size"],
            "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
        }
    return out


def dir_entry(path: str, tree: dict) -> dict:
    prefix = path + "/"
    h = hashlib.sha1()
    for p in sorted(p for p in tree if p.startswith(prefix)):
        h.update(f"{p}\0{tree[p]['oid']}\n".encode())
    return {"type": "directory", "oid": h.hexdigest(), "size": 0, "path": path}


def _last_commits(storage: Storage, head: str, paths: list[str], tree: dict) -> dict[str, dict]:
    """For each path, the newest commit that changed it (what ``expand=True`` shows)."""
    found: dict[str, dict] = {}
    oid: str | None = head
    commit = storage.get_commit(head)
    while oid and len(found) < len(paths):
        parents = commit["parents"]
        parent = storage.get_commit(parents[0]) if parents else None
        ptree = parent["tree"] if parent else {}
        for path in paths:
            if path in found:
                continue
            if path in tree:
                changed = commit["tree"].get(path) != ptree.get(path)
            else:
                prefix = path + "/"
                changed = {p: e for p, e in commit["tree"].items() if p.startswith(prefix)} != {
                    p: e for p, e in ptree.items() if p.startswith(prefix)
                }
            if changed or parent is None:
                found[path] = {"id": oid, "title": commit["title"], "date": commit["date"]}
        oid = parents[0] if parents else None
        commit = parent
    return found


def _expand(storage: Storage, head: str, tree: dict, entries: list[dict]) -> list[dict]:
    last = _last_commits(storage, head, [e["path"] for e in entries], tree)
    for e in entries:
        if e["path"] in last:
            e["lastCommit"] = last[e["path"]]
    return entries


# ---------------------------------------------------------------------------- repo info
def tree(req: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    head = resolve_or_404(req, repo, revision)
    files = req.hub.storage.get_commit(head)["tree"]
    path = path.strip("/")
    if path:
        check_path(path)  # unquoted URL segments: "%2F.." must not slip past as a name
    prefix = path + "/" if path else ""
    under = [p for p in files if p.startswith(prefix)]
    if path and not under:
        raise HttpError(404, f"{path} does not exist on {revision}", "EntryNotFound", {"X-Repo-Commit": head})
    recursive = req.flag("recursive")
    entries: dict[str, dict] = {}
    for p in under:
        rel = p[len(prefix) :].split("/")
        for depth in range(1, len(rel)):
            if not recursive and depth > 1:
                break
            d = prefix + "/".join(rel[:depth])
            if d not in entries:
                entries[d] = dir_entry(d, files)
        if recursive or len(rel) == 1:
            entries[p] = file_entry(p, files[p])
    listing = sorted(entries.values(), key=lambda e: (e["type"] != "directory", e["path"]))
    if req.flag("expand"):
        listing = _expand(req.hub.storage, head, files, listing)
    return paginate(req, listing)


def paths_info(req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    head = resolve_or_404(req, repo, revision)
    raw = req.read_body()
    ctype = (req.headers.get("Content-Type") or "").lower()
    try:
        if "json" in ctype:
            form = json.loads(raw or b"{}")
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(raw.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), (form.get("expand", [""])[-1].lower() in {"1", "true"})
    except (ValueError, UnicodeDecodeError, AttributeError):
        raise HttpError(400, "paths-info expects a form (paths=...&expand=...) or a JSON object") from None
    if isinstance(paths, str):
        paths = [paths]
    files = req.hub.storage.get_commit(head)["tree"]
    out = []
    for path in dict.fromkeys(str(p).strip("/") for p in paths):
        if path in files:
            out.append(file_entry(path, files[path]))
        elif path and any(p.startswith(path + "/") for p in files):
            out.append(dir_entry(path, files))
    if expand:
        out = _expand(req.hub.storage, head, files, out)
    return Response(200, out)


def refs(req: Request, repo_type: str, repo_id: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    branches, prs = [], []
    for name, oid in sorted(repo["refs"].items()):
        if name.startswith("refs/pr/"):
            prs.append({"name": name, "ref": name, "targetCommit": oid})
        else:
            branches.append({"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid})
    body = {"branches": branches, "converts": [], "tags": []}
    if req.flag("include_prs"):
        body["pullRequests"] = prs
    return Response(200, body)


def commits(req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
    repo = load_repo(req, repo_type, repo_id)
    head = resolve_or_404(req, repo, revision)
    storage = req.hub.storage
    formatted = "formatted" in req.query.get("expand[]", [])
    out = []
    for oid in storage.history([head]):
        c = storage.get_commit(oid)
        item = {
            "id": oid,
            "title": c["title"],
            "message": c["message"],
            "date": c["date"],
            "authors": [{"user": a, "avatar": None} for a in c["authors"]],
        }
        if formatted:
            item["formatted"] = {"title": c["title"], "message": c["message"]}
        out.append(item)
    return paginate(req, out)
