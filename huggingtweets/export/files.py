"""What GGUF files a bot's model folder holds: the one fact the card and publish both read.

Kept apart from the exporter and importing nothing of the package, so the card and publish can ask
without an import circle.
"""

from __future__ import annotations

from pathlib import Path

MODELFILE = "Modelfile"  # Ollama's file name, beside the .gguf it runs


def bot_gguf(model_dir: Path | str) -> dict | None:
    """What the card records about the .gguf files in DIR/model/ (None: there are none)."""
    model_dir = Path(model_dir)
    files = sorted(p.name for p in model_dir.glob("*.gguf") if p.is_file() and not p.name.startswith("."))
    if not files:
        return None
    modelfile = model_dir / MODELFILE
    if not modelfile.is_file():
        return {"files": files, "main": files[0], "modelfile": None}
    # The file the card's commands use: the one the Modelfile runs (the last exported).
    lines = modelfile.read_text(encoding="utf-8").splitlines()
    named = [line[len("FROM ./") :].strip() for line in lines if line.startswith("FROM ./")]
    main = next((f for f in named if f in files), files[0])
    return {"files": files, "main": main, "modelfile": MODELFILE}
