"""Read a Mastodon account archive ("Request your archive"): the ``.zip``, its unpacked folder, or
its ``outbox.json`` alone.

- ``outbox.json``: an ActivityStreams ``OrderedCollection`` whose ``orderedItems`` are ``Create``
  activities (of a ``Note``, or a ``Question`` for a poll: its ``content`` is the question) and
  ``Announce`` activities (boosts; ``object`` is the boosted post's URI).
- visibility is not a field: it follows from the addressing. The Public collection in ``to`` is
  public, in ``cc`` unlisted; the followers collection alone is followers-only; anything else is a
  direct message. Only public and unlisted posts are ever read; the others are counted, not kept.
- ``actor.json``: ``preferredUsername``, ``name``, ``icon.url`` (the avatar file in the archive).
  An outbox without it names its account in every activity's ``actor``.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from huggingtweets.errors import SourceError
from huggingtweets.sources.handles import Handle, parse_handle
from huggingtweets.sources.mastodon_text import (
    LEFT_OUT_NAMES,
    PUBLIC_ALIASES,
    USED_VISIBILITIES,
    account_from_url,
    html_to_text,
)
from huggingtweets.sources.record import Post, UserInfo, parse_date
from huggingtweets.sources.safezip import CappedZip, folder_file, inside_name, open_zip, shown_name
from huggingtweets.sources.schema import Where, get, strings

SOURCE = "mastodon-archive"
_AVATAR_TYPES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}


def _zip_member(names: list[str], leaf: str) -> str | None:
    """The shallowest ``leaf`` in a zip (exports are sometimes zipped from the folder above)."""
    found = [n for n in names if PurePosixPath(n).name == leaf]
    return min(found, key=lambda n: n.count("/")) if found else None


class _Export:
    """The archive's files, by name relative to the folder that holds ``outbox.json``. A name that
    would lead outside the archive (``..``, an absolute path, a link out of the folder) reads as
    absent; ``escapes`` tells the two apart."""

    def __init__(self, path: Path) -> None:
        self.label = path.name
        self._zip: CappedZip | None = None
        self._dir: Path | None = None
        self._given: Path | None = None  # outbox.json named on its own: read as the user named it
        self._root = ""
        if path.is_dir():
            self._dir = path
        elif zipfile.is_zipfile(path):
            try:
                zf = open_zip(path, path.name)
                member = _zip_member(zf.namelist(), "outbox.json")
            except (zipfile.BadZipFile, OSError) as err:
                raise SourceError(
                    f"{path.name} is not a readable zip ({err})", hint="re-download the archive"
                ) from None
            self._zip = CappedZip(zf, path.name)
            if member is None:
                zf.close()
                raise SourceError(
                    f"{path.name} holds no outbox.json", hint="expected a Mastodon account archive"
                )
            self._root = member[: -len("outbox.json")]
        else:  # outbox.json given directly
            self._dir, self._given = path.parent, path

    def escapes(self, name: str) -> bool:
        """Whether ``name`` leads outside the archive (then it is never read)."""
        rel = inside_name(name)
        if rel is None:
            return True
        if self._dir is None:
            return False  # a zip member is inside the zip, whatever it is called
        target = self._dir / rel
        return (target.exists() or target.is_symlink()) and folder_file(self._dir, rel) is None

    def read(self, name: str) -> bytes | None:
        rel = inside_name(name)
        if rel is None:
            return None
        try:
            if self._zip is not None:
                try:
                    return self._zip.read(self._root + rel)
                except KeyError:
                    return None
            file = folder_file(self._dir, rel)
            return file.read_bytes() if file is not None else None
        # zlib.error is no OSError: a corrupt deflate stream raises it from read()
        except (
            zipfile.BadZipFile,
            zlib.error,
            OSError,
            EOFError,
            ValueError,
            RuntimeError,
            NotImplementedError,
        ) as err:
            raise SourceError(
                f"{self.label}: cannot read {name} ({type(err).__name__})", hint="re-download the archive"
            ) from None

    def _decode(self, name: str, raw: bytes | None) -> object | None:
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise SourceError(
                f"{self.label}: {name} is not valid JSON ({type(err).__name__})",
                hint="re-download the archive",
            ) from None

    def json(self, name: str) -> object | None:
        return self._decode(name, self.read(name))

    def outbox(self) -> object:
        if self._given is not None:
            try:
                raw = self._given.read_bytes()
            except OSError as err:
                raise SourceError(
                    f"{self.label}: cannot read it ({type(err).__name__})",
                    hint="check the path given to --archive",
                ) from None
            data = self._decode(self._given.name, raw)
        else:
            data = self.json("outbox.json")
        if data is None:
            raise SourceError(
                f"{self.label} holds no outbox.json", hint="expected a Mastodon account archive"
            )
        return data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.zf.close()


def visibility(activity: dict, obj: dict | None, where: Where) -> str:
    """The object's own addressing decides: an empty ``to``/``cc`` there means "nobody", not "ask the
    activity". Only an object with neither key at all falls back to its activity's addressing."""
    addressed = obj is not None and ("to" in obj or "cc" in obj)
    source = obj if addressed else activity
    to = set(strings(source, "to", where))
    cc = set(strings(source, "cc", where))
    if to & PUBLIC_ALIASES:
        return "public"
    if cc & PUBLIC_ALIASES:
        return "unlisted"
    if any(u.endswith("/followers") for u in to | cc):
        return "private"
    return "direct"


