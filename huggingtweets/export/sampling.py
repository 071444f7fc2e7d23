"""The bot's generation settings (generation_config.json) as GGUF metadata and an Ollama Modelfile.

Both carry the same numbers, read once from the model folder into ``Sampling``: llama.cpp reads the
``general.sampling.*`` keys as its defaults, Ollama the Modelfile's ``PARAMETER`` lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Keys of generation_config.json that say nothing about sampling (bookkeeping of transformers).
_NOT_SETTINGS = {"transformers_version", "_from_model_config"}


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of a bot; None = not set (the runtime's default applies)."""

    do_sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None

    @property
    def temp(self) -> float:
        """The temperature a llama.cpp-style sampler needs: 0 means greedy, as ``do_sample=False`` does."""
        if not self.do_sample:
            return 0.0
        return 1.0 if self.temperature is None else float(self.temperature)


def read_generation_config(model_dir: Path) -> dict:
    """generation_config.json of ``model_dir`` without transformers' bookkeeping; {} when absent."""
    path = Path(model_dir) / "generation_config.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in _NOT_SETTINGS}


def sampling_from(generation_config: dict) -> Sampling:
    def number(key, kind):
        value = generation_config.get(key)
        return None if value is None else kind(value)

    return Sampling(
        do_sample=bool(generation_config.get("do_sample", False)),
        temperature=number("temperature", float),
        top_k=number("top_k", int),
        top_p=number("top_p", float),
        min_p=number("min_p", float),
        repetition_penalty=number("repetition_penalty", float),
        max_new_tokens=number("max_new_tokens", int),
    )


def write_sampling_metadata(writer, sampling: Sampling, generation_config: dict) -> None:
    """``general.sampling.*`` (llama.cpp's defaults) and the full generation_config as JSON."""
    writer.add_sampling_temp(sampling.temp)
    if sampling.do_sample and sampling.top_k is not None:
        writer.add_sampling_top_k(sampling.top_k)
    if sampling.do_sample and sampling.top_p is not None:
        writer.add_sampling_top_p(sampling.top_p)
    if sampling.do_sample and sampling.min_p is not None:
        writer.add_sampling_min_p(sampling.min_p)
    if sampling.repetition_penalty is not None:
        writer.add_sampling_penalty_repeat(sampling.repetition_penalty)
    writer.add_string("huggingtweets.generation_config", json.dumps(generation_config, sort_keys=True))


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a double-quoted string with escapes, as Ollama reads it


def modelfile_text(gguf_name: str, sampling: Sampling, *, context_length: int, stop: list[str]) -> str:
    """An Ollama Modelfile for the .gguf beside it: plain completion, the bot's sampling settings."""
    lines = [
        "# Ollama Modelfile written by huggingtweets: `ollama create NAME -f Modelfile`, then `ollama run NAME`.",
        "# The sampling settings are the bot's own (generation_config.json).",
        f"FROM ./{gguf_name}",
        # The bot continues text; it has no chat format.
        'TEMPLATE """{{ .Prompt }}"""',
        f"PARAMETER temperature {sampling.temp:g}",
    ]
    if sampling.do_sample and sampling.top_k is not None:
        lines.append(f"PARAMETER top_k {sampling.top_k}")
    if sampling.do_sample and sampling.top_p is not None:
        lines.append(f"PARAMETER top_p {sampling.top_p:g}")
    if sampling.do_sample and sampling.min_p is not None:
        lines.append(f"PARAMETER min_p {sampling.min_p:g}")
    if sampling.repetition_penalty is not None:
        lines.append(f"PARAMETER repeat_penalty {sampling.repetition_penalty:g}")
    if sampling.max_new_tokens is not None:
        lines.append(f"PARAMETER num_predict {sampling.max_new_tokens}")
    lines.append(f"PARAMETER num_ctx {context_length}")
    lines.extend(f"PARAMETER stop {_quoted(s)}" for s in stop)
    return "\n".join(lines) + "\n"
