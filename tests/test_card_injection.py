"""User text in the card stays text: rendered with markdown-it-py (CommonMark, as the Hub renders
model cards), a hostile value in any user-controlled field adds no image, link, heading or other
element, and its words still show.
"""

from __future__ import annotations

import copy
from collections import Counter
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from huggingtweets.card import build_metadata, render, split_card

REPO = "huggingtweets/ada_l-grace_h"
BASE = f"https://huggingface.co/{REPO}/resolve/main"

# The report of issue 13, then every other way Markdown or HTML could get out of its place.
PAYLOAD = (
    "Bob\n\n![p](https://evil.example/p.png) [Verified by X](https://evil.example/login)\n\n# OFFICIAL\n\n"
    "<img src=https://evil.example/i.png> <a href='https://evil.example/a'>click</a> <https://evil.example/auto>\n"
    "- - ---\n> quoted\n    indented code\n***\n1. first\n===\n"
    "https://evil.example/bare www.evil.example me@evil.example `tick` *em* _under_ ~~gone~~ | pipe | &amp;\r\n"
    "[ref]: https://evil.example/ref\n[ref]\u2028Setext\u2029---\x85\u202eX yb deifireV\u202c </div></td> END"
)  # fmt: skip


class _Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._heading: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        if tag == "br":
            self.text.append(" ")
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src") or "")
        if tag == "a":
            self.hrefs.append(attrs.get("href") or "")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._heading = []

    def handle_endtag(self, tag):
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


def hub_view(card: str) -> tuple[dict, _Page]:
    """The YAML header, and the body as the Hub shows it: CommonMark to HTML, then parsed."""
    header, body = split_card(card)
    return header, _Page(MarkdownIt("commonmark").render(body))


def _set_name(m, v):
    m["users"][0]["name"] = v


def _set_source_detail(m, v):
    m["users"][1]["source_detail"] = v


def _set_prediction(m, v):
    m["predictions"]["samples"][0] = {"prompt": v, "text": v + " and " + v, "longest_copied_words": 2}


def _set_warning(m, v):
    m["data_report"]["warnings"] = [v, "a plain warning"]


def _set_language(m, v):
    m["data_report"]["users"]["ada_l"]["languages"] = {v: 50, "en": 10}


def _set_language_part(m, v):
    m["data_report"]["users"]["ada_l"].update(
        language_shares={v: 0.5, "en": 0.5},
        languages_from={"records": 1, "script": 1, "unknown": 0},
        tokenizer_fit={
            "base_model": v, "method": v, "tokens_per_character": 2.5, "context_length": 1024,
            "cut_share": 0.1, "poor": True, "better_families": [v, "qwen2.5 (Qwen/Qwen2.5-0.5B)"],
        },
    )  # fmt: skip
    m["data_report"]["length_rule"] = {"text": v}


def _set_dates(m, v):
    m["data_report"]["users"]["ada_l"]["first_date"] = v
    m["data_report"]["users"]["grace_h"]["last_date"] = v


def _set_oversampled(m, v):
    m["data_report"]["oversampled"] = {v: {"from": 5, "to": 10}}
    m["data_report"]["split"] = m["data_report"].get("split") or {"seed": 1, "train": 10, "validation": 2}


def _set_training(m, v):
    s = m["training_summary"]
    s["device"], s["mixed_precision"] = v, v
    s["hyperparameters"] = {**s.get("hyperparameters", {}), v: v}


def _set_versions(m, v):
    m["versions"] = {**m["versions"], v: v}


def _set_base_name(m, v):
    m["training_summary"]["base_model"] = v  # a local folder's name: shown in the text


FIELDS = {
    "display name": _set_name,
    "source detail": _set_source_detail,
    "sample prediction": _set_prediction,
    "data warning": _set_warning,
    "language code": _set_language,
    "language shares, tokenizer fit, length rule": _set_language_part,
    "first and last date": _set_dates,
    "oversampled handle": _set_oversampled,
    "training device, precision, hyperparameters": _set_training,
    "software versions": _set_versions,
    "local base model name": _set_base_name,
}


@pytest.fixture
def meta(card_run_dir):
    return build_metadata(card_run_dir, repo_id=REPO)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_hostile_value_adds_no_element_and_shows_as_text(meta, field):
    plain, hostile = copy.deepcopy(meta), copy.deepcopy(meta)
    FIELDS[field](plain, "Bob")
    FIELDS[field](hostile, PAYLOAD)
    plain_header, plain_page = hub_view(render(plain))
    card = render(hostile)
    header, page = hub_view(card)

    assert header == plain_header  # the YAML header is built from a dict, not from this text
    assert all(src.startswith(f"{BASE}/avatars/") for src in page.srcs), page.srcs
    assert not [h for h in page.hrefs if "evil.example" in h]
    assert page.headings == plain_page.headings
    # Not one element more than with a plain value: no list, quote, code block, rule, table or
    # raw HTML from the payload (line breaks inside a value are kept as <br>).
    assert page.tags - Counter({"br": 10_000}) == plain_page.tags - Counter({"br": 10_000})
    # A GFM autolinker (the Hub's renderer may have one) finds no bare URL to link in the Markdown
    # either (it leaves the HTML header block, which ends at the first blank line, alone).
    markdown = split_card(card)[1].lstrip().split("\n\n", 1)[1]
    assert "://evil" not in markdown and "www.evil" not in markdown and "me@evil" not in markdown
    # ... and the words are still there for a reader to see.
    text = " ".join("".join(page.text).split())
    assert "[Verified by X](https://evil.example/login)" in text
    assert "# OFFICIAL" in text and "<img src=https://evil.example/i.png>" in text