def _owner(actor: object, items: list, where: Where) -> tuple[Handle, str | None, str | None]:
    """(handle, display name, avatar file name) from actor.json, else from the activities' actor."""
    if actor is not None:
        w = Where(where.file.replace("outbox.json", "actor.json"), "actor")
        user = get(actor, "preferredUsername", str, w, required=True)
        actor_id = get(actor, "id", str, w) or get(actor, "url", str, w) or ""
        host = urlsplit(actor_id).hostname
        if not host:
            raise w.error("id", f"is {actor_id!r}, expected the account's URL")
        icon = get(actor, "icon", dict, w)
        avatar = get(icon, "url", str, w.at("actor.icon")) if icon else None
        return _checked(f"{user}@{host}", where), get(actor, "name", str, w), avatar
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("actor"), str):
            found = account_from_url(item["actor"])
            if found:
                return _checked(f"{found[0]}@{found[1]}", where), None, None
    raise where.error(
        "actor", "is missing in every activity, and there is no actor.json", "pass --handle @USER@INSTANCE"
    )


def _checked(text: str, where: Where) -> Handle:
    try:
        return parse_handle("mastodon:" + text)
    except SourceError:
        raise
    except Exception as err:
        raise SourceError(f"{where.file}: the account {text!r} is not a Mastodon handle ({err})") from None


def _note(obj: dict, actor_url: str, where: Where) -> Post:
    kind = get(obj, "type", str, where)
    oid = get(obj, "id", str, where, required=True)
    content = get(obj, "content", str, where) or ""
    # contentMap's key is the language the author chose; "content" is the same HTML.
    content_map = get(obj, "contentMap", dict, where) or {}
    lang = next((k for k in content_map if isinstance(k, str)), None)
    text, urls = html_to_text(content)
    reply_url = get(obj, "inReplyTo", str, where)
    reply_owner = account_from_url(reply_url) if reply_url else None
    get(obj, "summary", str, where)  # the content warning: checked, never part of the text
    if kind == "Question":
        get(obj, "oneOf", list, where)
    return Post(
        id=oid,
        created_at=parse_date(get(obj, "published", str, where)),
        text=text,
        is_reply=reply_url is not None,
        reply_to=f"{reply_owner[0]}@{reply_owner[1]}" if reply_owner else None,
        is_self_thread=bool(reply_url and reply_url.startswith(actor_url.rstrip("/") + "/")),
        lang=lang,
        urls=urls,
        source=SOURCE,
    )


def _count(left_out: dict[str, int], reason: str) -> None:
    left_out[reason] = left_out.get(reason, 0) + 1


