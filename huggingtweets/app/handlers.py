"""The app's event handlers: page inputs -> library calls -> what the page shows.

Each handler finds the visitor's ``Session`` by Gradio's session hash, calls the same library
functions the CLI calls (fetch, prepare, runner.run, generate, publish), and turns a typed
error into one line on the page, as the CLI does on stderr. Tokens go to the Hub client and
nowhere else: not into the session, a file, a log line or a message.
"""

# No `from __future__ import annotations`: Gradio finds gr.Request / gr.OAuthToken parameters
# by their annotation objects.

import re
import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from huggingtweets.app import views
from huggingtweets.app.jobs import Progress, TrainJob
from huggingtweets.app.session import Session, SessionStore
from huggingtweets.config import RunConfig, check_user_count, validate
from huggingtweets.errors import Cancelled, HubError, HuggingtweetsError, InputError
from huggingtweets.runfolder import RunFolder, bot_name
from huggingtweets.settings import coerce_key
from huggingtweets.train.config import FIELDS as TRAIN_FIELDS

SAMPLE_HEADERS = ["prompt", "post", "copied words"]
_SPLIT = re.compile(r"[\s,]+")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _path(item: Any) -> Path:
    """A Gradio upload as a path (filepath strings, or FileData-like objects with ``.path``)."""
    return Path(getattr(item, "path", None) or (item.get("path") if isinstance(item, dict) else item))


def _take_upload(item: Any, session: Session) -> str:
    """Copy an upload into the visitor's own folder; Gradio's copy goes when the session ends.

    Copied, not moved: the page still shows (and a second "Check" reads) the upload.
    """
    src = _path(item)
    session.uploads.mkdir(parents=True, exist_ok=True)
    dest = session.uploads / (_SAFE_NAME.sub("_", src.name) or "upload")
    shutil.copyfile(src, dest)
    session.foreign_files.add(src)
    return str(dest)


def _train_fields(base_model: str, epochs: Any, learning_rate: Any) -> dict[str, Any]:
    """The Train form's fields, typed and checked by the same coercer as flags and config files."""
    train: dict[str, Any] = {"base_model": (base_model or "gpt2").strip()}
    for name, value in (("epochs", epochs), ("learning_rate", learning_rate)):
        if value is None or not str(value).strip():
            continue  # blank: the trainer's default
        train[name] = coerce_key(TRAIN_FIELDS[name], name.replace("_", " "), value, where="the Train form")
    return train


