"""Read an X (Twitter) archive: the ``.zip`` X sends, or the folder it unpacks to.

What the archive holds (``data/`` inside it):
- ``manifest.js`` (``window.__THAR_CONFIG = {...}``): ``userInfo`` and, under ``dataTypes``, the
  files of every data type. Older or trimmed archives lack it, so the file names are guessed too.
- tweets: ``tweets.js``, ``tweets-part1.js``... (``window.YTD.tweets.partN``, 2022 on) or the
  legacy ``tweet.js`` (``window.YTD.tweet.partN``).
- ``account.js`` (``username``, ``accountDisplayName``), ``profile.js`` (``avatarMediaUrl``) and the
  avatar image in ``data/profile_media/``.
- ``note-tweet.js``: the full text of long posts, whose ``full_text`` in tweets.js is cut short.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from huggingtweets.errors import SourceError
from huggingtweets.sources.record import Post, UserInfo
from huggingtweets.sources.safezip import CappedZip, folder_file, open_zip
from huggingtweets.sources.schema import DATE, FLAG, ID, LANG, STR, URLS, ListOf, MapOf, Obj, conform

_YTD_HEAD = re.compile(r"\s*window\.YTD\.(?P<name>\w+)\.part(?P<part>\d+)\s*=\s*")
_MANIFEST_HEAD = re.compile(r"\s*window\.__THAR_CONFIG\s*=\s*")
_PART_NUMBER = re.compile(r"-part(\d+)\.js$")
_DATA_FILE_NAME = re.compile(r"(?:manifest|account|tweets?(?:-part\d+)?)\.js")
_DATA_FILE = re.compile(r"(?:^|/)data/" + _DATA_FILE_NAME.pattern + "$")
# What a zip member can throw when its bytes are damaged: a bad deflate/bzip2/lzma stream, a CRC
# mismatch, a truncated member, an encrypted or unsupported entry.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
)
_HINT = "download the archive again from X (Settings > Your account > Download an archive)"

# The fields each record type is read for (see the X archive's own data/README.txt); others pass.
_EDIT_IDS = Obj({"editTweetIds": ListOf(ID)})
TWEET = Obj(
    {
        "id_str": ID, "id": ID, "full_text": STR, "text": STR, "created_at": DATE, "lang": LANG,
        "in_reply_to_screen_name": STR, "in_reply_to_status_id_str": ID, "in_reply_to_status_id": ID,
        "retweeted": FLAG, "entities": URLS,
        "edit_info": Obj({"initial": _EDIT_IDS, "edit": Obj({"editControlInitial": _EDIT_IDS})}),
    }
)  # fmt: skip
ACCOUNT = Obj({"username": STR, "accountDisplayName": STR, "accountId": ID})
PROFILE = Obj({"avatarMediaUrl": STR})
NOTE_TWEET = Obj(
    {
        "tweetId": ID,
        "noteTweetId": ID,
        "createdAt": DATE,
        "core": Obj({"text": STR}),
        "noteTweetResults": Obj({"text": STR}),
    }
)
MANIFEST = Obj(
    {
        "userInfo": Obj({"userName": STR, "displayName": STR, "accountId": ID}),
        "dataTypes": MapOf(Obj({"files": ListOf(Obj({"fileName": STR})), "mediaDirectory": STR})),
    }
)
SHAPES = {"tweet": TWEET, "account": ACCOUNT, "profile": PROFILE, "noteTweet": NOTE_TWEET}


class _Files:
    """Read-only view of an archive's files by path relative to the archive root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = path.name  # never an absolute path in users.json or errors shown to others
        if path.is_dir():
            self._zip = None
            try:
                names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
            except OSError as err:  # an unreadable subfolder
                raise SourceError(f"archive folder {self.label} cannot be listed ({err.strerror})") from None
        elif zipfile.is_zipfile(path):
            try:
                self._zip = open_zip(path, self.label)
            except _ZIP_ERRORS as err:
                raise SourceError(
                    f"archive {self.label} is a damaged .zip file ({err})", hint=_HINT
                ) from None
            self._capped = CappedZip(self._zip, self.label)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
        else:
            raise SourceError(
                f"{path} is neither a folder nor a .zip file",
                hint="pass the .zip X sent you, or the folder it unpacks to, with --archive",
            )
        self._names = _map_names(names)

    def names(self) -> list[str]:
        return sorted(self._names)

    def has(self, rel: str) -> bool:
        return rel in self._names

    def inside(self, rel: str) -> bool:
        """Whether ``rel`` is inside the archive: a zip member always is; in a folder, a symbolic link
        may lead anywhere."""
        return self._zip is not None or folder_file(self.path, self._names[rel]) is not None

    def read_bytes(self, rel: str) -> bytes:
        real = self._names[rel]
        try:
            if self._zip is not None:
                return self._capped.read(real)
            target = folder_file(self.path, real)
            if target is None:
                raise SourceError(
                    f"archive {self.label}: {real} is a link that leads outside the archive folder",
                    hint="pass the folder as X unpacked it, or the .zip itself",
                )
            return target.read_bytes()
        except _ZIP_ERRORS as err:
            raise SourceError(
                f"archive {self.label}: {real} cannot be read ({type(err).__name__}: {err})", hint=_HINT
            ) from None

    def read_text(self, rel: str) -> str:
        try:
            return self.read_bytes(rel).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise SourceError(
                f"archive {self.label}: {rel} is not UTF-8 text (byte {err.start}: {err.reason})", hint=_HINT
            ) from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _map_names(names: list[str]) -> dict[str, str]:
    """``data/...`` name -> real name. Zips are often made from a folder above ``data/``; and the
    folder a user gives may be ``data/`` itself."""
    roots = [n[: n.rindex("data/")] for n in names if _DATA_FILE.search(n)]
    if roots:
        root = min(roots, key=len)
        return {n[len(root) :]: n for n in names if n.startswith(root)}
    if any(_DATA_FILE_NAME.fullmatch(n) for n in names):
        return {"data/" + n: n for n in names}
    return {n: n for n in names}


