"""An example network kept in the tests, to show what adding a network and an export format takes:
this module (a reader, a detector, a live fetch) and its entries given to ``sources.registry``.

The export is a text file: a first line ``EXAMPLE-EXPORT 1 <account>``, then one post a line as
``id<TAB>ISO date<TAB>text``. The live source asks a client (passed in, as every live client is)
for the account's bio, whose opt-out tags it reads before anything else (its ``consent`` hook),
then for its posts.
"""

from __future__ import annotations

from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.consent import Consent, bio_tags, decide
from huggingtweets.sources.handles import Handle, parse_handle
from huggingtweets.sources.record import Post, UserInfo, today_utc
from huggingtweets.sources.registry import Network, Source, bad_handle

MAGIC = b"EXAMPLE-EXPORT 1 "


def _parse(text: str, value: str) -> tuple[str, None]:
    if not value.isalnum():
        raise bad_handle(text, "an Example account is letters and digits")
    return value.lower(), None


NETWORK = Network(
    name="example",
    title="Example",
    reposts="echoes",
    prefixes=("example",),
    spelling="an Example account (example:alice)",
    claims=lambda value: False,  # only ever spelled with its prefix
    parse=_parse,
    key=lambda identifier, instance: f"{identifier}_on_example",
    display=lambda identifier, instance: f"example:{identifier}",
)


def detects(path: Path, head: bytes) -> bool:
    return path.is_file() and head.startswith(MAGIC)


def read(path: Path, handle: str | None) -> tuple[UserInfo, list[Post]]:
    first, *lines = Path(path).read_text(encoding="utf-8").splitlines()
    owner = Handle("example", first[len(MAGIC) :].strip().lower())
    if handle and parse_handle(handle) != owner:
        raise SourceError(f"{path.name} is the export of {owner.display}, not {handle}")
    posts = []
    for n, line in enumerate(lines, 2):
        pid, sep, rest = line.partition("\t")
        date, sep2, text = rest.partition("\t")
        if not (sep and sep2):
            raise SourceError(f"{path.name}: line {n} is not id<TAB>date<TAB>text")
        posts.append(Post(id=pid, created_at=date, text=text, source="example-export"))
    user = UserInfo(
        handle=owner.key,
        name=owner.identifier,
        source="example-export",
        source_detail=path.name,
        network="example",
        display=owner.display,
    )
    return user, posts


def read_consent(handle: Handle, client) -> Consent:
    """The account's own word (``#nobot`` in its bio): ``consent.OptedOut`` when it says no."""
    return decide(
        handle.display, bio_tags(client.bio(handle.identifier)), owner=False, ways="its Example export"
    )


def fetch_account(handle: Handle, *, client, max_posts=None, echo=print, sleep=None):
    consent = read_consent(handle, client)  # before any post is read
    rows = client.posts(handle.identifier)[: max_posts or None]
    if not rows:
        raise SourceError(f"{handle.display} has no posts on Example")
    posts = [Post(id=i, created_at=d, text=t, source="example") for i, d, t in rows]
    user = UserInfo(
        handle=handle.key,
        name=handle.identifier,
        source="example",
        source_detail="example.invalid's public API",
        network="example",
        instance="example.invalid",
        display=handle.display,
        fetched_on=today_utc(),
        consent=consent.to_dict(),
    )
    return user, posts


EXPORT = Source(
    name="example-export",
    network="example",
    kind="export",
    help="an Example export (.txt starting EXAMPLE-EXPORT 1)",
    short="{handle} from their own {title} export",
    long="the account's own data export ({detail}, {title}).",
    detects=detects,
    read="example_network:read",
)
LIVE = Source(
    name="example",
    network="example",
    kind="live",
    help="an Example account read live",
    short="{handle}, read from {instance}'s public API on {fetched_on}",
    long="public posts read from {instance}'s public API on {fetched_on} ({detail}).",
    fetch="example_network:fetch_account",
    consent="example_network:read_consent",
)
