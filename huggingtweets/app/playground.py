"""Try any published bot: a repo id and a prompt -> five posts, with the bot's avatar and name.

Pure Python (no Gradio): the page (``app/playground_ui.py``) and the tests call :class:`Playground`.

Who may see what: every request first asks the Hub, with the visitor's own token (or none: never
the server's ``HF_TOKEN``), for the repo's info; a repo the Hub hides from that token is "not
found", so a private bot is only ever served to a token that can read it, on every request. The
answer also names the commit, so a re-published bot is loaded anew. Loaded models sit in a small
LRU cache whose key holds the commit and, for a private repo, a digest of the token that loaded it:
a private model is never shared between tokens, even two that may both read it. Tokens are kept
only as that digest, never in a file, a log line or a message.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingtweets.errors import HubError, InputError

DEFAULT_CACHE_SIZE = 2  # models kept in memory; a GPT-2 bot is ~0.5 GB as float32
POSTS = 5
MAX_AVATAR_BYTES = 1 << 20
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}$")
# The bot's files: weights, tokenizer and generation settings, nothing else (no optimizer, no images).
_MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"]


def check_bot_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise InputError(
            f"bot {repo_id!r} is not a Hub repo id; expected ORG/NAME",
            hint="type it as on the Hub, e.g. huggingtweets/elonmusk, or open the page with ?bot=ORG/NAME",
        )
    return repo_id


def token_digest(token: str | None) -> str | None:
    """Who loaded a private model, without keeping the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32] if token else None


@dataclass(frozen=True)
class BotProfile:
    """What the page shows above the posts, read from the bot's card."""

    repo_id: str
    name: str  # display names, "Ada & Grace"; the repo's name when the card has none
    handles: tuple[str, ...] = ()
    avatars: tuple[str, ...] = ()  # image sources: data: URIs (fetched here) or https URLs
    private: bool = False


@dataclass(frozen=True)
class Access:
    """The Hub's answer for one request: which commit this token sees, and whether it is private."""

    repo_id: str
    sha: str
    private: bool


@dataclass
class _Entry:
    pipe: Any
    profile: BotProfile
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generation at a time per model


def _client(endpoint: str | None, token: str | None):
    from huggingtweets.hubclient import HubClient

    # A visitor without a token is anonymous: the server's own token must never read for them.
    return HubClient(endpoint=endpoint, token=token or None, anonymous=not token, max_retries=2)


def _parse_card(readme: str | None) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(display names, handles, avatar srcs) from the HTML header huggingtweets' templates write."""
    from huggingtweets.card.metadata import _Divs

    if not readme:
        return None, (), ()
    divs = _Divs()
    divs.feed(readme)
    kind = next((i for i, t in enumerate(divs.texts) if "AI BOT" in t or "AI CYBORG" in t), None)
    if kind is None:
        return None, (), ()
    name = divs.texts[kind + 1] if kind + 1 < len(divs.texts) else None
    handles_text = divs.texts[kind + 2] if kind + 2 < len(divs.texts) else ""
    handles = tuple(h for h in handles_text.split() if h.startswith("@"))
    return name, handles, tuple(divs.avatars[:3])


def _avatar_src(client, access: Access, src: str) -> str | None:
    """A card's avatar as the page can show it: the repo's own file inlined (a private repo's or a
    local Hub's files cannot be fetched by the browser), another https image as it is."""
    match = re.search(rf"/{re.escape(access.repo_id)}/resolve/[^/]+/(avatars/[\w.\-]+\.png)$", src)
    if match:
        try:
            data = client.read_bytes(access.repo_id, match.group(1), revision=access.sha)[0]
        except HubError:
            data = None
        if not data or len(data) > MAX_AVATAR_BYTES or not data.startswith(b"\x89PNG"):
            return None
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    if src.startswith("https://") and not any(c in src for c in " \"'<>"):
        return src
    return None


