"""The report of all 2,000 ERASER movie reviews that the browser tests check and that
``benchmarks/report_browser.py`` times: pseudo-predictions plus a shortcut report of
:data:`PHRASES`, and the page scripts both use to act on it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.report.sample_inputs import write_pseudo_results

from rationalizer.data import Dataset, Span, load, merge_spans
from rationalizer.report import load_inputs, write_report
from rationalizer.training.shortcuts import build_report

#: Shortcut phrases planted into the shortcut report (counted where they occur in the reviews).
PHRASES = ("special effects", "waste of time", "oscar", "the worst")

#: Sets a filter control of the page and returns the milliseconds until the new page is laid out.
TIMED_CHANGE = """
const [id, value] = arguments;
const started = performance.now();
const control = document.getElementById(id);
control.value = value;
control.dispatchEvent(new Event("change", {bubbles: true}));
document.body.getBoundingClientRect();  // lay the new page out before the clock stops
return performance.now() - started;
"""

#: Types into the search box and calls back with the milliseconds until the page info changed
#: (the search waits for a pause in typing first).
TIMED_SEARCH = """
const [text, done] = arguments;
const info = document.querySelector(".page-info");
const search = document.getElementById("search");
const started = performance.now();
new MutationObserver((changes, observer) => {
  observer.disconnect();
  done(performance.now() - started);
}).observe(info, {childList: true, characterData: true, subtree: true});
search.value = text;
search.dispatchEvent(new Event("input", {bubbles: true}));
"""


def all_movie_reviews() -> Dataset:
    """All 2,000 reviews: ERASER's three splits together."""
    examples = [ex for split in ("train", "validation", "test") for ex in load("movies", split)]
    return Dataset("movies", "all", tuple(examples), ("NEG", "POS"))


def occurrences(tokens: tuple[str, ...], phrases) -> list[tuple[int, int]]:
    """Where any of ``phrases`` occurs as whole words in any case, merged: found by a regular
    expression on the text (a lookahead, so overlapping occurrences count too)."""
    text = " ".join(tokens).lower()
    found = [
        Span(start, start + len(phrase.split()))
        for phrase in phrases
        for match in re.finditer(rf"(?=(?<!\S){re.escape(phrase)}(?!\S))", text)
        for start in [text.count(" ", 0, match.start())]
    ]
    return [(s.start, s.end) for s in merge_spans(found)]


def write_movie_report(reviews: Dataset, folder: Path) -> tuple[Path, Path, Path]:
    """The report page, its results file and its shortcut report, written into ``folder``."""
    results = write_pseudo_results(folder / "predictions.jsonl", reviews)
    annotated = [ex for ex in reviews if ex.is_annotated]
    masks = {}
    for example in annotated:
        mask = [0] * len(example.document)
        for start, end in occurrences(example.document.tokens, PHRASES):
            mask[start:end] = [1] * (end - start)
        masks[example.id] = mask
    shortcuts = build_report(annotated, masks, reviews.labels).save_json(folder / "shortcuts.json")
    page = write_report(load_inputs([results, shortcuts], dataset=reviews), folder / "report.html")
    return page, results, shortcuts
