"""The Hugging Face Space entry point: the same app as `huggingtweets app`, opening on "Try a bot".

Spaces run `python app.py` and route port 7860; GRADIO_SERVER_NAME (0.0.0.0 there) wins over
the host given here. A bot card's "Try it" link (`huggingtweets run --playground-url URL`) opens
this page with `?bot=ORG/NAME`, which writes five posts right away. HUGGINGTWEETS_PLAYGROUND_CACHE:
how many bots stay loaded (default 2: a free CPU Space has 16 GB).
"""

import os

from huggingtweets.app import launch

launch(
    host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
    port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    landing="playground",
    playground_cache=int(os.environ.get("HUGGINGTWEETS_PLAYGROUND_CACHE", "2")),
    # A Space with more hardware can train for several visitors at once.
    max_trainings=int(os.environ.get("HUGGINGTWEETS_MAX_TRAININGS", "1")),
)
