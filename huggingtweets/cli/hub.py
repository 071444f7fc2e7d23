"""``huggingtweets hub``: run the local Hugging Face Hub server."""

from __future__ import annotations

import click


@click.group("hub")
def hub() -> None:
    """A local Hugging Face Hub for offline tests, demos and CI."""


@hub.command("serve")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="hub-data",
    show_default=True,
    help="Folder holding the repos (blobs and commit history); survives restarts.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Loopback by default: the server has no TLS.",
)
@click.option("--port", type=int, default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--token",
    "tokens",
    multiple=True,
    metavar="TOKEN:USER[:ORG,...]",
    help="A token, the user it belongs to and the orgs that user may write to. Repeatable. Shown to "
    "every local user by ps: for throwaway test tokens only; use --tokens-file or "
    "HUGGINGTWEETS_HUB_TOKENS for anything else.",
)
@click.option(
    "--tokens-file",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="A file with one TOKEN:USER[:ORG,...] per line ('#' comments allowed); keep it readable "
    "by you alone. Adds to --token and HUGGINGTWEETS_HUB_TOKENS.",
)
@click.option(
    "--lfs-threshold",
    type=int,
    default=None,
    metavar="BYTES",
    help="Answer 'lfs' for files of at least BYTES (streamed, low memory). Clients must then set "
    "HF_HUB_DISABLE_XET=1. Default: every file 'regular', which any client can do.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING"]),
    default="INFO",
    show_default=True,
    help="Request log level (stderr). Tokens are never logged.",
)
def serve(
    data_dir: str,
    host: str,
    port: int,
    tokens: tuple[str, ...],
    tokens_file: str | None,
    lfs_threshold: int | None,
    log_level: str,
) -> None:
    """Serve a local Hub; prints its URL on stdout, then logs requests on stderr.

    Point the real clients at it with HF_ENDPOINT=<url> (and HF_HUB_DISABLE_XET=1) set before
    huggingface_hub or transformers is imported. Stop with Ctrl-C.

    Tokens (TOKEN:USER[:ORG,...]) come from --tokens-file PATH, from HUGGINGTWEETS_HUB_TOKENS
    (whitespace-separated), or from --token. A --token value sits on the command line, where any
    local user sees it with ps: use it for test tokens only.

    \b
    HUGGINGTWEETS_HUB_TOKENS="$(cat tokens.txt)" huggingtweets hub serve --data-dir hub-data
    huggingtweets hub serve --tokens-file tokens.txt --port 8080
    """
    import logging
    import os
    import signal

    from huggingtweets.hub.auth import token_specs
    from huggingtweets.hub.server import HubServer

    specs = token_specs(tokens, tokens_file, dict(os.environ))
    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = HubServer(data_dir, tokens=specs, host=host, port=port, lfs_threshold=lfs_threshold)

    def ready(url: str) -> None:
        click.echo(url)
        # A parent process reads the URL from our stdout pipe: do not let it sit in a buffer.
        click.get_text_stream("stdout").flush()

    # SIGTERM (a parent process, a container stop) shuts down like Ctrl-C: connections end, the
    # data folder's lock is released.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve_forever(on_ready=ready)
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


COMMANDS = [hub]
