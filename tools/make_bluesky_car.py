"""Write tests/fixtures/bluesky/repo.car: a small Bluesky repository export, built by the AT Protocol
repository spec (https://atproto.com/specs/repository), for the tests.

- CARv1 (https://ipld.io/specs/transport/car/carv1/): a varint-framed DAG-CBOR header
  ``{version: 1, roots: [commit CID]}``, then varint-framed (CID bytes + block bytes) sections.
- every block is DAG-CBOR, encoded by libipld (the encoder atproto itself uses), addressed by a
  CIDv1 (codec dag-cbor 0x71, sha2-256).
- the commit (version 3) points at the root of a Merkle Search Tree whose keys are
  ``<collection>/<rkey>``; a key's layer is the number of leading zero bits of its SHA-256 divided
  by two; node entries compress each key against the previous one (``p`` prefix length, ``k`` rest).

libipld has no CAR writer, so the framing (a varint and a concatenation per section) is written
here. The commit's ``sig`` is 64 fixed bytes, not a real signature: neither atproto's CAR reader nor
huggingtweets verifies it. The person (Maren Solberg, a ferry pilot) and every post are invented.

Run: python tools/make_bluesky_car.py  (deterministic: the same bytes every time)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import libipld

DID = "did:plc:ferrypiltmarensolbergxa2"  # did:plc: and 24 base32 characters
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bluesky" / "repo.car"

_PLACES = ["Bodø", "the Lofoten crossing", "Moskenes", "the north pier", "Værøy", "the fuel dock"]
_THINGS = [
    "the morning ferry left on time despite the swell",
    "a pod of orcas followed us for twenty minutes",
    "the radar went quiet and we steered by the lighthouse",
    "passengers sang on the car deck while the wind howled",
    "the harbour master waved the whole crew through",
    "we waited two hours for the fog to lift",
    "the engine room smelled of coffee and diesel again",
    "a child asked me whether the sea ever sleeps",
]


def cid_of(block: bytes) -> bytes:
    # CIDv1, dag-cbor (0x71), multihash sha2-256 (0x12, 32 bytes)
    return b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def layer(key: str) -> int:
    digest = hashlib.sha256(key.encode()).digest()
    zeros = 0
    for byte in digest:
        if byte == 0:
            zeros += 8
            continue
        zeros += 8 - byte.bit_length()
        break
    return zeros // 2


class Blocks:
    def __init__(self) -> None:
        self.blocks: dict[bytes, bytes] = {}

    def put(self, value: object) -> bytes:
        data = libipld.encode_dag_cbor(value)
        cid = cid_of(data)
        self.blocks[cid] = data
        return cid


def build_node(items: list[tuple[str, bytes]], level: int, store: Blocks) -> bytes | None:
    """The MST node at ``level`` holding ``items`` (sorted (key, record CID)); its CID, None if empty."""
    if not items:
        return None
    if level < 0:
        raise ValueError("a key below layer 0")
    here = [i for i, (key, _) in enumerate(items) if layer(key) == level]
    # the stretches between this level's keys become subtrees one level down
    bounds = [-1, *here, len(items)]
    subtrees = [
        build_node(items[a + 1 : b], level - 1, store) if level > 0 else None
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    if level == 0 and len(here) != len(items):
        raise ValueError("keys left below layer 0")
    entries, previous = [], b""
    for n, i in enumerate(here):
        key = items[i][0].encode()
        prefix = 0
        while prefix < min(len(key), len(previous)) and key[prefix] == previous[prefix]:
            prefix += 1
        entries.append({"p": prefix, "k": key[prefix:], "v": items[i][1], "t": subtrees[n + 1]})
        previous = key
    return store.put({"l": subtrees[0], "e": entries})


def tid(n: int) -> str:
    """A record key in TID form (13 base32-sortable chars), increasing with n."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = (1_767_225_600_000_000 + n * 3_600_000_000) << 10  # microseconds since 1970, clock id 0
    out = ""
    for _ in range(13):
        out = alphabet[value & 31] + out
        value >>= 5
    return out


