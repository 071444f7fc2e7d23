"""What the page shows, as Markdown/HTML strings and table rows: pure functions, no Gradio.

Everything that lands in HTML and comes from a person's posts or a file name is escaped here.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from huggingtweets.clean import DROP_REASONS

_DROP_LABELS = {
    "retweets": "reposts",
    "replies": "replies",
    "media_only": "media only",
    "short": "too short",
    "duplicates": "duplicates",
}


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell (no HTML, no pipes, no line breaks)."""
    return html.escape(" ".join(str(text).split())).replace("|", "\\|")


def data_report_markdown(report: dict, notes: list[str] | None = None) -> str:
    """The data report: per person downloaded, dropped (and why), kept, dates, languages.

    ``notes``: what fetching said (the X API's cost estimate, waits), listed under the table.
    """
    lines = [
        "### Data report",
        "",
        "| | downloaded | dropped | kept | characters | dates | languages |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for handle, u in report["users"].items():
        drops = ", ".join(f"{u.get(k, 0)} {_DROP_LABELS[k]}" for k in DROP_REASONS if u.get(k))
        dates = f"{u['first_date']} to {u['last_date']}" if u.get("first_date") else "unknown"
        langs = ", ".join(f"{lang} {n}" for lang, n in (u.get("languages") or {}).items()) or "unknown"
        lines.append(
            f"| @{_md(handle)} ({_md(u.get('source') or '')}) | {u['downloaded']} | {_md(drops or 'none')} "
            f"| {u['kept']} | {u.get('characters', 0):,} | {_md(dates)} | {_md(langs)} |"
        )
    split = report.get("split") or {}
    if split:
        lines += [
            "",
            f"Training on {split.get('train', 0)} posts, validating on {split.get('validation', 0)}.",
        ]
    for warning in report.get("warnings") or []:
        lines += ["", f"**Warning:** {_md(warning)}"]
    if notes:
        lines += ["", *(f"- {_md(note)}" for note in notes)]
    return "\n".join(lines)


def error_markdown(err: BaseException) -> str:
    """One line, as the CLI prints it."""
    return f"**Error:** {_md(err)}"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_html(p, *, state: str = "running") -> str:
    """Stage, progress bar with tokens/s and ETA, as a small HTML block."""
    if state == "done":
        stage = f"Finished all {p.stage_total} stages"
    elif p.stage:
        stage = f"Stage {p.stage_index}/{p.stage_total}: <b>{html.escape(p.stage)}</b>" + (
            f" ({html.escape(p.reason)})" if p.reason else ""
        )
    else:
        stage = "Starting"
    parts = [f'<div id="ht-progress" data-state="{state}"><div>{stage}</div>']
    if p.total_steps:
        parts.append(f'<progress max="{p.total_steps}" value="{p.step}" style="width:100%"></progress>')
        parts.append(
            f"<div>step {p.step}/{p.total_steps} · epoch {p.epoch}/{p.epochs} · "
            f"{p.tokens_per_second:,.0f} tokens/s · ETA {_clock(p.eta_seconds)}</div>"
        )
    if state != "running":
        parts.append(f"<div><b>{html.escape(state)}</b></div>")
    parts.append("</div>")
    return "".join(parts)


def perplexity_markdown(p) -> str:
    if not p.epochs_done:
        return ""
    rows = ["| epoch | validation loss | perplexity |", "|---:|---:|---:|"]
    rows += [f"| {e['epoch']} | {e['validation_loss']:.3f} | {e['perplexity']:.2f} |" for e in p.epochs_done]
    return "\n".join(rows)


def sample_rows(predictions: dict) -> list[list[Any]]:
    return [[s["prompt"], s["text"], s["longest_copied_words"]] for s in predictions.get("samples") or []]


def memorization_markdown(predictions: dict, training: dict) -> str:
    rate = predictions.get("memorization_rate")
    words = predictions.get("memorization_threshold_words", 8)
    ppl = (training.get("perplexity") or {}).get("last")
    out = []
    if ppl is not None:
        out.append(f"Validation perplexity: **{ppl:.2f}**.")
    if rate is not None:
        out.append(
            f"Memorization: **{rate:.0%}** of the samples copy {words}+ words in a row from a training post."
        )
    return " ".join(out)


_RESOLVE = re.compile(r"https://[^\s\"'()<>]+?/resolve/main/([^\s\"'()<>]+)")


def _data_uri(path: Path) -> str:
    kind = {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "webp": "image/webp",
    }.get(path.suffix.lower().lstrip("."), "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def card_html(model_dir: Path) -> str:
    """The card as the Hub shows it: metadata chips, then the Markdown body with its images and tables.

    Images point at the repo (``.../resolve/main/avatars/x.png``), which does not exist before
    publishing: the local files are inlined instead.
    """
    from markdown_it import MarkdownIt

    from huggingtweets.card.render import split_card

    header, body = split_card((model_dir / "README.md").read_text(encoding="utf-8"))

    def local(match: re.Match) -> str:
        path = (model_dir / match.group(1)).resolve()
        if model_dir.resolve() in path.parents and path.is_file():
            return _data_uri(path)
        return match.group(0)

    # The template escapes post text itself (it is also rendered on the Hub), so HTML stays on.
    body_html = MarkdownIt("commonmark", {"html": True}).enable("table").render(_RESOLVE.sub(local, body))
    chips = [
        f"license: {header['license']}" if header.get("license") else "",
        *(f"base model: {m}" for m in _as_list(header.get("base_model"))),
        *(str(t) for t in _as_list(header.get("tags"))),
        *(f"language: {lang}" for lang in _as_list(header.get("language"))),
    ]
    chip_html = "".join(f'<span class="ht-chip">{html.escape(c)}</span>' for c in chips if c)
    return f'<div id="ht-card"><div class="ht-chips">{chip_html}</div>{body_html}</div>'


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


CSS = """
.ht-chip { display: inline-block; border: 1px solid #d1d5db; border-radius: 999px; padding: 1px 10px;
           margin: 0 6px 6px 0; font-size: 12px; }
#ht-card img { max-width: 100%; height: auto; }
.ht-scroll { max-height: 720px; overflow-y: auto; }
#ht-card table { display: block; overflow-x: auto; max-width: 100%; }
#ht-card pre { white-space: pre-wrap; }
"""
