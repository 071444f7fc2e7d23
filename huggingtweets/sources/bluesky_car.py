"""Read a Bluesky repository export (``.car``: Settings > Export my data, or
``com.atproto.sync.getRepo``).

atproto's ``CAR.from_bytes`` (libipld underneath) decodes the CARv1 framing and the DAG-CBOR blocks.
atproto has no reader for the Merkle Search Tree in Python, so the walk from the commit to the
records is written here: a node is ``{l: left subtree, e: [{p: shared prefix length, k: rest of the
key, v: record CID, t: subtree to the right}]}``, keys are ``<collection>/<rkey>``. A CAR always
names its repository's DID (the commit's ``did``) but never its handle.
"""

from __future__ import annotations

from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.bluesky_records import POST, REPOST, post_from_record, repost_from_record
from huggingtweets.sources.record import Post
from huggingtweets.sources.schema import Where, get

CAR_SOURCE = "bluesky-car"
PROFILE = "app.bsky.actor.profile"
_MAX_NODES = 1_000_000  # a cycle guard: real repos have far fewer MST nodes


def looks_like_car(head: bytes) -> bool:
    """A CARv1 starts with a varint length and a DAG-CBOR map holding "roots" and "version"."""
    return len(head) > 2 and head[1] in (0xA2, 0xA1) and b"roots" in head[:64] and b"version" in head[:64]


def decode(data: bytes, label: str):
    from atproto_core.car import CAR

    try:
        return CAR.from_bytes(data)
    except RecursionError:
        raise SourceError(
            f"{label} is not a readable repository export (nested too deeply)",
            hint="export the repository again",
        ) from None
    except Exception as err:  # libipld raises ValueError, atproto InvalidCARFile: both mean "corrupt"
        raise SourceError(
            f"{label} is not a readable CAR repository export ({type(err).__name__}: {str(err)[:120]})",
            hint="export the repository again (Bluesky: Settings > Account > Export my data)",
        ) from None


def _records(car, label: str) -> tuple[str, dict[str, object]]:
    """(repo DID, {"collection/rkey": record}) by walking the commit's MST."""
    from atproto_core.cid import CID

    where = Where(label, "commit")
    commit = car.blocks.get(car.root)
    if commit is None:
        raise where.error(
            "roots", "names a commit block the file does not hold", "export the repository again"
        )
    did = get(commit, "did", str, where, required=True)
    data = get(commit, "data", bytes, where, required=True)

    def block(link: bytes, w: Where) -> object:
        try:
            cid = CID.from_decoded_bytes(link)
        except Exception:
            raise w.error("link", "is not a CID") from None
        found = car.blocks.get(cid)
        if found is None:
            raise w.error(
                "link", f"points at block {cid} that the file does not hold", "export the repository again"
            )
        return found

    records: dict[str, object] = {}
    stack: list[bytes] = [data]
    visited = 0
    while stack:
        visited += 1
        if visited > _MAX_NODES:
            raise where.error("data", "leads to a tree that does not end")
        w = Where(label, f"MST node {visited}")
        node = block(stack.pop(), w)
        left = get(node, "l", bytes, w)
        if left is not None:
            stack.append(left)
        previous = b""
        for i, entry in enumerate(get(node, "e", list, w, required=True)):
            we = w.at(f"{w.record}.e[{i}]")
            prefix = get(entry, "p", int, we, required=True)
            if not 0 <= prefix <= len(previous):
                raise we.error("p", f"is {prefix}, longer than the previous key")
            key = previous[:prefix] + get(entry, "k", bytes, we, required=True)
            previous = key
            try:
                name = key.decode("utf-8")
            except UnicodeDecodeError:
                raise we.error("k", "is not UTF-8") from None
            records[name] = block(get(entry, "v", bytes, we, required=True), we)
            right = get(entry, "t", bytes, we)
            if right is not None:
                stack.append(right)
    return did, records


def read_car_bytes(data: bytes, label: str, source: str = CAR_SOURCE) -> tuple[str, str | None, list[Post]]:
    """(DID, profile display name, posts and reposts, newest first) of a repository export."""
    car = decode(data, label)
    did, records = _records(car, label)
    posts: list[Post] = []
    name = None
    for key, record in records.items():
        collection, _, rkey = key.partition("/")
        uri = f"at://{did}/{key}"
        where = Where(label, key)
        if collection == POST:
            posts.append(post_from_record(record, uri, did, source, where))
        elif collection == REPOST:
            posts.append(repost_from_record(record, uri, source, where))
        elif collection == PROFILE and rkey == "self":
            name = get(record, "displayName", str, where)
    posts.sort(key=lambda p: p.created_at or "", reverse=True)
    return did, name, posts


def read_car(path: Path | str) -> tuple[str, str | None, list[Post]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(
            f"cannot read {path.name} ({err.strerror})", hint="check the path given to --archive"
        ) from None
    return read_car_bytes(data, path.name)
