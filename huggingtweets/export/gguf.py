"""``huggingtweets export gguf``: a bot as one .gguf file (llama.cpp, Ollama, LM Studio) and a Modelfile.

No maintained converter installs from the package registry: llama.cpp's ``convert_hf_to_gguf`` is
not in the ``gguf`` package, and its repackaging refuses tokenizers it has no hash for, which every
tiny base's tokenizer (trained on the run's own posts) is. So the conversion is written here on the
``gguf`` package's ``GGUFWriter``, with llama.cpp's tensor names (``gguf.get_tensor_name_map``) and
its layouts (``families.FAMILIES``). The result is checked with an independent reader:
transformers' own GGUF loading gives the bot's logits (tests/test_export_gguf.py).

Flow: resolve the source once (a run folder, a model folder, or a repo id downloaded from the Hub)
-> read config, tokenizer and generation settings -> write DIR/NAME-TYPE.gguf and DIR/Modelfile,
each to a temporary name first and then renamed, so a failed export leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from huggingtweets.errors import HubError, InputError
from huggingtweets.runfolder import MODELFILE, bot_gguf

# --type values: GGUF file types. q8_0 quantizes every matrix whose rows split into 32-value blocks.
FILE_TYPES = ("f16", "q8_0")
# A plain export of a run folder goes to DIR/gguf/, beside model/, so publishing does not push it;
# `publish --gguf` exports into model/ instead (export_into_bot).
GGUF_DIR = "gguf"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# What a bot's repo holds that the export reads: no README, avatars or other runtimes' files.
_HUB_PATTERNS = [
    "*.json",
    "*.safetensors",
    "*.txt",
    "tokenizer*",
    "merges.txt",
    "vocab*",
    "pytorch_model*.bin",
]


@dataclass(frozen=True)
class ExportSource:
    """Where the bot to export is: resolved once from the command's argument."""

    model_dir: Path  # a folder saved with save_pretrained
    name: str  # the bot's name: the .gguf's file name and general.name
    run_dir: Path | None = None  # the run folder, when the argument was one
    repo_id: str | None = None  # the Hub repo, when the argument was one


@dataclass(frozen=True)
class GgufExport:
    gguf_path: Path
    modelfile_path: Path
    family: str
    file_type: str
    tensors: int


def resolve_source(
    spec: str | Path, *, endpoint: str | None = None, token: str | None = None
) -> ExportSource:
    """A run folder (DIR/model), a model folder, or ORG/NAME on the Hub (downloaded) -> ``ExportSource``."""
    text = str(spec).strip()
    path = Path(text).expanduser()
    if text and path.exists():
        if (path / "model" / "config.json").is_file():
            return ExportSource(path / "model", _run_name(path), run_dir=path)
        if (path / "config.json").is_file():
            return ExportSource(path, path.resolve().name)
        raise InputError(
            f"{text} is not a run folder: expected DIR/model/config.json (or a model folder with config.json)",
            hint=f"train it first: huggingtweets train --run-dir {text}",
        )
    if not _REPO_ID.match(text):
        raise InputError(
            f"{text!r} is neither a folder nor a Hub repo id; expected a run folder or ORG/NAME",
            hint="pass a run folder (runs/NAME) or a published bot's repo id (huggingtweets/NAME)",
        )
    return ExportSource(_download(text, endpoint, token), text.split("/", 1)[1], repo_id=text)


def _run_name(run_dir: Path) -> str:
    """The bot's name (its handles, as the default repo id has them), else the folder's name."""
    from huggingtweets.runfolder import RunFolder, bot_name, read_json

    users = RunFolder(run_dir).users
    try:
        return bot_name(u["handle"] for u in read_json(users))
    except (OSError, ValueError, TypeError, KeyError):  # no or unreadable users.json: a bare run folder
        return run_dir.resolve().name


def _download(repo_id: str, endpoint: str | None, token: str | None) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    from huggingtweets.hubclient import without_credentials

    try:
        folder = Path(
            snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS, endpoint=endpoint, token=token or None)
        )
    except (RepositoryNotFoundError, GatedRepoError) as err:
        raise HubError(
            f"repo {repo_id} not found (it does not exist or is not visible to your token)",
            hint="check the repo id (ORG/NAME), or the run folder's path; a private bot needs HF_TOKEN",
            status=404,
        ) from err
    except LocalEntryNotFoundError as err:  # what the client raises when it cannot connect
        shown = without_credentials(endpoint or constants.ENDPOINT)
        raise HubError(
            f"cannot download {repo_id}: the Hub ({shown}) cannot be reached and it is not in the local cache",
            hint="check the network or --endpoint, or pass a run folder",
        ) from err
    except HfHubHTTPError as err:
        raise HubError(f"cannot download {repo_id} from the Hub: {type(err).__name__}") from err
    if not (folder / "config.json").is_file():
        raise InputError(f"repo {repo_id} holds no model (config.json missing); expected a published bot")
    return folder


def _check_model(model_dir: Path) -> dict:
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(
            f"{model_dir / 'config.json'} is not valid JSON; expected a saved model's config"
        ) from err
    if not isinstance(config, dict):
        raise InputError(f"{model_dir / 'config.json'} holds no JSON object; expected a saved model's config")
    weights = list(model_dir.glob("*.safetensors")) + list(model_dir.glob("pytorch_model*.bin"))
    if not weights:
        raise InputError(
            f"{model_dir} has no model weights (*.safetensors or pytorch_model*.bin); nothing to export",
            hint="train the bot first: huggingtweets train --run-dir DIR",
        )
    return config


