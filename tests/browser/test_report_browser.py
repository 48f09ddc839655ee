"""The report in headless Chromium: 2,000 real movie reviews load with no console error,
highlights are those of the results file, and filters, sorting, search and paging work. How
fast they load and answer is measured by ``benchmarks/report_browser.py``, not here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from tests.browser.movie_report import (
    TIMED_CHANGE,
    TIMED_SEARCH,
    all_movie_reviews,
    occurrences,
    write_movie_report,
)
from tests.report.sample_inputs import write_pseudo_results

from rationalizer.data import Dataset, Document, Evidence, Example, Span, merge_spans
from rationalizer.report import load_inputs, write_report
from rationalizer.report.render import HEADLINE_KEYS
from rationalizer.training.shortcuts import ShortcutReport

COLLECT_PAGE = """
return Array.from(document.querySelectorAll("#example-list article.example")).map((a) => ({
  id: a.dataset.id,
  text: a.querySelector(".doc").textContent,
  incorrect: a.querySelector(".outcome.incorrect") !== null,
  layers: Object.fromEntries(["p", "g", "s"].map((name) => [name,
    Array.from(a.querySelectorAll(".hl." + name)).map(
      (e) => [Number(e.dataset.start), Number(e.dataset.end)])])),
}));
"""


def merged(pairs) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in merge_spans(Span(a, b) for a, b in pairs)]


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    dataset = all_movie_reviews()
    assert len(dataset) == 2_000
    return dataset


@pytest.fixture(scope="module")
def movie_report(reviews, tmp_path_factory):
    """The report of pseudo-predictions for all reviews plus a shortcut report of PHRASES."""
    return write_movie_report(reviews, tmp_path_factory.mktemp("movie-report"))


@pytest.fixture(scope="module")
def expected(reviews, movie_report):
    """What each review's card must show, computed from the files without the report code."""
    _, results, shortcuts = movie_report
    phrases = [p.phrase for p in ShortcutReport.load(shortcuts).phrases]
    by_id = {}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        by_id[record["annotation_id"]] = record
    cards = {}
    for index, example in enumerate(reviews):
        record = by_id[example.id]
        predicted = merged(
            (s["start_token"], s["end_token"])
            for s in record["rationales"][0]["hard_rationale_predictions"]
        )
        gold = [(s.start, s.end) for s in example.rationale_spans()]
        chosen = {i for a, b in predicted for i in range(a, b)}
        marked = {i for a, b in gold for i in range(a, b)}
        f1 = 2 * len(chosen & marked) / (len(chosen) + len(marked)) if chosen or marked else None
        cards[example.id] = {
            "index": index,
            "text": " ".join(example.document.tokens),
            "label": example.label,
            "predicted": record["classification"],
            "p": predicted,
            "g": gold,
            "s": occurrences(example.document.tokens, phrases),
            "f1": f1,
        }
    return cards


def open_report(browser, report: Path):
    """Load the report and wait until its script has rendered the first page (it marks the
    document ready last), however long a loaded machine takes."""
    browser.get(report.as_uri())
    WebDriverWait(browser, 60).until(
        lambda b: b.execute_script("return document.documentElement.dataset.ready") == "true"
    )
    return browser


@pytest.fixture
def page(browser, movie_report):
    return open_report(browser, movie_report[0])


def shown(browser) -> list[dict]:
    return browser.execute_script(COLLECT_PAGE)


def page_info(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".page-info").text


def check_cards(cards: list[dict], expected: dict) -> None:
    for card in cards:
        want = expected[card["id"]]
        assert card["text"] == want["text"]
        for layer in ("p", "g", "s"):
            assert merged(card["layers"][layer]) == want[layer], (card["id"], layer)


