"""Resolving ``--base-model gpt2|tiny|HUB_ID|PATH`` to a local model folder.

Everything downstream loads from a local folder, so the only place that touches the network is
here, and the only error a missing network produces is the one below, which names the offline ways
out (``--base-model tiny`` or a local path).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from huggingtweets.errors import TrainingError

# A Hub id: "name" or "owner/name", letters, digits, "-", "_", ".", at most 96 characters each.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")

OFFLINE_HINT = "use `--base-model tiny` (fully offline) or `--base-model PATH` to a local model folder"

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
) -> tuple[Path, str]:
    """Return ``(local folder, name for the summary)`` for a ``--base-model`` value.

    ``tiny`` builds (or reuses) an offline tiny GPT-2 in ``tiny_dir`` from ``tiny_texts()``. A Hub
    id is downloaded from ``endpoint`` (default: HF_ENDPOINT or huggingface.co), as the bot will be
    published there too.
    """
    spec = (spec or "").strip()
    if not spec:
        raise TrainingError("--base-model is empty: expected gpt2, tiny, a Hub id or a local path")
    if spec == "tiny":
        from huggingtweets.train.tiny import build_tiny_base

        if not is_local_model_dir(tiny_dir):
            build_tiny_base(tiny_texts(), tiny_dir, seed=seed)
        return tiny_dir, "tiny"

    path = Path(spec).expanduser()
    if path.exists():
        if not is_local_model_dir(path):
            raise TrainingError(
                f"--base-model {spec} is a path but holds no config.json: expected a model folder "
                "saved with save_pretrained",
                hint=OFFLINE_HINT,
            )
        if not has_weights(path):
            raise TrainingError(
                f"No model weights ({WEIGHTS_WANTED}) in {spec}: expected a model folder saved with "
                "save_pretrained",
                hint=OFFLINE_HINT,
            )
        # Only the folder's name goes in the summary: no absolute paths of this machine.
        return path, path.name
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise TrainingError(f"--base-model {spec}: no such folder", hint=OFFLINE_HINT)
    if not _HUB_ID.match(spec):
        raise TrainingError(
            f"--base-model {spec!r} is not a known base model: expected gpt2, tiny, a Hub id "
            "(owner/name) or a local model folder",
            hint=OFFLINE_HINT,
        )
    return _fetch_from_hub(spec, endpoint), spec


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
