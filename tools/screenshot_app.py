"""Screenshot the web app after a whole run (docs/app.png), taken by the browser test itself.

    .venv/bin/python tools/screenshot_app.py [docs/app.png]

Runs tests/test_app_browser.py (upload the sample archive, train the tiny bot, try a prompt,
publish to a local Hub) with HUGGINGTWEETS_APP_SCREENSHOT pointing at the output, so the picture
shows exactly what the test checked. Needs Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path) -> int:
    env = {**os.environ, "HUGGINGTWEETS_APP_SCREENSHOT": str(out.resolve()), "CI": "true"}  # no silent skip
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "test_app_browser.py"),
        ],
        cwd=ROOT,
        env=env,
    ).returncode


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "app.png")))
