"""CLI command ``app``: the web app on this machine (a thin wrapper over ``huggingtweets.app``)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 to let other machines in).",
)
@click.option(
    "--port", default=7860, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="Hub endpoint URL to publish to (default: HF_ENDPOINT or huggingface.co).",
)
@click.option(
    "--landing",
    type=click.Choice(["make", "playground"]),
    default="make",
    show_default=True,
    help='What the page opens on: making a bot, or "Try a bot" (the Space\'s landing page).',
)
@click.option(
    "--playground-cache",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help='Bots "Try a bot" keeps loaded in memory (least recently used go first).',
)
@click.option(
    "--max-trainings",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    envvar="HUGGINGTWEETS_MAX_TRAININGS",
    help="Trainings that run at once, each in a process of its own; more visitors wait in a queue "
    "(env HUGGINGTWEETS_MAX_TRAININGS).",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Largest file a visitor may upload (an X archive with its media can be a few GB).",
)
def app(
    host: str,
    port: int,
    endpoint: str | None,
    landing: str,
    playground_cache: int,
    max_trainings: int,
    max_upload_mb: int,
) -> None:
    """Make, try and publish a bot from the browser: a web app on this machine.

    Upload an archive or type handles, read the data report, train with a live loss curve, read the
    samples and the model card, try prompts, then publish to the Hub (with a write token typed into
    the page) or download the model as a zip. --max-trainings trainings run at once (default one),
    each in a process of its own; other visitors wait in a queue. Each data check runs in a process
    of its own, stopped after 10 minutes or 1.5 GB, beside other visitors' checks. Each visitor's
    uploads, run folder and downloads are deleted when they close the page or after two idle hours.
    "Try a bot" writes posts with any bot on the Hub (open the page with ?bot=ORG/NAME).
    Needs the app extra: pip install 'huggingtweets[app]'.

    \b
    huggingtweets app
    huggingtweets app --host 0.0.0.0 --port 8080
    huggingtweets app --landing playground
    huggingtweets app --max-trainings 2
    """
    from huggingtweets.errors import InputError

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError(
            "the web app needs gradio, which is not installed", hint="pip install 'huggingtweets[app]'"
        ) from None
    import signal

    from huggingtweets.app import launch
    from huggingtweets.cli.hub import _raise_interrupt

    # SIGTERM (a container stop) shuts down like Ctrl-C, so the visitors' folders are deleted.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    launch(
        host=host,
        port=port,
        endpoint=endpoint,
        landing=landing,
        playground_cache=playground_cache,
        max_trainings=max_trainings,
        max_upload_mb=max_upload_mb,
    )


COMMANDS: list[click.Command] = [app]
