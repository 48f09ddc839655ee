"""Debian's headless Chromium under Selenium, as the browser tests and
``benchmarks/report_browser.py`` start it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW_SIZE = (1280, 900)


def start_chromium(webdriver: Any, service: Any) -> Any:
    """A headless Chromium WebDriver (``webdriver``: ``selenium.webdriver``; ``service``: its
    Chrome ``Service`` class) that keeps the console log."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    width, height = WINDOW_SIZE
    # --no-sandbox: Chromium's sandbox cannot start as root, as in CI containers.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=service(str(CHROMEDRIVER)), options=options)
