"""Sources: a person's posts from an X archive, the X API or a plain file, normalized.

``fetch`` reads every source first and writes the run folder only when all of them succeeded,
so a bad input never leaves a half-written run folder behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from huggingtweets.errors import InputError
from huggingtweets.runfolder import atomic_dir, atomic_write_json, default_run_dir
from huggingtweets.sources.record import Post, UserInfo

__all__ = ["Post", "UserInfo", "check_handle", "collect", "fetch", "read_users"]


# A handle names files (raw/<handle>.jsonl) and the default run folder, so it must be one plain
# path component. X handles are [A-Za-z0-9_]{1,15}; other networks also use dots and dashes.
_HANDLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def check_handle(handle: str, *, what: str = "handle") -> str:
    """``handle`` without its leading @, or an InputError when it cannot name a file."""
    bare = handle[1:] if handle.startswith("@") else handle
    if not _HANDLE.fullmatch(bare):
        raise InputError(
            f"{what} {handle!r} is not a valid handle: expected 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_'",
            hint="e.g. --handle alice_b",
        )
    return bare


def _archive_spec(item) -> tuple[Path, str | None]:
    if isinstance(item, (tuple, list)):
        path, handle = item
        return Path(path), handle
    return Path(item), None


def _check_found(found: list[tuple[UserInfo, list[Post]]], api_handles: list[str]) -> None:
    """Every account read so far names a file safely, and no account comes from two sources."""
    for user, _ in found:
        # An archive without --handle, and the API, name the account themselves.
        check_handle(user.handle, what=f"the account of {user.source_detail}")
    accounts = [(user.handle, user.source_detail) for user, _ in found]
    accounts += [(handle, "the X API") for handle in api_handles]
    seen: dict[str, str] = {}
    for handle, detail in accounts:
        key = handle.lower()
        if key in seen:
            raise InputError(
                f"@{handle} comes from two sources ({seen[key]} and {detail})", hint="give each account once"
            )
        seen[key] = detail


def collect(
    *,
    handles: Iterable[str] = (),
    archives: Iterable = (),
    posts_files: Sequence[tuple[str | Path, str]] = (),
    max_posts: int | None = None,
    price_per_read: float = 0.005,
    x_client=None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
) -> list[tuple[UserInfo, list[Post]]]:
    """Read every source (nothing is written to the run folder).

    Every handle is checked, and each account may come from one source only, before the first
    (paid) X API read.
    """
    from huggingtweets.sources.archive import read_archive
    from huggingtweets.sources.files import read_posts_file

    archive_specs = [_archive_spec(item) for item in archives]
    archive_specs = [(path, check_handle(h, what="--handle") if h else None) for path, h in archive_specs]
    file_specs = []
    for path, handle in posts_files:
        if not handle:
            raise InputError(f"posts file {Path(path).name} has no handle", hint="add --handle NAME after it")
        file_specs.append((path, check_handle(handle, what="--handle")))
    api_handles = [check_handle(h) for h in handles]

    found: list[tuple[UserInfo, list[Post]]] = []
    for path, handle in archive_specs:
        found.append(read_archive(path, handle))
    for path, handle in file_specs:
        found.append(read_posts_file(path, handle))
    _check_found(found, api_handles)
    if api_handles:
        from huggingtweets.sources import xapi

        client = x_client or xapi.TweepyXClient(xapi.bearer_token_from_env())
        for handle in api_handles:
            found.append(
                xapi.fetch_user(
                    handle, client, max_posts=max_posts, price_per_read=price_per_read, echo=echo, sleep=sleep
                )
            )
    if not found:
        raise InputError(
            "nothing to fetch: no handle, --archive or --posts-file given",
            hint="e.g. huggingtweets fetch --archive twitter-archive.zip",
        )
    # The API spells a handle its own way (jack vs Jack): check once more with its spelling.
    _check_found(found, [])
    return found


def fetch(
    run_dir: Path | str | None,
    *,
    handles: Iterable[str] = (),
    archives: Iterable = (),
    posts_files: Sequence[tuple[str | Path, str]] = (),
    max_posts: int | None = None,
    price_per_read: float = 0.005,
    x_client=None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
) -> list[dict]:
    """Write ``run_dir/raw/<handle>.jsonl`` and ``run_dir/users.json``; return the users.

    ``archives`` holds paths, or ``(path, handle)`` pairs where a handle is given to check (or to
    name an archive that does not say whose it is). ``posts_files`` holds ``(path, handle)`` pairs.
    ``run_dir`` None means ``runs/<handles sorted, joined by ->``.
    """
    found = collect(
        handles=handles,
        archives=archives,
        posts_files=posts_files,
        max_posts=max_posts,
        price_per_read=price_per_read,
        x_client=x_client,
        echo=echo,
        sleep=sleep,
    )
    run_dir = Path(run_dir) if run_dir else default_run_dir(u.handle for u, _ in found)
    users = []
    with atomic_dir(run_dir / "raw") as raw:
        for user, posts in found:
            (raw / f"{user.handle}.jsonl").write_text(
                "".join(p.to_json() + "\n" for p in posts), encoding="utf-8"
            )
            if user.avatar_bytes:
                name = f"{user.handle}.avatar{user.avatar_ext}"
                (raw / name).write_bytes(user.avatar_bytes)
                user.avatar_file = f"raw/{name}"
            users.append(user.to_dict())
    atomic_write_json(run_dir / "users.json", users)
    return users


def read_users(run_dir: Path | str) -> list[dict]:
    """``users.json`` of a run folder (a StageError when fetch has not run)."""
    from huggingtweets.errors import StageError
    from huggingtweets.runfolder import read_json

    path = Path(run_dir) / "users.json"
    if not path.is_file():
        raise StageError(
            f"run folder {run_dir} has no users.json",
            hint=f"run `huggingtweets fetch ... --run-dir {run_dir}` first",
        )
    return read_json(path)
