"""The readers of the account exports in ``sources.registry``: each checks the handle given with
``--archive`` against the export's own account, then hands the export to its parser."""

from __future__ import annotations

from pathlib import Path

from huggingtweets.errors import SourceError
from huggingtweets.sources.handles import Handle, parse_handle
from huggingtweets.sources.record import Post, UserInfo


def read_x_export(path: Path, handle: str | None) -> tuple[UserInfo, list[Post]]:
    from huggingtweets.sources.archive import read_archive

    given = parse_handle(handle) if handle else None
    if given is not None and given.network != "x":
        raise SourceError(
            f"{path.name} is an X archive, not the export of {given.display}",
            hint="give the X handle with it, or none",
        )
    return read_archive(path, given.key if given else None)


def read_mastodon_export(path: Path, handle: str | None) -> tuple[UserInfo, list[Post]]:
    from huggingtweets.sources.mastodon_archive import read_mastodon_archive

    return read_mastodon_archive(path, handle)


def read_bluesky_export(path: Path, handle: str | None) -> tuple[UserInfo, list[Post]]:
    from huggingtweets.sources.bluesky_car import CAR_SOURCE, read_car

    did, name, posts = read_car(path)
    given = parse_handle(handle) if handle else None
    if given is not None and given.network != "bluesky":
        raise SourceError(
            f"{path.name} is a Bluesky repository export, not the account of {given.display}",
            hint="give its Bluesky handle (bsky:alice.bsky.social) or none",
        )
    if given is not None and given.identifier.startswith("did:") and given.identifier != did:
        raise SourceError(
            f"{path.name} is the repository of {did}, not of {given.identifier}",
            hint="pass that account's export, or leave out --handle",
        )
    # A repository names its DID only; the handle, when given, names the bot.
    owner = given if given is not None and not given.identifier.startswith("did:") else Handle("bluesky", did)
    return (
        UserInfo(
            handle=owner.key,
            name=name or owner.identifier,
            source=CAR_SOURCE,
            source_detail=path.name,
            network="bluesky",
            display=owner.display,
        ),
        posts,
    )
