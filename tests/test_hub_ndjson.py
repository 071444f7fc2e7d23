"""The streaming NDJSON reader of the commit endpoint: long strings spill to disk, in any chunking."""

from __future__ import annotations

import base64
import io
import json
import os
import random

import pytest

from huggingtweets.hub import ndjson
from huggingtweets.hub.ndjson import NdjsonError, SpillRef, iter_lines


class Trickle(io.RawIOBase):
    """Returns the body in small random pieces, so tokens and escapes straddle reads."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self.buf, self.rng = io.BytesIO(data), random.Random(seed)

    def read(self, size: int = -1) -> bytes:
        return self.buf.read(self.rng.randint(1, 13))


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(ndjson, "SPILL_AT", 16)
    monkeypatch.setattr(ndjson, "READ", 8)  # still a multiple of 4 for base64 blocks


def _collect(data: bytes, tmp_path, seed=0):
    out = []
    for number, item in iter_lines(Trickle(data, seed), tmp_path):
        value = item.get("value", {}) if isinstance(item, dict) else {}
        resolved = {}
        for key, v in value.items():
            if isinstance(v, SpillRef):
                size, chunks = v.base64_chunks() if key == "content" else (None, None)
                resolved[key] = ("spilled", size, b"".join(chunks)) if chunks else ("spilled-text", v.text())
            else:
                resolved[key] = v
        out.append((number, item.get("key"), resolved))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_long_strings_spill_and_decode_in_any_chunking(tmp_path, small_limits, seed):
    content = os.urandom(1000)
    lines = [
        {"key": "header", "value": {"summary": 'quote " and \\ backslash ' + "x" * 40, "description": "é ☃"}},
        {
            "key": "file",
            "value": {"content": base64.b64encode(content).decode(), "path": "a/b.bin", "encoding": "base64"},
        },
        {"key": "file", "value": {"path": "s.txt", "content": "c2hvcnQ=", "encoding": "base64"}},
    ]
    body = "\n\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    got = _collect(body, tmp_path, seed)
    assert [g[0] for g in got] == [1, 3, 5] and [g[1] for g in got] == ["header", "file", "file"]
    assert got[0][2]["summary"] == ("spilled-text", 'quote " and \\ backslash ' + "x" * 40)
    assert got[0][2]["description"] == "é ☃"
    assert got[1][2]["content"] == ("spilled", 1000, content) and got[1][2]["path"] == "a/b.bin"
    assert got[2][2]["content"] == "c2hvcnQ="


def test_truncated_or_broken_lines_are_errors(tmp_path, small_limits):
    with pytest.raises(NdjsonError, match="ends inside a string"):
        list(iter_lines(io.BytesIO(b'{"key": "header", "value": {"summary": "abc'), tmp_path))
    with pytest.raises(NdjsonError, match="line 2 is not valid JSON"):
        list(iter_lines(io.BytesIO(b'{"a": 1}\n{"b": \n'), tmp_path))
    ref_body = json.dumps({"key": "file", "value": {"content": "!!!!" * 10}}).encode()
    for _, item in iter_lines(io.BytesIO(ref_body), tmp_path):  # a spill lives until the next line
        _, chunks = item["value"]["content"].base64_chunks()
        with pytest.raises(NdjsonError, match="not valid base64"):
            list(chunks)
    assert list(tmp_path.iterdir()) == []  # spill files are anonymous temp files, gone when closed


def test_regular_commit_of_a_large_file_streams_through_the_spill_path(hub, monkeypatch, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    monkeypatch.setattr(ndjson, "SPILL_AT", 1024)  # a 200 KB file then takes the large-file path
    monkeypatch.setattr(ndjson, "READ", 4096)
    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("alice/spill")
    data = os.urandom(200_001)
    api.upload_file(
        path_or_fileobj=data, path_in_repo="w.bin", repo_id="alice/spill", commit_message="x" * 5000
    )  # a long summary spills too
    assert api.list_repo_commits("alice/spill")[0].title == "x" * 5000
    path = hf_hub_download("alice/spill", "w.bin", endpoint=hub.url, cache_dir=tmp_path)
    assert open(path, "rb").read() == data
