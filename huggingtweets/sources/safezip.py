"""Reading an account export without letting it turn against the reader.

- Size caps: a zip member is inflated only when its size, its compression ratio and the total of
  what has been read from the archive so far are within ``ZipLimits``; a 310 KB zip holding a 300 MB
  ``outbox.json`` is refused from its table of contents, before one byte is inflated.
- Names inside: a path an archive names (``actor.json``'s ``icon.url``) is read only when it stays
  inside the archive: no absolute path, no ``..`` above the archive's root, no symbolic link that
  leads out of an unpacked folder.

The size cap is a setting (``RunConfig.max_archive_mb``): the stage that reads archives runs under
``archive_limit(mb)``; everything else (the web app, ``refresh``) reads under the defaults.
"""

from __future__ import annotations

import contextlib
import posixpath
import zipfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from huggingtweets.errors import InputError, SourceError

MB = 1 << 20
DEFAULT_MAX_MB = 1024  # an X tweets.js of ~500,000 posts; raise it with max_archive_mb
# Deflate packs at most ~1030:1 (a run of one byte); JSON and JavaScript exports pack 5-20:1.
MAX_RATIO = 100
RATIO_FLOOR = 1 * MB  # smaller members may pack as tightly as they like: they cannot do harm
# zipfile reads a zip's whole table of contents when it opens it, ~650 bytes of memory and ~30 us of
# CPU per file listed, each listed in 46 bytes and up: 8 MB of it (~80,000 files as X names them)
# per 1,024 MB of the size cap.
TOC_SHARE = 128
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_RAISE_HINT = (
    "if the archive is genuinely this large, raise the limit: --max-archive-mb N (config key max_archive_mb)"
)
_BOMB_HINT = "this is not an account export as the network writes it; download the archive again"


@dataclass(frozen=True)
class ZipLimits:
    max_bytes: int = DEFAULT_MAX_MB * MB  # inflated bytes of one member, and of all members read
    max_ratio: float = MAX_RATIO  # inflated:compressed of one member, and of all members read


_LIMITS: ContextVar[ZipLimits | None] = ContextVar("huggingtweets_zip_limits", default=None)


def current_limits() -> ZipLimits:
    return _LIMITS.get() or ZipLimits()


@contextlib.contextmanager
def archive_limit(max_mb: int | None) -> Iterator[ZipLimits]:
    """Read archives under a cap of ``max_mb`` MB (None: the default) inside this block."""
    if max_mb is not None and max_mb < 1:
        raise InputError(
            f"max_archive_mb is {max_mb}; expected a positive number of MB",
            hint=f"leave it out for the default of {DEFAULT_MAX_MB}, or pass --max-archive-mb N",
        )
    limits = ZipLimits(max_bytes=(max_mb or DEFAULT_MAX_MB) * MB)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def open_zip(path: Path, label: str) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)``, once the table of contents its end record gives the size of is within
    ``max_bytes / TOC_SHARE``. ``ZipFile`` reads as many bytes of table as that size says, whatever
    count of files the record claims, so the size is what bounds it. Errors as ``ZipFile`` raises them."""
    limit = current_limits().max_bytes // TOC_SHARE
    with open(path, "rb") as fh:
        end = zipfile._EndRecData(fh)  # the stdlib's own reader of the end record (zip64 too)
    if end is not None and end[zipfile._ECD_SIZE] > limit:
        raise SourceError(
            f"archive {label}: its table of contents is {_mb(end[zipfile._ECD_SIZE])} "
            f"({end[zipfile._ECD_ENTRIES_TOTAL]:,} files listed), over the limit of {_mb(limit)} "
            f"(1/{TOC_SHARE} of the size limit)",
            hint=_RAISE_HINT,
        )
    return zipfile.ZipFile(path)


def _mb(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


class CappedZip:
    """``ZipFile.read`` under ``ZipLimits``, counting what the archive has inflated so far.

    The checks use the sizes of the zip's table of contents; ``zipfile`` never inflates a member
    past its listed size (a member whose stream holds more fails its CRC), so the listed sizes bound
    the work as well as the memory.
    """

    def __init__(self, zf: zipfile.ZipFile, label: str, limits: ZipLimits | None = None) -> None:
        self.zf, self.label = zf, label
        self.limits = limits or current_limits()
        self.inflated = 0
        self.compressed = 0

    def check(self, info: zipfile.ZipInfo) -> None:
        """A SourceError naming the member and the limit it breaks; nothing when it may be read."""
        limits, name = self.limits, info.filename
        if info.compress_type not in _METHODS:
            raise SourceError(
                f"archive {self.label}: {name} is compressed with zip method {info.compress_type}; "
                "expected deflate or stored",
                hint=_BOMB_HINT,
            )
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > limits.max_bytes:
            raise SourceError(
                f"archive {self.label}: {name} inflates to {_mb(size)}, over the limit of "
                f"{_mb(limits.max_bytes)} per archive",
                hint=_RAISE_HINT,
            )
        if size > RATIO_FLOOR and size / packed > limits.max_ratio:
            raise SourceError(
                f"archive {self.label}: {name} is compressed {size / packed:,.0f}:1 ({_mb(packed)} to "
                f"{_mb(size)}), over the limit of {limits.max_ratio:g}:1",
                hint=_BOMB_HINT,
            )
        total, total_packed = self.inflated + size, self.compressed + packed
        if total > limits.max_bytes:
            raise SourceError(
                f"archive {self.label}: reading {name} takes the files read to {_mb(total)}, over the "
                f"limit of {_mb(limits.max_bytes)} per archive",
                hint=_RAISE_HINT,
            )
        if total > RATIO_FLOOR and total / total_packed > limits.max_ratio:
            raise SourceError(
                f"archive {self.label}: reading {name} takes the files read to a compression of "
                f"{total / total_packed:,.0f}:1, over the limit of {limits.max_ratio:g}:1",
                hint=_BOMB_HINT,
            )

    def read(self, name: str) -> bytes:
        """The member's bytes (KeyError when the zip has no such member)."""
        info = self.zf.getinfo(name)
        self.check(info)
        with self.zf.open(info) as fh:
            data = fh.read(info.file_size + 1)
        if len(data) > info.file_size:  # zipfile stops at the listed size; this guards that promise
            raise SourceError(
                f"archive {self.label}: {name} holds more than its listed {_mb(info.file_size)}",
                hint=_BOMB_HINT,
            )
        self.inflated += len(data)
        self.compressed += max(info.compress_size, 1)
        return data


def inside_name(name: str) -> str | None:
    """``name`` as a path relative to an archive's root, or None when it would leave the archive
    (absolute, a drive, ``..`` above the root) or names nothing."""
    if not name or "\x00" in name:
        return None
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return None
    norm = posixpath.normpath(text)
    if norm in (".", "..") or norm.startswith("../"):
        return None
    return norm


def shown_name(name: str) -> str:
    """The last part of a path an archive names: enough to find it, never a path on someone's machine."""
    return PurePosixPath(name.replace("\\", "/")).name or "(a folder)"


def folder_file(root: Path, rel: str) -> Path | None:
    """``root/rel`` when it is a file that, symbolic links followed, lies inside ``root``."""
    name = inside_name(rel)
    if name is None:
        return None
    try:
        base = root.resolve()
        target = (root / name).resolve()
    except (OSError, RuntimeError):  # a link loop
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target
