"""Render a bot's model card from its metadata: a pure function, no I/O beyond reading templates.

The YAML header is a dict dumped with ``yaml.safe_dump`` (never string-templated), so a display
name with colons, quotes or ``</div>`` cannot break it. The body is a jinja2 template rendered with
``StrictUndefined`` (a missing value fails) and HTML autoescaping; user text also goes through the
filters registered below (``huggingtweets.card.escape``): one line in the HTML header block, escaped
Markdown in text and tables. The same metadata always renders the same bytes (no timestamps).
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any

from huggingtweets.card.escape import md_text, one_line
from huggingtweets.card.languages import language_part
from huggingtweets.errors import CardError
from huggingtweets.generate import MAX_REDRAWS
from huggingtweets.scripts import NOT_A_LANGUAGE

TEMPLATE_NAME = "modelcard.md.j2"
DEFAULT_HUB_URL = "https://huggingface.co"
DEFAULT_PROMPT = "My dream is"
_VERSION_RE = re.compile(r"huggingtweets-template-version:\s*([\w.\-+]+)")
HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,50}$")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}$")
# A Hub model id (``gpt2`` or ``org/name``), as opposed to a local folder the base was loaded from.
HUB_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")


# --------------------------------------------------------------------------- templates


def resolve_template(template: str | Path | None) -> Path:
    """The template file to render: the bundled one, or a user's ``--template PATH``."""
    if template is None:
        from huggingtweets.paths import templates_dir

        return templates_dir() / TEMPLATE_NAME
    path = Path(template)
    if not path.is_file():
        raise CardError(
            f"template {str(path)!r} is not a file; expected a jinja2 Markdown template",
            hint="pass --template PATH to an existing .md.j2 file, or leave it out for the bundled one",
        )
    return path


def template_version(template: str | Path | None = None) -> str:
    """The version string written inside the template; custom templates without one get a hash."""
    path = resolve_template(template)
    source = path.read_text(encoding="utf-8")
    match = _VERSION_RE.search(source)
    if match:
        return match.group(1)
    return "custom-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def _environment(template_path: Path):
    # One environment per template folder: jinja2 caches compiled templates and, with auto_reload,
    # still notices an edited template or partial (regenerating 500 cards compiles them once).
    return _environment_for(str(template_path.parent.resolve()))


