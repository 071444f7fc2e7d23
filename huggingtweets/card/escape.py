"""Text from users made inert for where it lands in the card: one line, then HTML or Markdown.

Display names, sample posts, file names and the like are written by people the publisher does not
control. In the card's HTML header block a blank line ends the block, and the Markdown after it
would be live; in Markdown text, ``![..](..)``, ``[..](..)``, ``# ...``, ``<https://...>`` and a
list marker are all structure. So:

- :func:`one_line`: names, handles and file names become one line of plain text (no line breaks,
  no control or bidi-override characters, runs of spaces collapsed). Jinja's autoescaping then
  makes it safe inside HTML.
- :func:`md_text`: for Markdown text and table cells: every line made one line as above, HTML
  special characters turned into entities, Markdown punctuation backslash-escaped, bare URLs
  broken up so no autolinker finds them, and the lines joined with ``<br>`` (a table row is one
  line).

The card's jinja environment registers these once as filters (``huggingtweets.card.render``);
the preview image uses :func:`one_line` for the names it draws.
"""

from __future__ import annotations

import html
import re
from typing import Any

# Everything str.splitlines() breaks on, plus tabs: all of it becomes a plain space.
_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029]+")
# C0/C1 controls, and the invisible marks that reorder or hide text (bidi overrides and isolates,
# zero-width joiners, the BOM): a name could otherwise read "Verified" backwards into another.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_SPACES = re.compile(r" {2,}")
# CommonMark's inline syntax (emphasis, code, links and images, tables, strikethrough) and what
# opens a block at the start of a line (headings, lists, quotes, breaks, fences).
_MD_PUNCT = re.compile(r"([\\`*\[\]|~#!(){}^])")
_INTRAWORD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BULLET = re.compile(r"^( ?)([-+=])")
_ORDINAL = re.compile(r"^( ?\d{1,9})([.)])")
# Bare URLs an autolinker (GFM, the Hub's renderer) would turn into live links.
_AUTOLINK = re.compile(r"(?i)(\w)(://)|\b(www)(\.)|(\w)(@)(?=\w)")


def _plain(text: str) -> str:
    return _INVISIBLE.sub("", text)


def one_line(value: Any) -> str:
    """``value`` as one line of plain text: no line breaks, no invisible characters, single spaces."""
    text = _plain(_BREAKS.sub(" ", str(value)))
    return _SPACES.sub(" ", text).strip()


def _break_link(m: re.Match) -> str:
    # "https:\/\/", "www\." and "user\@host" render as written, but no autolinker sees a URL.
    if m.group(2):
        return m.group(1) + ":\\/\\/"
    if m.group(4):
        return m.group(3) + "\\."
    return m.group(5) + "\\@"


def _md_line(line: str) -> str:
    line = _MD_PUNCT.sub(r"\\\1", line)
    # An underscore inside a word is never emphasis; escaping it everywhere would clutter handles.
    line = _INTRAWORD_UNDERSCORE.sub(r"\\_", line)
    line = _ORDINAL.sub(r"\1\\\2", _BULLET.sub(r"\1\\\2", line))
    line = _AUTOLINK.sub(_break_link, line)
    # Entities last: html.escape's own "&#x27;" must not have its "#" escaped.
    return html.escape(line, quote=True)


def md_text(value: Any) -> str:
    """``value`` as inert Markdown inline text, its line breaks kept as ``<br>``."""
    lines = [_SPACES.sub(" ", _plain(line.replace("\t", " "))) for line in str(value).splitlines()]
    # Leading spaces would indent a code block where the text starts a line (a list item).
    lines = [re.sub(r"^ +", " ", line) for line in lines]
    return "<br>".join(_md_line(line) for line in lines)
