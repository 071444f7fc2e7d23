"""'Try a bot' in a real browser: open the app with ?bot=ORG/NAME of a bot on the local Hub, read
five posts under the bot's avatars and names; a private bot asks for a token that can read it."""

from __future__ import annotations

import pytest
from app_harness import served_app, wait_until
from localhub import ALICE_TOKEN, BOB_TOKEN
from test_app_browser import _all, _find, _grid, _text, _type, browser  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.slow

PUBLIC = "huggingtweets/ada_l-grace_h"
PRIVATE = "huggingtweets/secret-bot"


def _publish(run_dir, hub_url: str, repo_id: str, *, private: bool) -> None:
    from huggingtweets.card import write_card
    from huggingtweets.publish import publish

    write_card(run_dir, repo_id=repo_id)
    publish(run_dir, repo_id=repo_id, private=private, endpoint=hub_url, token=ALICE_TOKEN)


def test_open_the_app_with_a_bot_and_read_five_posts(browser, tiny_run_dir, tmp_path):  # noqa: F811
    with served_app(tmp_path / "app") as served:
        _publish(tiny_run_dir, served.hub_url, PUBLIC, private=False)
        _publish(tiny_run_dir, served.hub_url, PRIVATE, private=True)

        browser.get(f"{served.url}?bot={PUBLIC}")
        wait_until(lambda: _grid(browser, "#ht-bot-posts")[0] == 5, 180, "five posts of the bot")
        _, drawn = _grid(browser, "#ht-bot-posts")
        assert drawn and all(row[0].startswith("My dream is") for row in drawn)
        assert _find(browser, "#ht-bot input, #ht-bot textarea").get_attribute("value") == PUBLIC
        assert "Ada Lovelace & Grace Hopper" in _text(browser, "#ht-bot-profile .ht-bot-name")
        assert _text(browser, "#ht-bot-profile .ht-bot-handles") == "@ada_l @grace_h"
        imgs = _all(browser, "#ht-bot-profile img")
        assert len(imgs) == 2 and imgs[0].get_attribute("src").startswith("data:image/png;base64,")
        assert browser.execute_script("return document.querySelector('#ht-bot-profile img').naturalWidth") > 0

        # A private bot: not without a token, not with bob's, yes with alice's.
        _type(browser, "#ht-bot textarea", PRIVATE)
        _type(browser, "#ht-bot-prompt textarea", "The lamp")
        _find(browser, "#ht-bot-write").click()
        wait_until(lambda: "no token was given" in _text(browser, "#ht-bot-status"), 60, "the token error")
        _type(browser, "#ht-bot-token input", BOB_TOKEN)
        _find(browser, "#ht-bot-write").click()
        wait_until(lambda: "cannot read it" in _text(browser, "#ht-bot-status"), 60, "the access error")
        assert BOB_TOKEN not in browser.page_source
        _type(browser, "#ht-bot-token input", ALICE_TOKEN)
        _find(browser, "#ht-bot-write").click()
        wait_until(
            lambda: (g := _grid(browser, "#ht-bot-posts"))[1] and g[1][0][0].startswith("The lamp"),
            180,
            "five posts of the private bot",
        )
        assert _grid(browser, "#ht-bot-posts")[0] == 5 and _text(browser, "#ht-bot-status") == ""
        assert "🔒" in _text(browser, "#ht-bot-profile .ht-bot-name")
