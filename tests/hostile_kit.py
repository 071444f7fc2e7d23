"""Hostile inputs, made in the test that needs them, and a way to run the CLI on one while measuring it.

- ``bomb_zip``: a zip whose one member inflates to hundreds of MB from a few hundred KB, written a MB
  at a time (the test process never holds it); ``lie_about_size`` rewrites the size the zip's table
  of contents lists for it.
- ``car``: a CARv1 from blocks, with whatever CIDs the test claims for them.
- ``measured_cli``: ``huggingtweets`` in a fresh interpreter; reports its exit code, stderr, the
  growth of its peak resident memory over the modules the command imports anyway, and its CPU time.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

MB = 1 << 20


def bomb_zip(
    path: Path, member: str, *, mb: int, head: bytes = b"", others: dict[str, bytes] | None = None
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in (others or {}).items():
            zf.writestr(name, data)
        with zf.open(member, "w") as fh:
            fh.write(head)
            chunk = b" " * MB
            for _ in range(mb):
                fh.write(chunk)
    return path


def lie_about_size(path: Path, member: str, size: int) -> None:
    """Make the central directory list ``member`` as inflating to ``size`` bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    (at,) = struct.unpack_from("<I", data, data.rindex(b"PK\x05\x06") + 16)  # the central directory
    while True:
        (name_len,) = struct.unpack_from("<H", data, at + 28)
        if data[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<I", data, at + 24, size)  # uncompressed size
            break
        at = data.index(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def cid_of(block: bytes) -> bytes:
    return b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()  # CIDv1, dag-cbor, sha2-256


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def car(root: bytes, blocks: list[tuple[bytes, bytes]]) -> bytes:
    """A CARv1 of (claimed CID, block bytes) sections, in order, with ``root`` as its root."""
    import libipld

    header = libipld.encode_dag_cbor({"version": 1, "roots": [root]})
    out = bytearray(_varint(len(header)) + header)
    for cid, data in blocks:
        out += _varint(len(cid) + len(data)) + cid + data
    return bytes(out)


_DRIVER = textwrap.dedent(
    """
    import json, resource, sys, time
    # what any fetch imports anyway: the growth beyond these is what the input costs
    import click, libipld, zipfile, zlib, hashlib
    import huggingtweets.cli as cli
    import huggingtweets.runner, huggingtweets.stagerecords, huggingtweets.sources
    import huggingtweets.sources.archive, huggingtweets.sources.mastodon_archive
    import huggingtweets.sources.bluesky_car, huggingtweets.sources.files

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KB on Linux

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    out, args = sys.argv[1], sys.argv[2:]
    base, cpu0, t0 = peak(), cpu(), time.perf_counter()
    code = 0
    try:
        sys.argv = ["huggingtweets", *args]
        cli.main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        with open(out, "w") as fh:
            json.dump(
                {"code": code, "extra_bytes": peak() - base, "cpu_s": cpu() - cpu0,
                 "seconds": time.perf_counter() - t0, "peak_bytes": peak()}, fh)
    sys.exit(code)
    """
)


def measured_cli(tmp_path: Path, *args: str, timeout: float = 120) -> dict:
    """Run ``huggingtweets ARGS`` in a fresh interpreter: {code, stderr, extra_bytes, cpu_s, seconds,
    peak_bytes} (seconds: wall time of the command itself, after the interpreter and its imports)."""
    report = tmp_path / "measured.json"
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(report), *args], capture_output=True, text=True, timeout=timeout
    )
    result = json.loads(report.read_text())
    result.update(stderr=proc.stderr, stdout=proc.stdout, returncode=proc.returncode)
    return result
