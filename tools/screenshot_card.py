"""Render a bot's model card to HTML and screenshot it with headless Chromium (docs/card.png).

    python tools/screenshot_card.py ~/.cache/huggingtweets/demo/run/model docs/card.png

Needs Debian's `chromium` (and `fonts-noto-color-emoji` for the robot emoji). Not used by tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """
body { font-family: 'Source Sans Pro', Helvetica, Arial, sans-serif; max-width: 820px; margin: 24px auto;
       color: #1f2937; font-size: 15px; }
table { border-collapse: collapse; } td, th { border: 1px solid #e5e7eb; padding: 4px 10px; }
pre { background: #f3f4f6; padding: 10px; border-radius: 6px; } h2 { border-bottom: 1px solid #e5e7eb; }
"""


def main(model_dir: Path, out: Path, height: int = 1120) -> None:
    text = (model_dir / "README.md").read_text(encoding="utf-8")
    body = text.split("---", 2)[2]  # drop the YAML header, as the Hub does
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(body)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Images point at the Hub (resolve/main/...); serve the local copies instead.
        for name in ("avatars", "predictions.png"):
            src = model_dir / name
            if src.is_dir():
                shutil.copytree(src, work / name)
            elif src.exists():
                shutil.copy(src, work / name)
        html = re.sub(r"https://[^\s\"')]+?/resolve/main/", "", html)
        page = work / "card.html"
        page.write_text(f"<!doctype html><meta charset=utf-8><style>{STYLE}</style>{html}", encoding="utf-8")
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={work / 'profile'}", "--hide-scrollbars", f"--window-size=900,{height}",
             f"--screenshot={out.resolve()}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]).expanduser(), Path(sys.argv[2]))