def _open(path: Path) -> _Files:
    if not path.exists():
        raise SourceError(f"archive {path} does not exist", hint="check the path given to --archive")
    return _Files(path)


def parse_ytd(text: str, where: str) -> list:
    """``window.YTD.<name>.partN = [JSON]`` -> the JSON list; a SourceError naming ``where`` otherwise."""
    head = _YTD_HEAD.match(text)
    if head is None:
        raise SourceError(
            f"{where} does not start with `window.YTD.<name>.partN = `",
            hint="expected an X archive data file such as data/tweets.js; re-download the archive",
        )
    body = text[head.end() :].strip().rstrip(";")
    try:
        data = _json(body)
    except ValueError as err:
        raise SourceError(
            f"{where} holds no valid JSON after `window.YTD.{head['name']}.part{head['part']} =` ({err})",
            hint="expected `window.YTD... = [JSON]`; re-download the archive",
        ) from None
    if not isinstance(data, list):
        raise SourceError(f"{where} holds a JSON {type(data).__name__}, expected a list of records")
    return data


def _json(text: str):
    """``json.loads``, with every way it fails as one ValueError saying where."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"line {err.lineno}: {err.msg}") from None
    except ValueError as err:  # an integer of over 4,300 digits
        raise ValueError(" ".join(str(err).split())[:120]) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _parse_manifest(files: _Files) -> dict:
    if not files.has("data/manifest.js"):
        return {}
    where = f"{files.label}:data/manifest.js"
    text = files.read_text("data/manifest.js")
    head = _MANIFEST_HEAD.match(text)
    if head is None:
        raise SourceError(f"{where} does not start with `window.__THAR_CONFIG = `")
    try:
        data = _json(text[head.end() :].strip().rstrip(";"))
    except ValueError as err:
        raise SourceError(f"{where} holds no valid JSON ({err})", hint=_HINT) from None
    return conform(data, MANIFEST, where, hint=_HINT)


def _manifest_files(manifest: dict, *types: str) -> list[str]:
    data_types = manifest.get("dataTypes") or {}
    for data_type in types:
        entry = data_types.get(data_type)
        if isinstance(entry, dict) and isinstance(entry.get("files"), list):
            return [f["fileName"] for f in entry["files"] if isinstance(f, dict) and f.get("fileName")]
    return []


def _part_key(name: str) -> tuple[int, str]:
    match = _PART_NUMBER.search(name)
    return (int(match.group(1)) if match else 0, name)


def _tweet_files(files: _Files, manifest: dict) -> list[str]:
    listed = [f for f in _manifest_files(manifest, "tweets", "tweet") if files.has(f)]
    if listed:
        return listed
    # No manifest (or it names files the archive lacks): take every part present, current names first.
    for stem in ("tweets", "tweet"):
        found = [n for n in files.names() if re.fullmatch(rf"data/{stem}(-part\d+)?\.js", n)]
        if found:
            return sorted(found, key=_part_key)
    return []


def _records(files: _Files, rel: str, key: str) -> list[dict]:
    """The ``key`` objects in one YTD file, each checked against its shape; the 2019-era tweet.js
    lists tweets without the wrapper."""
    where = f"{files.label}:{rel}"
    out = []
    for i, item in enumerate(parse_ytd(files.read_text(rel), where)):
        if isinstance(item, dict) and isinstance(item.get(key), dict):
            record = item[key]
        elif key == "tweet" and isinstance(item, dict) and ("full_text" in item or "text" in item):
            record = item
        else:
            raise SourceError(
                f"{where}: record {i} is not an object with a {key!r} object",
                hint=f'expected [{{"{key}": {{...}}}}, ...] as X writes it',
            )
        out.append(conform(record, SHAPES[key], where, record=f"record {i}{_id_of(record)}", hint=_HINT))
    return out


def _id_of(record: dict) -> str:
    """ " (id 123)" when the record names a plausible id, to find it in the file."""
    for key in ("id_str", "id", "tweetId", "noteTweetId", "accountId"):
        value = record.get(key)
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,30}", value):
            return f" (id {value})"
    return ""


def _first_record(files: _Files, manifest: dict, data_type: str, default: str) -> dict:
    for rel in _manifest_files(manifest, data_type) or [default]:
        if files.has(rel):
            records = _records(files, rel, data_type)
            if records:
                return records[0]
    return {}


def _edit_chain(tweet: dict) -> list[str] | None:
    info = tweet.get("edit_info") or {}
    if "edit" in info:
        ids = ((info["edit"] or {}).get("editControlInitial") or {}).get("editTweetIds")
    else:
        ids = (info.get("initial") or {}).get("editTweetIds")
    return [str(i) for i in ids] if isinstance(ids, list) and len(ids) > 1 else None


def _drop_edited_versions(tweets: list[dict]) -> list[dict]:
    """Of each edit chain keep only the latest version the archive holds."""
    present = {str(t.get("id_str") or t.get("id")) for t in tweets}
    superseded: set[str] = set()
    for tweet in tweets:
        chain = _edit_chain(tweet)
        if chain:
            latest = next((i for i in reversed(chain) if i in present), None)
            superseded.update(i for i in chain if i != latest)
    return [t for t in tweets if str(t.get("id_str") or t.get("id")) not in superseded]


def _note_texts(files: _Files, manifest: dict) -> tuple[dict[str, str], dict[str, str]]:
    """Long-post texts by tweet id (newer archives) and by creation second (the only link in most)."""
    by_id: dict[str, str] = {}
    by_time: dict[str, str] = {}
    for rel in _manifest_files(manifest, "noteTweet") or ["data/note-tweet.js"]:
        if not files.has(rel):
            continue
        for note in _records(files, rel, "noteTweet"):
            core = note.get("core") or note.get("noteTweetResults") or {}
            text = core.get("text")
            if text is None:
                continue
            if note.get("tweetId"):
                by_id[note["tweetId"]] = text
            if note.get("createdAt"):
                by_time[note["createdAt"]] = text
    return by_id, by_time


def _long_text(tweet: dict, text: str, created: str | None, notes: tuple[dict, dict]) -> str:
    by_id, by_time = notes
    tweet_id = str(tweet.get("id_str") or tweet.get("id"))
    if tweet_id in by_id:
        return by_id[tweet_id]
    note = by_time.get(created or "")
    # The timestamp match is confirmed by the text: the cut post is the note's beginning.
    stem = re.sub(r"\s*(https?://\S+\s*)*$", "", text).rstrip("…").rstrip()
    if note and note.startswith(stem[: max(1, len(stem) - 1)]):
        return note
    return text


def _to_post(tweet: dict, handle: str, notes: tuple[dict, dict]) -> Post:
    """``tweet`` has been conformed to ``TWEET``: every field read here has its type."""
    text = tweet.get("full_text") if tweet.get("full_text") is not None else tweet.get("text") or ""
    created = tweet.get("created_at")
    text = _long_text(tweet, text, created, notes)
    reply_to = tweet.get("in_reply_to_screen_name") or None
    is_reply = bool(reply_to or tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"))
    urls = [
        u["expanded_url"] for u in (tweet.get("entities") or {}).get("urls") or [] if u.get("expanded_url")
    ]
    retweeted = tweet.get("retweeted") is True
    return Post(
        id=str(tweet.get("id_str") or tweet.get("id") or ""),
        created_at=created,
        text=text,
        # Real archives set "retweeted" false on retweets: the "RT @" prefix is what tells.
        is_retweet=text.startswith("RT @") or retweeted,
        is_reply=is_reply,
        reply_to=reply_to,
        is_self_thread=bool(is_reply and reply_to and reply_to.lower() == handle.lower()),
        lang=tweet.get("lang") or None,
        urls=urls,
        source="archive",
    )


def _avatar(files: _Files, manifest: dict, url: str | None) -> tuple[bytes | None, str]:
    if not url:
        return None, ".jpg"
    base = PurePosixPath(url).name
    media_dir = ((manifest.get("dataTypes") or {}).get("profile") or {}).get("mediaDirectory")
    media_dir = (media_dir or "data/profile_media").rstrip("/") + "/"
    for name in files.names():
        # X names the file "<account id>-<basename of avatarMediaUrl>".
        if name.startswith(media_dir) and (name.endswith("-" + base) or PurePosixPath(name).name == base):
            if not files.inside(name):
                continue  # a link out of the archive folder is never published as the bot's face
            return files.read_bytes(name), PurePosixPath(name).suffix or ".jpg"
    return None, ".jpg"


def read_archive(path: Path | str, handle: str | None = None) -> tuple[UserInfo, list[Post]]:
    """Read one archive. ``handle`` is checked against the archive's own when it names one."""
    path = Path(path)
    files = _open(path)
    try:
        manifest = _parse_manifest(files)
        tweet_files = _tweet_files(files, manifest)
        if not tweet_files:
            raise SourceError(
                f"archive {files.label} holds no tweets data (no data/tweets.js, data/tweets-partN.js "
                "or data/tweet.js)",
                hint="download the full archive from X (Settings > Your account > Download an archive)",
            )
        account = _first_record(files, manifest, "account", "data/account.js")
        user_info = manifest.get("userInfo") or {}
        own = account.get("username") or user_info.get("userName")
        if own and handle and own.lower() != handle.lstrip("@").lower():
            raise SourceError(
                f"archive {files.label} belongs to @{own}, not @{handle.lstrip('@')}",
                hint="drop --handle or give the archive's own handle",
            )
        final = own or (handle.lstrip("@") if handle else None)
        if not final:
            raise SourceError(
                f"archive {files.label} has no account.js or manifest.js naming its account",
                hint="give the account with --handle after --archive",
            )
        name = account.get("accountDisplayName") or user_info.get("displayName") or final

        notes = _note_texts(files, manifest)
        tweets: list[dict] = []
        for rel in tweet_files:
            tweets.extend(_records(files, rel, "tweet"))
        posts = [_to_post(t, final, notes) for t in _drop_edited_versions(tweets)]
        if not posts:
            raise SourceError(
                f"archive {files.label} holds zero posts in {', '.join(tweet_files)}",
                hint="expected an archive of an account that has posted",
            )

        profile = _first_record(files, manifest, "profile", "data/profile.js")
        avatar_url = profile.get("avatarMediaUrl") or None
        avatar_bytes, avatar_ext = _avatar(files, manifest, avatar_url)
        user = UserInfo(
            handle=final,
            name=name,
            source="archive",
            source_detail=files.label,
            avatar_url=avatar_url,
            avatar_bytes=avatar_bytes,
            avatar_ext=avatar_ext,
        )
        return user, posts
    except (UnicodeDecodeError, zipfile.BadZipFile, OSError) as err:
        raise SourceError(f"archive {files.label} cannot be read ({err})") from None
    finally:
        files.close()
