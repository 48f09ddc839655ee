"""The served page in headless Chromium: paste a text, pick an explainer, see the highlights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests.serve.conftest import loopback_server

from rationalizer.serve import ServeLimits, create_app

#: markup in the text must show as text, never become elements
TEXT = "a wonderful and moving film , though the <b>ending</b> felt dull at the odeon"
MAX_WORDS = 20
#: tall enough for the form and every result panel in one screenshot
SCREENSHOT_SIZE = (1280, 1250)


@pytest.fixture(scope="module")
def served_run(tiny_run) -> Path:
    return tiny_run()


@pytest.fixture(scope="module")
def server_url(served_run) -> Iterator[str]:
    """The app under a real uvicorn server on a free loopback port, in a thread."""
    with loopback_server(create_app(served_run, limits=ServeLimits(max_words=MAX_WORDS))) as url:
        yield url


def open_page(browser, url: str) -> None:
    browser.get(url)
    # the explainer picker fills itself from /api/methods
    WebDriverWait(browser, 10).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#method option")) > 1
    )


def submit(browser, text: str, method: str | None = None) -> None:
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    if method is not None:
        Select(browser.find_element(By.ID, "method")).select_by_value(method)
    browser.find_element(By.ID, "explain").click()


def highlighted(browser, container: str, css_class: str) -> list[int]:
    """Positions of the words in ``container`` that carry ``css_class``."""
    words = browser.find_elements(By.CSS_SELECTOR, f"#{container} > span")
    return [i for i, w in enumerate(words) if css_class in w.get_attribute("class").split()]


def positions(spans: list[list[int]]) -> list[int]:
    return [i for start, end in spans for i in range(start, end)]


def shown_probabilities(probabilities: dict[str, float]) -> list[str]:
    """How the page writes a label → probability object: three decimals."""
    return [f"{label} {p:.3f}" for label, p in probabilities.items()]


def test_pick_an_explainer_and_see_the_highlights(
    browser, server_url, served_run, console_errors, screenshot
):
    expected = httpx.post(
        f"{server_url}/api/explain", json={"text": TEXT, "method": "occlusion"}
    ).json()
    open_page(browser, server_url)
    submit(browser, TEXT, "occlusion")
    WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "explanation").is_displayed())

    assert browser.find_element(By.ID, "label").text == expected["label"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#probabilities tbody tr")
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")[:2]] for row in rows]
    assert [" ".join(c) for c in cells] == shown_probabilities(expected["probabilities"])
    words = browser.find_elements(By.CSS_SELECTOR, "#rationale > span")
    assert [w.text for w in words] == TEXT.split()
    assert browser.find_elements(By.CSS_SELECTOR, "#rationale b") == []
    assert highlighted(browser, "rationale", "rationale") == positions(expected["rationale"])
    explanation = expected["explanation"]
    assert highlighted(browser, "explanation-words", "explanation-rationale") == positions(
        explanation["rationale"]
    )
    assert highlighted(browser, "explanation-words", "explanation-rationale")  # not empty
    # which model each probability belongs to, in one line, and the numbers of the API
    run = served_run.name
    assert browser.find_element(By.ID, "probability-source").text == (
        f"These probabilities come from {run}'s predictor reading only its rationale "
        f"(highlighted below); a post-hoc explanation's come from {run}'s predictor reading "
        "the whole text, so the two can differ."
    )
    summary = browser.find_element(By.ID, "explanation-summary").text
    assert summary.startswith(
        f"explains the label “{explanation['target']}” of {run}'s predictor reading the whole "
        f"text (probabilities: {', '.join(shown_probabilities(explanation['probabilities']))}); "
    )
    assert console_errors() == []

    size = browser.get_window_size()
    browser.set_window_size(*SCREENSHOT_SIZE)
    try:
        assert screenshot("serve").stat().st_size > 10_000
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_the_servers_refusal_is_shown(browser, server_url):
    open_page(browser, server_url)
    submit(browser, " ".join(["word"] * (MAX_WORDS + 1)))
    status = browser.find_element(By.ID, "status")
    WebDriverWait(browser, 10).until(lambda _: "error" in status.get_attribute("class"))
    assert status.text == (
        f"text has {MAX_WORDS + 1} words; this server explains at most {MAX_WORDS} per request"
    )
    assert not browser.find_element(By.ID, "results").is_displayed()
