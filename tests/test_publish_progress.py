"""Upload progress of a publish: Upload events from 0 to the total, one commit, plain piped lines."""

from __future__ import annotations

import pytest
from conftest import run_cli
from test_publish import REPO, _api, carded

from huggingtweets.events import Upload
from huggingtweets.hubclient import HubClient
from huggingtweets.publish import publish


def _local_bytes(run_dir) -> int:
    model = run_dir / "model"
    return sum(p.stat().st_size for p in model.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.fixture
def lfs(hub, monkeypatch):
    """The local Hub takes files of 100 kB and more through LFS, as the real Hub takes weights.

    HF_ENDPOINT is unset here, as huggingface_hub read it at import: the client's own endpoint is
    the one seam, and the card is checked by that Hub before the files go up one by one.
    """
    monkeypatch.setattr(hub.server, "lfs_threshold", 100_000)
    return hub


def test_publish_reports_upload_bytes_from_zero_to_the_total_in_one_commit(lfs, card_run_dir):
    hub = lfs
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"\x01" * 300_000)
    seen = []
    client = HubClient(endpoint=hub.url, token=hub.token)
    result = publish(carded(card_run_dir), org="huggingtweets", client=client, events=seen.append)
    uploads = [e for e in seen if isinstance(e, Upload)]
    total = _local_bytes(card_run_dir)
    assert uploads[0].bytes_done == 0 and uploads[-1].bytes_done == total
    assert {e.bytes_total for e in uploads} == {total}
    done = [e.bytes_done for e in uploads]
    assert done == sorted(done)
    assert "model.safetensors" in {e.path for e in uploads}  # the LFS file was reported on its own
    assert len(_api(hub).list_repo_commits(REPO)) == 2  # the Hub's initial commit + ours
    assert result.changed

    # An unchanged re-publish still makes no commit.
    again = publish(carded(card_run_dir), org="huggingtweets", client=client, events=seen.append)
    assert not again.changed and len(_api(hub).list_repo_commits(REPO)) == 2


def test_piped_publish_log_has_plain_upload_lines(lfs, card_run_dir):
    hub = lfs
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"\x02" * 300_000)
    proc = run_cli(
        "publish", "--run-dir", str(card_run_dir), "--org", "huggingtweets", env=hub.env(hub.token)
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout + proc.stderr
    total = _local_bytes(card_run_dir)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("upload: ")]
    numbers = [int(ln.split()[1].replace(",", "")) for ln in lines]
    assert numbers[0] == 0 and numbers[-1] == total and numbers == sorted(numbers)
    assert all(ln.split()[3].replace(",", "") == str(total) for ln in lines)


def test_the_clients_own_hub_checks_the_card_before_any_byte_goes_up(lfs, card_run_dir, fault_proxy):
    """Not the Hub huggingface_hub read from HF_ENDPOINT at import: the one this client was given."""
    from huggingface_hub import constants

    from huggingtweets.errors import HubError

    assert constants.ENDPOINT.rstrip("/") != fault_proxy.url
    fault_proxy.fail(
        r"^POST /api/validate-yaml", status=400, body=b'{"errors": [{"message": "bad license"}]}'
    )
    (card_run_dir / "model" / "model.safetensors").write_bytes(b"\x01" * 300_000)
    seen = []
    client = HubClient(endpoint=fault_proxy.url, token=lfs.token)
    with pytest.raises(HubError) as err:
        publish(carded(card_run_dir), org="huggingtweets", client=client, events=seen.append)
    assert str(err.value).startswith("the Hub rejected the card's YAML header: bad license")
    assert fault_proxy.injected == ["POST /api/validate-yaml"]
    assert not [line for line in fault_proxy.seen if "preupload" in line or "/repos/create" in line]
    assert seen == [] and not _api(lfs).repo_exists(REPO)