def test_issue_13_report_display_name(meta):
    # The exact name of the report: it used to end the HTML header block, then render live.
    evil = copy.deepcopy(meta)
    evil["users"][0]["name"] = (
        "Bob\n\n![p](https://evil.example/p.png) [Verified by X](https://evil.example/login)\n\n# OFFICIAL"
    )
    _, page = hub_view(render(evil))
    assert page.srcs == [f"{BASE}/avatars/ada_l.png", f"{BASE}/avatars/grace_h.png"]
    assert not [h for h in page.hrefs if "evil" in h]
    assert "OFFICIAL" not in " ".join(page.headings)
    # The header block shows the name on one line.
    assert (
        "Bob ![p](https://evil.example/p.png) [Verified by X](https://evil.example/login) # OFFICIAL & Grace Hopper"
        in "".join(page.text)
    )


def test_filters_for_html_blocks_and_markdown_handles():
    # Handles are checked where they are read (only the filters stand between a wider handle
    # rule and the card), so the filters themselves are tested with the payload.
    from huggingtweets.card.render import _environment_for
    from huggingtweets.paths import templates_dir

    env = _environment_for(str(templates_dir().resolve()))
    html_block = env.from_string(
        '<div style="a">\n  <div>{{ v | line }}</div>\n  <div>@{{ v | line }}</div>\n</div>\n'
    )
    markdown = env.from_string(
        "Trained on the posts of {{ v | at }} and {{ v | md }}.\n\n| a |\n| --- |\n| {{ v | md }} |\n"
    )
    page = _Page(
        MarkdownIt("commonmark").render(html_block.render(v=PAYLOAD) + "\n" + markdown.render(v=PAYLOAD))
    )
    assert page.srcs == [] and page.hrefs == [] and page.headings == []
    assert set(page.tags) <= {"div", "p", "br"}  # the table is plain text in CommonMark
    assert "".join(page.text).count("[Verified by X](https://evil.example/login)") == 5


def test_preview_draws_names_on_one_line():
    from huggingtweets.card.preview import placeholder_avatar, preview_png

    avatar = placeholder_avatar()
    messy = preview_png([{"name": "Bob\n\n\u202eEvil\tTwin", "handle": "bob"}], [avatar], None)
    clean = preview_png([{"name": "Bob Evil Twin", "handle": "bob"}], [avatar], None)
    assert messy == clean


MARKDOWN_ALPHABET = st.one_of(
    st.sampled_from(list("\\`*_{}[]()#+-.!|~^<>&\"':/@=$%;?,\n\r\t \u2028\u00a0")),
    st.sampled_from(["https://", "www.", "](", "![", "<a ", "&amp;", "&#35;", "    ", "\n\n", "1.", "---"]),
    st.characters(codec="utf-8"),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(value=st.lists(MARKDOWN_ALPHABET, max_size=40).map("".join))
def test_md_filter_output_is_plain_text_that_reads_as_the_input(value):
    # Whatever the text, CommonMark sees one paragraph of text and line breaks, and a reader sees
    # the same characters (spacing aside; control and bidi characters dropped).
    from huggingtweets.card.escape import md_text, one_line

    page = _Page(MarkdownIt("commonmark").render("Text: " + md_text(value) + "\n"))
    assert set(page.tags) <= {"p", "br"}
    shown = " ".join("".join(page.text).split())
    expected = " ".join(one_line(line) for line in value.splitlines())
    assert shown == " ".join(("Text: " + expected).split())


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(value=st.lists(MARKDOWN_ALPHABET, max_size=40).map("".join))
def test_line_filter_keeps_the_html_block_whole(value):
    from huggingtweets.card.escape import one_line
    from huggingtweets.card.render import _environment_for
    from huggingtweets.paths import templates_dir

    env = _environment_for(str(templates_dir().resolve()))
    block = env.from_string(
        '<div style="x">\n  <div title="{{ v | line }}">{{ v | line }}</div>\n</div>\n\n# After\n'
    )
    tokens = MarkdownIt("commonmark").parse(block.render(v=value))
    # One HTML block, then the template's own heading: the value never ended the block.
    assert [t.type for t in tokens] == ["html_block", "heading_open", "inline", "heading_close"]
    page = _Page(tokens[0].content)
    assert set(page.tags) == {"div"}
    assert "".join(page.text).split() == one_line(value).split()
