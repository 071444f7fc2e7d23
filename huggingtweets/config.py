"""Settings of ``huggingtweets run``: one frozen dataclass, a YAML file, and flags.

Precedence, lowest first: the defaults below < the ``--config`` file < flags given on the command
line. Every flag has a key in the file (the field names below; dashes and underscores are
interchangeable). Unknown keys are an error that names the key and the valid ones, so a typo never
silently trains with a default. Paths in a file are relative to the file's own folder, so a config
checked into a repository works from any working directory.

Training knobs are ``huggingtweets.train.TrainConfig``, nested as ``RunConfig.train``: in a file
either under a ``train:`` mapping or at the top level (``epochs: 2``), on the command line as
flags of their own (``--epochs 2``), generated from that class's field metadata. The whole
config, ``train`` included, is checked before any stage runs. Tokens never come from here: they
are secrets and stay in ``HF_TOKEN`` / ``X_BEARER_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError
from huggingtweets.redact import redact
from huggingtweets.train.config import FIELDS as TRAIN_FIELDS
from huggingtweets.train.config import TrainConfig, coerce_mapping

MAX_USERS = 3  # the original's "cyborg" bots mix at most three people, and so does the card


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass(frozen=True)
class RunConfig:
    """Everything ``huggingtweets run`` needs, from whose posts to where the bot goes."""

    # --- fetch: whose posts, from where
    handles: tuple[str, ...] = _help(
        "Handles read live: X (alice, x:alice; X API v2), Bluesky (alice.bsky.social, did:plc:...), "
        "Mastodon (@alice@mastodon.social).",
        default=(),
    )
    archives: tuple[tuple[str, str | None], ...] = _help(
        "Account exports (X archive, Mastodon archive, Bluesky .car), each with an optional handle to "
        "check it against (or to name a .car, which knows only its DID). "
        "In a file: a list of paths or of {path: ..., handle: ...}.",
        default=(),
    )
    posts_files: tuple[tuple[str, str], ...] = _help(
        "Posts from other networks: (path, handle) pairs; JSONL, CSV or one post per line. "
        "In a file: a list of {path: ..., handle: ...}.",
        default=(),
    )
    max_posts: int | None = _help(
        "At most this many posts per user from the X API, Bluesky or Mastodon.", default=None
    )
    price_per_read: float = _help("USD per post read from the X API, for the cost estimate.", default=0.005)
    max_archive_mb: int = _help(
        "MB the files read from one .zip archive may inflate to, each and together (a guard against zip "
        "bombs, as is a compression ratio over 100:1); raise it for a genuinely huge archive.",
        default=1024,
    )
    # --- prepare (its seed is train.seed: one seed for the split, training and samples)
    keep_newlines: bool = _help("Keep line breaks inside posts.", default=False)
    keep_replies: bool = _help("Keep replies (their leading @mentions are stripped).", default=True)
    detect_languages: bool = _help(
        "Where a post has no language tag, name its language from its Unicode script (kana: ja, "
        "Hangul: ko, Han: zh; Latin and other shared scripts: only the script).",
        default=True,
    )
    # --- train
    train: TrainConfig = _help(
        "Training settings (TrainConfig): in a file under train: or at the top level, as flags of their own.",
        default_factory=TrainConfig,
    )
    # --- generate
    samples: int = _help(
        "Sample posts generated for the card, each checked for copied training text.", default=10
    )
    # --- card and publish
    template: str | None = _help("Card template (default: the packaged one).", default=None)
    repo_id: str | None = _help(
        "Hub repo id (default: <your user or --org>/<handles joined by ->).", default=None
    )
    org: str | None = _help("Publish under this organization instead of your user.", default=None)
    private: bool | None = _help(
        "Visibility. A new repo is private unless public is asked for (these bots imitate real people); "
        "an existing repo keeps its own unless this is given.",
        default=None,
    )
    endpoint: str | None = _help(
        "Hub endpoint URL (default: HF_ENDPOINT or huggingface.co); also used for base-model downloads.",
        default=None,
    )
    publish: bool = _help("Publish at the end; false stops after the card.", default=True)
    playground_url: str | None = _help(
        'Address of a huggingtweets web app (e.g. a Space): the card links it as "Try it" '
        "(URL?bot=ORG/NAME) in place of the Hub's widget. Default: no link.",
        default=None,
    )
    # --- where
    run_dir: str | None = _help("Run folder (default: runs/<handles sorted, joined by ->).", default=None)

    def __post_init__(self) -> None:
        # Python callers may give the training settings as a mapping (or key/value pairs).
        if not isinstance(self.train, TrainConfig):
            values = dict(self.train or {})
            object.__setattr__(
                self, "train", TrainConfig(**coerce_mapping(values, where="RunConfig", prefix="train."))
            )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["posts_files"] = [{"path": p, "handle": h} for p, h in self.posts_files]
        out["archives"] = [{"path": p, "handle": h} for p, h in self.archives]
        return out


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(RunConfig)}
PATH_KEYS = ("run_dir", "template")  # archives and posts_files hold (path, handle) pairs
SECRET_KEYS = {"token", "hf_token", "x_bearer_token", "bearer_token", "mastodon_token", "access_token"}


def field_help(name: str) -> str:
    return FIELDS[name].metadata["help"]


def _norm_key(key: Any) -> str:
    return str(key).strip().replace("-", "_")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    return redact(repr(value))


def _coerce(key: str, value: Any) -> Any:
    """Check one file value against the field's type; return it in the dataclass's form."""
    if key == "posts_files":
        return _coerce_pairs(key, value, handle_required=True)
    if key == "archives":
        return _coerce_pairs(key, value, handle_required=False)
    hints = typing.get_type_hints(RunConfig)
    tp = hints[key]
    args = typing.get_args(tp)
    optional = (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in args
    if value is None:
        if optional:
            return None
        raise InputError(f"config key {key!r} is empty; expected a value like {FIELDS[key].default!r}")
    base = [a for a in args if a is not type(None)][0] if optional else tp
    if typing.get_origin(base) is tuple:  # tuple[str, ...]: a list of strings, or one string
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str | int) for v in items):
            raise InputError(f"config key {key!r} is {_show(value)}; expected a list of strings")
        return tuple(str(v) for v in items)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        str: isinstance(value, str | int | float) and not isinstance(value, bool),
    }[base]
    if not ok:
        raise InputError(f"config key {key!r} is {_show(value)}; expected {_type_name(base)}")
    return base(value)


def _coerce_pairs(key: str, value: Any, *, handle_required: bool) -> tuple[tuple[str, str | None], ...]:
    """A list of {path, handle} (or [path, handle]; for archives also a bare path) into pairs."""
    if value is None:
        return ()
    expected = "expected a list of {path: FILE, handle: HANDLE}" + ("" if handle_required else " or of paths")
    if isinstance(value, str) and not handle_required:
        value = [value]
    if not isinstance(value, list | tuple):
        raise InputError(f"config key {key!r} is {_show(value)}; {expected}")
    pairs = []
    for item in value:
        if isinstance(item, Mapping) and "path" in item and set(item) <= {"path", "handle"}:
            path, handle = item["path"], item.get("handle")
        elif isinstance(item, list | tuple) and len(item) == 2:
            path, handle = item
        elif isinstance(item, str) and not handle_required:
            path, handle = item, None
        else:
            raise InputError(f"config key {key!r} has item {_show(item)}; {expected}")
        if handle_required and not handle:
            raise InputError(f"config key {key!r} has {_show(path)} without a handle; {expected}")
        pairs.append((str(path), None if handle is None else str(handle)))
    return tuple(pairs)


def _resolve_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    def rel(p: str) -> str:
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else base / path)

    out = dict(values)
    for key in PATH_KEYS:
        if key not in out or out[key] is None:
            continue
        out[key] = tuple(rel(p) for p in out[key]) if isinstance(out[key], tuple) else rel(out[key])
    for key in ("archives", "posts_files"):
        if out.get(key):
            out[key] = tuple((rel(p), h) for p, h in out[key])
    return out


def _refuse_secret(key: str, shown_key: str, where: str) -> None:
    if key in SECRET_KEYS:
        raise InputError(
            f"{where} sets {shown_key!r}; tokens are secrets and never go in files",
            hint="set HF_TOKEN or X_BEARER_TOKEN in the environment, or run `hf auth login`",
        )


def parse_mapping(data: Any, *, source: str = "config", base_dir: Path | None = None) -> dict[str, Any]:
    """Validate a mapping of settings (from a YAML file) into RunConfig keyword arguments.

    Training settings, under ``train:`` or at the top level, come back typed as ``{"train": {...}}``;
    an error names the key as the user wrote it (``train.batch_size``) and ``source`` (the file).
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(f"{source} holds {type(data).__name__}; expected a mapping of settings (key: value)")
    out: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _norm_key(raw_key)
        _refuse_secret(key, str(raw_key), source)
        if key == "train":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise InputError(
                    f"config key 'train' is {_show(value)}; expected a mapping of training "
                    "settings such as {epochs: 2, batch_size: 8}"
                )
            for sub_key in value:
                _refuse_secret(_norm_key(sub_key), f"train.{sub_key}", source)
            typed = coerce_mapping(dict(value), where=source, prefix="train.")
        elif key in TRAIN_FIELDS:
            typed = coerce_mapping({raw_key: value}, where=source)
        elif key in FIELDS:
            if key in out:
                raise InputError(f"{source} sets {key!r} twice (as dashes and underscores)")
            out[key] = _coerce(key, value)
            continue
        else:
            raise InputError(
                f"{source} has unknown key {redact(str(raw_key))!r}; valid keys: "
                f"{', '.join(sorted({*FIELDS, *TRAIN_FIELDS}))}"
            )
        for name in typed:
            if name in train:
                raise InputError(
                    f"{source} sets {name!r} twice (at the top level and under train:, or as "
                    "dashes and underscores)",
                    hint="keep one of them",
                )
        train.update(typed)
    if train:
        out["train"] = train
    return _resolve_paths(out, base_dir) if base_dir is not None else out


