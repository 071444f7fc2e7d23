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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingtweets import settings
from huggingtweets.errors import InputError
from huggingtweets.prepare import VALIDATION_SPLITS
from huggingtweets.redact import redact
from huggingtweets.settings import BadValue, knob, shown
from huggingtweets.sources import registry as _sources  # the help of the source options
from huggingtweets.train.config import FIELDS as TRAIN_FIELDS
from huggingtweets.train.config import TrainConfig, coerce_mapping

MAX_USERS = 3  # the original's "cyborg" bots mix at most three people, and so does the card


def _strings(key: str, value: Any) -> tuple[str, ...]:
    """A list of strings, or one string."""
    items = [value] if isinstance(value, str) else value
    if value is None:
        return ()
    if not isinstance(items, list | tuple) or not all(isinstance(v, str | int) for v in items):
        raise BadValue("a list of strings")
    return tuple(str(v) for v in items)


def _pairs(key: str, value: Any, *, handle_required: bool) -> tuple[tuple[str, str | None], ...]:
    """A list of {path, handle} (or [path, handle]; for archives also a bare path) into pairs."""
    if value is None:
        return ()
    expected = "a list of {path: FILE, handle: HANDLE}" + ("" if handle_required else " or of paths")
    if isinstance(value, str) and not handle_required:
        value = [value]
    if not isinstance(value, list | tuple):
        raise BadValue(expected)
    pairs = []
    for item in value:
        if isinstance(item, Mapping) and "path" in item and set(item) <= {"path", "handle"}:
            path, handle = item["path"], item.get("handle")
        elif isinstance(item, list | tuple) and len(item) == 2:
            path, handle = item
        elif isinstance(item, str) and not handle_required:
            path, handle = item, None
        else:
            raise BadValue(expected)
        if handle_required and not handle:
            raise BadValue(expected + " (every item with a handle)")
        pairs.append((str(path), None if handle is None else str(handle)))
    return tuple(pairs)


def _archives(key: str, value: Any) -> tuple[tuple[str, str | None], ...]:
    return _pairs(key, value, handle_required=False)


