"""Where the package's data files live, in a wheel and in an editable checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """``templates/``: inside the wheel it is ``huggingtweets/templates``; in a checkout, top level."""
    for candidate in (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("huggingtweets templates folder not found; reinstall the package")


def sample_archive() -> Path:
    """The bundled sample X archive (an invented person), used by the demo and tests."""
    return PACKAGE_DIR / "sample" / "sample_archive.zip"


def cache_home() -> Path:
    """$HUGGINGTWEETS_HOME, else $XDG_CACHE_HOME/huggingtweets, else ~/.cache/huggingtweets."""
    import os

    if os.environ.get("HUGGINGTWEETS_HOME"):
        return Path(os.environ["HUGGINGTWEETS_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingtweets"
