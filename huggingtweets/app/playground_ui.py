"""The page's "Try a bot" section: a repo id (or ``?bot=ORG/NAME``), a prompt -> five posts.

Thin: the work is ``huggingtweets.app.playground``. The token typed here (or, on a Space, the
signed-in visitor's) goes to the Hub with that request and nowhere else.
"""

# No `from __future__ import annotations`: Gradio finds gr.Request / gr.OAuthToken parameters
# by their annotation objects.

import gradio as gr

from huggingtweets.app import views
from huggingtweets.app.playground import Playground, profile_html
from huggingtweets.card.render import DEFAULT_PROMPT
from huggingtweets.errors import HuggingtweetsError

INTRO = """## Try a bot
Type a bot published on the Hub (ORG/NAME) and the start of a post: it writes five. A private bot
needs a token that can read it; it is only ever shown to that token."""


class PlaygroundHandlers:
    def __init__(self, playground: Playground) -> None:
        self.playground = playground

    def write(self, bot: str, prompt: str, token: str):
        """(profile HTML, rows of posts, status line)."""
        try:
            profile, posts = self.playground.posts(bot, prompt, (token or "").strip() or None)
        except HuggingtweetsError as err:
            return "", gr.skip(), views.error_markdown(err)
        return profile_html(profile), [[p] for p in posts], ""

    def write_oauth(self, bot: str, prompt: str, token: str, oauth_token: gr.OAuthToken | None):
        """On a Space: the signed-in visitor's token, unless one was typed."""
        given = token or (oauth_token.token if oauth_token is not None else "")
        return self.write(bot, prompt, given)

    def open_page(self, prompt: str, request: gr.Request):
        """``?bot=ORG/NAME`` in the address: fill the box and write five posts right away."""
        bot = (request.query_params.get("bot") or "").strip() if request is not None else ""
        if not bot:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (bot, *self.write(bot, prompt, ""))


def section(demo: gr.Blocks, handlers: PlaygroundHandlers, *, on_space: bool) -> None:
    """The section's components and events, inside ``demo``'s layout where it is called."""
    with gr.Group(elem_id="ht-playground"):
        gr.Markdown(INTRO)
        with gr.Row():
            bot = gr.Textbox(label="Bot (ORG/NAME)", min_width=240, elem_id="ht-bot")
            prompt = gr.Textbox(
                value=DEFAULT_PROMPT, label="The start of a post", min_width=240, elem_id="ht-bot-prompt"
            )
        token = gr.Textbox(
            label="Token, only for a private bot" + (" (or sign in)" if on_space else ""),
            type="password",
            elem_id="ht-bot-token",
        )
        write_btn = gr.Button("Write five posts", variant="primary", elem_id="ht-bot-write")
        status = gr.Markdown(elem_id="ht-bot-status")
        profile = gr.HTML(elem_id="ht-bot-profile")
        posts = gr.Dataframe(headers=["post"], interactive=False, wrap=True, elem_id="ht-bot-posts")
    write_fn = handlers.write_oauth if on_space else handlers.write
    write_btn.click(write_fn, [bot, prompt, token], [profile, posts, status], api_name="try_bot")
    bot.submit(write_fn, [bot, prompt, token], [profile, posts, status])
    demo.load(handlers.open_page, prompt, [bot, profile, posts, status])