def parse_outbox(
    data: object, label: str, actor_url: str | None = None
) -> tuple[list[Post], dict[str, int], str | None]:
    """(posts kept for reading, {visibility left out: count}, the account URL) of an outbox."""
    where = Where(label)
    if not isinstance(data, dict):
        raise where.error(
            "orderedItems",
            f"cannot be read: the file holds {type(data).__name__}, expected an OrderedCollection object",
            "expected a Mastodon outbox.json",
        )
    items = get(data, "orderedItems", list, where, required=True)
    posts: list[Post] = []
    left_out: dict[str, int] = {}
    for i, item in enumerate(items):
        w = where.at(f"orderedItems[{i}]")
        kind = get(item, "type", str, w, required=True)
        actor = get(item, "actor", str, w) or actor_url or ""
        actor_url = actor_url or actor
        if kind == "Announce":
            obj = get(item, "object", (str, dict), w, required=True)
            # a boost addressed to followers only is as private as a followers-only post
            seen = visibility(item, None, w)
            if seen not in USED_VISIBILITIES:
                _count(left_out, LEFT_OUT_NAMES[seen])
                continue
            target = obj if isinstance(obj, str) else get(obj, "id", str, w) or ""
            posts.append(
                Post(
                    id=get(item, "id", str, w) or target,
                    created_at=parse_date(get(item, "published", str, w)),
                    text="",
                    is_retweet=True,
                    source=SOURCE,
                )
            )
            continue
        if kind != "Create":
            continue  # Update/Delete/Like activities are not posts
        obj = get(item, "object", (dict, str), w, required=True)
        if isinstance(obj, str):
            continue  # a Create that only points at its object holds no text to read
        if get(obj, "type", str, w) not in ("Note", "Question"):
            continue
        seen = visibility(item, obj, w)
        if seen not in USED_VISIBILITIES:
            _count(left_out, LEFT_OUT_NAMES[seen])
            continue
        posts.append(_note(obj, actor, w.at(f"orderedItems[{i}].object")))
    return posts, left_out, actor_url


def read_mastodon_archive(
    path: Path | str, handle: str | Handle | None = None
) -> tuple[UserInfo, list[Post]]:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"archive {path} does not exist", hint="check the path given to --archive")
    export = _Export(path)
    try:
        outbox = export.outbox()
        label = f"{export.label}:outbox.json" if export.label != "outbox.json" else "outbox.json"
        actor = export.json("actor.json")
        items = outbox.get("orderedItems") if isinstance(outbox, dict) else None
        given = parse_handle(handle) if isinstance(handle, str) else handle
        if actor is None and given is not None and given.network == "mastodon":
            owner, name, avatar = given, None, None
        else:
            owner, name, avatar = _owner(actor, items if isinstance(items, list) else [], Where(label))
        actor_url = get(actor, "id", str, Where(label)) if isinstance(actor, dict) else None
        posts, left_out, _ = parse_outbox(outbox, label, actor_url)
        avatar_bytes = None
        ext = ".jpg"
        notes: list[str] = []
        if avatar and not urlsplit(avatar).scheme:
            if export.escapes(avatar):
                # only the file's own name: the rest may be a path on someone's machine
                notes.append(
                    f"actor.json icon.url ({shown_name(avatar)}) points outside the archive: ignored, "
                    "the bot has no avatar"
                )
            else:
                ext = PurePosixPath(avatar).suffix.lower()
                if ext in _AVATAR_TYPES:
                    avatar_bytes = export.read(avatar)
    finally:
        export.close()
    if given is not None and given.key != owner.key:
        raise SourceError(
            f"archive {path.name} belongs to {owner.display}, not {given.display}",
            hint="pass the archive of that account, or leave out --handle",
        )
    user = UserInfo(
        handle=owner.key,
        name=name or owner.identifier,
        source=SOURCE,
        source_detail=path.name,
        avatar_bytes=avatar_bytes,
        avatar_ext=".jpg" if ext == ".jpeg" else ext,
        network="mastodon",
        instance=owner.instance,
        display=owner.display,
        left_out=left_out,
        notes=notes,
    )
    return user, posts
