"""Data checks for the app's check process (``huggingtweets.app.check.run_check``), importable by name
in the spawned child: each stands in for a file that is slow, greedy or broken to read."""

from __future__ import annotations

import os
import time

from huggingtweets.errors import SourceError


def sleepy(run_dir: str, sources: dict):
    time.sleep(120)


def hungry(run_dir: str, sources: dict):
    hog = bytearray(600 << 20)  # touched page by page below, so it is resident
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    time.sleep(120)


def refuses(run_dir: str, sources: dict):
    raise SourceError("outbox.json is not an export", hint="download the archive again")


def dies(run_dir: str, sources: dict):
    os._exit(3)


def echo(run_dir: str, sources: dict):
    return {"run_dir": run_dir, "sources": sources}, ["a note"]


def slow_unless_archive(run_dir: str, sources: dict):
    """A posts file stands in for a hostile file that takes forever; an archive is checked for real."""
    if sources.get("archives"):
        from huggingtweets.app.check import fetch_and_prepare

        return fetch_and_prepare(run_dir, sources)
    time.sleep(120)
