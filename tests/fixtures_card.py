"""Fixtures of the card stage (loaded by conftest as a plugin).

- ``card_run_dir``: a run folder from tests/fixtures/card/run (users, data report, training summary,
  predictions, one archive avatar) with a model folder that holds only config.json.
- ``tiny_run_dir``: the same with a real tiny GPT-2 in model/ (helper B's ``tiny_base_dir``).
- ``FaultProxy``: a loopback proxy in front of the local Hub that answers chosen requests with
  429 (or any status) first, to test retries with the real client, without touching the server.
"""

from __future__ import annotations

import http.client
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CARD_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "card"
RUN_FIXTURE = CARD_FIXTURES / "run"
ORIGINAL_README = CARD_FIXTURES / "original-model-card-mcintweet.md"


def expected_header(repo_id: str) -> dict:
    """The whole YAML header a card of the fixture run must have (written out, not computed)."""
    name = repo_id.split("/", 1)[1]
    return {
        "language": ["en", "fr"],
        "license": "mit",
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "base_model": "openai-community/gpt2",
        "thumbnail": f"https://huggingface.co/{repo_id}/resolve/main/predictions.png",
        "tags": ["huggingtweets"],
        "widget": [{"text": "My dream is"}],
        "model-index": [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "text-generation", "name": "Text generation"},
                        "dataset": {
                            "type": "posts",
                            "name": "Posts by @ada_l, @grace_h",
                            "split": "validation",
                        },
                        "metrics": [
                            {"type": "perplexity", "value": 31.1164, "name": "Validation perplexity"}
                        ],
                    }
                ],
            }
        ],
    }


def make_card_run_dir(root: Path) -> Path:
    run = root / "run"
    (run / "raw").mkdir(parents=True)
    (run / "model").mkdir()
    for name in ("users.json", "data_report.json", "training_summary.json", "predictions.json"):
        shutil.copy(RUN_FIXTURE / name, run / name)
    shutil.copy(RUN_FIXTURE / "ada_l.avatar.jpg", run / "raw" / "ada_l.avatar.jpg")
    (run / "model" / "config.json").write_text('{"model_type": "gpt2"}\n', encoding="utf-8")
    return run


@pytest.fixture
def card_run_dir(tmp_path) -> Path:
    return make_card_run_dir(tmp_path)


@pytest.fixture
def tiny_run_dir(tmp_path, request) -> Path:
    tiny = request.getfixturevalue("tiny_base_dir")
    run = make_card_run_dir(tmp_path)
    shutil.rmtree(run / "model")
    shutil.copytree(tiny, run / "model")
    return run


# --------------------------------------------------------------------------- Hub helpers


def seed_bot(api, repo_id: str, files: dict[str, str | bytes], *, private: bool = False) -> str:
    """Create ``repo_id`` with ``files`` in one small commit; returns the commit sha."""
    from huggingface_hub import CommitOperationAdd

    api.create_repo(repo_id, private=private, exist_ok=True)
    ops = [
        CommitOperationAdd(path_in_repo=p, path_or_fileobj=d.encode() if isinstance(d, str) else d)
        for p, d in files.items()
    ]
    return api.create_commit(repo_id, ops, commit_message="seed").oid


def org_shas(api, author: str) -> dict[str, str]:
    """{repo id: head commit} for every repo of ``author``, in one listing call."""
    return {m.id: m.sha for m in api.list_models(author=author)}


class FaultProxy:
    """Forward every request to ``upstream``; answer the first ``times`` requests whose
    ``METHOD path`` matches ``pattern`` with ``status`` (+ ``headers``) instead."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.rules: list[dict] = []
        self.gates: list[dict] = []
        self.seen: list[str] = []
        self.injected: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()  # always read the body first, or keep-alive breaks
                line = f"{self.command} {self.path}"
                proxy.seen.append(line)
                for gate in proxy.gates:
                    if gate["left"] > 0 and re.search(gate["pattern"], line):
                        gate["left"] -= 1
                        gate["event"].wait(timeout=120)
                for rule in proxy.rules:
                    if rule["left"] > 0 and re.search(rule["pattern"], line):
                        rule["left"] -= 1
                        proxy.injected.append(line)
                        payload = rule["body"]
                        self.send_response(rule["status"])
                        for k, v in rule["headers"].items():
                            self.send_header(k, v)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                try:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding", "host")
                    }
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                        self.send_header(k, v)
                # A HEAD reply keeps the upstream's length (of the body it would have sent).
                head_length = resp.getheader("Content-Length") or "0"
                self.send_header("Content-Length", head_length if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for the loop to notice, up to one interval (0.5 s by default).
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def fail(
        self,
        pattern: str,
        *,
        times: int = 1,
        status: int = 429,
        headers: dict | None = None,
        body: bytes | None = None,
    ) -> None:
        body = body if body is not None else b'{"error": "injected fault"}'
        self.rules.append(
            {"pattern": pattern, "left": times, "status": status, "headers": headers or {}, "body": body}
        )

    def hold(self, pattern: str, *, times: int = 1) -> threading.Event:
        """Hold the first ``times`` matching requests until the returned event is set (then forward them)."""
        event = threading.Event()
        self.gates.append({"pattern": pattern, "left": times, "event": event})
        return event

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fault_proxy(hub):
    with FaultProxy(hub.url) as proxy:
        yield proxy


# --------------------------------------------------------------------------- parsing a card back


class _CardHTML:
    """Elements of the card body's HTML, parsed (not grepped): div texts, img srcs/alts, tags seen."""

    def __init__(self, body: str) -> None:
        from html.parser import HTMLParser

        self.divs: list[str] = []
        self.imgs: list[dict] = []
        self.tags: list[str] = []
        outer = self

        class P(HTMLParser):
            def __init__(self) -> None:
                super().__init__(convert_charrefs=True)
                self.stack: list[list[str]] = []

            def handle_starttag(self, tag, attrs):
                outer.tags.append(tag)
                if tag == "img":
                    outer.imgs.append(dict(attrs))
                if tag == "div":
                    self.stack.append([])

            def handle_endtag(self, tag):
                if tag == "div" and self.stack:
                    text = "".join(self.stack.pop()).strip()
                    if text and "\n" not in text:
                        outer.divs.append(text)

            def handle_data(self, data):
                for frame in self.stack:
                    frame.append(data)

        P().feed(body)


def md_unescape(cell: str) -> str:
    import html

    return html.unescape(re.sub(r"\\(.)", r"\1", cell.strip()))


def md_tables(body: str) -> dict[str, dict[str, list[str]]]:
    """Every Markdown table in ``body``: {first header cell: {row label: cells}} (header row included)."""
    tables: dict[str, dict[str, list[str]]] = {}
    rows: list[list[str]] = []
    for line in [*body.splitlines(), ""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            rows.append([md_unescape(c) for c in re.split(r"(?<!\\)\|", s[1:-1])])
            continue
        if len(rows) >= 2:
            tables[rows[0][0]] = {r[0]: r[1:] for r in [rows[0], *rows[2:]]}
        rows = []
    return tables


def parse_card(text: str) -> dict:
    import yaml

    assert text.startswith("---\n"), "card must start with a YAML header"
    _, head, body = text.split("---\n", 2)
    page = _CardHTML(body)
    return {
        "header": yaml.safe_load(head),
        "body": body,
        "divs": page.divs,
        "imgs": page.imgs,
        "tags": page.tags,
        "tables": md_tables(body),
        "code": re.findall(r"```python\n(.*?)```", body, flags=re.S),
        "headings": re.findall(r"^## (.+)$", body, flags=re.M),
    }
