"""The HTML page: every metric of evaluate(), every chart, no network, no markup from data."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from tests.report.sample_inputs import write_pseudo_results

from rationalizer.data import Dataset, Document, Evidence, Example, Span, read_results
from rationalizer.metrics import describe, evaluate, flatten
from rationalizer.provenance import code_provenance
from rationalizer.report import load_inputs, render_report
from rationalizer.report.charts import CURVE_POINTS, _thinned, shortcut_bars
from rationalizer.report.render import HEADLINE_KEYS
from rationalizer.training.shortcuts import build_report


class Page(HTMLParser):
    """The parts of a report page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.metric_rows: dict[str, list[str]] = {}
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: list[str] = []
        self.tags: list[str] = []
        self._row: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        for name in ("src", "href", "xlink:href", "action"):
            if name in attributes:
                self.references.append((tag, name, attributes[name]))
        if tag == "tr" and "data-key" in attributes:
            self._row = attributes["data-key"]
            self.metric_rows[self._row] = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.metric_rows[self._row].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def full_inputs(ssr_run, results_file, planted_shortcuts_file, benchmark_file):
    return load_inputs([ssr_run, results_file, planted_shortcuts_file, benchmark_file])


@pytest.fixture(scope="module")
def full_page(full_inputs) -> str:
    return render_report(full_inputs, title="Tiny SSR")


def test_every_metric_of_evaluate_is_in_the_table_with_its_value(
    full_page, results_file, synthetic_test
):
    expected = flatten(evaluate(synthetic_test, read_results(results_file, synthetic_test)))
    rows = Page(full_page).metric_rows
    assert set(rows) == set(expected)
    for key, value in expected.items():
        shown = rows[key][0]
        assert float(shown) == pytest.approx(value, abs=5e-5), key


def test_the_page_references_nothing_outside_itself(full_page):
    page = Page(full_page)
    external = [ref for ref in page.references if not ref[2].startswith(("#", "data:"))]
    assert external == []
    assert "@import" not in full_page
    assert re.findall(r"url\((?!#)", full_page) == []  # clip paths refer to ids in the page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', full_page)
    assert csp and "default-src 'none'" in csp.group(1)


def test_every_input_adds_its_chart_and_tables(full_page):
    page = Page(full_page)
    for section in ("inputs", "metrics", "plots", "training", "shortcuts", "explainers"):
        assert section in page.ids
    for chart in ("chart-precision-recall", "chart-selection", "chart-training"):
        assert chart in page.ids
    # training curves, PR curve, selection plot, two shortcut reports (the run's has a phrase
    # too), one explainer comparison
    assert page.tags.count("svg") == 6
    assert "occlusion" in full_page and "deletions" in full_page  # a field the report did not know
    assert "with my cousin" in full_page  # a planted shortcut phrase, in chart and table
    # each shortcut report says how it is ranked, in its summary and its chart's caption
    assert full_page.count("most frequent first") == 2
    assert full_page.count("most label-skewed first") == 2
    # each phrase table says how often annotators mark its phrases as evidence, against the
    # share of all words they mark
    assert full_page.count('<th scope="col">in rationales</th>') >= 2
    assert full_page.count('<th scope="row">words inside human rationales</th>') == 2
    dropped = "candidates dropped as evidence elsewhere (max evidence ratio)"
    assert full_page.count(f'<th scope="row">{dropped}</th>') == 2


def test_a_run_names_its_code_and_the_settings_changed_at_run_time(full_page):
    assert "effective_config" not in full_page  # the settings are not repeated field by field
    provenance = code_provenance()
    assert f"rationalizer {provenance['version']}, code {provenance['code_digest'][:12]}" in (
        full_page
    )
    # lr and the target selection rate were left to the run
    assert "settings changed at run time" in full_page
    assert "selection_rate – → " in full_page and "gold rationale density" in full_page


def browser_json(html: str) -> dict:
    embedded = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    return json.loads(embedded.group(1))


def test_the_browser_data_holds_every_predicted_example(full_page, results_file):
    data = browser_json(full_page)
    ids = [json.loads(line)["annotation_id"] for line in results_file.read_text().splitlines()]
    assert sorted(e["id"] for e in data["examples"]) == sorted(ids)


def test_the_page_is_the_same_every_time(full_inputs, full_page):
    assert render_report(full_inputs, title="Tiny SSR") == full_page


