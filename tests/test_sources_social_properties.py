"""Property tests: the Mastodon and Bluesky parsers fed mutated real records (wrong types, missing
keys, nulls, huge values, odd Unicode) raise only SourceError/InputError, never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import libipld
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huggingtweets.errors import InputError
from huggingtweets.sources.bluesky_car import read_car_bytes
from huggingtweets.sources.bluesky_records import posts_from_feed
from huggingtweets.sources.mastodon import statuses_to_posts
from huggingtweets.sources.mastodon_archive import parse_outbox

FIXTURES = Path(__file__).parent / "fixtures"
OUTBOX = json.loads((FIXTURES / "mastodon/archive/outbox.json").read_text(encoding="utf-8"))["orderedItems"]
RECORDED = json.loads((FIXTURES / "mastodon/api_recorded.json").read_text(encoding="utf-8"))
STATUSES = [RECORDED[k] for k in ("content_warning", "private", "boost", "poll", "reply", "quote")]
DID = "did:plc:ferrypiltmarensolbergxa2"
FEED = [
    {
        "post": {
            "uri": f"at://{DID}/app.bsky.feed.post/3a",
            "author": {"did": DID},
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "a post with a link example.com/x...",
                "createdAt": "2026-01-01T00:00:00Z",
                "langs": ["en"],
                "reply": {
                    "root": {"uri": f"at://{DID}/app.bsky.feed.post/3b", "cid": "x"},
                    "parent": {"uri": f"at://{DID}/app.bsky.feed.post/3b", "cid": "x"},
                },
                "facets": [
                    {
                        "index": {"byteStart": 19, "byteEnd": 35},
                        "features": [
                            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/xyz"}
                        ],
                    }
                ],
                "embed": {
                    "$type": "app.bsky.embed.record",
                    "record": {"uri": "at://did:plc:x/app.bsky.feed.post/1", "cid": "y"},
                },
            },
        }
    },
    {
        "post": {
            "uri": "at://did:plc:o/app.bsky.feed.post/3c",
            "author": {"did": "did:plc:o"},
            "record": {"text": "x"},
        },
        "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "indexedAt": "2026-01-02T00:00:00Z"},
    },
]

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.text(alphabet="\u202e\u0000\ud7ff\ud83d\U0001f600\u200b<>&", max_size=10),
    st.just("x" * 100_000),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated(draw, records: list):
    """A deep copy of ``records`` with a few values replaced, deleted or set to odd ones."""
    data = copy.deepcopy(records)
    paths = [p for p in _paths(data) if p]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(ODD)
        except (KeyError, IndexError, TypeError):
            continue
    return data


OUTCOMES: dict[str, int] = {"parsed": 0, "refused": 0}


def only_our_errors(fn, *args, posts_of=lambda result: result[0]) -> None:
    try:
        result = fn(*args)
        OUTCOMES["parsed"] += 1
        for post in posts_of(result):  # what fetch then writes to raw/<key>.jsonl must be writable as UTF-8
            post.to_json().encode("utf-8")
    except InputError as err:
        assert "\n" not in str(err)
        OUTCOMES["refused"] += 1


FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(mutated(OUTBOX[60:69]))
def test_mastodon_outbox(items):
    only_our_errors(parse_outbox, {"orderedItems": items}, "outbox.json")


@FAST
@given(mutated(STATUSES))
def test_mastodon_statuses(statuses):
    only_our_errors(statuses_to_posts, statuses, RECORDED["account"]["id"], "statuses")


@FAST
@given(mutated(FEED))
def test_bluesky_feed(feed):
    only_our_errors(posts_from_feed, feed, DID, "bluesky", "feed", posts_of=lambda posts: posts)


def _car(records: list[dict]) -> bytes:
    """A one-node repository CAR holding ``records`` under app.bsky.feed.post keys."""
    import hashlib

    blocks = {}

    def put(value) -> bytes:
        data = libipld.encode_dag_cbor(value)
        cid = b"\x01\x71\x12\x20" + hashlib.sha256(data).digest()
        blocks[cid] = data
        return cid

    entries = [
        {"p": 0, "k": f"app.bsky.feed.post/3k{i:011d}".encode(), "v": put(record), "t": None}
        for i, record in enumerate(records)
    ]
    commit = put(
        {
            "did": DID,
            "version": 3,
            "data": put({"l": None, "e": entries}),
            "rev": "3a",
            "prev": None,
            "sig": b"",
        }
    )
    header = libipld.encode_dag_cbor({"version": 1, "roots": [commit]})
    out = bytearray([len(header)]) + header
    for cid, data in blocks.items():
        size = len(cid) + len(data)
        while size >= 0x80:
            out.append((size & 0x7F) | 0x80)
            size >>= 7
        out.append(size)
        out += cid + data
    return bytes(out)


@FAST
@given(
    mutated(
        [
            FEED[0]["post"]["record"],
            {"$type": "app.bsky.feed.post", "text": "plain words here", "createdAt": "x"},
        ]
    )
)
def test_bluesky_car_records(records):
    try:
        data = _car(records)
    except (ValueError, OverflowError):
        return  # not representable in DAG-CBOR, so no CAR can hold it
    only_our_errors(read_car_bytes, data, "export.car", posts_of=lambda result: result[2])


@FAST
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=20000))
def test_bluesky_car_bytes_cut_or_garbled(noise, cut):
    real = (FIXTURES / "bluesky/repo.car").read_bytes()
    only_our_errors(read_car_bytes, real[:cut] + noise, "export.car", posts_of=lambda result: result[2])


def test_the_mutations_reach_both_outcomes():
    """Guards the property tests above: the mutations must make some records fail and let others pass
    (this runs after them, in file order)."""
    assert OUTCOMES["parsed"] > 10 and OUTCOMES["refused"] > 10, OUTCOMES
