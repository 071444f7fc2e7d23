"""HubClient is a seam without globals: it changes nothing process-wide and counts only its own calls."""

from __future__ import annotations

import logging
import os

from huggingtweets.hubclient import HubClient, Pacer


def _module_state() -> dict:
    """What a client could change for the whole process, read through public names only."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    loggers = ("huggingface_hub", "huggingface_hub.hf_api", "huggingface_hub.file_download")
    return {
        "environ": dict(os.environ),
        "constants": {k: repr(v) for k, v in vars(constants).items() if not k.startswith("__")},
        # set_client_factory() closes the shared session: a new object here means a replaced factory.
        "session": id(get_session()),
        # Public names are loaded lazily (first use adds them): compare those bound already.
        "public names": {k: id(v) for k, v in vars(huggingface_hub).items() if not k.startswith("_")},
        "filters": {name: list(logging.getLogger(name).filters) for name in loggers},
    }


def changed(before: dict, after: dict) -> list[str]:
    """The parts of the process state that differ (names bound later by lazy loading excepted)."""
    out = [k for k in before if k != "public names" and before[k] != after[k]]
    names = before["public names"]
    out += [f"huggingface_hub.{k}" for k in names if after["public names"].get(k) != names[k]]
    return out


class CountingPacer(Pacer):
    def __init__(self) -> None:
        super().__init__(max_calls=10_000)
        self.admitted = 0

    def before_request(self) -> None:
        self.admitted += 1
        super().before_request()


def test_a_client_leaves_the_process_as_it_found_it(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    HfApi(endpoint=hub.url, token=hub.token).create_repo("alice/seam")
    before = _module_state()
    pacer = CountingPacer()
    client = HubClient(endpoint=hub.url, token=hub.token, pacer=pacer)
    from huggingtweets.hubclient import commit_add

    counts = []
    client.whoami()
    counts.append(client.requests)
    assert client.repo_info("alice/seam") is not None
    counts.append(client.requests)
    client.create_commit("alice/seam", [commit_add("a.txt", b"hello")], message="one file")
    counts.append(client.requests)
    assert client.read_text("alice/seam", "a.txt")[0] == "hello"
    counts.append(client.requests)
    counted, admitted = client.requests, pacer.admitted
    # whoami 1, repo info 1, a small file's commit 2 (preupload, commit), a read 1: each request
    # counted once and paced once.
    assert counts == [1, 2, 4, 5] and admitted == counted

    # A download in the same process (what transformers does to load a model) is not this
    # client's: neither counted nor paced by it.
    path = hf_hub_download("alice/seam", "a.txt", endpoint=hub.url, token=hub.token, cache_dir=tmp_path / "c")
    HfApi(endpoint=hub.url, token=hub.token).model_info("alice/seam")
    assert open(path).read() == "hello"
    assert (client.requests, pacer.admitted) == (counted, admitted)
    # Nor is another client's work counted by this one.
    other = HubClient(endpoint=hub.url, token=hub.token)
    other.whoami()
    assert client.requests == counted and other.requests == 1
    assert changed(before, _module_state()) == []


SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_hub_seam import _module_state, changed
from transformers import AutoConfig
before = _module_state()
from huggingtweets.hubclient import HubClient
client = HubClient(token={token!r})
client.whoami()
config = AutoConfig.from_pretrained("alice/cfg", cache_dir={cache!r}, token={token!r})
print(json.dumps({{"n_layer": config.n_layer, "requests": client.requests, "changed": changed(before, _module_state())}}))
"""


def test_a_transformers_download_in_the_same_process_is_not_counted(hub, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("alice/cfg")
    api.upload_file(
        path_or_fileobj=b'{"model_type": "gpt2", "n_layer": 1}',
        path_in_repo="config.json",
        repo_id="alice/cfg",
    )
    # A process of its own so that HF_ENDPOINT points transformers at the local Hub from import on.
    code = SCRIPT.format(tests=str(Path(__file__).parent), token=hub.token, cache=str(tmp_path / "c"))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=hub.env(), timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"n_layer": 1, "requests": 1, "changed": []}
