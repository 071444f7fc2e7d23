"""Mastodon's status HTML -> the plain text the cleaning rules expect, and what the live API and the
account archive share: visibility words, reply targets.

Mastodon writes ``<p>`` paragraphs, ``<br>`` line breaks, mentions (``<a class="u-url mention">@<span>
bob</span></a>``), hashtags (``<a class="mention hashtag">#<span>tag</span></a>``) and shortened links
whose hidden parts sit in ``<span class="invisible">``. Links come out as their full ``href``, so the
cleaning step removes them exactly as it removes X's URLs; mentions and hashtags as their text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_ALIASES = {PUBLIC, "as:Public", "Public"}
USED_VISIBILITIES = ("public", "unlisted")  # private (followers-only) and direct are never used
LEFT_OUT_NAMES = {"private": "followers_only", "direct": "direct", "limited": "followers_only"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.urls: list[str] = []
        self._link: list[bool] = []  # per open <a>: is it a plain link (written as its href)?
        self._skip = 0  # depth inside <span class="invisible"> of a mention/hashtag
        self._quote_fallback = 0  # inside <p class="quote-inline">: "RE: <link>" of a quote post

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = set(attr.get("class", "").split())
        if self._quote_fallback:
            return
        if tag == "p" and "quote-inline" in classes:
            self._quote_fallback = 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            href = attr.get("href", "")
            plain = (
                bool(href) and not ({"mention", "hashtag", "u-url"} & classes) and attr.get("rel") != "tag"
            )
            self._link.append(plain)
            if plain:
                self.urls.append(href)
                self.parts.append(f" {href} ")
        elif self._link and self._link[-1]:
            pass
        elif tag == "span" and "invisible" in classes:
            self._skip += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._quote_fallback:
            self._quote_fallback = 0 if tag == "p" else 1
            return
        if tag == "a" and self._link:
            self._link.pop()
        elif tag == "span" and self._skip and not (self._link and self._link[-1]):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        # The visible text of a plain link is its shortened form: the href stands for it.
        if (self._link and self._link[-1]) or self._skip or self._quote_fallback:
            return
        self.parts.append(data)


def html_to_text(content: str) -> tuple[str, list[str]]:
    """(plain text, link URLs) of a status's ``content``."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[^\S\n]+", " ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return text.strip(), parser.urls


def account_from_url(url: str) -> tuple[str, str] | None:
    """(user, instance) of ``https://host/users/NAME[/statuses/ID]`` or ``https://host/@NAME[/ID]``."""
    parts = urlsplit(url)
    host = parts.hostname
    segments = [s for s in parts.path.split("/") if s]
    if not host or not segments:
        return None
    if segments[0] == "users" and len(segments) >= 2:
        return segments[1], host
    if segments[0].startswith("@") and len(segments[0]) > 1:
        return segments[0][1:], host
    return None
