"""CARv1 framing (https://ipld.io/specs/transport/car/carv1/) with every block checked against its CID.

A CAR is a varint-framed DAG-CBOR header ``{version: 1, roots: [CID]}``, then varint-framed sections
of CID bytes + block bytes. atproto's ``CAR.from_bytes`` (libipld's ``decode_car``) trusts the CIDs a
file declares, so a block can claim any CID, its own included: an MST node that "links to itself".
Here each block's SHA-256 must equal the digest in its CID, so a link can only point at a block
written before the link existed: a tree of verified blocks has no cycle.

Repository exports (https://atproto.com/specs/repository) use CIDv1 with sha2-256 and the dag-cbor
codec (raw for blobs); anything else is refused rather than trusted.
"""

from __future__ import annotations

import hashlib

from huggingtweets.errors import SourceError

SHA2_256 = 0x12
CODECS = {0x71: "dag-cbor", 0x55: "raw"}
_HINT = "export the repository again (Bluesky: Settings > Account > Export my data)"


def cid_text(cid: bytes) -> str:
    """The CID as people see it (``bafyrei...``), or its bytes in hex when it is none."""
    import libipld

    try:
        return libipld.encode_cid(cid)
    except Exception:  # not a CID libipld can write
        return cid[:40].hex()


class _Reader:
    def __init__(self, data: bytes, label: str) -> None:
        self.data, self.label, self.pos = data, label, 0

    def fail(self, what: str) -> SourceError:
        return SourceError(f"{self.label} is not a readable CAR repository export ({what})", hint=_HINT)

    def varint(self, what: str, end: int | None = None) -> int:
        end = len(self.data) if end is None else end
        value = shift = 0
        while True:
            if self.pos >= end:
                raise self.fail(f"it ends inside the {what}")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise self.fail(f"the {what} is not a varint")

    def take(self, n: int, what: str, end: int | None = None) -> bytes:
        end = len(self.data) if end is None else end
        if n < 0 or self.pos + n > end:
            raise self.fail(f"it ends inside the {what} at byte {self.pos:,}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def read_blocks(data: bytes, label: str) -> tuple[bytes, dict[bytes, bytes]]:
    """(the first root's CID, {CID bytes: block bytes}) of a CAR, every block verified against its CID."""
    import libipld

    r = _Reader(data, label)
    header_bytes = r.take(r.varint("header length"), "header")
    try:
        header = libipld.decode_dag_cbor(header_bytes)
    except Exception as err:  # libipld raises ValueError and others for bad DAG-CBOR
        raise r.fail(f"its header is not DAG-CBOR: {type(err).__name__}") from None
    roots = header.get("roots") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("version") != 1:
        raise r.fail("its header is not that of a CAR version 1")
    if not isinstance(roots, list) or not roots or not isinstance(roots[0], bytes):
        raise r.fail("its header names no root")
    blocks: dict[bytes, bytes] = {}
    while r.pos < len(data):
        n = r.varint("section length")
        if n == 0:
            raise r.fail(f"an empty section at byte {r.pos:,}")
        end = r.pos + n
        if end > len(data):
            raise r.fail(f"a section of {n:,} bytes at byte {r.pos:,} runs past its end")
        start = r.pos
        if r.data[start] == SHA2_256:
            raise r.fail(f"the block at byte {start:,} has a version 0 CID; repositories use version 1")
        version = r.varint("CID", end)
        codec = r.varint("CID", end)
        code = r.varint("CID", end)
        size = r.varint("CID", end)
        digest = r.take(size, "CID", end)
        cid = data[start : r.pos]
        block = data[r.pos : end]
        r.pos = end
        if version != 1 or codec not in CODECS or code != SHA2_256 or size != 32:
            raise r.fail(
                f"block {cid_text(cid)} is not addressed by a CIDv1 with sha2-256 and dag-cbor or raw"
            )
        if hashlib.sha256(block).digest() != digest:
            raise r.fail(f"block {cid_text(cid)} does not hash to its CID: the file was altered")
        blocks.setdefault(cid, block)
    return roots[0], blocks
