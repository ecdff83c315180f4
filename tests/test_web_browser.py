"""The calculator in a real browser (headless Chromium through Selenium), with the real model.

One patient (tests/browser.py's ``PATIENT``) on one ``remnant serve`` process: the form filled
and sent as a person would, the risk at 1, 3, 5 and 10 years and its range read off the page
in English, then in Chinese through the page's own language switch, and compared with
``remnant predict --json`` for the same patient, computed at the same time in another process.
Skipped when chromium or chromedriver is not installed (``apt-get install chromium
chromium-driver fonts-noto-cjk``).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import browser
import pytest

from remnant.web.messages import catalogue

pytest.importorskip("selenium", reason="selenium is not installed (the test extra)")
pytestmark = pytest.mark.skipif(
    browser.chromium_paths() is None, reason="chromium and chromedriver are not installed"
)


def test_the_page_shows_what_remnant_predict_says_in_both_languages(
    calculator: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "predict.json"
    cli = browser.start_predict(browser.PATIENT, out)  # the model's time, beside the server's
    try:
        with browser.chromium() as driver:
            browser.fill_and_submit(driver, calculator, browser.PATIENT, "en")
            english = browser.page_numbers(driver)
            assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
            browser.switch_language(driver, "zh")
            chinese = browser.page_numbers(driver)
            assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-Hans"
            button = driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").text
            assert button == catalogue("zh")["submit"]
            assert "lang=zh" in driver.current_url and "cancer=breast" in driver.current_url
        expected = browser.finish_predict(cli, out, browser.PAGE_TIMEOUT)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert english == browser.shown(expected), (english, expected["risk"])
    assert chinese == english
    # the same server's API: the very numbers of remnant predict --json (from its memory now)
    request = urllib.request.Request(
        f"{calculator}/api/v1/predict",
        data=json.dumps(browser.PATIENT).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=browser.PAGE_TIMEOUT) as r:
        assert json.loads(r.read()) == expected