def _posts_files(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    return _pairs(key, value, handle_required=True)  # type: ignore[return-value]


@dataclass(frozen=True)
class RunConfig:
    """Everything ``huggingtweets run`` needs, from whose posts to where the bot goes."""

    # --- fetch: whose posts, from where
    handles: tuple[str, ...] = knob(
        (),
        _sources.handle_help(),
        parse=_strings,
    )
    archives: tuple[tuple[str, str | None], ...] = knob(
        (),
        _sources.export_help()
        + " Repeatable, each optionally followed by --handle H to check it against (or to name a .car, "
        "which knows only its DID). In a file: a list of paths or of {path: ..., handle: ...}.",
        flag="--archive",
        metavar="PATH",
        parse=_archives,
    )
    posts_files: tuple[tuple[str, str], ...] = knob(
        (),
        "Posts from another network: .jsonl (text field), .csv (text column) or text (one post per "
        "line), followed by --handle H; repeatable. In a file: a list of {path: ..., handle: ...}.",
        flag="--posts-file",
        metavar="PATH",
        parse=_posts_files,
    )
    max_posts: int | None = knob(None, _sources.live_help(), min=1)
    price_per_read: float = knob(0.005, "USD per post read from the X API, for the cost estimate.", min=0)
    max_archive_mb: int = knob(
        1024,
        "MB the files read from one .zip archive may inflate to, each and together (a guard against zip "
        "bombs, as is a compression ratio over 100:1); raise it for a genuinely huge archive.",
        min=1,
        metavar="MB",
    )
    # --- prepare (its seed is train.seed: one seed for the split, training and samples)
    keep_newlines: bool = knob(False, "Keep line breaks inside posts.")
    keep_replies: bool = knob(
        True, "Keep replies (their leading @mentions are stripped).", off_flag="--drop-replies"
    )
    # A bot is asked to write the person's next posts: "newest" measures that, "random" measures style.
    validation: str = knob(
        "random",
        "Which posts of each person are held out for validation: random (a seeded 10%) or newest "
        "(the latest 10% by date; posts without a date count as oldest).",
        choices=VALIDATION_SPLITS,
    )
    detect_languages: bool = knob(
        True,
        "Where a post has no language tag, name its language from its Unicode script (kana: ja, "
        "Hangul: ko, Han: zh; Latin and other shared scripts: only the script).",
    )
    # --- train
    train: TrainConfig = knob(
        help="Training settings (TrainConfig): in a file under train: or at the top level, as flags of their own.",
        default_factory=TrainConfig,
    )
    # --- generate
    samples: int = knob(
        10, "Sample posts generated for the card, each checked for copied training text.", min=1
    )
    # --- card and publish
    template: str | None = knob(None, "Card template (default: the packaged one).", metavar="FILE")
    repo_id: str | None = knob(
        None, "Hub repo id (default: <your user or --org>/<handles joined by ->).", metavar="ORG/NAME"
    )
    org: str | None = knob(None, "Publish under this organization instead of your user.", metavar="ORG")
    private: bool | None = knob(
        None,
        "Visibility. A new repo is private unless public is asked for (these bots imitate real people); "
        "an existing repo keeps its own unless this is given.",
        off_flag="--public",
    )
    endpoint: str | None = knob(
        None,
        "Hub endpoint URL (default: HF_ENDPOINT or huggingface.co); also used for base-model downloads.",
        metavar="URL",
    )
    publish: bool = knob(True, "Publish at the end; --no-publish (in a file: no) stops after the card.")
    playground_url: str | None = knob(
        None,
        'Address of a huggingtweets web app (e.g. a Space): the card links it as "Try it" '
        "(URL?bot=ORG/NAME) in place of the Hub's widget. Default: no link.",
        metavar="URL",
    )
    # --- where
    run_dir: str | None = knob(
        None,
        "Run folder, written by fetch and read by the later stages (default: runs/<handles>).",
        metavar="DIR",
    )

    def __post_init__(self) -> None:
        # Python callers may give the training settings as a mapping (or key/value pairs).
        if not isinstance(self.train, TrainConfig):
            values = dict(self.train or {})
            object.__setattr__(
                self, "train", TrainConfig(**coerce_mapping(values, where="RunConfig", prefix="train."))
            )
        settings.check_all(self)

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
        key = settings.norm_key(raw_key)
        _refuse_secret(key, str(raw_key), source)
        if key == "train":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise InputError(
                    f"`train: {shown(value)}` in {source}: expected a mapping of training "
                    "settings such as {epochs: 2, batch_size: 8}"
                )
            for sub_key in value:
                _refuse_secret(settings.norm_key(sub_key), f"train.{sub_key}", source)
            typed = coerce_mapping(dict(value), where=source, prefix="train.")
        elif key in TRAIN_FIELDS:
            typed = coerce_mapping({raw_key: value}, where=source)
        elif key in FIELDS:
            if key in out:
                raise InputError(f"{source} sets {key!r} twice (as dashes and underscores)")
            out[key] = settings.coerce_key(FIELDS[key], raw_key, value, where=source)
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
    """Read ``--config FILE`` (YAML or JSON) into validated RunConfig keyword arguments."""
    path = Path(path)
    data = settings.read_settings_file(path)
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
    check_user_count(count_users(config))
    if config.playground_url:
        from huggingtweets.card.render import check_playground_url
        from huggingtweets.errors import CardError

        try:
            check_playground_url(config.playground_url)
        except CardError as err:
            raise InputError(err.message, hint=err.hint) from None
    if config.repo_id is not None and config.repo_id.count("/") != 1:
        raise InputError(f"repo id {config.repo_id!r} is not of the form ORG/NAME")


def check_user_count(n: int) -> None:
    """The one limit on people per bot (the CLI, a config file and the app's form)."""
    if n > MAX_USERS:
        raise InputError(
            f"{n} users given; a bot imitates at most {MAX_USERS} people (one 'cyborg' bot)",
            hint="run once per group of up to three users",
        )


def count_users(config: RunConfig) -> int:
    """How many people the bot will imitate, before anything is fetched.

    As in ``huggingtweets fetch``: each archive and each posts file is one person, and each bare
    HANDLE is one more, read from the X API.
    """
    return len(config.handles) + len(config.archives) + len(config.posts_files)
