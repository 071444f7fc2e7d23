"""The web app in a real browser: headless Chromium, driven through Selenium, as a person uses it.

Upload the bundled sample archive, check the data, train the tiny bot, read the samples and the
card, try a prompt, publish to the local Hub, then look at it on a phone-sized screen and close it.
Debian's ``chromium`` and ``chromium-driver`` (what .ci/run installs) are used by their paths,
else a Chromium/Chrome and chromedriver found on PATH or in HUGGINGTWEETS_CHROMIUM /
HUGGINGTWEETS_CHROMEDRIVER: Selenium Manager, which downloads browsers, cannot work offline.
Without them the test skips with that reason; under CI=true it fails instead.

``HUGGINGTWEETS_APP_SCREENSHOT=PATH`` also saves the page after the run there (tools/screenshot_app.py).
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from app_harness import ALICE_TOKEN, SAMPLE_ARCHIVE, repo_exists, served_app, wait_until

try:
    from selenium.webdriver.common.keys import Keys
except ImportError:  # the test skips (or, under CI=true, fails) with the reason
    Keys = None

pytestmark = pytest.mark.slow


def _first(*candidates: str | None) -> Path | None:
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


# Debian's packages first (what .ci/run installs); then what a PATH or a hosted runner has.
CHROMIUM = _first(
    os.environ.get("HUGGINGTWEETS_CHROMIUM"),
    "/usr/bin/chromium",
    shutil.which("chromium"),
    shutil.which("google-chrome"),
)
CHROMEDRIVER = _first(
    os.environ.get("HUGGINGTWEETS_CHROMEDRIVER"),
    "/usr/bin/chromedriver",
    shutil.which("chromedriver"),
    os.environ.get("CHROMEWEBDRIVER") and os.path.join(os.environ["CHROMEWEBDRIVER"], "chromedriver"),
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def _browser_or_skip() -> None:
    missing = [
        name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if path is None
    ]
    reason = None
    if missing:
        reason = (
            f"needs Chromium and its driver ({' and '.join(missing)} not found; "
            "apt-get install chromium chromium-driver)"
        )
    elif Keys is None:
        reason = "needs selenium (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the browser test must run, but it {reason}")
        pytest.skip(reason)


@pytest.fixture
def browser(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _find(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def _all(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def _type(driver, css: str, text: str, end: str | None = None) -> None:
    box = _find(driver, css)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE, text, end or Keys.TAB)


def _text(driver, css: str) -> str:
    found = _all(driver, css)
    return found[0].text if found else ""


def _rows(driver, css: str) -> list[list[str]]:
    """Body rows of the (Markdown) table in ``css``."""
    return [
        [cell.text for cell in row.find_elements("css selector", "td")]
        for row in _all(driver, f"{css} tbody tr")
    ]


def _grid(driver, css: str) -> tuple[int, list[list[str]]]:
    """A Dataframe: (its number of body rows, the rows it has drawn). It draws only what is in view."""
    grids = _all(driver, f"{css} [role=grid]")
    if not grids:
        return 0, []
    count = int(grids[0].get_attribute("aria-rowcount") or 1) - 1
    drawn = [
        [cell.text for cell in row.find_elements("css selector", "[role=gridcell]")]
        for row in grids[0].find_elements("css selector", ".virtual-row[role=row]")
    ]
    return count, drawn


def _full_page_png(driver, width: int = 1100) -> bytes:
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return base64.b64decode(shot["data"])


def test_make_try_and_publish_a_bot_in_the_browser(browser, tmp_path):
    with served_app(tmp_path / "app") as served:
        browser.get(served.url)
        wait_until(lambda: _all(browser, "#ht-archives input[type=file]"), 60, "the page to load")
        assert _find(browser, "#ht-train").get_attribute("disabled") is not None  # no data checked yet

        _find(browser, "#ht-archives input[type=file]").send_keys(str(SAMPLE_ARCHIVE))
        wait_until(
            lambda: _all(browser, f'#ht-archives td.filename[aria-label="{SAMPLE_ARCHIVE.name}"]'),
            60,
            "the upload",
        )
        _find(browser, "#ht-check").click()
        wait_until(lambda: "Data report" in _text(browser, "#ht-report"), 120, "the data report")
        assert _rows(browser, "#ht-report")[0][:4] == [
            "@wren_at_gullstone (archive)",
            "400",
            "6 reposts, 6 media only, 8 too short, 1 duplicates",
            "379",
        ]
        wait_until(
            lambda: _find(browser, "#ht-train").get_attribute("disabled") is None, 30, "Train to be enabled"
        )

        _type(browser, "#ht-base-model input", "tiny", Keys.ENTER)  # picks the option, closing the list
        _type(browser, "#ht-epochs input", "1")
        _find(browser, "#ht-train").click()
        wait_until(lambda: _all(browser, "#ht-status progress"), 120, "the progress bar")
        wait_until(lambda: _all(browser, '#ht-progress[data-state="done"]'), 300, "training to finish")
        assert "tokens/s" in _text(browser, "#ht-status")
        wait_until(lambda: _rows(browser, "#ht-perplexity"), 30, "the perplexity table")
        assert _rows(browser, "#ht-perplexity")[0][0] == "1"

        wait_until(lambda: _grid(browser, "#ht-samples")[0] == 10, 60, "the sample posts")
        count, drawn = _grid(browser, "#ht-samples")
        assert drawn and all(post.startswith(prompt) and int(copied) >= 0 for prompt, post, copied in drawn)
        assert "of the samples copy" in _text(browser, "#ht-memorization")
        wait_until(lambda: _all(browser, "#ht-card img"), 30, "the card's images")
        assert "@wren_at_gullstone" in _text(browser, "#ht-card")
        assert _find(browser, "#ht-card img").get_attribute("src").startswith("data:image/png;base64,")
        assert browser.execute_script("return document.querySelector('#ht-card img').naturalWidth") > 0
        assert _all(browser, "#ht-preview img")

        _type(browser, "#ht-prompt textarea", "The lamp")
        _find(browser, "#ht-try").click()
        wait_until(lambda: _grid(browser, "#ht-tries")[0] == 5, 60, "five tried posts")
        count, drawn = _grid(browser, "#ht-tries")
        assert drawn and all(row[0].startswith("The lamp") for row in drawn)

        repo = "huggingtweets/wren-browser"
        _type(browser, "#ht-repo-id textarea", repo)
        _type(browser, "#ht-token input", ALICE_TOKEN)
        _find(browser, "#ht-publish").click()
        wait_until(lambda: "Published to" in _text(browser, "#ht-publish-status"), 120, "the publish message")
        link = _find(browser, "#ht-publish-status a")
        assert link.text == repo and link.get_attribute("href") == f"{served.hub_url}/{repo}"
        assert _find(browser, "#ht-token input").get_attribute("value") == ""  # not kept in the page
        assert repo_exists(served.hub_url, repo)

        _find(browser, "#ht-download").click()
        wait_until(
            lambda: _all(browser, '#ht-zip td.filename[aria-label="wren_at_gullstone.zip"]'),
            60,
            "the model zip to be offered",
        )

        png = _full_page_png(browser)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        target = os.environ.get("HUGGINGTWEETS_APP_SCREENSHOT")
        if target:
            Path(target).write_bytes(png)

        # A phone screen: everything fits its width (rows wrap, wide tables scroll in place).
        browser.set_window_size(390, 844)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0

        # Closing the page ends the session: its upload, run folder and what Gradio served are deleted
        # (the upload, the preview image and the model zip in Gradio's cache).
        (session,) = list(served.store._sessions.values())
        assert (session.uploads / SAMPLE_ARCHIVE.name).is_file()
        gradio_copies = sorted(session.foreign_files)
        assert sorted(p.suffix for p in gradio_copies) == [".png", ".zip", ".zip"]
        assert all(p.is_file() for p in gradio_copies)
        browser.get("about:blank")
        wait_until(lambda: not session.root.exists(), 60, "the session's folder to be deleted")
        assert [p for p in gradio_copies if p.exists()] == []
        assert not any(Path(served.store.base).iterdir())
        shutil.rmtree(tmp_path / "app", ignore_errors=True)
