"""Atomic writes used by the local Hub's threads: modes come from the umask, never by changing it."""

from __future__ import annotations

import os
import stat

import pytest

from huggingtweets import runfolder

_REAL_UMASK = os.umask  # the tests below replace os.umask; fixtures restore through this


@pytest.fixture
def umask_027():
    # Set before os.umask is forbidden below; restored after, whatever the test did.
    old = _REAL_UMASK(0o027)
    yield 0o027
    _REAL_UMASK(old)


def _forbid_umask(monkeypatch):
    def boom(*_args):
        raise AssertionError("os.umask called: it changes the mask of every thread for a moment")

    monkeypatch.setattr(os, "umask", boom)


def test_atomic_writes_take_mode_from_umask_without_calling_umask(tmp_path, monkeypatch, umask_027):
    _forbid_umask(monkeypatch)
    text = runfolder.atomic_write_text(tmp_path / "sub" / "a.txt", "hello")
    data = runfolder.atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    js = runfolder.atomic_write_json(tmp_path / "c.json", {"k": 1})
    for path in (text, data, js):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask_027
    assert text.read_text() == "hello" and data.read_bytes() == b"\x00\x01"
    assert runfolder.read_json(js) == {"k": 1}
    # replacing an existing file keeps the same rules and leaves no temp file behind
    runfolder.atomic_write_text(tmp_path / "sub" / "a.txt", "again")
    assert (tmp_path / "sub" / "a.txt").read_text() == "again"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.txt"]


def test_atomic_dir_mode_from_umask_and_rollback(tmp_path, monkeypatch, umask_027):
    _forbid_umask(monkeypatch)
    final = tmp_path / "run"
    with runfolder.atomic_dir(final) as tmp:
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o777 & ~umask_027
        (tmp / "x").write_text("1")
    assert stat.S_IMODE(final.stat().st_mode) == 0o777 & ~umask_027
    assert (final / "x").read_text() == "1"
    with pytest.raises(RuntimeError), runfolder.atomic_dir(final) as tmp:
        (tmp / "y").write_text("2")
        raise RuntimeError("stage failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in final.iterdir()) == ["x"]


def test_failed_write_leaves_no_temp_and_keeps_old_file(tmp_path, monkeypatch):
    target = runfolder.atomic_write_text(tmp_path / "keep.txt", "old")

    def broken_replace(*_args):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        runfolder.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
