"""The report's "Explainer agreement" section: a heat map of every pair of results files with
soft scores for the same examples, and no section where fewer than two have them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from tests.report.test_render import Page

from rationalizer.data import (
    Dataset,
    Document,
    Evidence,
    Example,
    ResultRecord,
    Span,
    write_results,
)
from rationalizer.explain import agreement
from rationalizer.report import load_inputs, render_report
from rationalizer.report.charts import agreement_heatmap

LABELS = ("neg", "pos")
WORDS = ("the", "plot", "is", "thin", "today")


@pytest.fixture
def dataset() -> Dataset:
    examples = tuple(
        Example(
            f"e{i}",
            (Document(f"e{i}", WORDS),),
            LABELS[i % 2],
            evidence=((Evidence(f"e{i}", Span(3, 4)),),),  # "thin"
        )
        for i in range(3)
    )
    return Dataset("reviews", "test", examples, LABELS)


def soft_results(path: Path, dataset: Dataset, scores: list[float]) -> Path:
    """Every example gets the same soft ``scores`` (and a prediction of 'pos')."""
    even = [0.5, 0.5]
    write_results(
        path,
        [
            ResultRecord.single_document(
                example.id,
                example.id,
                [],
                scores,
                LABELS,
                [0.4, 0.6],
                even,
                even,
                [(0.5, even, even)],
            )
            for example in dataset
        ],
    )
    return path


def section(html: str) -> str:
    match = re.search(r'<section id="agreement">.*?</section>', html, re.DOTALL)
    assert match, "no agreement section"
    return match.group(0)


def test_two_or_more_soft_results_files_get_an_agreement_heat_map(dataset, tmp_path):
    rising = soft_results(tmp_path / "rising.jsonl", dataset, [0, 1, 2, 3, 4])
    same = soft_results(tmp_path / "same.jsonl", dataset, [0, 1, 2, 3, 4])
    falling = soft_results(tmp_path / "falling.jsonl", dataset, [4, 3, 2, 1, 0])
    labels_only = tmp_path / "labels.jsonl"
    labels_only.write_text(
        "".join(
            json.dumps(
                {
                    "annotation_id": e.id,
                    "classification": "pos",
                    "classification_scores": {"pos": 1.0},
                }
            )
            + "\n"
            for e in dataset
        )
    )
    html = render_report(load_inputs([rising, same, labels_only, falling], dataset=dataset))
    page = Page(html)
    assert "agreement" in page.ids and "chart-agreement" in page.ids
    assert '<a href="#agreement">Agreement</a>' in html
    shown = section(html)
    assert "the 3 examples all 3 explain" in shown  # the labels-only file has no soft scores
    assert shown.count("<svg") == 1
    for text in ("Kendall tau-b", "Top-k overlap (k: 10% of the words)", "rising.jsonl"):
        assert text in shown
    assert "labels.jsonl" not in shown
    # rising and same: tau 1 and top-1 overlap 1; either against falling: tau −1, overlap 0
    cells = re.findall(r">(-?\d\.\d\d)</text>\s*<text[^>]*>±0\.00<", shown)
    assert sorted(cells) == sorted(["1.00"] * 5 + ["-1.00"] * 4 + ["1.00"] * 5 + ["0.00"] * 4)


def test_no_agreement_section_without_two_soft_results_files(dataset, tmp_path):
    rising = soft_results(tmp_path / "rising.jsonl", dataset, [0, 1, 2, 3, 4])
    html = render_report(load_inputs([rising], dataset=dataset))
    assert "agreement" not in Page(html).ids and "#agreement" not in html


def test_undefined_cells_are_marked_not_coloured_as_a_value(dataset, tmp_path):
    flat = soft_results(tmp_path / "flat.jsonl", dataset, [1, 1, 1, 1, 1])
    rising = soft_results(tmp_path / "rising.jsonl", dataset, [0, 1, 2, 3, 4])
    result = agreement({"flat": flat, "rising": rising})
    assert np.isnan(result["kendall"].value("flat", "rising"))
    svg = agreement_heatmap(result, "test")
    # per metric: the flat file's row and column (3 cells) are undefined
    assert svg.count("n/a") == 2 * 3
