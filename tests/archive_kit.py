"""Build small X archives (and posts files) from real records, changed on purpose.

``SEEDS`` are the real records of ``fixtures/data/seed-records.json`` (their sources are named in
it). ``write_archive`` writes an archive folder holding them, with any record replaced, so a test
can give one field a wrong type and read the archive back.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

SEEDS = json.loads((Path(__file__).parent / "fixtures" / "data" / "seed-records.json").read_text("utf-8"))

_YTD = {"tweet": "tweets", "account": "account", "profile": "profile", "noteTweet": "note_tweet"}
_FILE = {
    "tweet": "data/tweets.js",
    "account": "data/account.js",
    "profile": "data/profile.js",
    "noteTweet": "data/note-tweet.js",
}


def seed(kind: str):
    """A fresh copy of a seed: "tweets" (list), "account", "profile", "manifest", "note"."""
    return copy.deepcopy(SEEDS[f"x_archive_{'note_tweet' if kind == 'note' else kind}"])


def ytd_text(key: str, records: list) -> str:
    wrapped = [{key: r} for r in records]
    return f"window.YTD.{_YTD[key]}.part0 = " + json.dumps(wrapped, indent=1)


def manifest_text(manifest) -> str:
    return "window.__THAR_CONFIG = " + json.dumps(manifest, indent=1)


def write_archive(folder: Path, *, tweets=None, account=None, profile=None, manifest=None, note=None) -> Path:
    """An archive folder of the seeds, each part replaced where given (the object, not a copy)."""
    parts = {
        "tweet": seed("tweets") if tweets is None else tweets,
        "account": [seed("account") if account is None else account],
        "profile": [seed("profile") if profile is None else profile],
        "noteTweet": [seed("note") if note is None else note],
    }
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for key, records in parts.items():
        (data / Path(_FILE[key]).name).write_text(ytd_text(key, records), encoding="utf-8")
    manifest = seed("manifest") if manifest is None else manifest
    (data / "manifest.js").write_text(manifest_text(manifest), encoding="utf-8")
    return folder


def corrupt_deflate(zip_path: Path, member: str) -> None:
    """Overwrite the first byte of ``member``'s deflate stream with 0xFF: a block of the reserved
    type 3, which zlib refuses ("invalid block type")."""
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
        assert info.compress_type == zipfile.ZIP_DEFLATED
    raw = bytearray(zip_path.read_bytes())
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start] = 0xFF
    zip_path.write_bytes(bytes(raw))


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder).as_posix())
    return out