@functools.lru_cache(maxsize=8)
def _environment_for(folder: str):
    import jinja2
    from markupsafe import Markup

    from huggingtweets.paths import templates_dir

    # The user's template folder first, so a custom template can also include our partials.
    search = [folder]
    if Path(folder) != templates_dir().resolve():
        search.append(str(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        keep_trailing_newline=True,
    )

    # The only places user text is made safe for the card; templates pick by where it lands:
    # `line` in HTML (autoescaping does the rest), `md` (alias `cell`) in Markdown text and tables,
    # `at` for a handle in Markdown.
    def md(value: Any) -> Markup:
        return Markup(md_text(value))

    def line(value: Any) -> str:
        return one_line(value)

    def at(handle: Any) -> Markup:
        return Markup("@" + md_text(one_line(handle)))

    def count(value: Any) -> str:
        return "unknown" if value is None else str(int(value))

    def num(value: Any, digits: int = 2) -> str:
        return "unknown" if value is None else f"{float(value):,.{digits}f}"

    def pct(value: Any) -> str:
        return "unknown" if value is None else f"{100 * float(value):.1f}%"

    def code(value: Any) -> Markup:
        # Inside code blocks HTML entities are shown literally, so these values are validated
        # (repo ids, prompts) rather than escaped.
        text = str(value)
        if any(c in text for c in "'\"`\\\n\r<>&"):
            raise CardError(f"value {text!r} cannot go in a code block; expected no quotes or markup")
        return Markup(text)

    env.filters.update(md=md, cell=md, line=line, at=at, count=count, num=num, pct=pct, code=code)
    return env


# --------------------------------------------------------------------------- metadata checks


def _need(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise CardError(
            f"bot metadata is missing {where}.{key}; expected the huggingtweets.json layout",
            hint="rebuild it with: huggingtweets card --run-dir DIR",
        )
    return mapping[key]


def https_url(url: Any, what: str) -> str:
    if not isinstance(url, str) or not url.startswith("https://") or any(c in url for c in " \"'<>\n"):
        raise CardError(f"{what} {url!r} is not a plain https:// URL; cards only link https images")
    return url


def resolve_url(meta: dict, path_in_repo: str) -> str:
    hub_url = https_url(meta.get("hub_url", DEFAULT_HUB_URL), "hub_url").rstrip("/")
    return f"{hub_url}/{meta['repo_id']}/resolve/main/{path_in_repo}"


def check_playground_url(url: Any) -> str:
    """The playground's address as a card may link it: plain https, no fragment, no ``bot`` of its own."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or parts.fragment
        or "bot" in parse_qs(parts.query)
        or any(c in url for c in " \"'<>()[]\\\n")
    ):
        raise CardError(
            f"playground URL {url!r} is not a plain https:// address; the card links it with ?bot=ORG/NAME",
            hint="give the app's address, e.g. --playground-url https://huggingface.co/spaces/ORG/huggingtweets",
        )
    return url


def playground_link(meta: dict) -> str | None:
    """``<playground_url>?bot=<repo_id>`` when the bot has a playground URL, else None."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    url = meta.get("playground_url")
    if not url:
        return None
    parts = urlsplit(check_playground_url(url))
    query = "&".join(q for q in (parts.query, urlencode({"bot": meta["repo_id"]}, safe="/")) if q)
    return urlunsplit(parts._replace(query=query))


def thumbnail_url(meta: dict) -> str | None:
    thumb = _need(meta, "thumbnail", "metadata")
    if thumb is None:
        return None
    if thumb.get("file"):
        return resolve_url(meta, thumb["file"])
    return https_url(thumb.get("url"), "thumbnail URL")


def avatar_src(meta: dict, user: dict) -> str | None:
    if user.get("avatar_file"):
        return resolve_url(meta, user["avatar_file"])
    if user.get("avatar_url"):
        return https_url(user["avatar_url"], f"avatar URL of @{user['handle']}")
    return None


def card_base(meta: dict) -> dict:
    """The base model's record (``BaseModel.record()`` in the training summary; for a summary from
    before it was recorded, or none, what its base's name or the metadata's fallback say)."""
    from huggingtweets.train.basemodel import legacy_base_record, summary_base

    summary = meta["training_summary"]
    if not summary and meta.get("base_model_fallback"):
        return legacy_base_record(meta["base_model_fallback"])
    return summary_base(summary)


def hub_base_model(meta: dict) -> str | None:
    """The base model as a Hub id; None for the random ``tiny`` base, a local folder or a .gguf file."""
    hub_id = card_base(meta).get("hub_id")
    return hub_id if isinstance(hub_id, str) and HUB_MODEL_ID_RE.match(hub_id) else None


def base_kind(meta: dict) -> str:
    """ "hub" (fine-tuned from a Hub model), "tiny" (trained from scratch) or "local" (a folder or file)."""
    if hub_base_model(meta):
        return "hub"
    return "tiny" if card_base(meta).get("kind") == "tiny" else "local"


def _check(meta: dict) -> None:
    repo_id = _need(meta, "repo_id", "metadata")
    if not isinstance(repo_id, str) or not REPO_ID_RE.match(repo_id):
        raise CardError(
            f"repo id {repo_id!r} is not NAMESPACE/NAME",
            hint="pass --repo-id ORG/NAME (letters, digits, . _ -)",
        )
    users = _need(meta, "users", "metadata")
    if not users:
        raise CardError("bot metadata lists no users; expected at least one in users")
    for user in users:
        for key in ("handle", "name", "source"):
            _need(user, key, "users[]")
        from huggingtweets.sources.handles import is_valid_key

        if not is_valid_key(user["handle"]):
            raise CardError(
                f"handle {user['handle']!r} is not a valid handle; expected letters, digits, _ . -"
            )
    for key in ("data_report", "training_summary", "predictions", "versions", "language", "license"):
        _need(meta, key, "metadata")
    _need(meta["data_report"], "users", "data_report")


# --------------------------------------------------------------------------- header


def card_header(meta: dict) -> dict:
    """The README's YAML header as a dict (ModelCardData fields, in a fixed order)."""
    _check(meta)
    header: dict[str, Any] = {"language": list(meta["language"]), "license": meta["license"]}
    header["library_name"] = "transformers"
    header["pipeline_tag"] = "text-generation"
    base = hub_base_model(meta)
    if base:
        header["base_model"] = base
    thumb = thumbnail_url(meta)
    if thumb:
        header["thumbnail"] = thumb
    header["tags"] = ["huggingtweets"]
    if not meta.get("playground_url"):
        # The Hub's hosted widget no longer runs community fine-tunes: a card with a playground
        # links it ("Try it") instead of showing a widget that does nothing.
        header["widget"] = [{"text": meta.get("widget_prompt", DEFAULT_PROMPT)}]
    summary = meta["training_summary"] or {}
    # The published weights are the best epoch's where the run kept the best (``best_epoch``).
    ppl = (summary.get("perplexity") or {}).get("best" if summary.get("best_epoch") else "last")
    if ppl is not None:
        handles = ", ".join(f"@{one_line(u['handle'])}" for u in meta["users"])
        header["model-index"] = [
            {
                "name": meta["repo_id"].split("/", 1)[1],
                "results": [
                    {
                        "task": {"type": "text-generation", "name": "Text generation"},
                        "dataset": {"type": "posts", "name": f"Posts by {handles}", "split": "validation"},
                        "metrics": [
                            {
                                "type": "perplexity",
                                "value": round(float(ppl), 4),
                                "name": "Validation perplexity",
                            }
                        ],
                    }
                ],
            }
        ]
    return header


def dump_header(header: dict) -> str:
    import yaml

    return yaml.safe_dump(header, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


# --------------------------------------------------------------------------- context and render


def _context(meta: dict, version: str) -> dict:
    report_users = meta["data_report"]["users"]
    stat_keys = ("downloaded", "retweets", "short", "replies", "duplicates", "media_only", "kept")
    users = []
    for user in meta["users"]:
        raw = report_users.get(user["handle"]) or {}
        stats = {k: raw.get(k) for k in stat_keys}
        stats["first_date"], stats["last_date"] = raw.get("first_date"), raw.get("last_date")
        langs = {k: v for k, v in (raw.get("languages") or {}).items() if k not in NOT_A_LANGUAGE}
        display = str(user.get("display") or "")
        entry = {
            # the `at` filter adds the "@": Mastodon's @user@instance, Bluesky's @domain
            "handle": display[1:] if display.startswith("@") else display or user["handle"],
            "network": user.get("network") or "x",
            "instance": user.get("instance"),
            "fetched_on": user.get("fetched_on") or "an unrecorded date",
            "source": user["source"],
            "source_detail": user.get("source_detail") or "not recorded",
            "consent": user.get("consent"),
        }
        users.append(
            {
                **entry,
                **provenance(entry),
                "left_out": sum((raw.get("left_out") or {}).values()),
                "name": user["name"] or user["handle"],
                "avatar_src": avatar_src(meta, user),
                "stats": stats,
                "languages_text": ", ".join(sorted(langs, key=lambda k: (-langs[k], k))[:3]) or "unknown",
                **language_part(raw),
            }
        )
    summary = meta["training_summary"]
    base = card_base(meta)
    training = None
    if summary:
        training = dict(summary)
        for key in ("validation_loss", "perplexity"):
            training[key] = {"best": None, "last": None, **(summary.get(key) or {})}
        for key in ("steps", "tokens_seen", "train_loss", "tokens_per_second", "wall_time_s", "device"):
            training.setdefault(key, None)
        training.setdefault("mixed_precision", "no")
        training.setdefault("num_processes", 1)
        training["hyperparameters"] = hyperparameter_rows(summary, base)
    preds = meta["predictions"]
    predictions = None
    if preds and preds.get("samples"):
        samples = []
        for s in preds["samples"]:
            prompt, text = s.get("prompt") or "", s.get("text") or ""
            rest = (
                text[len(prompt) :]
                if prompt and text.startswith(prompt)
                else (" " + text if prompt else text)
            )
            samples.append(
                {
                    "prompt": prompt,
                    "continuation": rest,
                    "longest_copied_words": s.get("longest_copied_words"),
                }
            )
        predictions = {
            "samples": samples,
            "memorization_rate": preds.get("memorization_rate"),
            "threshold": preds.get("memorization_threshold_words", 8),
            "redrawn": preds.get("redrawn") or 0,
            "withheld": preds.get("withheld") or 0,
            "max_redraws": MAX_REDRAWS,
        }
    report = meta["data_report"]
    any_of = lambda keys: any(u["stats"][k] is not None for u in users for k in keys)  # noqa: E731
    return {
        "template_version": version,
        "origin": meta.get("origin", "huggingtweets"),
        "repo_id": meta["repo_id"],
        "prompt": meta.get("widget_prompt", DEFAULT_PROMPT),
        "try_url": playground_link(meta),
        "users": users,
        "cyborg": len(users) > 1,
        "net": network_words({u["network"] for u in users}),
        "has_left_out": any(u["left_out"] for u in users),
        "has_extra_drops": any_of(("replies", "duplicates", "media_only")),
        "has_dates": any_of(("first_date", "last_date")),
        "has_languages": any(report_users.get(u["handle"], {}).get("languages") for u in users),
        "has_language_part": any(u["language_shares"] or u["fit"] for u in users),
        "length_rule": str((report.get("length_rule") or {}).get("text") or ""),
        "split": report.get("split"),
        "oversampled": [{"handle": h, **v} for h, v in sorted((report.get("oversampled") or {}).items())],
        "data_warnings": list(report.get("warnings") or []),
        "base_model_id": hub_base_model(meta),
        "base_kind": base_kind(meta),
        "base_name": str(base.get("name") or "GPT-2"),
        "base_file": base.get("kind") == "gguf",
        "family": str(base.get("family") or "GPT-2"),
        "limitations_url": limitations_url(base),
        "training": training,
        "predictions": predictions,
        "versions": sorted((str(k), str(v)) for k, v in (meta["versions"] or {}).items()),
        "gguf": meta.get("gguf"),  # None on cards of bots without one, and on older metadata
    }


def hyperparameter_rows(summary: dict, base: dict) -> list[tuple[str, str]]:
    """The table's rows: the recorded settings the base applied, and its family's config as trained."""
    from huggingtweets.train.basemodel import family_of

    hyper = dict(summary.get("hyperparameters") or {})
    if "base" in summary and family_of(base.get("model_type")).attention_dropout_field is None:
        hyper.pop("attention_dropout", None)  # a family whose config has no such field never applied it
    rows = [(k, _plain(hyper[k])) for k in sorted(hyper)]
    config = base.get("config") or {}
    rows += [(f"base config: {k}", _plain(config[k])) for k in sorted(config)]
    return rows


def limitations_url(base: dict) -> str | None:
    """Where the base's own limitations are written: its family's page, else its own Hub card."""
    from huggingtweets.train.basemodel import family_of

    url = family_of(base.get("model_type")).limitations_url
    if url:
        return url
    hub_id = base.get("hub_id")
    return (
        f"{DEFAULT_HUB_URL}/{hub_id}" if isinstance(hub_id, str) and HUB_MODEL_ID_RE.match(hub_id) else None
    )


def network_words(networks: set[str]) -> dict[str, str]:
    """The table's words for the cards' networks (``sources.registry``)."""
    from huggingtweets.sources.registry import network_words as words

    return words(networks)


def provenance(user: dict) -> dict:
    """The card's two provenance texts of one user, from its source's registry entry, every value
    escaped as the template's filters would (``at`` for the handle, ``line | md`` for the rest)."""
    from markupsafe import Markup

    from huggingtweets.sources import registry
    from huggingtweets.sources.consent import basis_of, basis_text

    def md(value: Any) -> Markup:
        return Markup(md_text(one_line(value)))

    network = registry.NETWORKS.get(str(user["network"]))
    values = {
        "handle": Markup("@" + md_text(one_line(user["handle"]))),
        "instance": md(user["instance"]),
        "fetched_on": md(user["fetched_on"]),
        "detail": md(user["source_detail"]),
        "source": md(user["source"]),
        "title": md(network.title if network else user["network"]),
    }
    entry = registry.source(str(user["source"]))
    return {
        "provenance_short": Markup(entry.short).format(**values),
        "provenance_long": Markup(entry.long).format(**values),
        "consent_basis": md(
            basis_text(basis_of(user, entry.kind if entry is not registry.UNKNOWN else "unknown"))
        ),
    }


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _tidy(text: str) -> str:
    # Collapse runs of blank lines the template's conditionals leave behind; strip trailing spaces.
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def render(metadata: dict, template: str | Path | None = None) -> str:
    """README.md text for ``metadata`` (the huggingtweets.json dict). Pure and deterministic."""
    import jinja2

    header = card_header(metadata)
    path = resolve_template(template)
    version = template_version(path)
    try:
        body = _environment(path).get_template(path.name).render(**_context(metadata, version))
    except jinja2.UndefinedError as err:
        raise CardError(
            f"template {path.name} uses a value the metadata lacks: {err}",
            hint="fix the template or rebuild the metadata with: huggingtweets card --run-dir DIR",
        ) from err
    except jinja2.TemplateError as err:
        raise CardError(f"template {path.name} cannot be rendered: {err}") from err
    return f"---\n{dump_header(header)}---\n\n{_tidy(body)}"


render_card = render


def split_card(text: str) -> tuple[dict, str]:
    """(YAML header dict, body) of a README; an absent header gives ``{}``."""
    import yaml

    match = re.match(r"\A---\s*\n(.*?\n)---\s*\n", text, flags=re.S)
    if not match:
        return {}, text
    data = yaml.safe_load(match.group(1)) or {}
    if not isinstance(data, dict):
        raise CardError("the README's YAML header is not a mapping; expected key: value lines")
    return data, text[match.end() :]


def validate_card_locally(text: str) -> dict:
    """Parse the header back and check it as the Hub would read it; returns the header dict."""
    from huggingface_hub import ModelCardData

    header, _ = split_card(text)
    if not header:
        raise CardError("the rendered card has no YAML header; expected ---/--- metadata at the top")
    try:
        ModelCardData(**header, ignore_metadata_errors=False)
    except Exception as err:  # ModelCardData raises ValueError/TypeError on a bad model-index
        raise CardError(f"card metadata is invalid: {err}", hint="fix the template or metadata") from err
    for key in ("thumbnail",):
        if key in header:
            https_url(header[key], key)
    return header
