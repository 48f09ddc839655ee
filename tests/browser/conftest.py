"""Headless Chromium, driven by Selenium, for end-to-end tests of the pages rationalizer makes.

The browser is Debian's ``chromium`` with its ``chromium-driver`` (browser downloads do not
work here); tests skip, saying what to install, when either is missing. Fixtures:

* ``browser``: the session's WebDriver, with the console log of earlier tests drained;
* ``console_errors()``: the console's errors (level SEVERE) since the last call;
* ``screenshot(name)``: a PNG of the window in the session's artifact folder, also copied to
  ``$RATIONALIZER_SCREENSHOTS`` when that is set (the documentation's images come from there).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.browser.chromium import CHROMEDRIVER, CHROMIUM, start_chromium

SCREENSHOTS_ENV = "RATIONALIZER_SCREENSHOTS"


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install)")
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.skip(
            f"headless Chromium not installed ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver"
        )
    driver = start_chromium(webdriver, Service)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    """The session's browser; its console messages from earlier tests are dropped."""
    chromium.get_log("browser")
    return chromium


@pytest.fixture
def console_errors(browser) -> Callable[[], list[str]]:
    def errors() -> list[str]:
        return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    return errors


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(browser, screenshot_dir) -> Callable[[str], Path]:
    def take(name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        if not browser.save_screenshot(str(path)):
            raise AssertionError(f"the browser could not save a screenshot to {path}")
        destination = os.environ.get(SCREENSHOTS_ENV)
        if destination:
            Path(destination).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(destination) / path.name)
        return path

    return take