def default_out_dir(source: ExportSource) -> Path:
    """DIR/gguf for a run folder; ./gguf/NAME otherwise."""
    return source.run_dir / GGUF_DIR if source.run_dir is not None else Path(GGUF_DIR) / source.name


def gguf_file_name(name: str, file_type: str) -> str:
    return f"{name}-{file_type}.gguf"


def export_gguf(
    spec: str | Path | ExportSource,
    *,
    out_dir: Path | str | None = None,
    file_type: str = "f16",
    endpoint: str | None = None,
    token: str | None = None,
) -> GgufExport:
    """Write the bot as ``OUT/NAME-TYPE.gguf`` plus ``OUT/Modelfile``; returns where they are."""
    from huggingtweets.export.families import family_for

    if file_type not in FILE_TYPES:
        raise InputError(f"GGUF type {file_type!r} is not offered; expected one of {', '.join(FILE_TYPES)}")
    source = spec if isinstance(spec, ExportSource) else resolve_source(spec, endpoint=endpoint, token=token)
    family = family_for(_check_model(source.model_dir).get("model_type"))
    out = Path(out_dir) if out_dir is not None else default_out_dir(source)
    out.mkdir(parents=True, exist_ok=True)
    return _write(source, family, out, file_type, endpoint)


def _write(source: ExportSource, family, out: Path, file_type: str, endpoint: str | None) -> GgufExport:
    import gguf
    import torch
    from huggingface_hub import constants
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from huggingtweets.export.sampling import (
        modelfile_text,
        read_generation_config,
        sampling_from,
        write_sampling_metadata,
    )
    from huggingtweets.export.vocab import write_vocab
    from huggingtweets.publish import card_hub_url
    from huggingtweets.runfolder import atomic_write_text

    model = AutoModelForCausalLM.from_pretrained(source.model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source.model_dir)
    config = model.config
    generation = read_generation_config(source.model_dir)
    sampling = sampling_from(generation)

    gguf_path = out / gguf_file_name(source.name, file_type)
    tmp = out / f".{gguf_path.name}.{secrets.token_hex(6)}.tmp"
    writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[getattr(gguf.MODEL_ARCH, family.arch)])
    try:
        writer.add_name(source.name)
        if source.repo_id:
            writer.add_repo_url(f"{card_hub_url(endpoint or constants.ENDPOINT)}/{source.repo_id}")
        family.hparams(config, writer)
        ftype = gguf.LlamaFileType.MOSTLY_F16 if file_type == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
        writer.add_file_type(ftype)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        stop = write_vocab(writer, tokenizer, source.model_dir, config.vocab_size)
        write_sampling_metadata(writer, sampling, generation)
        count = _add_tensors(writer, model, family, file_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, gguf_path)
    except BaseException:
        writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    context = getattr(config, "n_positions", None) or config.max_position_embeddings
    modelfile = atomic_write_text(
        out / MODELFILE, modelfile_text(gguf_path.name, sampling, context_length=context, stop=stop)
    )
    return GgufExport(gguf_path, modelfile, family.model_type, file_type, count)


def _add_tensors(writer, model, family, file_type: str) -> int:
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, family.arch), config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    count = 0
    for hf_name, tensor in model.state_dict().items():
        if hf_name.endswith(family.skip) or (tied and hf_name == "lm_head.weight"):
            continue
        base, _, suffix = hf_name.rpartition(".")
        gguf_name = names.get_name(base)
        if gguf_name is None:
            raise InputError(
                f"weight {hf_name} of this {family.model_type} model has no GGUF name; cannot export it"
            )
        data = family.tensor(hf_name, tensor.detach().float().numpy(), config)
        _add_one(writer, f"{gguf_name}.{suffix}", data, file_type)
        count += 1
    return count


def _add_one(writer, name: str, data, file_type: str) -> None:
    import gguf
    import numpy as np

    if data.ndim <= 1:  # norms and biases stay float32, as llama.cpp keeps them
        writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
        return
    if file_type == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        qtype = gguf.GGMLQuantizationType.Q8_0
        quantized = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), qtype)
        writer.add_tensor(name, quantized, raw_shape=quantized.shape, raw_dtype=qtype)
        return
    writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float16))


# --------------------------------------------------------------------------- the bot's own GGUF
#
# `publish --gguf` exports into DIR/model/ itself, so the file becomes part of the bot: the card
# (which renders DIR/model/) shows how to run it, publish pushes it in the same commit as the
# weights, and retraining (which replaces DIR/model/ whole) drops it with the weights it was made of.


def export_into_bot(run_dir: Path | str, *, file_type: str = "f16") -> tuple[Path, bool]:
    """DIR/model/NAME-TYPE.gguf and DIR/model/Modelfile, written unless already newer than the weights.

    Returns (the .gguf's path, whether it was written now).
    """
    source = resolve_source(Path(run_dir))
    if source.run_dir is None:
        raise InputError(f"{run_dir} is not a run folder: expected DIR/model/config.json")
    target = source.model_dir / gguf_file_name(source.name, file_type)
    inputs = [p for p in source.model_dir.iterdir() if p.suffix in (".safetensors", ".bin", ".json")]
    current = bot_gguf(source.model_dir) or {}
    if target.is_file() and current.get("modelfile") and current.get("main") == target.name:
        built = target.stat().st_mtime_ns
        if all(p.stat().st_mtime_ns <= built for p in inputs if p.name != "huggingtweets.json"):
            return target, False
    return export_gguf(source, out_dir=source.model_dir, file_type=file_type).gguf_path, True