def test_results_with_labels_only_make_a_page_without_rationale_plots(synthetic_test, tmp_path):
    labels_only = tmp_path / "labels.jsonl"
    labels_only.write_text(
        "".join(
            json.dumps(
                {
                    "annotation_id": ex.id,
                    "classification": ex.label,
                    "classification_scores": {ex.label: 1.0},
                }
            )
            + "\n"
            for ex in synthetic_test
        )
    )
    html = render_report(load_inputs([labels_only], dataset=synthetic_test))
    page = Page(html)
    assert "chart-precision-recall" not in page.ids and "chart-selection" not in page.ids
    assert page.metric_rows["classification_scores.accuracy"] == ["1.0000", "[0, 1]", "↑"]
    data = browser_json(html)
    assert data["runs"] == [{"name": "labels.jsonl", "hard": False, "classes": True}]
    assert all(
        e["runs"][0]["f1"] is None and e["runs"][0]["spans"] == [[]] for e in data["examples"]
    )


HOSTILE = ("<script>alert(1)</script>", "<b>bold</b>", "<img src=x onerror=alert(2)>")


def test_markup_in_data_is_shown_as_text_never_run(tmp_path):
    words = ("a", *HOSTILE, "film", "'quoted'", '"double"', "&amp;")
    examples = tuple(
        Example(
            id=f"</td><i>{i}",
            documents=(Document(f"doc{i}", words),),
            label=label,
            evidence=((Evidence(f"doc{i}", Span(1, 3)),),),
        )
        for i, label in enumerate(("<marquee>neg</marquee>", "pos & co") * 3)
    )
    dataset = Dataset("hostile", "test", examples, ("<marquee>neg</marquee>", "pos & co"))
    results = write_pseudo_results(tmp_path / "<results>.jsonl", dataset)
    masks = {ex.id: [0, 1, 1, 1, 0, 0, 0, 0] for ex in examples}
    shortcuts = build_report(examples, masks, dataset.labels).save_json(tmp_path / "s.json")
    html = render_report(load_inputs([results, shortcuts], dataset=dataset), title="<u>title</u>")
    for text in (*HOSTILE, "<marquee>neg</marquee>", "<u>title</u>", "</td><i>", "<results>"):
        assert text not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html  # a shortcut phrase in a table, escaped
    assert "&lt;u&gt;title&lt;/u&gt;" in html
    assert r"\u003cscript\u003e" in html  # the browser's JSON, escaped for a <script> element
    page = Page(html)
    assert "img" not in page.tags and "marquee" not in page.tags and page.tags.count("script") == 2


def test_chart_text_from_data_is_literal_and_escaped(tmp_path):
    tokens = ("costs", "$5", "<b>", "now")
    examples = tuple(
        Example(f"e{i}", (Document(f"d{i}", tokens),), label, evidence=((),))
        for i, label in enumerate(("neg", "pos", "neg"))
    )
    report = build_report(examples, {e.id: [0, 1, 1, 0] for e in examples}, ("neg", "pos"))
    svg = shortcut_bars(report, "test")
    assert "$5 &lt;b&gt;" in svg and "<b>" not in svg


def test_a_long_precision_recall_curve_is_thinned_keeping_its_ends():
    recall = np.linspace(1, 0, 100_000)
    keep = _thinned(recall)
    assert keep[0] == 0 and keep[-1] == len(recall) - 1
    assert len(keep) <= 2 * CURVE_POINTS


def test_the_headline_leads_with_the_key_numbers_and_their_direction(
    full_page, results_file, synthetic_test
):
    expected = flatten(evaluate(synthetic_test, read_results(results_file, synthetic_test)))
    headline = full_page[full_page.index('<section id="headline">') :]
    headline = html.unescape(headline[: headline.index("</section>")])
    assert full_page.index('<section id="headline">') < full_page.index('<section id="metrics">')
    for key in HEADLINE_KEYS:
        info = describe(key)
        direction = {True: "↑ higher is better", False: "↓ lower is better"}.get(
            info.higher_is_better, "no better direction"
        )
        assert f'data-metric="{key}" title="{info.description}">{info.name}' in headline, key
        assert f'{info.name}<span class="direction">{direction}</span>' in headline, key
        [shown] = re.findall(
            rf'<td class="num" data-metric="{re.escape(key)}">([^<]*)</td>', headline
        )
        assert float(shown) == pytest.approx(expected[key], abs=5e-5), key
