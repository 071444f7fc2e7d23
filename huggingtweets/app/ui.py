"""The page: a Gradio Blocks layout in four steps (sources, training, result, publish).

One column of full-width groups, so the page reads top to bottom on a phone; rows wrap below
their ``min_width``. At most ``max_trainings`` trainings at once per app (each in a process of its
own): the Train event has that concurrency limit and Gradio's queue shows everyone else their
place in the line.
"""

from __future__ import annotations

import os

import gradio as gr

from huggingtweets.app import views
from huggingtweets.app.check import MAX_CHECKS
from huggingtweets.app.handlers import SAMPLE_HEADERS, Handlers
from huggingtweets.train.config import FIELDS as TRAIN_FIELDS
from huggingtweets.train.config import PRETRAINED_LEARNING_RATE, TINY_LEARNING_RATE, TrainConfig

DEFAULTS = TrainConfig()  # the CLI's defaults

INTRO = """# huggingtweets
Make a bot that writes like a person, from their posts: check the data, train, read what it writes,
then publish it to the Hugging Face Hub or download it. **Make a bot only of yourself or of someone
who agreed to it.** Uploaded files and the run folder are deleted when you close this page."""


def on_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def build(
    handlers: Handlers, playground=None, *, playground_first: bool = False, max_trainings: int = 1
) -> gr.Blocks:
    """``playground``: a ``PlaygroundHandlers`` for the "Try a bot" section, first on the page
    with ``playground_first`` (a Space's landing page), else last."""
    from huggingtweets.app.playground_ui import section

    # Uploads that never reach a handler still sit in Gradio's cache: sweep it hourly.
    with gr.Blocks(title="huggingtweets", delete_cache=(3600, 3600)) as demo:
        if playground is not None and playground_first:
            section(demo, playground, on_space=on_space())
        gr.Markdown(INTRO)

        with gr.Group():
            gr.Markdown("## 1. Whose posts")
            handles = gr.Textbox(
                label="Handles, up to three (X: jack, Bluesky: bsky:alice.bsky.social, "
                "Mastodon: @alice@mastodon.social)",
                elem_id="ht-handles",
            )
            archives = gr.File(
                label="Archives: X (.zip), Bluesky (.car), Mastodon (.zip)",
                file_count="multiple",
                file_types=[".zip", ".car"],
                height=140,
                elem_id="ht-archives",
            )
            with gr.Row():
                posts_file = gr.File(
                    label="Posts file (.jsonl, .csv, .txt)",
                    min_width=240,
                    height=140,
                    file_types=[".jsonl", ".json", ".csv", ".txt"],
                    elem_id="ht-posts-file",
                )
                posts_handle = gr.Textbox(label="Whose posts file (a handle)", min_width=240)
            check_btn = gr.Button("Check the data", variant="primary", elem_id="ht-check")
            report = gr.Markdown(elem_id="ht-report")

        with gr.Group():
            gr.Markdown("## 2. Training")
            with gr.Row():
                base_model = gr.Dropdown(
                    ["gpt2", "smollm2-135m", "tiny"],
                    value="gpt2",
                    allow_custom_value=True,
                    label="Base model (gpt2, smollm2-135m offline, tiny, or a Hub id)",
                    min_width=200,
                    elem_id="ht-base-model",
                )
                epochs = gr.Number(
                    DEFAULTS.epochs,
                    precision=0,
                    minimum=TRAIN_FIELDS["epochs"].metadata["min"],
                    maximum=TRAIN_FIELDS["epochs"].metadata["max"],
                    label="Epochs",
                    info=TRAIN_FIELDS["epochs"].metadata["help"],
                    min_width=120,
                    elem_id="ht-epochs",
                )
                learning_rate = gr.Textbox(
                    label="Learning rate",
                    info=TRAIN_FIELDS["learning_rate"].metadata["help"],
                    min_width=200,
                    elem_id="ht-learning-rate",
                    placeholder=f"blank: the default ({PRETRAINED_LEARNING_RATE:g} for a pretrained base, {TINY_LEARNING_RATE:g} for tiny)",
                )
                lora_r = gr.Number(
                    DEFAULTS.lora_r,
                    precision=0,
                    minimum=TRAIN_FIELDS["lora_r"].metadata["min"],
                    maximum=TRAIN_FIELDS["lora_r"].metadata["max"],
                    label="LoRA rank",
                    info=TRAIN_FIELDS["lora_r"].metadata["help"],
                    min_width=120,
                    elem_id="ht-lora-r",
                )
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", interactive=False, elem_id="ht-train")
                cancel_btn = gr.Button("Cancel", variant="stop", elem_id="ht-cancel")
            status = gr.HTML(elem_id="ht-status")
            loss_plot = gr.LinePlot(x="step", y="loss", title="Training loss", elem_id="ht-loss")
            perplexity = gr.Markdown(elem_id="ht-perplexity")
            log = gr.Textbox(label="Log", lines=3, max_lines=8, interactive=False, elem_id="ht-log")

        with gr.Group(visible=False) as result_box:
            gr.Markdown("## 3. Result")
            memorization = gr.Markdown(elem_id="ht-memorization")
            samples = gr.Dataframe(
                headers=SAMPLE_HEADERS,
                interactive=False,
                wrap=True,
                max_height=420,
                column_widths=["22%", "63%", "15%"],
                elem_id="ht-samples",
            )
            preview = gr.Image(
                label="Preview image", type="filepath", interactive=False, height=320, elem_id="ht-preview"
            )
            gr.Markdown("### Model card, as the Hub will show it")
            card = gr.HTML(elem_id="ht-card-box", elem_classes="ht-scroll")
            gr.Markdown("### Try it")
            with gr.Row():
                prompt = gr.Textbox(
                    value="My dream is", label="The start of a post", min_width=240, elem_id="ht-prompt"
                )
                try_btn = gr.Button("Write five posts", min_width=160, elem_id="ht-try")
            tries = gr.Dataframe(headers=["post"], interactive=False, wrap=True, elem_id="ht-tries")

        with gr.Group(visible=False) as publish_box:
            gr.Markdown("## 4. Publish or download")
            with gr.Row():
                repo_id = gr.Textbox(
                    label="Repo id (ORG/NAME; blank: your user / the handles)",
                    min_width=240,
                    elem_id="ht-repo-id",
                )
                private = gr.Checkbox(
                    True,
                    label="Private (make it public only with the person's consent)",
                    elem_id="ht-private",
                )
            if on_space():
                gr.LoginButton()
            token = gr.Textbox(
                label="Hugging Face write token" + (" (or sign in above)" if on_space() else ""),
                type="password",
                elem_id="ht-token",
            )
            with gr.Row():
                publish_btn = gr.Button("Publish to the Hub", variant="primary", elem_id="ht-publish")
                download_btn = gr.Button("Download the model (.zip)", elem_id="ht-download")
            publish_status = gr.Markdown(elem_id="ht-publish-status")
            download_file = gr.File(
                label="Model folder (.zip)", interactive=False, visible=False, elem_id="ht-zip"
            )

        check_btn.click(
            handlers.check_data,
            [handles, archives, posts_file, posts_handle],
            [report, train_btn],
            api_name="check",
            # each check runs in a process of its own: other sessions' checks never wait for a slow one
            concurrency_limit=MAX_CHECKS,
            concurrency_id="check",
        )
        train_btn.click(
            handlers.train,
            [base_model, epochs, learning_rate, lora_r],
            [
                status,
                loss_plot,
                perplexity,
                log,
                memorization,
                samples,
                preview,
                card,
                result_box,
                publish_box,
            ],
            api_name="train",
            concurrency_limit=max_trainings,
            concurrency_id="train",
        )
        cancel_btn.click(handlers.cancel, None, status, api_name="cancel", concurrency_limit=None)
        try_btn.click(handlers.try_it, prompt, tries, api_name="try_it")
        publish_fn = handlers.publish_oauth if on_space() else handlers.publish
        publish_btn.click(
            publish_fn, [repo_id, private, token], [publish_status, token, card], api_name="publish"
        )
        download_btn.click(handlers.download, None, download_file, api_name="download")
        if playground is not None and not playground_first:
            section(demo, playground, on_space=on_space())
        demo.unload(handlers.unload)
    return demo


CSS = (
    views.CSS
    + """
@media (max-width: 640px) { .gradio-container { padding: 4px !important; } }
"""
)
