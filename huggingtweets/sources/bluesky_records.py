"""Bluesky records -> posts: ``app.bsky.feed.post`` (from a repo CAR or a feed view), reposts, and the
feed items of ``app.bsky.feed.getAuthorFeed``. Shared by the CAR export and the live path.

- ``text`` is the author's own words; a quoted post (``embed`` of ``app.bsky.embed.record`` or
  ``recordWithMedia``) lives in the embed and never enters it.
- link facets: the text shows a shortened link ("example.com/timeta..."), the facet holds the full
  URI over a UTF-8 byte range; the range is replaced by the URI so cleaning removes links exactly as
  it does X's.
- a reply whose parent is the author's own post (same DID) continues a thread.
- reposts (``app.bsky.feed.repost`` records, or feed items with a ``reasonRepost``) count as X's
  retweets do: never trained on.
"""

from __future__ import annotations

from huggingtweets.sources.record import Post, parse_date
from huggingtweets.sources.schema import Where, get, strings

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
_QUOTES = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
_LINK = "app.bsky.richtext.facet#link"


def did_of(uri: str) -> str | None:
    """The repo DID of ``at://did:plc:.../collection/rkey``."""
    if not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0] or None


def _expand_links(text: str, facets: list, where: Where) -> tuple[str, list[str]]:
    data = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    for i, facet in enumerate(facets):
        w = where.at(f"{where.record}.facets[{i}]")
        index = get(facet, "index", dict, w, required=True)
        start = get(index, "byteStart", int, w, required=True)
        end = get(index, "byteEnd", int, w, required=True)
        for feature in get(facet, "features", list, w) or []:
            if get(feature, "$type", str, w) == _LINK:
                uri = get(feature, "uri", str, w, required=True)
                if 0 <= start <= end <= len(data):
                    spans.append((start, end, uri))
    urls = [uri for _, _, uri in sorted(spans)]
    # right to left, so earlier byte offsets stay valid; overlapping spans are left as they are
    last = len(data) + 1
    for start, end, uri in sorted(spans, reverse=True):
        if end <= last:
            data = data[:start] + f" {uri} ".encode() + data[end:]
            last = start
    return data.decode("utf-8", errors="replace"), urls


def post_from_record(record: object, uri: str, author_did: str, source: str, where: Where) -> Post:
    """One ``app.bsky.feed.post`` record (a dict, as DAG-CBOR or JSON gives it)."""
    text = get(record, "text", str, where, required=True)
    facets = get(record, "facets", list, where) or []
    text, urls = _expand_links(text, facets, where)
    reply = get(record, "reply", dict, where)
    parent_did = None
    if reply is not None:
        parent = get(reply, "parent", dict, where.at(where.record + ".reply"), required=True)
        parent_did = did_of(
            get(parent, "uri", str, where.at(where.record + ".reply.parent"), required=True) or ""
        )
    embed = get(record, "embed", dict, where)
    embed_type = get(embed, "$type", str, where.at(where.record + ".embed")) if embed else None
    if embed_type == "app.bsky.embed.external":
        external = get(embed, "external", dict, where.at(where.record + ".embed"))
        link = get(external, "uri", str, where.at(where.record + ".embed.external")) if external else None
        if link and link not in urls:
            urls.append(link)
    langs = strings(record, "langs", where)
    return Post(
        id=uri,
        created_at=parse_date(get(record, "createdAt", str, where)),
        text=text,
        is_reply=reply is not None,
        reply_to=parent_did if parent_did and parent_did != author_did else None,
        is_self_thread=parent_did is not None and parent_did == author_did,
        lang=langs[0] if langs else None,
        urls=urls,
        source=source,
        is_quote=embed_type in _QUOTES,
    )


def repost_from_record(record: object, uri: str, source: str, where: Where) -> Post:
    get(record, "subject", dict, where)
    return Post(
        id=uri,
        created_at=parse_date(get(record, "createdAt", str, where)),
        text="",
        is_retweet=True,
        source=source,
    )


def posts_from_feed(feed: object, author_did: str, source: str, label: str) -> list[Post]:
    """The items of one getAuthorFeed page: the author's posts, their reposts as retweets."""
    where = Where(label)
    items = feed if isinstance(feed, list) else None
    if items is None:
        raise where.error("feed", f"is {type(feed).__name__}, expected a list of feed items")
    posts = []
    for i, item in enumerate(items):
        w = where.at(f"feed[{i}]")
        view = get(item, "post", dict, w, required=True)
        uri = get(view, "uri", str, w.at(f"feed[{i}].post"), required=True)
        reason = get(item, "reason", dict, w)
        if reason is not None and (get(reason, "$type", str, w.at(f"feed[{i}].reason")) or "").endswith(
            "#reasonRepost"
        ):
            indexed = get(reason, "indexedAt", str, w.at(f"feed[{i}].reason"))
            posts.append(
                Post(
                    id=f"{uri}#repost-by-{author_did}",
                    created_at=parse_date(indexed),
                    text="",
                    is_retweet=True,
                    source=source,
                )
            )
            continue
        author = get(view, "author", dict, w.at(f"feed[{i}].post"), required=True)
        if get(author, "did", str, w.at(f"feed[{i}].post.author"), required=True) != author_did:
            continue  # a pinned or threaded post of someone else
        record = get(view, "record", dict, w.at(f"feed[{i}].post"), required=True)
        posts.append(post_from_record(record, uri, author_did, source, w.at(f"feed[{i}].post.record")))
    return posts
