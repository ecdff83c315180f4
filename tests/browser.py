"""The calculator's page in a real browser: Debian's chromium and chromedriver via Selenium.

The helpers of tests/test_web_browser.py, and a script that regenerates the screenshots of
docs/web.md (one patient's answer in English and in Chinese)::

    .venv/bin/python tests/browser.py [--out-dir docs/web]

It starts ``remnant serve`` on a free port of 127.0.0.1 (:func:`remnant.web.local.serving`),
fills the form, submits it, switches the language on the page and saves ``en.png`` and
``zh.png``. It needs ``apt-get install chromium chromium-driver fonts-noto-cjk``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# One patient, for the browser and for ``remnant predict`` (the real model: no stand-in).
PATIENT: dict[str, Any] = {
    # breast: two grades in its kernel table; R0: the shortest explanation (a cold start here
    # is about 12 s for this patient against 25 s for a colon one with R1)
    "cancer": "breast",
    "stage": "II",
    "margin": "R0",
    "immune": "low",
    "age": 61,
}
SELECTS = ("cancer", "stage", "margin", "immune")
NUMBERS = ("age",)
HORIZONS = ("1", "3", "5", "10")
# The first explanation of a fresh server builds the kernel table (15-25 s here, more on a
# busy machine): the page may take that long to load.
PAGE_TIMEOUT = 240.0
WIDTH = 1000  # pixels of the screenshots


def chromium_paths() -> tuple[str, str] | None:
    """Chromium and chromedriver, or None when either is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(lang: str = "en-US") -> Iterator[Any]:
    """A headless Chromium session (Selenium WebDriver) whose browser language is ``lang``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are needed (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},900",
        f"--lang={lang}",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def fill_and_submit(driver: Any, url: str, patient: Mapping[str, Any], lang: str) -> None:
    """Open the page in ``lang``, fill the form with ``patient``, submit it, wait for the answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    driver.get(f"{url}/?lang={lang}")
    for name in SELECTS:
        Select(driver.find_element(By.ID, name)).select_by_value(str(patient[name]))
    for name in NUMBERS:
        box = driver.find_element(By.ID, name)
        box.clear()
        box.send_keys(str(patient[name]))
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, "#answer")  # the form's page has no answer; the answer's page has


def switch_language(driver: Any, lang: str) -> None:
    """Follow the page's own link to ``lang`` (it keeps the patient in the URL)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'nav.lang a[hreflang="{lang}"]').click()
    wait_for(driver, f'html[lang^="{lang}"] #answer')


def wait_for(driver: Any, css: str) -> None:
    """Wait (up to :data:`PAGE_TIMEOUT`) until the page holds an element matching ``css``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    located = expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    WebDriverWait(driver, PAGE_TIMEOUT).until(located)


def page_numbers(driver: Any) -> dict[str, dict[str, str]]:
    """The numbers of the answer's table: risk and its range by horizon, as the page shows."""
    from selenium.webdriver.common.by import By

    def cells(attr: str) -> dict[str, str]:
        return {
            h: driver.find_element(By.CSS_SELECTOR, f'td[data-{attr}="{h}"]').text.strip()
            for h in HORIZONS
        }

    return {"risk": cells("risk"), "range": cells("range")}


def shown(answer: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The numbers a page shows for an answer of ``remnant predict --json`` (out of 100)."""
    from remnant.web.page import out_of_100

    risk = {h: str(out_of_100(answer["risk"][h])) for h in HORIZONS}
    interval = answer["risk_interval"]
    ranges = {h: f"{out_of_100(interval[h][0])}-{out_of_100(interval[h][1])}" for h in HORIZONS}
    return {"risk": risk, "range": ranges}


def predict_flags(patient: Mapping[str, Any]) -> list[str]:
    """``remnant predict``'s flags for ``patient``."""
    flags: list[str] = []
    for name, value in patient.items():
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def start_predict(patient: Mapping[str, Any], out: Path) -> subprocess.Popen[bytes]:
    """Start ``remnant predict --json out`` for ``patient`` in a child process."""
    from remnant.web.local import remnant_command

    return subprocess.Popen(
        [*remnant_command(), "predict", *predict_flags(patient), "--json", str(out)]
        + ["--no-progress"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish_predict(proc: subprocess.Popen[bytes], out: Path, timeout: float) -> dict[str, Any]:
    """Wait for :func:`start_predict`'s process and read its JSON."""
    _, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"remnant predict exited {proc.returncode}: {err.decode()[-1000:]}")
    answer: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return answer


def full_page(driver: Any, path: Path) -> None:
    """Save the whole page (not only the window) as a PNG (Chrome DevTools' screenshot)."""
    import base64

    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def main(argv: list[str] | None = None) -> int:
    """Regenerate the screenshots: the answer for :data:`PATIENT` in English and Chinese."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path("docs/web"))
    args = ap.parse_args(argv)
    from remnant.web.local import serving

    with serving() as url, chromium() as driver, tempfile.TemporaryDirectory() as tmp:
        cli = start_predict(PATIENT, Path(tmp) / "p.json")
        fill_and_submit(driver, url, PATIENT, "en")
        full_page(driver, args.out_dir / "en.png")
        numbers = page_numbers(driver)
        switch_language(driver, "zh")
        full_page(driver, args.out_dir / "zh.png")
        expected = shown(finish_predict(cli, Path(tmp) / "p.json", PAGE_TIMEOUT))
    if numbers != expected:
        print(f"the page shows {numbers}, remnant predict {expected}", file=sys.stderr)
        return 1
    print(f"wrote {args.out_dir / 'en.png'} and {args.out_dir / 'zh.png'}: {numbers['risk']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
