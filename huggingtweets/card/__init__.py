"""The card stage: bot metadata -> README.md (+ avatars and the social preview) in DIR/model/.

render -> validate -> write, kept apart from pushing (``huggingtweets.publish``).
"""

from __future__ import annotations

from pathlib import Path

from huggingtweets.card.metadata import (
    METADATA_FILE,
    PREVIEW_FILE,
    build_metadata,
    metadata_from_original_readme,
)
from huggingtweets.card.render import DEFAULT_HUB_URL, card_header, render, render_card, split_card

__all__ = [
    "METADATA_FILE",
    "PREVIEW_FILE",
    "build_metadata",
    "card_header",
    "metadata_from_original_readme",
    "render",
    "render_card",
    "split_card",
    "write_card",
]


def write_card(
    run_dir: Path | str,
    *,
    repo_id: str,
    template: str | Path | None = None,
    hub_url: str = DEFAULT_HUB_URL,
    playground_url: str | None = None,
) -> Path:
    """Write DIR/model/README.md, huggingtweets.json, avatars/ and predictions.png; returns the README path.

    Everything is rendered and validated before the first write, so a bad template or metadata
    leaves the model folder as it was.
    """
    from huggingtweets.card.preview import avatar_png, load_avatar, preview_png
    from huggingtweets.card.render import validate_card_locally
    from huggingtweets.runfolder import RunFolder, atomic_write_bytes, atomic_write_json, atomic_write_text

    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    model_dir = folder.model
    folder.require("model_config", needed_by="the card")
    meta = build_metadata(
        run_dir, repo_id=repo_id, template=template, hub_url=hub_url, playground_url=playground_url
    )
    readme = render(meta, template)
    validate_card_locally(readme)

    users_json = {u["handle"].lstrip("@"): u for u in folder.read("users", needed_by="the card")}
    files: dict[str, bytes] = {}
    images = []
    for user in meta["users"]:
        rel = users_json.get(user["handle"], {}).get("avatar_file")
        source = run_dir / rel if rel else None
        data, _placeholder = avatar_png(source)
        files[user["avatar_file"]] = data
        images.append(load_avatar(source)[0])
    samples = (meta["predictions"] or {}).get("samples") or []
    files[PREVIEW_FILE] = preview_png(meta["users"], images, samples[0]["text"] if samples else None)

    # Avatars of users no longer in this bot must not ship with it.
    avatars_dir = model_dir / "avatars"
    if avatars_dir.is_dir():
        for old in avatars_dir.iterdir():
            if f"avatars/{old.name}" not in files:
                old.unlink()
    for rel, data in files.items():
        atomic_write_bytes(model_dir / rel, data)
    atomic_write_json(model_dir / METADATA_FILE, meta)
    return atomic_write_text(model_dir / "README.md", readme)
