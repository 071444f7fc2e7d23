"""The bot's metadata (``huggingtweets.json``): everything its card is rendered from.

Two ways to get it: from a run folder (:func:`build_metadata`), or, for repos the original
huggingtweets published without one, rebuilt from their README (:func:`metadata_from_original_readme`).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from huggingtweets.card.render import (
    DEFAULT_HUB_URL,
    DEFAULT_PROMPT,
    HANDLE_RE,
    NOT_A_LANGUAGE,
    check_playground_url,
    split_card,
    template_version,
)
from huggingtweets.errors import CardError, StageError
from huggingtweets.sources.handles import is_valid_key
from huggingtweets.train.basemodel import summary_base

SCHEMA_VERSION = 1
METADATA_FILE = "huggingtweets.json"
PREVIEW_FILE = "predictions.png"
DEFAULT_LICENSE = "mit"  # GPT-2's license, which the fine-tuned weights inherit
ORIGINAL_BASE_MODEL = "openai-community/gpt2"
# X still uses a few retired ISO 639-1 codes; the Hub expects the current ones.
_LEGACY_LANG = {"in": "id", "iw": "he", "ji": "yi"}
LANGUAGE_MIN_SHARE = 0.10


def avatar_path_in_repo(handle: str) -> str:
    return f"avatars/{handle}.png"


def _read_stage(run_dir: Path, name: str) -> Any:
    from huggingtweets.runfolder import RunFolder

    return RunFolder(run_dir).read(name, needed_by="the card")


def language_mix(report_users: dict) -> list[str]:
    """Languages making up at least 10% of the classified posts, most used first; ``["en"]`` if none."""
    totals: dict[str, int] = {}
    for stats in report_users.values():
        for code, n in (stats.get("languages") or {}).items():
            code = _LEGACY_LANG.get(str(code).lower(), str(code).lower())
            if code in NOT_A_LANGUAGE or not re.fullmatch(r"[a-z]{2,3}", code):
                continue
            totals[code] = totals.get(code, 0) + int(n)
    total = sum(totals.values())
    langs = [
        c
        for c, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= LANGUAGE_MIN_SHARE * total
    ]
    return langs[:5] or ["en"]


def _versions(summary: dict) -> dict:
    from huggingtweets import __version__

    versions = {str(k): str(v) for k, v in (summary.get("versions") or {}).items()}
    versions.setdefault("huggingtweets", __version__)
    return versions


def build_metadata(
    run_dir: Path | str,
    *,
    repo_id: str,
    template: str | Path | None = None,
    hub_url: str = DEFAULT_HUB_URL,
    playground_url: str | None = None,
) -> dict:
    """The huggingtweets.json dict for a trained run folder (reads it; writes nothing).

    ``playground_url``: the web app the card links ("Try it", ``URL?bot=REPO_ID``); absent: no link.
    """
    from huggingtweets.runfolder import bot_gguf

    run_dir = Path(run_dir)
    users_raw = _read_stage(run_dir, "users")
    report = _read_stage(run_dir, "data_report")
    summary = _read_stage(run_dir, "training_summary")
    predictions = _read_stage(run_dir, "predictions")
    if not isinstance(users_raw, list) or not users_raw:
        raise StageError(
            f"{run_dir / 'users.json'} lists no users", hint=f"run: huggingtweets fetch --run-dir {run_dir}"
        )
    from huggingtweets.sources import registry
    from huggingtweets.sources.consent import basis_of

    users = []
    for u in users_raw:
        handle = str(u.get("handle", "")).lstrip("@")
        if not is_valid_key(handle):
            raise CardError(
                f"handle {handle!r} in users.json is not a valid handle; expected letters, digits, "
                "'_', '.', '-' (as huggingtweets.sources.handles makes them)"
            )
        users.append(
            {
                "handle": handle,
                "name": u.get("name") or handle,
                "avatar_url": u.get("avatar_url"),
                # Always present in the repo: the user's avatar or a neutral placeholder.
                "avatar_file": avatar_path_in_repo(handle),
                "source": u.get("source") or "file",
                "source_detail": u.get("source_detail") or "",
            }
        )
        if "network" in u:  # Bluesky/Mastodon: where the account lives, and when it was read
            users[-1].update({k: u.get(k) for k in ("network", "instance", "display", "fetched_on")})
        # On which basis the posts were used: the person's export, their authenticated account, or a
        # public account without opt-out signals read on a date (``sources.consent``).
        entry = registry.source(users[-1]["source"])
        users[-1]["consent"] = basis_of(u, entry.kind if entry is not registry.UNKNOWN else "unknown")
        if u.get("newest_post_at"):  # live sources: what `huggingtweets refresh` counts new posts from
            users[-1]["newest_post_at"] = u["newest_post_at"]
    missing = [u["handle"] for u in users if u["handle"] not in (report.get("users") or {})]
    if missing:
        raise StageError(
            f"data_report.json has no counts for {', '.join('@' + h for h in missing)}",
            hint=f"re-run: huggingtweets prepare --run-dir {run_dir}",
        )
    meta = {
        "schema_version": SCHEMA_VERSION,
        "origin": "huggingtweets",
        "repo_id": repo_id,
        "hub_url": hub_url,
        "template_version": template_version(template),
        "users": users,
        "data_report": report,
        "training_summary": summary,
        "predictions": predictions,
        "versions": _versions(summary),
        "language": language_mix(report.get("users") or {}),
        # The base's license (read from its card or config when training resolved it), which the
        # fine-tuned weights inherit.
        "license": summary_base(summary).get("license") or DEFAULT_LICENSE,
        "widget_prompt": DEFAULT_PROMPT,
        "thumbnail": {"file": PREVIEW_FILE},
        # The bot as GGUF, when `publish --gguf` put it in DIR/model/ (the card's "Run it locally").
        "gguf": bot_gguf(run_dir / "model"),
    }
    if playground_url:  # only then: cards without one stay byte for byte as they were
        meta["playground_url"] = check_playground_url(playground_url)
    return meta


# --------------------------------------------------------------------------- original README


class _Divs(HTMLParser):
    """Text of each <div>, and the avatar URLs, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.avatars: list[str] = []
        self._stack: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        style = (attr.get("style") or "").replace(" ", "")
        if tag == "img" and attr.get("src"):
            self.avatars.append(attr["src"])
        if tag == "div":
            match = re.search(r"background-image:url\(['\"]?([^'\")]*)['\"]?\)", style)
            if match and match.group(1) and "display:none" not in style:
                self.avatars.append(match.group(1))
            self._stack.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._stack:
            text = " ".join("".join(self._stack.pop()).split())
            if text:
                self.texts.append(text)

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._stack[-1].append(data)


