"""The Hugging Face Space entry point: the same app as `huggingtweets app`.

Spaces run `python app.py` and route port 7860; GRADIO_SERVER_NAME (0.0.0.0 there) wins over
the host given here.
"""

import os

from huggingtweets.app import launch

launch(
    host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
    port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    # A Space with more hardware can train for several visitors at once.
    max_trainings=int(os.environ.get("HUGGINGTWEETS_MAX_TRAININGS", "1")),
)
