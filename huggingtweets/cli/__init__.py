"""The ``huggingtweets`` command line: flags -> config -> library call.

This is the only place that prints errors and exits. Command modules import nothing heavy
at module level (torch, transformers, datasets are imported inside the commands), so
``huggingtweets --help`` answers at once.
"""

from __future__ import annotations

import errno
import os
import sys

import click

from huggingtweets.errors import HuggingtweetsError
from huggingtweets.redact import redact

DEBUG_VARS = ("HUGGINGTWEETS_DEBUG", "HF_DEBUG")
WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.ENOTDIR, errno.EDQUOT}


def debug_enabled() -> bool:
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes"} for v in DEBUG_VARS)


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HuggingtweetsError as err:
            if debug_enabled():
                raise
            click.secho(f"Error: {redact(str(err))}", fg="red", err=True)
            sys.exit(err.exit_code)
        except OSError as err:
            # A folder that cannot be written (read-only, no permission, disk full) deep inside a
            # stage: one line naming the path, not a traceback.
            if debug_enabled() or err.errno not in WRITE_ERRNOS:
                raise
            where = f" {err.filename}" if err.filename else ""
            click.secho(
                f"Error: cannot write{redact(where)}: {err.strerror} (pass a --run-dir in a writable place)",
                fg="red",
                err=True,
            )
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted. Run the same command again to continue.", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="huggingtweets")
def main() -> None:
    """Turn a person's posts into a GPT-2 bot on the Hugging Face Hub.

    One command does it all (`huggingtweets run`); each stage is also a command of its own
    that reads and writes a run folder, so stages can run, resume and be tested alone.
    Set HUGGINGTWEETS_DEBUG=1 to see tracebacks.
    """


def entry() -> None:
    """The console script and ``python -m huggingtweets``: ``main()``, then a prompt exit.

    Once a command is done, the interpreter's own teardown of torch and transformers (every module
    dict, C++ static objects) takes another 1.0-1.5 s on a 2-core CPU, measured: longer than
    saving the model (benchmarks/bench_e2e.py, RESULTS.md). So after every other exit handler has
    run (ours is registered first, and they run last-in first-out) and every stream is flushed,
    the process ends with its exit code without that teardown. ``main`` itself, which tests and
    library callers invoke, exits normally.
    """
    import atexit

    outcome = {"code": 1}  # an exception that escapes main() (a traceback) exits 1
    atexit.register(_exit_promptly, outcome)
    try:
        main()
        outcome["code"] = 0
    except SystemExit as stop:
        outcome["code"] = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        raise


def _exit_promptly(outcome: dict) -> None:
    import logging

    logging.shutdown()  # its own exit handler was registered before ours, so would not run
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a pipe whose reader is gone
            pass
    try:  # what C libraries wrote through stdio buffers
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
    os._exit(outcome["code"])


def _register() -> None:
    from huggingtweets.cli import app, card, data, export, hub, refresh, run, train

    for module in (data, train, card, export, hub, run, refresh, app):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