def _unescape_md(text: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", text.strip()))


def _table(body: str, first_cell: str) -> dict[str, list[str]]:
    """Rows of the Markdown table whose header starts with ``first_cell``: {label: cells}."""
    rows: dict[str, list[str]] = {}
    lines = body.splitlines()
    for i, line in enumerate(lines):
        cells = _split_row(line)
        if cells and cells[0] == first_cell:
            rows[first_cell] = cells[1:]
            for row in lines[i + 2 :]:
                cells = _split_row(row)
                if not cells:
                    break
                rows[cells[0]] = cells[1:]
            break
    return rows


def _split_row(line: str) -> list[str] | None:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        return None
    parts = re.split(r"(?<!\\)\|", line[1:-1])
    return [_unescape_md(p) for p in parts]


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        return None


def metadata_from_original_readme(text: str, repo_id: str, *, hub_url: str = DEFAULT_HUB_URL) -> dict:
    """Rebuild the bot metadata from a README the original huggingtweets published.

    Uses the YAML header (language, thumbnail), the header block (avatars, names, handles) and the
    training-data table; what the original never recorded is left null and the card says so.
    """
    header, body = split_card(text)
    divs = _Divs()
    divs.feed(body)
    kind = next((i for i, t in enumerate(divs.texts) if "AI BOT" in t or "AI CYBORG" in t), None)
    if kind is None:
        raise CardError(
            f"README of {repo_id} has no huggingtweets header (AI BOT / AI CYBORG); cannot rebuild it"
        )
    names_text = divs.texts[kind + 1] if kind + 1 < len(divs.texts) else ""
    handles_text = divs.texts[kind + 2] if kind + 2 < len(divs.texts) else ""
    handles = [h for h in re.findall(r"[A-Za-z0-9_]+", handles_text) if HANDLE_RE.match(h)]
    if not handles:
        handles = [h for h in repo_id.split("/", 1)[1].split("-") if HANDLE_RE.match(h)]
    table = _table(body, "Data")
    names = table.get("Data") or [n.strip() for n in names_text.split(" & ")]
    if len(names) != len(handles):
        raise CardError(
            f"README of {repo_id} names {len(names)} user(s) but {len(handles)} handle(s); cannot pair them"
        )
    labels = {
        "downloaded": "Tweets downloaded",
        "retweets": "Retweets",
        "short": "Short tweets",
        "kept": "Tweets kept",
    }
    report_users = {}
    users = []
    avatars = [a for a in divs.avatars if a.startswith("https://")]
    for i, (handle, name) in enumerate(zip(handles, names, strict=True)):
        stats: dict[str, Any] = {
            key: _int((table.get(label) or [None] * len(handles))[i]) for key, label in labels.items()
        }
        report_users[handle] = stats
        users.append(
            {
                "handle": handle,
                "name": name,
                "avatar_url": avatars[i] if i < len(avatars) else None,
                "avatar_file": None,
                "source": "twitter-api",
                "source_detail": "Twitter API, by the original huggingtweets",
            }
        )
    language = header.get("language") or "en"
    language = [language] if isinstance(language, str) else list(language)
    thumb = header.get("thumbnail")
    return {
        "schema_version": SCHEMA_VERSION,
        "origin": "original-readme",
        "repo_id": repo_id,
        "hub_url": hub_url,
        "template_version": None,
        "users": users,
        "data_report": {"users": report_users},
        "training_summary": None,
        "predictions": None,
        "versions": {},
        "language": language,
        "license": header.get("license") or DEFAULT_LICENSE,
        "widget_prompt": DEFAULT_PROMPT,
        "thumbnail": {"url": thumb} if isinstance(thumb, str) and thumb.startswith("https://") else None,
        "base_model_fallback": ORIGINAL_BASE_MODEL,
    }
