"""Notebook display of evaluation and shortcut reports: the report's tables as HTML fragments,
every value from the data escaped; evaluate() still returns a plain, JSON-able dict."""

from __future__ import annotations

import json

from tests.html_fragment import Fragment
from tests.report.sample_inputs import pseudo_records

from rationalizer.data import Dataset, Document, Evidence, Example, Span
from rationalizer.metrics import EvaluationReport, evaluate, flatten
from rationalizer.training.shortcuts import build_report

HOSTILE_LABELS = ("<script>alert(1)</script>", "pos & <b>co</b>")
WORDS = ("a", "<img src=x onerror=alert(2)>", "film", "&amp;", "'quoted'", "end")


def hostile_dataset() -> Dataset:
    examples = tuple(
        Example(
            id=f"</td><i>{i}",
            documents=(Document(f"doc{i}", WORDS),),
            label=label,
            evidence=((Evidence(f"doc{i}", Span(2, 4)),),),
        )
        for i, label in enumerate(HOSTILE_LABELS * 3)
    )
    return Dataset("hostile", "test", examples, HOSTILE_LABELS)


def test_evaluate_returns_a_dict_that_shows_as_the_metric_table():
    dataset = hostile_dataset()
    scores = evaluate(dataset, pseudo_records(dataset))
    assert isinstance(scores, dict) and isinstance(scores, EvaluationReport)
    assert json.loads(json.dumps(scores)) == scores
    fragment = scores._repr_html_()
    parsed = Fragment(fragment)
    assert set(parsed.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}
    text = "".join(parsed.text)
    for key, value in flatten(scores).items():
        assert key in text
        assert f"{value:.4f}" in text or key.endswith(".support")
    assert "Precision (label <script>alert(1)</script>)" in text  # a label, shown as text
    assert "<script>" not in fragment and "<b>" not in fragment
    assert "Hard rationale: tokens" in text and "↑" in text


def test_a_shortcut_report_shows_its_phrases_in_context_escaped():
    dataset = hostile_dataset()
    masks = {ex.id: [0, 1, 0, 1, 1, 0] for ex in dataset}
    report = build_report(list(dataset), masks, dataset.labels)
    fragment = report._repr_html_()
    parsed = Fragment(fragment)
    assert set(parsed.tags) <= {
        "div",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "span",
        "small",
    }
    text = "".join(parsed.text)
    assert "6 of 6 annotated examples have shortcut words" in text
    assert "in rationales" in text
    assert "<img src=x onerror=alert(2)>" in text and "&amp; 'quoted'" in text
    assert "</td><i>0" in text  # the example id of a context
    assert "<img" not in fragment and "<i>" not in fragment
    # the phrase of a context has the shortcut mark (the report's dotted box)
    assert 'style="outline: 2px dotted #000000' in fragment