def test_two_thousand_reviews_load_without_console_errors(
    browser, movie_report, console_errors, screenshot
):
    """How fast is ``benchmarks/report_browser.py``'s concern; this checks what loads."""
    open_report(browser, movie_report[0])
    assert browser.execute_script("return window.reportTimings")["examples"] == 2_000
    assert console_errors() == []
    # the headline opens the page: one row per results file, a number in every column
    [row] = browser.find_elements(By.CSS_SELECTOR, "#headline tbody tr")
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    assert len(cells) == len(HEADLINE_KEYS)
    assert [float(c) for c in cells]  # numbers, not dashes
    assert browser.find_element(By.ID, "headline").location["y"] < 200
    screenshot("report-summary")


def test_highlights_are_those_of_the_results_file(page, expected, screenshot):
    first = shown(page)
    assert [c["id"] for c in first] == [
        i for i, c in sorted(expected.items(), key=lambda x: x[1]["index"])[:10]
    ]
    check_cards(first, expected)
    page.find_element(By.CSS_SELECTOR, ".pager .next").click()
    second = shown(page)
    assert page_info(page).startswith("Examples 11–20 of 2,000 matching")
    check_cards(second, expected)
    search = page.find_element(By.ID, "search")
    search.send_keys("special effects")
    WebDriverWait(page, 10).until(lambda b: "2,000 matching" not in page_info(b))
    found = shown(page)
    assert any(c["layers"]["s"] for c in found)
    check_cards(found, expected)
    page.execute_script("document.getElementById('examples').scrollIntoView()")
    screenshot("report")


def test_filters_sorting_search_and_paging(page, expected):
    page.execute_script(TIMED_CHANGE, "outcome", "incorrect")
    incorrect = [c for c in expected.values() if c["predicted"] != c["label"]]
    assert f"of {len(incorrect):,} matching" in page_info(page)
    assert all(card["incorrect"] for card in shown(page))

    page.execute_script(TIMED_CHANGE, "gold-label", "POS")
    wrong_pos = [c for c in incorrect if c["label"] == "POS"]
    assert f"of {len(wrong_pos):,} matching" in page_info(page)

    page.execute_script(TIMED_CHANGE, "outcome", "all")
    page.execute_script(TIMED_CHANGE, "gold-label", "")
    page.execute_script(TIMED_CHANGE, "order", "worst-f1")
    ranked = sorted(
        (c for c in expected.values() if c["f1"] is not None),
        key=lambda c: (c["f1"], c["index"]),
    )
    ids = {c["index"]: i for i, c in expected.items()}
    assert [c["id"] for c in shown(page)] == [ids[c["index"]] for c in ranked[:10]]

    page.execute_script(TIMED_CHANGE, "page-size", "100")
    assert len(shown(page)) == 100
    page.execute_script(TIMED_CHANGE, "page-size", "10")
    page.execute_script(TIMED_CHANGE, "order", "dataset")

    page.execute_async_script(TIMED_SEARCH, "waste of time")
    matching = [c for c in expected.values() if "waste of time" in c["text"]]
    assert f"of {len(matching):,} matching" in page_info(page)


def test_markup_in_the_data_is_shown_as_text(browser, console_errors, tmp_path):
    hostile = ("<img src=x onerror=window.pwned=1>", "<script>window.pwned=2</script>", "<b>b</b>")
    words = ("a", *hostile, "end")
    examples = tuple(
        Example(
            f"<i>{i}</i>",
            (Document(f"d{i}", words),),
            label,
            evidence=((Evidence(f"d{i}", Span(1, 3)),),),
        )
        for i, label in enumerate(("neg", "pos"))
    )
    dataset = Dataset("hostile", "test", examples, ("neg", "pos"))
    results = write_pseudo_results(tmp_path / "results.jsonl", dataset)
    page = write_report(load_inputs([results], dataset=dataset), tmp_path / "report.html")
    open_report(browser, page)
    cards = shown(browser)
    assert [c["text"] for c in cards] == [" ".join(words)] * 2
    assert [c["id"] for c in cards] == ["<i>0</i>", "<i>1</i>"]
    assert (
        browser.execute_script(
            "return document.querySelectorAll('#example-list img, #example-list script, "
            "#example-list b, #example-list i').length"
        )
        == 0
    )
    assert browser.execute_script("return window.pwned === undefined")
    assert console_errors() == []
