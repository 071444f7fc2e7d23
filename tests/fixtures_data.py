"""Fixtures of the data stage (loaded by conftest as a plugin).

- ``data_fixtures``: ``tests/fixtures/data`` (tiny archives of our own writing, broken ones, posts files).
- ``zip_archive(folder)``: zip a fixture archive folder the way X ships it.
- ``replay(*cassettes)``: an ``XClient`` (our tweepy seam) whose HTTP session answers from vcrpy
  cassettes, so no test touches the network. ``client.adapter.requests`` lists what was asked.
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

DATA_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
XAPI_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "xapi"
TEST_TOKEN = "test-bearer-token-never-shown"


def load_cassette(path: Path) -> list[dict]:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["interactions"]


def _make_adapter_class():
    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict

    class CassetteAdapter(BaseAdapter):
        """Answers each request with the first unused recorded interaction that matches it.

        A recording matches on method and path, and on the query parameters its URI names (a URI
        without a query matches any), which is how the shared cassettes were recorded.
        """

        def __init__(self, interactions: list[dict]) -> None:
            super().__init__()
            self.pending = list(interactions)
            self.requests: list = []

        def send(self, request, **kwargs):
            self.requests.append(request)
            url = urlsplit(request.url)
            query = parse_qs(url.query)
            for i, rec in enumerate(self.pending):
                rec_url = urlsplit(rec["request"]["uri"])
                rec_query = parse_qs(rec_url.query)
                if (
                    rec["request"]["method"] == request.method
                    and rec_url.path == url.path
                    and all(query.get(k) == v for k, v in rec_query.items())
                ):
                    del self.pending[i]
                    return self._response(rec["response"], request)
            raise AssertionError(f"no recorded answer left for {request.method} {request.url}")

        @staticmethod
        def _response(recorded: dict, request):
            body = recorded["body"]["string"]
            body = body.encode() if isinstance(body, str) else body
            headers = {k: v[0] if isinstance(v, list) else v for k, v in recorded.get("headers", {}).items()}
            if headers.pop("content-encoding", None) == "gzip" or body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            headers.pop("content-length", None)
            response = requests.Response()
            response.status_code = recorded["status"]["code"]
            response.reason = recorded["status"].get("message", "")
            response.headers = CaseInsensitiveDict(headers)
            response._content = body
            response._content_consumed = True
            response.encoding = "utf-8"
            response.url = request.url
            response.request = request
            return response

        def close(self) -> None:
            pass

    return CassetteAdapter


def replay_client(*cassettes: Path, token: str = TEST_TOKEN):
    """A ``TweepyXClient`` whose session replays ``cassettes`` (in order, as one list)."""
    import requests

    from huggingtweets.sources.xapi import TweepyXClient

    interactions = [i for c in cassettes for i in load_cassette(c)]
    adapter = _make_adapter_class()(interactions)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    client = TweepyXClient(token, session=session)
    client.adapter = adapter
    return client


@pytest.fixture
def data_fixtures() -> Path:
    return DATA_FIXTURES


@pytest.fixture
def xapi_fixtures() -> Path:
    return XAPI_FIXTURES


@pytest.fixture
def replay():
    return replay_client


@pytest.fixture
def zip_archive(tmp_path):
    """Zip a fixture folder like X does (``data/...`` at the top); returns the .zip path."""

    def make(folder: Path, name: str | None = None, prefix: str = "") -> Path:
        out = tmp_path / (name or f"{folder.name}.zip")
        with zipfile.ZipFile(out, "w") as zf:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    zf.write(file, prefix + file.relative_to(folder).as_posix())
        return out

    return make


@pytest.fixture
def sample_run(tmp_path):
    """A run folder fetched from the bundled sample archive (copied, so tests may change it)."""
    from huggingtweets.paths import sample_archive
    from huggingtweets.sources import fetch

    run_dir = tmp_path / "run"
    fetch(run_dir, archives=[sample_archive()], echo=lambda _: None)
    return run_dir


@pytest.fixture
def copy_fixture(tmp_path):
    def make(rel: str) -> Path:
        dest = tmp_path / "copies" / rel
        shutil.copytree(DATA_FIXTURES / rel, dest)
        return dest

    return make
