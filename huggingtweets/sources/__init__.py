"""Sources: a person's posts from an X archive, the X API, Bluesky, Mastodon (live or their
exports) or a plain file, normalized.

``fetch`` reads every source first and writes the run folder only when all of them succeeded,
so a bad input never leaves a half-written run folder behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from huggingtweets.errors import InputError, SourceError
from huggingtweets.runfolder import RunFolder, atomic_dir, atomic_write_json, default_run_dir
from huggingtweets.sources import registry
from huggingtweets.sources.handles import Handle, is_valid_key, parse_handle
from huggingtweets.sources.record import Post, UserInfo

__all__ = [
    "Handle",
    "Post",
    "UserInfo",
    "check_handle",
    "collect",
    "fetch",
    "parse_handle",
    "read_export",
    "read_users",
]


def check_handle(handle: str, *, what: str = "handle") -> str:
    """The file-safe key of ``handle`` (any network's spelling), or an InputError naming it."""
    try:
        return parse_handle(handle).key
    except InputError as err:
        raise InputError(f"{what}: {err.message}", hint=err.hint) from None


def export_kind(path: Path) -> str:
    """The network of what an --archive holds ("x", "mastodon", "bluesky"...), told by its content."""
    return registry.export_for(Path(path)).network


def read_export(path: Path | str, handle: str | None = None) -> tuple[UserInfo, list[Post]]:
    """An account export of any format in ``sources.registry`` (X archive, Mastodon archive, Bluesky
    repository .car...), told by its content."""
    path = Path(path)
    return registry.export_for(path).read_export(path, handle)


def _archive_spec(item) -> tuple[Path, str | None]:
    if isinstance(item, (tuple, list)):
        path, handle = item
        return Path(path), handle
    return Path(item), None


def _check_found(found: list[tuple[UserInfo, list[Post]]], api_handles: list[str]) -> None:
    """Every account read so far names a file safely, and no account comes from two sources."""
    for user, _ in found:
        # An archive without --handle, and the API, name the account themselves.
        if not is_valid_key(user.handle):
            raise SourceError(
                f"the account of {user.source_detail} is named {user.handle!r}, which cannot name a file or a repo",
                hint="pass --handle with a valid handle after --archive",
            )
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
    clients: LiveClients | None = None,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] | None = None,
) -> list[tuple[UserInfo, list[Post]]]:
    """Read every source (nothing is written to the run folder).

    Every handle is checked, and each account may come from one source only, before the first
    (paid) X API read. ``clients`` maps a network to the factory of its live client (tests); a
    network left out is read by the registry's real client.
    """
    from huggingtweets.sources.files import read_posts_file

    archive_specs = [_archive_spec(item) for item in archives]
    for _, h in archive_specs:
        if h:
            check_handle(h, what="--handle")
    file_specs = []
    for path, handle in posts_files:
        if not handle:
            raise InputError(f"posts file {Path(path).name} has no handle", hint="add --handle NAME after it")
        file_specs.append((path, check_handle(handle, what="--handle")))
    parsed = [parse_handle(h) for h in handles]
    paid = [h for h in parsed if registry.live_source(h.network).paid]
    free = [h for h in parsed if h not in paid]
    api_handles = [h.key for h in paid]

    found: list[tuple[UserInfo, list[Post]]] = []
    for path, handle in archive_specs:
        found.append(read_export(path, handle))
    for path, handle in file_specs:
        found.append(read_posts_file(path, handle))
    _check_found(found, api_handles + [h.key for h in free])
    for handle in free:  # free reads first, before any paid one
        found.append(
            registry.live_source(handle.network).fetch_account(
                handle, client=live_client(clients, handle), max_posts=max_posts, echo=echo, sleep=sleep
            )
        )
    _check_found(found, api_handles)
    paid_clients: dict[str, object] = {}  # one client per paid network: its token is read once
    for handle in paid:
        if handle.network not in paid_clients:
            paid_clients[handle.network] = live_client(clients, handle) or registry.live_source(
                handle.network
            ).make_client(handle)
        found.append(
            registry.live_source(handle.network).fetch_account(
                handle,
                client=paid_clients[handle.network],
                max_posts=max_posts,
                price_per_read=price_per_read,
                echo=echo,
                sleep=sleep,
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


# The seam of the live sources: network -> factory(handle) of the client that reads it. None, or a
# network left out: the registry's real client on the real network. Tests pass factories that point
# the same real clients (Mastodon.py, atproto, tweepy) at a local server through their base URLs.
LiveClients = Mapping[str, Callable[[Handle], object]]


def live_client(clients: LiveClients | None, handle: Handle):
    """The client ``clients`` makes for ``handle``, or None: the registry's real one."""
    factory = (clients or {}).get(handle.network)
    return factory(handle) if factory else None


def fetch(
    run_dir: Path | str | None,
    *,
    handles: Iterable[str] = (),
    archives: Iterable = (),
    posts_files: Sequence[tuple[str | Path, str]] = (),
    max_posts: int | None = None,
    price_per_read: float = 0.005,
    clients: LiveClients | None = None,
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
        clients=clients,
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
            entry = user.to_dict()
            if registry.source(user.source).kind == "live":
                # what `refresh` counts new posts from: those written after the newest read now
                entry["newest_post_at"] = max((p.created_at for p in posts if p.created_at), default=None)
            users.append(entry)
    atomic_write_json(RunFolder(run_dir).users, users)
    return users


def read_users(run_dir: Path | str) -> list[dict]:
    """``users.json`` of a run folder (a StageError when fetch has not run)."""
    from huggingtweets.errors import StageError
    from huggingtweets.runfolder import read_json

    path = RunFolder(run_dir).users
    if not path.is_file():
        raise StageError(
            f"run folder {run_dir} has no users.json",
            hint=f"run `huggingtweets fetch ... --run-dir {run_dir}` first",
        )
    return read_json(path)
