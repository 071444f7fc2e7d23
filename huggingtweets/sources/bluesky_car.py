"""Read a Bluesky repository export (``.car``: Settings > Export my data, or
``com.atproto.sync.getRepo``).

``carfile`` reads the CARv1 framing and checks every block against its CID; libipld decodes the
DAG-CBOR blocks (atproto's ``CAR.from_bytes`` would take any CID a file claims for a block).
atproto has no reader for the Merkle Search Tree in Python, so the walk from the commit to the
records is written here: a node is ``{l: left subtree, e: [{p: shared prefix length, k: rest of the
key, v: record CID, t: subtree to the right}]}``, keys are ``<collection>/<rkey>``. A CAR always
names its repository's DID (the commit's ``did``) but never its handle.
"""

from __future__ import annotations

from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.bluesky_records import POST, REPOST, post_from_record, repost_from_record
from huggingtweets.sources.carfile import cid_text, read_blocks
from huggingtweets.sources.record import Post
from huggingtweets.sources.safezip import MB, current_limits
from huggingtweets.sources.schema import Where, get

CAR_SOURCE = "bluesky-car"
PROFILE = "app.bsky.actor.profile"


def looks_like_car(head: bytes) -> bool:
    """A CARv1 starts with a varint length and a DAG-CBOR map holding "roots" and "version"."""
    return len(head) > 2 and head[1] in (0xA2, 0xA1) and b"roots" in head[:64] and b"version" in head[:64]


class Car:
    """A repository export's blocks, each verified against its CID, decoded when first asked for."""

    def __init__(self, root: bytes, blocks: dict[bytes, bytes], label: str) -> None:
        self.root, self._raw, self._label = root, blocks, label
        self._decoded: dict[bytes, object] = {}

    def get(self, cid: bytes) -> object | None:
        """The decoded block ``cid``; None when the file does not hold it."""
        if cid in self._decoded:
            return self._decoded[cid]
        raw = self._raw.get(cid)
        if raw is None:
            return None
        import libipld

        try:
            value = libipld.decode_dag_cbor(raw)
        except RecursionError:
            raise SourceError(
                f"{self._label} is not a readable repository export (nested too deeply)",
                hint="export the repository again",
            ) from None
        except Exception as err:  # libipld raises ValueError and others: all mean "corrupt"
            raise SourceError(
                f"{self._label} is not a readable CAR repository export (block {cid_text(cid)}: "
                f"{type(err).__name__}: {str(err)[:120]})",
                hint="export the repository again (Bluesky: Settings > Account > Export my data)",
            ) from None
        self._decoded[cid] = value
        return value


def decode(data: bytes, label: str) -> Car:
    root, blocks = read_blocks(data, label)
    return Car(root, blocks, label)


def _records(car: Car, label: str) -> tuple[str, dict[str, object]]:
    """(repo DID, {"collection/rkey": record}) by walking the commit's MST; every node once."""
    where = Where(label, "commit")
    commit = car.get(car.root)
    if commit is None:
        raise where.error(
            "roots", "names a commit block the file does not hold", "export the repository again"
        )
    did = get(commit, "did", str, where, required=True)
    data = get(commit, "data", bytes, where, required=True)

    def block(link: bytes, w: Where) -> object:
        found = car.get(link)
        if found is None:
            raise w.error(
                "link",
                f"points at block {cid_text(link)} that the file does not hold",
                "export the repository again",
            )
        return found

    records: dict[str, object] = {}
    stack: list[bytes] = [data]
    seen: set[bytes] = set()
    while stack:
        link = stack.pop()
        w = Where(label, f"MST node {len(seen) + 1}")
        if link in seen:
            # A tree reaches each node once; a node reached twice makes the walk grow without end.
            raise w.error(
                "link",
                f"leads to MST node {cid_text(link)} a second time: not a tree",
                "export the repository again",
            )
        seen.add(link)
        node = block(link, w)
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
    limit = current_limits().max_bytes
    try:
        if path.stat().st_size > limit:
            raise SourceError(
                f"{path.name} is {path.stat().st_size / MB:,.0f} MB, over the limit of {limit / MB:,.0f} MB "
                "per archive",
                hint="if the export is genuinely this large, raise the limit: --max-archive-mb N "
                "(config key max_archive_mb)",
            )
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(
            f"cannot read {path.name} ({err.strerror})", hint="check the path given to --archive"
        ) from None
    return read_car_bytes(data, path.name)
