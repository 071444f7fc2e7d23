"""What the app tests share: the app served in this process on a free port, beside a local Hub.

Module-scoped (one app, one Hub and, per module, one tiny training), so the isolation the autouse
fixture gives each test is repeated here for the whole module: no real token, cache or Hub.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ALICE_TOKEN, REPO_ROOT, SECRET_VARS
from localhub import hub_server

SAMPLE_ARCHIVE = REPO_ROOT / "huggingtweets" / "sample" / "sample_archive.zip"


@dataclass
class Served:
    url: str
    hub_url: str
    hub_dir: Path
    store: object  # huggingtweets.app.session.SessionStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(tmp: Path, **app_settings) -> Iterator[Served]:
    """A local Hub and the app (publishing to it) on loopback; both stopped and cleaned after.
    ``app_settings``: more of ``huggingtweets.app.launch``'s settings (max_upload_mb, check_limits, ...)."""
    pytest.importorskip("gradio", reason="the web app needs the app extra: pip install -e '.[app]'")
    with pytest.MonkeyPatch.context() as mp:
        for var in SECRET_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("HF_HOME", str(tmp / "hf"))
        mp.setenv("HUGGINGTWEETS_HOME", str(tmp / "huggingtweets"))
        mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        mp.setenv("HF_HUB_DISABLE_XET", "1")
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        mp.setenv("GRADIO_TEMP_DIR", str(tmp / "gradio"))
        hub = hub_server(tmp / "hubdata")
        hub.start()
        from huggingtweets.app import launch

        demo, store = launch(
            host="127.0.0.1",
            port=free_port(),
            endpoint=hub.url,
            block=False,
            quiet=True,
            base_dir=tmp / "sessions",
            **app_settings,
        )
        try:
            yield Served(url=demo.local_url, hub_url=hub.url, hub_dir=tmp / "hubdata", store=store)
        finally:
            demo.close()
            store.close()
            hub.stop()


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


_PROGRESS = re.compile(r'<progress max="(\d+)" value="(\d+)"')


def progress_of(status_html: str) -> tuple[int, int] | None:
    """(step, total_steps) from the status block, or None before the first training step."""
    match = _PROGRESS.search(status_html or "")
    return (int(match.group(2)), int(match.group(1))) if match else None


def markdown_table(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``text``, cells stripped."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


def repo_exists(hub_url: str, repo_id: str) -> bool:
    from huggingtweets.hubclient import HubClient

    return HubClient(endpoint=hub_url, token=ALICE_TOKEN).repo_info(repo_id) is not None
