"""``huggingtweets export gguf``: the bot for local runtimes (llama.cpp, Ollama, LM Studio)."""

from __future__ import annotations

from pathlib import Path

import click

from huggingtweets.export.gguf import FILE_TYPES as GGUF_TYPES


@click.group("export")
def export() -> None:
    """Write a bot in formats other runtimes load."""


@export.command("gguf")
@click.argument("source", metavar="RUN_DIR_OR_REPO")
@click.option(
    "--type",
    "file_type",
    type=click.Choice(GGUF_TYPES),
    default="f16",
    show_default=True,
    help="Weights as float16, or 8-bit blocks (q8_0: about half the size of f16).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for NAME-TYPE.gguf and Modelfile [default: RUN_DIR/gguf, or ./gguf/NAME for a repo].",
)
@click.option("--endpoint", metavar="URL", envvar="HF_ENDPOINT", help="Hub URL for a repo id [default: HF_ENDPOINT or huggingface.co].")  # fmt: skip
def gguf(source: str, file_type: str, out_dir: Path | None, endpoint: str | None) -> None:
    """Write the bot as a .gguf file and an Ollama Modelfile with the bot's sampling settings.

    RUN_DIR_OR_REPO is a run folder (its model/), a model folder, or a published bot's repo id
    (downloaded; a private one needs HF_TOKEN). GPT-2 and Llama-family bots are supported.

    \b
    huggingtweets export gguf runs/jack
    huggingtweets export gguf huggingtweets/jack --type q8_0 --out jack-gguf
    ollama create jack -f runs/jack/gguf/Modelfile && ollama run jack "My dream is"
    """
    from huggingtweets.export.gguf import export_gguf

    result = export_gguf(source, out_dir=out_dir, file_type=file_type, endpoint=endpoint)
    click.echo(f"Wrote {result.gguf_path} ({result.family}, {result.file_type}, {result.tensors} tensors)")
    click.echo(f"Wrote {result.modelfile_path}")


COMMANDS = [export]