class Handlers:
    def __init__(self, store: SessionStore, *, endpoint: str | None = None) -> None:
        self.store = store
        self.endpoint = endpoint

    def session(self, request: gr.Request) -> Session:
        return self.store.get(request.session_hash or "anonymous")

    # ------------------------------------------------------------------ sources -> data report

    def check_data(
        self,
        handles_text: str,
        archives: list | None,
        posts_file: Any,
        posts_handle: str,
        request: gr.Request,
    ):
        """Read the sources into the session's run folder, clean them and show the data report."""
        session = self.session(request)
        if session.busy():
            return views.error_markdown(InputError("a training is running; cancel it or wait")), gr.skip()
        session.sources = None
        try:
            sources = self._sources(session, handles_text, archives, posts_file, posts_handle)
            validate(RunConfig(**sources))
            report, notes = self._fetch_and_prepare(session, sources)
        except HuggingtweetsError as err:
            return views.error_markdown(err), gr.update(interactive=False)
        session.sources = sources
        return views.data_report_markdown(report, notes=notes), gr.update(interactive=True)

    def _sources(
        self, session: Session, handles_text: str, archives: list | None, posts_file: Any, posts_handle: str
    ) -> dict:
        handles = tuple(h for h in _SPLIT.split(handles_text or "") if h)
        # Before any upload is copied: each handle, archive and posts file is one person.
        check_user_count(len(handles) + len(archives or ()) + (1 if posts_file else 0))
        kept_archives = tuple((_take_upload(a, session), None) for a in archives or ())
        posts_files: tuple = ()
        if posts_file:
            handle = (posts_handle or "").strip()
            if not handle:
                raise InputError(
                    "the posts file has no handle", hint="type whose posts they are in the box beside it"
                )
            posts_files = ((_take_upload(posts_file, session), handle),)
        if not (handles or kept_archives or posts_files):
            raise InputError(
                "no source given: expected a handle, an archive or a posts file",
                hint="upload your X archive (.zip) or type a handle",
            )
        return {"handles": handles, "archives": kept_archives, "posts_files": posts_files}

    def _fetch_and_prepare(self, session: Session, sources: dict) -> tuple[dict, list[str]]:
        """The data report, and what fetch said on the way (the X API's cost estimate, rate-limit waits)."""
        from huggingtweets.prepare import prepare
        from huggingtweets.sources import fetch

        notes: list[str] = []
        fetch(session.run_dir, echo=notes.append, **sources)
        defaults = RunConfig()  # the run's own cleaning settings, so Train finds this dataset as it left it
        report = prepare(
            session.run_dir,
            seed=defaults.train.seed,
            keep_newlines=defaults.keep_newlines,
            keep_replies=defaults.keep_replies,
            detect_languages=defaults.detect_languages,
            validation=defaults.validation,
        )
        return report, notes

    # ------------------------------------------------------------------ training

    def train(self, base_model: str, epochs: float | None, learning_rate: str | None, request: gr.Request):
        """Run the pipeline (no publish) and stream its progress; finish with the results."""
        session = self.session(request)
        progress = Progress()
        if session.sources is None:
            yield self._progress(progress, "Check the data first: nothing to train on yet") + (gr.skip(),) * 6
            return
        if session.busy():
            yield self._progress(progress, "a training is already running") + (gr.skip(),) * 6
            return
        try:
            train = _train_fields(base_model, epochs, learning_rate)
            config = RunConfig(
                **session.sources,
                train=train,
                publish=False,
                run_dir=str(session.run_dir),
                endpoint=self.endpoint,
            )
            validate(config)
        except HuggingtweetsError as err:
            yield self._progress(progress, f"Error: {err}") + (gr.skip(),) * 6
            return
        job = session.job = TrainJob(config).start()
        for state in job.follow(progress):
            session.touch()
            yield self._progress(state, "running") + (gr.skip(),) * 6
        if isinstance(job.error, Cancelled):
            yield (
                self._progress(progress, "Cancelled: the checkpoint is kept; Train again to resume")
                + (gr.skip(),) * 6
            )
            return
        if isinstance(job.error, HuggingtweetsError):
            yield self._progress(progress, f"Error: {job.error}") + (gr.skip(),) * 6
            return
        if job.error is not None:
            yield (
                self._progress(progress, f"Error: {type(job.error).__name__}: {job.error}") + (gr.skip(),) * 6
            )
            return
        yield self._progress(progress, "done") + self._results(session)

    def _progress(self, p: Progress, state: str) -> tuple:
        import pandas as pd

        losses = pd.DataFrame(p.losses, columns=["step", "loss"])
        return (
            views.progress_html(p, state=state),
            losses,
            views.perplexity_markdown(p),
            "\n".join(p.log[-200:]),
        )

    def _results(self, session: Session) -> tuple:
        run = RunFolder(session.run_dir)
        predictions = run.read("predictions")
        training = run.read("training_summary")
        preview = run.preview
        return (
            views.memorization_markdown(predictions, training),
            views.sample_rows(predictions),
            str(preview) if preview.is_file() else None,
            views.card_html(run.model),
            gr.update(visible=True),
            gr.update(visible=True),
        )

    def cancel(self, request: gr.Request) -> str:
        session = self.session(request)
        if not session.busy():
            return "Nothing is training."
        session.job.cancel()
        return "Cancelling: training stops after this step and keeps its checkpoint."

    # ------------------------------------------------------------------ try it, publish, download

    def try_it(self, prompt: str, request: gr.Request) -> list[list[str]]:
        from huggingtweets.generate import generate

        session = self.session(request)
        if session.busy() or not RunFolder(session.run_dir).model_config.is_file():
            raise gr.Error("Train a bot first.")
        return [[text] for text in generate(session.run_dir, prompt or "", n=5)]

    def publish(self, repo_id: str, private: bool, token: str, request: gr.Request):
        """Publish the trained model; returns (message, cleared token box, card)."""
        session = self.session(request)
        try:
            if session.busy() or not RunFolder(session.run_dir).card.is_file():
                raise InputError("there is no finished bot to publish yet", hint="train it first")
            if not (token or "").strip():
                raise HubError(
                    "no Hugging Face token given; publishing needs one with write access",
                    hint="paste a write token from https://huggingface.co/settings/tokens or sign in",
                )
            result = self._publish(
                session.run_dir, (repo_id or "").strip() or None, bool(private), token.strip()
            )
        except HuggingtweetsError as err:
            return views.error_markdown(err), "", gr.skip()
        visibility = "private" if result.private else "public"
        message = f"Published to [{result.repo_id}]({result.url}) ({visibility}). " + (
            "" if result.changed else "Nothing had changed, so no new commit."
        )
        return message, "", views.card_html(RunFolder(session.run_dir).model)

    def _publish(self, run_dir: Path, repo_id: str | None, private: bool, token: str):
        """As `huggingtweets publish`: resolve the target once, render the card for it, push in one commit."""
        from huggingtweets.hubclient import HubClient
        from huggingtweets.publish import publish_run, resolve_target

        client = HubClient(endpoint=self.endpoint, token=token)
        target = resolve_target(run_dir, client=client, repo_id=repo_id, private=private)
        return publish_run(run_dir, target)

    def publish_oauth(
        self, repo_id: str, private: bool, token: str, request: gr.Request, oauth_token: gr.OAuthToken | None
    ):
        """On a Space: the signed-in user's token, unless one was pasted."""
        given = token or (oauth_token.token if oauth_token is not None else "")
        return self.publish(repo_id, private, given, request)

    def download(self, request: gr.Request):
        session = self.session(request)
        run = RunFolder(session.run_dir)
        model = run.model
        if session.busy() or not run.model_config.is_file():
            raise gr.Error("Train a bot first.")
        users = run.read("users")
        name = bot_name(u["handle"] for u in users) if users else "bot"
        session.downloads.mkdir(parents=True, exist_ok=True)
        return gr.update(
            value=shutil.make_archive(str(session.downloads / name), "zip", root_dir=model), visible=True
        )

    def unload(self, request: gr.Request) -> None:
        self.store.end(request.session_hash or "anonymous")