def load_config_file(path: Path | str) -> dict[str, Any]:
    """Read ``--config FILE`` (YAML) into validated RunConfig keyword arguments."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {str(path)!r} does not exist; expected a YAML file of settings")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(
            f"config file {path.name!r} is not UTF-8 text; expected a YAML file of settings",
            hint="save it as UTF-8",
        ) from None
    except OSError as err:
        raise InputError(
            f"config file {path.name!r} cannot be read ({err.strerror or type(err).__name__})"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"config file {path.name!r} is not valid YAML{where}; expected key: value lines"
        ) from None
    return parse_mapping(data, source=path.name, base_dir=path.resolve().parent)


def build_config(
    file_values: Mapping[str, Any] | None = None, flag_values: Mapping[str, Any] | None = None
) -> RunConfig:
    """defaults < file < flags. ``flag_values`` holds only the flags the user actually gave."""
    merged: dict[str, Any] = dict(file_values or {})
    train = dict(merged.pop("train", None) or {})
    for key, value in (flag_values or {}).items():
        if key == "train":
            train.update(value)
        elif key not in FIELDS:
            raise InputError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(FIELDS))}")
        else:
            merged[key] = value
    config = RunConfig(**merged, train=TrainConfig(**train))
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    """Checks that need no stage code: there is someone to imitate, and not too many people."""
    if not (config.handles or config.archives or config.posts_files):
        raise InputError(
            "no posts to learn from: no handle, archive or posts file given",
            hint="pass HANDLE, --archive PATH or --posts-file PATH --handle H (or set them in --config)",
        )
    n = count_users(config)
    if n > MAX_USERS:
        raise InputError(
            f"{n} users given; a bot imitates at most {MAX_USERS} people (one 'cyborg' bot)",
            hint="run once per group of up to three users",
        )
    for name in ("max_posts", "samples"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise InputError(f"{name} is {value}; expected a positive number")
    if config.playground_url:
        from huggingtweets.card.render import check_playground_url
        from huggingtweets.errors import CardError

        try:
            check_playground_url(config.playground_url)
        except CardError as err:
            raise InputError(err.message, hint=err.hint) from None
    if config.repo_id is not None and config.repo_id.count("/") != 1:
        raise InputError(f"repo id {config.repo_id!r} is not of the form ORG/NAME")


def count_users(config: RunConfig) -> int:
    """How many people the bot will imitate, before anything is fetched.

    As in ``huggingtweets fetch``: each archive and each posts file is one person, and each bare
    HANDLE is one more, read from the X API.
    """
    return len(config.handles) + len(config.archives) + len(config.posts_files)
