"""The web app: make, try and publish a bot from the browser (``huggingtweets app``, or a Space).

Needs the ``app`` extra (``pip install huggingtweets[app]``): Gradio is imported only here, so the
rest of the package, and ``huggingtweets --help``, never loads it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["create_app", "launch"]

LANDINGS = ("make", "playground")  # what the page opens on

DEFAULT_MAX_TRAININGS = 1  # a small machine: one training uses every core it has


def create_app(
    *,
    endpoint: str | None = None,
    session_ttl: float | None = None,
    base_dir=None,
    landing: str = "make",
    playground_cache: int | None = None,
    max_trainings: int = DEFAULT_MAX_TRAININGS,
    max_upload_mb: int | None = None,
    check_limits=None,
    check=None,
):
    """(Blocks, SessionStore): the page, and the store that owns every visitor's files.

    ``landing``: "make" (the page opens on making a bot; "Try a bot" comes last) or "playground"
    ("Try a bot" first, as on the Space). ``playground_cache``: how many bots stay loaded.
    ``max_trainings``: how many visitors' trainings run at once (each in its own process); the
    others wait in Gradio's queue.
    ``max_upload_mb``: the largest upload the data check reads. ``check_limits`` (``CheckLimits``):
    the data check's time and memory; ``check``: what it runs (default ``check.fetch_and_prepare``).
    """
    from huggingtweets.errors import InputError

    if isinstance(max_trainings, bool) or not isinstance(max_trainings, int) or max_trainings < 1:
        raise InputError(
            f"max trainings {max_trainings!r} is invalid: expected a whole number of at least 1",
            hint="huggingtweets app --max-trainings 1",
        )
    # The page handles people's posts: Gradio's usage analytics stay off unless asked for.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from huggingtweets.app.check import CheckLimits, fetch_and_prepare
    from huggingtweets.app.handlers import DEFAULT_MAX_UPLOAD_MB, Handlers
    from huggingtweets.app.playground import DEFAULT_CACHE_SIZE, Playground
    from huggingtweets.app.playground_ui import PlaygroundHandlers
    from huggingtweets.app.session import DEFAULT_TTL, SessionStore
    from huggingtweets.app.ui import build
    from huggingtweets.errors import InputError

    if landing not in LANDINGS:
        raise InputError(f"landing page {landing!r} is unknown; expected one of {', '.join(LANDINGS)}")
    if max_upload_mb is not None and max_upload_mb < 1:
        raise InputError(f"max_upload_mb is {max_upload_mb}; expected a positive number of MB")
    playground = Playground(
        endpoint=endpoint, cache_size=DEFAULT_CACHE_SIZE if playground_cache is None else playground_cache
    )
    store = SessionStore(base_dir, ttl=DEFAULT_TTL if session_ttl is None else session_ttl)
    demo = build(
        Handlers(
            store,
            endpoint=endpoint,
            max_upload_mb=max_upload_mb or DEFAULT_MAX_UPLOAD_MB,
            check_limits=check_limits or CheckLimits(),
            check=check or fetch_and_prepare,
        ),
        PlaygroundHandlers(playground),
        playground_first=landing == "playground",
        max_trainings=max_trainings,
    )
    return demo, store


def launch(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    endpoint: str | None = None,
    block: bool = True,
    base_dir=None,
    landing: str = "make",
    playground_cache: int | None = None,
    max_trainings: int = DEFAULT_MAX_TRAININGS,
    max_upload_mb: int | None = None,
    check_limits=None,
    check=None,
    **launch_kwargs: Any,
):
    """Start the app; with ``block=False`` return (Blocks, SessionStore) with the server running.

    ``base_dir``: where the visitors' folders go (default: a new temporary folder, removed at exit).
    ``max_trainings``: trainings at once (see ``create_app``).
    The server serves none of it: the page shows copies in Gradio's cache that go with the session.
    """
    from huggingtweets.app.handlers import DEFAULT_MAX_UPLOAD_MB
    from huggingtweets.app.ui import CSS

    demo, store = create_app(
        endpoint=endpoint,
        base_dir=base_dir,
        landing=landing,
        playground_cache=playground_cache,
        max_trainings=max_trainings,
        max_upload_mb=max_upload_mb,
        check_limits=check_limits,
        check=check,
    )
    store.start_sweeper()
    demo.queue(default_concurrency_limit=1)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            css=CSS,
            max_file_size=f"{max_upload_mb or DEFAULT_MAX_UPLOAD_MB}mb",
            prevent_thread_lock=not block,
            **launch_kwargs,
        )
    except BaseException:
        store.close()
        raise
    if block:
        store.close()
    return demo, store