def when(n: int) -> str:
    return f"2026-01-{1 + n // 24:02d}T{n % 24:02d}:15:00.000Z"


def records() -> list[tuple[str, str, dict]]:
    out: list[tuple[str, str, dict]] = []

    def post(n: int, text: str, **extra) -> str:
        rkey = tid(n)
        out.append(
            (
                "app.bsky.feed.post",
                rkey,
                {"$type": "app.bsky.feed.post", "text": text, "createdAt": when(n), "langs": ["en"], **extra},
            )
        )
        return f"at://{DID}/app.bsky.feed.post/{rkey}"

    for n in range(64):
        thing, other = _THINGS[n % len(_THINGS)], _THINGS[(n * 3 + 1) % len(_THINGS)]
        post(n, f"Day {n + 1} at {_PLACES[n % len(_PLACES)]}: {thing}, and later {other}.")
    first = post(70, "Thread about the winter timetable, part one: the early crossing moves to six.")
    ref = {"uri": first, "cid": libipld.encode_cid(cid_of(b"parent"))}
    post(
        71,
        "Part two: the late crossing stays, but only on weekdays when the weather allows.",
        reply={"root": ref, "parent": ref},
    )
    other = {
        "uri": "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kabcdefghij2",
        "cid": libipld.encode_cid(cid_of(b"other")),
    }
    post(
        72,
        "@gull.example agreed, the new pier lights are much easier to see at night.",
        reply={"root": other, "parent": other},
    )
    post(
        73,
        "This is exactly how the harbour looked this morning, worth reading in full.",
        embed={"$type": "app.bsky.embed.record", "record": other},
    )
    image = {
        "$type": "app.bsky.embed.images#image",
        "alt": "the ferry at dawn",
        "image": {"$type": "blob", "ref": cid_of(b"jpeg"), "mimeType": "image/jpeg", "size": 1234},
    }
    post(74, "", embed={"$type": "app.bsky.embed.images", "images": [image]})
    link = "https://example.com/timetables/winter-2026"
    text = "The new timetable is out: example.com/timetables/wi... check your crossing."
    start = len(b"The new timetable is out: ")
    end = start + len(b"example.com/timetables/wi...")
    post(
        75,
        text,
        facets=[
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
            }
        ],
    )
    for n in (76, 77):
        out.append(
            (
                "app.bsky.feed.repost",
                tid(n),
                {"$type": "app.bsky.feed.repost", "subject": other, "createdAt": when(n)},
            )
        )
    out.append(
        (
            "app.bsky.feed.like",
            tid(78),
            {"$type": "app.bsky.feed.like", "subject": other, "createdAt": when(78)},
        )
    )
    out.append(
        (
            "app.bsky.actor.profile",
            "self",
            {
                "$type": "app.bsky.actor.profile",
                "displayName": "Maren Solberg",
                "description": "Ferry pilot in the far north.",
            },
        )
    )
    return out


def build() -> bytes:
    store = Blocks()
    items = sorted((f"{coll}/{rkey}", store.put(value)) for coll, rkey, value in records())
    top = max(layer(key) for key, _ in items)
    root = build_node(items, top, store)
    commit = store.put(
        {"did": DID, "version": 3, "data": root, "rev": tid(100), "prev": None, "sig": bytes(64)}
    )
    header = libipld.encode_dag_cbor({"version": 1, "roots": [commit]})
    out = bytearray(varint(len(header)) + header)
    for cid in [commit, *[c for c in store.blocks if c != commit]]:
        data = store.blocks[cid]
        out += varint(len(cid) + len(data)) + cid + data
    return bytes(out)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(build())
    from atproto_core.car import CAR  # the check: atproto's own reader takes it

    car = CAR.from_bytes(OUT.read_bytes())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(car.blocks)} blocks, root {car.root})")
