"""README.md YAML header: parse it for ``cardData`` and validate it like the Hub's validate-yaml.

Errors come back as a list of ``{"message": ...}`` dicts, the shape the Hub replies with and the
client turns into ``ValueError("Invalid metadata in README.md. ...")``.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$", re.DOTALL | re.MULTILINE)

# Keys whose type the Hub checks; a value of another type is an error, as on the Hub.
_STR = (str,)
_STR_OR_LIST = (str, list)
KEY_TYPES: dict[str, tuple[type, ...]] = {
    "license": _STR,
    "license_name": _STR,
    "license_link": _STR,
    "library_name": _STR,
    "pipeline_tag": _STR,
    "thumbnail": _STR,
    "language": _STR_OR_LIST,
    "tags": _STR_OR_LIST,
    "datasets": _STR_OR_LIST,
    "metrics": _STR_OR_LIST,
    "base_model": _STR_OR_LIST,
    "widget": (list,),
    "model-index": (list,),
    "inference": (bool, dict),
}
_LIST_OF_STR = ("language", "tags", "datasets", "metrics", "base_model")


def split_header(text: str) -> str | None:
    """The YAML text between the leading ``---`` lines, or None when the README has no header."""
    match = _HEADER.match(text)
    return match.group(1) if match else None


def parse_metadata(text: str) -> tuple[dict | None, list[dict]]:
    """(metadata or None, errors). Errors name the bad key, the type found and the type expected."""
    import yaml

    header = split_header(text)
    if header is None:
        return None, []
    try:
        data = yaml.safe_load(header)
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "invalid YAML"
        return None, [{"message": f"Error: YAML metadata could not be parsed: {first}"}]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return None, [{"message": f"Error: YAML metadata must be a mapping, got {type(data).__name__}"}]
    errors = []
    for key, types in KEY_TYPES.items():
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if not isinstance(value, types) or (
            key in _LIST_OF_STR and isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            expected = " or ".join(
                "list of strings" if t is list and key in _LIST_OF_STR else t.__name__ for t in types
            )
            errors.append({"message": f'Error: "{key}" must be {expected}, got {type(value).__name__}'})
    return data, errors


def as_json_safe(value: Any) -> Any:
    """YAML may hold dates and other non-JSON scalars; the Hub returns them as strings."""
    if isinstance(value, dict):
        return {str(k): as_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def derive_repo_metadata(card: dict | None, config: dict | None, filenames: list[str]) -> dict:
    """tags, pipeline_tag and library_name the way the Hub derives them from card and files."""
    card = card or {}
    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    if library is None and config is not None:
        library = "transformers"
    pipeline = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    archs = _as_list((config or {}).get("architectures"))
    if pipeline is None and any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        pipeline = "text-generation"
    tags: list[str] = []
    if library:
        tags.append(library)
    if any(f.endswith(".safetensors") for f in filenames):
        tags.append("safetensors")
    model_type = (config or {}).get("model_type")
    if isinstance(model_type, str):
        tags.append(model_type)
    if pipeline:
        tags.append(pipeline)
    tags += _as_list(card.get("tags"))
    tags += _as_list(card.get("language"))
    if isinstance(card.get("license"), str):
        tags.append(f"license:{card['license']}")
    tags += [f"dataset:{d}" for d in _as_list(card.get("datasets"))]
    tags += [f"base_model:{b}" for b in _as_list(card.get("base_model"))]
    return {"tags": list(dict.fromkeys(tags)), "pipeline_tag": pipeline, "library_name": library}