class Playground:
    """Loads published bots from the Hub at ``endpoint`` and keeps the last ``cache_size`` in memory."""

    def __init__(self, *, endpoint: str | None = None, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if cache_size < 1:
            raise InputError(f"playground cache size {cache_size} is invalid; expected 1 or more models")
        self.endpoint = endpoint
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # one download at a time: memory stays bounded
        self.loads = 0  # models loaded from the Hub so far (a cache hit loads nothing)

    # -- access --------------------------------------------------------------------------------

    def access(self, repo_id: str, token: str | None = None) -> Access:
        """Ask the Hub, with this token, which commit of ``repo_id`` it may read (one request)."""
        repo_id = check_bot_id(repo_id)
        token = (token or "").strip() or None
        try:
            info = _client(self.endpoint, token).repo_info(repo_id)
        except HubError as err:
            if err.status not in (401, 403):
                raise
            raise HubError(
                f"the Hub rejected the token given for {repo_id} ({err.status})",
                hint="give a token from https://huggingface.co/settings/tokens that can read it, or none "
                "for a public bot",
                status=err.status,
            ) from None
        if info is None:
            raise HubError(
                f"bot {repo_id} was not found on the Hub, or it is private and "
                + ("this token cannot read it" if token else "no token was given"),
                hint="check the repo id; for a private bot, give a token that can read it (or sign in)",
                status=404,
            )
        return Access(repo_id=repo_id, sha=str(info.sha or "main"), private=bool(info.private))

    @staticmethod
    def cache_key(access: Access, token: str | None) -> tuple:
        return (access.repo_id, access.sha, token_digest(token) if access.private else None)

    def cached(self) -> list[tuple]:
        with self._lock:
            return list(self._cache)

    # -- loading -------------------------------------------------------------------------------

    def load(self, repo_id: str, token: str | None = None) -> tuple[_Entry, Access]:
        """The bot's pipeline and profile: from the cache, or downloaded once and cached."""
        token = (token or "").strip() or None
        access = self.access(repo_id, token)
        key = self.cache_key(access, token)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
                return entry, access
        with self._load_lock:
            with self._lock:  # another request may have loaded it while this one waited
                entry = self._cache.get(key)
            if entry is None:
                entry = self._download(access, token)
                with self._lock:
                    self._cache[key] = entry
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        return entry, access

    def _download(self, access: Access, token: str | None) -> _Entry:
        from huggingtweets.librarybars import quiet_hub_bars, quiet_library_bars

        client = _client(self.endpoint, token)
        folder = Path(tempfile.mkdtemp(prefix="huggingtweets-playground-"))
        try:
            with quiet_hub_bars():
                client.call(
                    "download",
                    client.api.snapshot_download,
                    access.repo_id,
                    revision=access.sha,
                    local_dir=folder,
                    allow_patterns=_MODEL_FILES,
                    repo_id=access.repo_id,
                )
            if not (folder / "config.json").is_file():
                raise HubError(
                    f"{access.repo_id} holds no model (no config.json); expected a bot huggingtweets published",
                    hint="check the repo id",
                )
            from transformers import pipeline

            with quiet_library_bars():
                pipe = pipeline("text-generation", model=str(folder))
            readme = client.read_text(access.repo_id, "README.md", revision=access.sha)[0]
        finally:
            # The weights are in memory now; a private bot's files must not stay on the server's disk.
            shutil.rmtree(folder, ignore_errors=True)
        name, handles, srcs = _parse_card(readme)
        avatars = tuple(a for a in (_avatar_src(client, access, s) for s in srcs) if a)
        profile = BotProfile(
            repo_id=access.repo_id,
            name=name or access.repo_id.split("/", 1)[1],
            handles=handles,
            avatars=avatars,
            private=access.private,
        )
        self.loads += 1
        return _Entry(pipe=pipe, profile=profile)

    # -- posts ---------------------------------------------------------------------------------

    def posts(
        self, repo_id: str, prompt: str, token: str | None = None, *, n: int = POSTS, seed: int | None = None
    ) -> tuple[BotProfile, list[str]]:
        """(the bot's profile, ``n`` posts starting with ``prompt``), as ``pipeline()`` writes them."""
        from huggingtweets.card.render import DEFAULT_PROMPT

        if n < 1:
            raise InputError(f"{n} posts asked for; expected 1 or more")
        entry, _ = self.load(repo_id, token)
        prompt = (prompt or "").strip() or DEFAULT_PROMPT
        with entry.lock:
            if seed is not None:
                from transformers import set_seed

                set_seed(seed)
            # No generation arguments: the bot's generation_config.json drives it, as on the Hub.
            out = entry.pipe(prompt, num_return_sequences=n)
        return entry.profile, [o["generated_text"] for o in out]


def profile_html(profile: BotProfile) -> str:
    """The bot's header as the card shows it: round avatars, its name, its handles (all escaped)."""
    imgs = "".join(
        f'<img src="{html.escape(src)}" alt="{html.escape(profile.name)}" width="72" height="72" '
        'style="width:72px;height:72px;margin:0 4px;border-radius:50%;object-fit:cover;">'
        for src in profile.avatars
    )
    lock = " 🔒" if profile.private else ""
    handles = " ".join(html.escape(h) for h in profile.handles)
    return (
        '<div class="ht-bot" style="display:flex;flex-direction:column;align-items:center;">'
        f'<div style="display:flex;">{imgs}</div>'
        f'<div class="ht-bot-name" style="font-weight:800;font-size:16px;">🤖 {html.escape(profile.name)}{lock}</div>'
        f'<div class="ht-bot-handles" style="font-size:14px;">{handles}</div>'
        f'<div class="ht-bot-repo" style="font-size:12px;opacity:.7;">{html.escape(profile.repo_id)}</div>'
        "</div>"
    )
