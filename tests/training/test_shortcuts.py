"""Shortcut discovery: masks, the aggregated report and scores against planted shortcuts."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from rationalizer.data import Document, Evidence, Example, Span, load, spans_to_mask
from rationalizer.data.synthetic import PLANTED_SHORTCUTS
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.training.shortcuts import (
    ShortcutReport,
    build_report,
    discovery_scores,
    evidence_filter,
    label_log_odds,
    shortcut_masks,
    skew_filter,
    word_evidence_rates,
    word_label_skew,
)

LABELS = ("neg", "pos")


def make_example(
    example_id: str,
    text: str,
    label: str,
    gold: tuple[tuple[int, int], ...] | None = (),
    planted: tuple[tuple[int, int], ...] | None = None,
) -> Example:
    """A one-document example; ``gold=None`` means not annotated, ``()`` annotated but empty."""
    evidence = None if gold is None else (tuple(Evidence(example_id, Span(*s)) for s in gold),)
    metadata = {} if planted is None else {"shortcut_spans": planted}
    return Example(
        example_id,
        (Document(example_id, tuple(text.split())),),
        label,
        evidence=evidence,
        metadata=metadata,
    )


# ----------------------------------------------------------------------------- shortcut_masks


def test_shortcut_masks_are_selected_words_outside_the_gold_rationale():
    review = make_example("a", "a b c d e f", "pos", gold=((1, 3),))
    non_toxic = make_example("b", "x y z", "neg", gold=())  # annotated, nothing marked
    unannotated = make_example("c", "u v", "neg", gold=None)
    predicted = {
        "a": np.array([1, 1, 0, 0, 1, 1]),
        "b": np.array([0, 1, 1], dtype=bool),
        "c": np.array([1, 1]),
    }
    masks = shortcut_masks([review, non_toxic, unannotated], predicted)
    assert set(masks) == {"a", "b"}  # no gold, no shortcut mask
    assert masks["a"].tolist() == [1, 0, 0, 0, 1, 1]
    assert masks["b"].tolist() == [0, 1, 1]  # empty gold: every selected word is a shortcut


@pytest.mark.parametrize(
    ("predicted", "message"),
    [
        ({"a": np.array([1, 0])}, "expected (3,)"),
        ({"a": np.array([[1, 0, 1]])}, "expected (3,)"),
        ({"a": np.array([0.5, 0, 1])}, "only 0 and 1"),
        ({}, "have no predicted mask, e.g. 'a'"),
    ],
)
def test_shortcut_masks_reject_bad_predictions(predicted, message):
    with pytest.raises(RationalizerError, match=re.escape(message)):
        shortcut_masks([make_example("a", "p q r", "pos", gold=((0, 1),))], predicted)


def test_shortcut_masks_reject_multi_document_examples():
    example = Example(
        "m",
        (Document("d1", ("a",)), Document("d2", ("b",))),
        "pos",
        evidence=((Evidence("d1", Span(0, 1)),),),
    )
    with pytest.raises(RationalizerError, match="single-document"):
        shortcut_masks([example], {"m": np.array([1])})


# ----------------------------------------------------------------------------- the report

# (id, label, text, shortcut runs); the last word of each text is its gold rationale.
HAND_MADE = [
    ("e1", "pos", "i watched it At The Odeon today", [(3, 6)]),
    ("e2", "pos", "we saw it at the odeon at the odeon !", [(3, 9)]),
    ("e3", "neg", "at the odeon again with my cousin !", [(0, 3), (4, 7)]),
    ("e4", "neg", "with my cousin .", [(0, 3)]),
    ("e5", "neg", "a boring film", []),
    ("e6", "neg", "the odeon was cold", [(0, 2)]),
]


@pytest.fixture(scope="module")
def hand_made():
    """Examples whose only gold word is the last one; predicted = shortcut runs + that word."""
    examples, masks, predicted = [], {}, {}
    for example_id, label, text, runs in HAND_MADE:
        length = len(text.split())
        example = make_example(example_id, text, label, gold=((length - 1, length),))
        examples.append(example)
        masks[example_id] = spans_to_mask([Span(*r) for r in runs], length)
        predicted[example_id] = masks[example_id] | example.rationale_mask()
    return examples, masks, predicted


def test_report_counts_phrases_as_maximal_runs(hand_made):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS, min_count=1)
    by_phrase = {stats.phrase: stats for stats in report.phrases}
    # e2's run "at the odeon at the odeon" is ONE maximal run of six words
    assert set(by_phrase) == {
        "at the odeon",
        "at the odeon at the odeon",
        "with my cousin",
        "the odeon",
    }
    odeon = by_phrase["at the odeon"]  # e1 (lower-cased "At The Odeon") and e3
    assert (odeon.count, odeon.occurrences) == (2, 2)
    assert odeon.label_counts == {"neg": 1, "pos": 1}
    cousin = by_phrase["with my cousin"]  # e3 and e4
    assert (cousin.count, cousin.label_counts) == (2, {"neg": 2, "pos": 0})
    assert [s.phrase for s in report.phrases][:2] == ["at the odeon", "with my cousin"]


def test_report_ranks_by_examples_then_occurrences_then_alphabet():
    # "x y" in three examples; "b" and "a" in two examples each, "b" twice in one of them
    rows = [
        ("r1", "x y . b . b", [(0, 2), (3, 4), (5, 6)]),
        ("r2", "x y . b . a", [(0, 2), (3, 4), (5, 6)]),
        ("r3", "x y . a", [(0, 2), (3, 4)]),
    ]
    examples = [make_example(i, t, "pos") for i, t, _ in rows]
    masks = {i: spans_to_mask([Span(*r) for r in runs], len(t.split())) for i, t, runs in rows}
    report = build_report(examples, masks, LABELS)
    assert [(s.phrase, s.count, s.occurrences) for s in report.phrases] == [
        ("x y", 3, 3),
        ("b", 2, 3),
        ("a", 2, 2),
    ]
    assert [s.phrase for s in build_report(examples, masks, LABELS, top=2).phrases] == [
        "x y",
        "b",
    ]


def _labelled_rows(
    rows: list[tuple[str, str, int]], planted: frozenset[str] = frozenset()
) -> tuple[list[Example], dict]:
    """``count`` examples ``text fine`` of ``label`` per row, where every word but the gold
    "fine" is a shortcut; a text in ``planted`` is a planted shortcut of its examples."""
    examples, masks = [], {}
    for text, label, count in rows:
        n = len(text.split())
        spans = ((0, n),) if text in planted else ()
        for i in range(count):
            example_id = f"{text}/{label}/{i}"
            text_fine = f"{text} fine"
            examples.append(make_example(example_id, text_fine, label, ((n, n + 1),), spans))
            masks[example_id] = np.array([1] * n + [0])
    return examples, masks


def test_report_ranked_by_skew_puts_label_giveaways_above_frequent_unskewed_phrases():
    # "is" in 10 examples of each label; "odeon" in 6 positive ones, "rialto" in 3 negative ones,
    # "cinema" in 2 negative and 1 positive one
    examples, masks = _labelled_rows(
        [
            ("is", "neg", 10),
            ("is", "pos", 10),
            ("odeon", "pos", 6),
            ("rialto", "neg", 3),
            ("cinema", "neg", 2),
            ("cinema", "pos", 1),
        ]
    )
    by_count = build_report(examples, masks, LABELS)
    by_skew = build_report(examples, masks, LABELS, rank_by="skew")
    assert [s.phrase for s in by_count.phrases] == ["is", "odeon", "cinema", "rialto"]
    assert [s.phrase for s in by_skew.phrases] == ["odeon", "rialto", "cinema", "is"]
    assert [s.log_odds for s in by_skew.phrases] == sorted(
        (s.log_odds for s in by_skew.phrases), reverse=True
    )
    # the same statistics, only the order differs
    assert sorted(by_count.phrases, key=lambda s: s.phrase) == sorted(
        by_skew.phrases, key=lambda s: s.phrase
    )
    assert [
        s.phrase for s in build_report(examples, masks, LABELS, rank_by="skew", top=1).phrases
    ] == ["odeon"]
    assert (by_count.rank_by, by_skew.rank_by) == ("count", "skew")
    assert "| ranking | most label-skewed first" in by_skew.to_markdown()
    assert "| ranking | most frequent first |" in by_count.to_markdown()


def test_skew_ties_fall_back_to_the_frequency_order():
    # balanced labels: "a" and "b" lean to pos exactly as much as "c" and "d" to neg
    rows = [("b", "pos", 2), ("a", "pos", 2), ("d", "neg", 2), ("c", "neg", 2)]
    examples, masks = _labelled_rows(rows)
    report = build_report(examples, masks, LABELS, rank_by="skew")
    assert len({round(s.log_odds, 12) for s in report.phrases}) == 1
    assert [s.phrase for s in report.phrases] == ["a", "b", "c", "d"]


def test_an_unknown_ranking_is_refused(hand_made):
    examples, masks, _ = hand_made
    with pytest.raises(RationalizerError, match=r"unknown ranking 'often'.*count, skew"):
        build_report(examples, masks, LABELS, rank_by="often")  # type: ignore[arg-type]


def test_report_ranking_round_trips_and_version_1_reports_load_as_ranked_by_count(
    hand_made, tmp_path
):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS, rank_by="skew")
    assert ShortcutReport.load(report.save_json(tmp_path / "skew.json")) == report

    old = build_report(examples, masks, LABELS)
    fields = asdict(old)
    del fields["rank_by"]
    assert ShortcutReport.load(_todays_file(tmp_path, 1, fields)) == old


def test_report_min_count_and_unigrams(hand_made):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS)  # min_count=2
    assert [s.phrase for s in report.phrases] == ["at the odeon", "with my cousin"]
    assert report.distinct_phrases == 4
    # "the"/"odeon": e1, e2 (twice), e3, e6 → 4 examples, 5 times; tie broken alphabetically
    assert [(s.phrase, s.count, s.occurrences) for s in report.unigrams] == [
        ("odeon", 4, 5),
        ("the", 4, 5),
        ("at", 3, 4),
        ("cousin", 2, 2),
        ("my", 2, 2),
        ("with", 2, 2),
    ]


def test_label_skew_is_smoothed_log_odds_against_the_prior(hand_made):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS)
    assert report.label_counts == {"neg": 4, "pos": 2}
    # "with my cousin": 2 neg of 2. p̂ = (2+1)/(2+2) = 3/4, prior q = (4+1)/(6+2) = 5/8:
    # logit(3/4) − logit(5/8) = ln 3 − ln(5/3) = ln 1.8
    cousin = report.phrases[1]
    assert (cousin.skew_label, cousin.skew_share) == ("neg", 1.0)
    assert cousin.log_odds == pytest.approx(math.log(1.8))
    # "odeon": e1 pos, e2 pos, e3 neg, e6 neg of prior neg 4 / pos 2 → pos is over-represented
    # although it is not the majority: p̂_pos = 3/6, q_pos = 3/8 → ln 1 − ln(3/5) = ln(5/3)
    odeon = report.unigrams[0]
    assert odeon.label_counts == {"neg": 2, "pos": 2}
    assert (odeon.skew_label, odeon.skew_share) == ("pos", 0.5)
    assert odeon.log_odds == pytest.approx(math.log(5 / 3))


def test_label_log_odds_is_zero_without_skew_and_antisymmetric_for_two_labels():
    assert label_log_odds({"neg": 5, "pos": 5}, {"neg": 50, "pos": 50}, LABELS) == {
        "neg": pytest.approx(0.0),
        "pos": pytest.approx(0.0),
    }
    skew = label_log_odds({"pos": 3}, {"neg": 10, "pos": 10}, LABELS)
    assert skew["pos"] == pytest.approx(math.log(4)) == pytest.approx(-skew["neg"])
    assert label_log_odds({"pos": 3}, {"pos": 5}, ("pos",)) == {"pos": 0.0}  # nothing to skew to


def test_report_dataset_numbers(hand_made):
    examples, masks, predicted = hand_made
    unannotated = make_example("u", "no gold here", "pos", gold=None)
    report = build_report([*examples, unannotated], masks, LABELS, predicted=predicted)
    assert report.annotated_examples == 6
    assert report.examples_with_shortcuts == 5  # e5 has none
    assert report.shortcut_words == 3 + 6 + 6 + 3 + 0 + 2
    assert report.mean_shortcut_words == pytest.approx(20 / 6)
    assert report.selected_words == 20 + 6  # plus each example's one gold word
    assert report.shortcut_rate == pytest.approx(20 / 26)
    assert build_report(examples, masks, LABELS).shortcut_rate is None


def test_evidence_rate_counts_every_occurrence_of_a_phrase_inside_and_outside_rationales():
    rows = [  # (id, label, text, gold, shortcut runs)
        ("x1", "pos", "great acting here", ((0, 2),), []),
        ("x2", "pos", "great night at the odeon", ((1, 2),), [(0, 1), (3, 5)]),
        ("x3", "neg", "a Great mess", ((1, 3),), []),
        ("x4", "neg", "loved the odeon", ((2, 3),), [(0, 1)]),
    ]
    examples = [make_example(i, text, label, gold) for i, label, text, gold, _ in rows]
    masks = {
        i: spans_to_mask([Span(*r) for r in runs], len(t.split())) for i, _, t, _, runs in rows
    }
    unannotated = make_example("u", "great great the odeon", "pos", gold=None)
    report = build_report([*examples, unannotated], masks, LABELS, min_count=1)
    phrases = {s.phrase: s.evidence_rate for s in report.phrases}
    words = {s.phrase: s.evidence_rate for s in report.unigrams}
    # "great": a shortcut in x2 only, but inside the rationales of x1 and x3 ("Great")
    assert phrases["great"] == pytest.approx(2 / 3)
    # "the odeon": both words outside in x2, "odeon" inside in x4, where it is no shortcut
    assert phrases["the odeon"] == pytest.approx(1 / 4)
    assert phrases["loved"] == 0.0
    assert (words["odeon"], words["the"]) == (pytest.approx(1 / 2), 0.0)
    assert report.rationale_density == pytest.approx(6 / 14)  # the unannotated "u" not counted
    markdown = report.to_markdown()
    assert "| words inside human rationales | 43% |" in markdown
    assert "| great | 1 | 1 | pos | 100% | +0.69 | 67% | neg 0, pos 1 |" in markdown


def test_reports_written_before_evidence_rates_load_and_render_them_as_not_available(
    hand_made, tmp_path
):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS)
    payload = json.loads(report.save_json(tmp_path / "new.json").read_text(encoding="utf-8"))
    payload["version"] = 4
    del payload["rationale_density"]
    for stats in [*payload["phrases"], *payload["unigrams"]]:
        del stats["evidence_rate"]
    (tmp_path / "old.json").write_text(json.dumps(payload), encoding="utf-8")
    old = ShortcutReport.load(tmp_path / "old.json")
    assert old.rationale_density is None
    assert all(s.evidence_rate is None for s in (*old.phrases, *old.unigrams))
    assert "| words inside human rationales | n/a |" in old.to_markdown()
    assert old.phrases[0].phrase == report.phrases[0].phrase


def test_report_contexts_show_the_phrase_in_its_window(hand_made):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS, window=2, contexts=3, min_count=1)
    odeon = next(s for s in report.phrases if s.phrase == "at the odeon")
    first, second = odeon.contexts
    assert (first.example_id, first.label, first.start) == ("e1", "pos", 3)
    assert (first.left, first.phrase, first.right) == ("watched it", "At The Odeon", "today")
    assert first.text() == "watched it [At The Odeon] today"
    assert (second.example_id, second.left, second.right) == ("e3", "", "again with")
    fewer = build_report(examples, masks, LABELS, contexts=1, min_count=1)
    assert all(len(s.contexts) <= 1 for s in fewer.phrases)


def test_report_rejects_masks_that_do_not_fit(hand_made):
    examples, masks, _ = hand_made
    with pytest.raises(RationalizerError, match=re.escape("no shortcut mask, e.g. 'e1'")):
        build_report(examples, {k: v for k, v in masks.items() if k != "e1"}, LABELS)
    with pytest.raises(RationalizerError, match="label 'pos' outside"):
        build_report(examples, masks, ("neg",))
    with pytest.raises(RationalizerError, match="top must be at least 1"):
        build_report(examples, masks, LABELS, top=0)


# ----------------------------------------------------------------------------- outputs


def test_json_round_trip(hand_made, tmp_path):
    examples, masks, predicted = hand_made
    report = build_report(examples, masks, LABELS, min_count=1, predicted=predicted)
    path = report.save_json(tmp_path / "shortcuts.json")
    assert ShortcutReport.load(path) == report
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert (payload["format"], payload["version"]) == ("rationalizer.shortcut-report", 6)
    assert payload["phrases"][0]["phrase"] == "at the odeon"


def test_todays_version_3_report_with_provenance_loads(hand_made, tmp_path):
    examples, masks, predicted = hand_made
    report = build_report(examples, masks, LABELS, min_count=1, predicted=predicted)
    path = _todays_file(tmp_path, 3, asdict(report), provenance={"version": "0.1.0"})
    assert ShortcutReport.load(path) == report


def test_made_by_is_saved_beside_the_report(hand_made, tmp_path):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS)
    path = report.save_json(tmp_path / "s.json", {"provenance": {"version": "1"}})
    assert json.loads(path.read_text(encoding="utf-8"))["provenance"] == {"version": "1"}
    assert ShortcutReport.load(path) == report
    with pytest.raises(ValueError, match="made_by"):
        report.save_json(tmp_path / "t.json", {"labels": []})


def test_empty_report_round_trips_and_renders(tmp_path):
    unannotated = make_example("u", "nothing marked", "pos", gold=None)
    report = build_report([unannotated], {}, LABELS)
    assert (report.annotated_examples, report.phrases, report.mean_shortcut_words) == (0, (), 0.0)
    assert ShortcutReport.load(report.save_json(tmp_path / "empty.json")) == report
    assert "| annotated examples | 0 |" in report.to_markdown()
    assert report.rich_table().row_count == 0


def _todays_file(tmp_path, version: int, fields: dict, **made_by) -> Path:
    """A shortcut report as rationalizer wrote it before the one file envelope (versions 1-3)."""
    path = tmp_path / f"version{version}.json"
    content = {"format": "rationalizer-shortcut-report", "version": version, "report": fields}
    path.write_text(json.dumps(content | made_by), encoding="utf-8")
    return path


def _edited(report: ShortcutReport, tmp_path, edit) -> str:
    payload = json.loads(report.save_json(tmp_path / "saved.json").read_text(encoding="utf-8"))
    edit(payload)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (lambda p: p.update(format="other"), "format", "not a rationalizer shortcut-report"),
        (lambda p: p.update(version=99), "version", "upgrade rationalizer"),
        (lambda p: p.pop("labels"), "labels", "required field is missing"),
        (lambda p: p["phrases"][0].update(count="3"), "phrases[0].count", "valid integer"),
        (
            lambda p: p["phrases"][0]["label_counts"].update(pos=9),
            "phrases[0].label_counts",
            "must add up to count",
        ),
        (
            lambda p: p["unigrams"][1].update(skew_label="maybe"),
            "unigrams[1].skew_label",
            "must be one of",
        ),
        (
            lambda p: p.update(annotated_examples=7),
            "label_counts",
            "add up to annotated_examples",
        ),
    ],
)
def test_load_names_file_and_field(hand_made, tmp_path, edit, field, message):
    examples, masks, _ = hand_made
    report = build_report(examples, masks, LABELS)
    path = _edited(report, tmp_path, edit)
    with pytest.raises(DataFormatError, match=message) as caught:
        ShortcutReport.load(path)
    assert caught.value.path == path
    assert caught.value.field == field


def test_load_reports_unreadable_files(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        ShortcutReport.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        ShortcutReport.load(broken)


def test_markdown_shows_numbers_table_and_contexts(hand_made):
    examples, masks, predicted = hand_made
    markdown = build_report(examples, masks, LABELS, predicted=predicted).to_markdown()
    assert "| annotated examples | 6 |" in markdown
    assert "| examples with ≥1 shortcut word | 5 (83.3%) |" in markdown
    assert "| shortcut rate (shortcut words / selected words) | 0.769 |" in markdown
    # rank 1: 2 examples, 2 occurrences, neg 1 / pos 1 → pos over-represented (prior 4:2)
    assert "| 1 | at the odeon | 2 | 2 | pos | 50% |" in markdown
    assert "### 1. at the odeon" in markdown
    assert "- `e1` (pos): i watched it **At The Odeon** today" in markdown
    assert "- `e3` (neg): at the odeon again **with my cousin** !" in markdown
    assert "- `e4` (neg): **with my cousin** ." in markdown  # nothing on the left


def test_markdown_escapes_table_characters():
    examples = [make_example(i, "a | b", "pos") for i in ("x", "y")]
    masks = {"x": np.array([1, 1, 1]), "y": np.array([1, 1, 1])}
    markdown = build_report(examples, masks, LABELS).to_markdown()
    assert "| 1 | a \\| b | 2 | 2 |" in markdown


def test_rich_table_lists_phrase_count_skew_and_example(hand_made):
    examples, masks, _ = hand_made
    table = build_report(examples, masks, LABELS).rich_table()
    console = Console(record=True, width=200)
    console.print(table)
    lines = console.export_text().splitlines()
    assert [column.header for column in table.columns] == [
        "#",
        "phrase",
        "count",
        "skew label",
        "share",
        "in rationales",
        "example",
    ]
    cousin = next(line for line in lines if "with my cousin" in line and "neg" in line)
    cells = [cell.strip() for cell in cousin.split("│")]
    assert cells[5:7] == ["100%", "0%"]  # all negative; never inside a (last-word) rationale
    assert "at the odeon again with my cousin !" in cousin  # the first context, from e3
    assert table.row_count == 2


# ----------------------------------------------------------------------------- discovery scores


def test_discovery_scores_by_hand():
    # planted "on a tuesday" in both; the masks find 2 of its 3 words in e1 and all in e2,
    # plus one wrong word in e2
    e1 = make_example("e1", "i went on a tuesday .", "pos", gold=((5, 6),), planted=((2, 5),))
    e2 = make_example("e2", "on a tuesday it rained", "pos", gold=((4, 5),), planted=((0, 3),))
    masks = {"e1": np.array([0, 0, 0, 1, 1, 0]), "e2": np.array([1, 1, 1, 1, 0])}
    scores = discovery_scores([e1, e2], masks, {"on a tuesday": "pos", "at the odeon": "pos"})
    assert (scores["discovered_words"], scores["planted_words"]) == (6, 6)
    assert scores["correct_words"] == 5
    assert scores["token_precision"] == pytest.approx(5 / 6)
    assert scores["token_recall"] == pytest.approx(5 / 6)
    # phrases: "a tuesday" (e1) and "on a tuesday it" (e2), one example each, so alphabetical.
    # "a tuesday" is a part of "on a tuesday" with a content word: a match; "on a tuesday it"
    # runs past the planted phrase: no match. k = 2 planted phrases.
    assert scores["k"] == 2
    assert scores["top_phrases"] == ["a tuesday", "on a tuesday it"]
    assert scores["planted_found"] == ["on a tuesday"]
    assert scores["phrase_precision"] == pytest.approx(1 / 2)  # 1 of the 2 top phrases matches
    assert scores["phrase_recall"] == pytest.approx(1 / 2)  # 1 of the 2 planted phrases found
    assert (scores["depth"], scores["phrase_recall_at_depth"]) == (20, pytest.approx(1 / 2))
    assert scores["planted"]["on a tuesday"] == {
        "label": "pos",
        "found": True,
        "matched": "a tuesday",
        "rank": 1,
        "skew_label": "pos",
    }
    assert scores["planted"]["at the odeon"] == {
        "label": "pos",
        "found": False,
        "matched": None,
        "rank": None,
        "skew_label": None,
    }


@pytest.mark.parametrize(
    ("discovered", "matches"),
    [
        ("at the odeon", True),  # the planted phrase itself
        ("At The Odeon", True),  # case does not matter
        ("odeon", True),  # the content word alone
        ("the odeon", True),
        ("at the", False),  # only stopwords: no evidence of this phrase
        ("the", False),
        ("at odeon", False),  # not contiguous in the planted phrase
        ("odeon at", False),
        ("the odeon today", False),  # runs past the phrase
        ("at the odeon .", True),  # punctuation at either end is ignored
        (", odeon !", True),
        ("the odeon , ,", True),
        ("at the .", False),  # without the full stop only stopwords are left
        ("at . odeon", False),  # punctuation inside the phrase is not
        (". ,", False),
    ],
)
def test_discovered_phrase_matches_a_planted_one_by_its_telling_parts(discovered, matches):
    words = discovered.split()
    text = " ".join([*words, "fine"])  # the gold word "fine" ends every example
    examples = [
        make_example(f"e{i}", text, "pos", gold=((len(words), len(words) + 1),), planted=())
        for i in range(2)
    ]
    masks = {ex.id: np.array([1] * len(words) + [0]) for ex in examples}
    scores = discovery_scores(examples, masks, {"at the odeon": "pos"})
    assert scores["top_phrases"] == [discovered.lower()]
    assert scores["planted"]["at the odeon"]["found"] is matches
    assert scores["phrase_recall"] == scores["phrase_precision"] == float(matches)
    assert scores["phrase_recall_at_depth"] == float(matches)


def _one_phrase_per_example(counts: dict[str, int]) -> tuple[list[Example], dict]:
    """Examples whose only shortcut is one phrase, ``counts[phrase]`` examples per phrase."""
    examples, masks = [], {}
    for phrase, count in counts.items():
        n = len(phrase.split())
        for i in range(count):
            example_id = f"{phrase}/{i}"
            text = f"{phrase} fine"  # the gold word "fine" ends every example
            examples.append(make_example(example_id, text, "neg", gold=((n, n + 1),), planted=()))
            masks[example_id] = np.array([1] * n + [0])
    return examples, masks


def test_phrase_precision_counts_top_phrases_and_recall_planted_ones():
    # three examples with "odeon" (rank 1), two with "the odeon" and two with "with my cousin"
    # (ranks 2 and 3, alphabetical: k = 3 planted phrases), one "on a tuesday" (rank 4, outside
    # the top k)
    examples, masks = _one_phrase_per_example(
        {"odeon": 3, "the odeon": 2, "with my cousin": 2, "on a tuesday": 1}
    )
    planted = {"at the odeon": "pos", "with my cousin": "neg", "on a tuesday": "pos"}
    scores = discovery_scores(examples, masks, planted)
    assert scores["top_phrases"] == ["odeon", "the odeon", "with my cousin"]
    assert scores["phrase_precision"] == 1.0  # every top phrase is (part of) a planted one
    assert scores["phrase_recall"] == pytest.approx(2 / 3)  # "on a tuesday" ranks 4th
    assert [p for p in planted if scores["planted"][p]["found"]] == [
        "at the odeon",
        "with my cousin",
    ]
    assert scores["planted"]["at the odeon"]["matched"] == "odeon"  # the best-ranked match
    assert scores["planted"]["on a tuesday"] == {
        "label": "pos",
        "found": False,
        "matched": "on a tuesday",
        "rank": 4,
        "skew_label": "neg",
    }


def test_phrase_recall_at_depth_counts_planted_phrases_a_reader_of_the_top_rows_sees():
    # "the odeon ." ranks 1st; 18 frequent fillers (ranks 2-19) push "with my cousin" to 20th
    # and "tuesday" to 21st
    fillers = {f"filler{i:02d}": 3 for i in range(18)}
    counts = {"the odeon .": 4, **fillers, "with my cousin": 2, "tuesday": 1}
    examples, masks = _one_phrase_per_example(counts)
    planted = {"at the odeon": "pos", "with my cousin": "neg", "on a tuesday": "pos"}
    scores = discovery_scores(examples, masks, planted)
    assert [scores["planted"][p]["rank"] for p in planted] == [1, 20, 21]
    assert scores["phrase_recall"] == pytest.approx(1 / 3)  # top k = 3: the odeon only
    assert scores["depth"] == 20
    assert scores["phrase_recall_at_depth"] == pytest.approx(2 / 3)
    deeper = discovery_scores(examples, masks, planted, depth=21)
    assert deeper["phrase_recall_at_depth"] == 1.0
    assert deeper["phrase_recall"] == scores["phrase_recall"]  # top-k metrics ignore the depth
    shallow = discovery_scores(examples, masks, planted, depth=1)
    assert shallow["phrase_recall_at_depth"] == pytest.approx(1 / 3)
    with pytest.raises(RationalizerError, match="depth"):
        discovery_scores(examples, masks, planted, depth=0)


def test_skew_ranking_lifts_planted_phrases_over_frequent_unskewed_words():
    # "." is selected in 8 examples of each label; the planted phrases in fewer, one label each
    planted = {"at the odeon": "pos", "with my cousin": "neg"}
    examples, masks = _labelled_rows(
        [
            (".", "neg", 8),
            (".", "pos", 8),
            ("at the odeon", "pos", 5),
            ("with my cousin", "neg", 4),
        ],
        planted=frozenset(planted),
    )
    by_count = discovery_scores(examples, masks, planted)
    by_skew = discovery_scores(examples, masks, planted, rank_by="skew")
    assert (by_count["rank_by"], by_skew["rank_by"]) == ("count", "skew")
    assert by_count["top_phrases"] == [".", "at the odeon"]
    assert by_count["phrase_recall"] == 0.5
    assert by_skew["top_phrases"] == ["at the odeon", "with my cousin"]
    assert by_skew["phrase_recall"] == by_skew["phrase_precision"] == 1.0
    # token scores do not depend on the ranking: 27 of the 43 discovered words are planted
    assert by_skew["token_precision"] == by_count["token_precision"] == pytest.approx(27 / 43)


def test_discovery_scores_need_planted_spans():
    example = make_example("e", "a b", "pos", gold=((0, 1),))
    with pytest.raises(RationalizerError, match="shortcut_spans"):
        discovery_scores([example], {"e": np.array([0, 1])}, {"x": "pos"})


@pytest.fixture(scope="module")
def synthetic_train():
    return load("synthetic", "train")


def _planted(example: Example) -> np.ndarray:
    spans = [Span(*s) for s in example.metadata["shortcut_spans"]]
    return spans_to_mask(spans, len(example.document))


def test_discovery_of_an_oracle_with_extra_gold_words(synthetic_train):
    # Oracle: every planted word, plus the first word of each example's first evidence span.
    masks = {}
    for example in synthetic_train:
        mask = _planted(example)
        first = example.rationale_spans()[0].start
        assert mask[first] == 0  # planted shortcuts never overlap evidence
        mask[first] = 1
        masks[example.id] = mask
    planted_words = sum(
        end - start for ex in synthetic_train for start, end in ex.metadata["shortcut_spans"]
    )
    scores = discovery_scores(synthetic_train, masks, PLANTED_SHORTCUTS)
    n = len(synthetic_train)
    assert scores["examples"] == n == 2000
    assert scores["planted_words"] == planted_words
    assert scores["token_recall"] == 1.0
    assert scores["token_precision"] == pytest.approx(planted_words / (planted_words + n))
    # each planted phrase occurs in ~400 reviews; a single evidence word in far fewer
    assert sorted(scores["top_phrases"]) == sorted(PLANTED_SHORTCUTS)
    assert scores["phrase_precision"] == scores["phrase_recall"] == 1.0
    assert scores["phrase_recall_at_depth"] == 1.0
    for phrase, label in PLANTED_SHORTCUTS.items():
        assert scores["planted"][phrase]["rank"] in {1, 2, 3, 4}
        assert scores["planted"][phrase]["skew_label"] == label  # 90% of its reviews


def test_discovery_of_a_random_mask_is_poor(synthetic_train):
    rng = np.random.default_rng(0)
    masks = {ex.id: (rng.random(len(ex.document)) < 0.1).astype(np.int8) for ex in synthetic_train}
    scores = discovery_scores(synthetic_train, masks, PLANTED_SHORTCUTS)
    total_words = sum(len(ex.document) for ex in synthetic_train)
    density = scores["planted_words"] / total_words
    # a mask that ignores content hits planted words at their density (~2%)
    assert scores["token_precision"] == pytest.approx(density, abs=0.01)
    assert scores["token_precision"] < 0.05
    assert scores["token_recall"] == pytest.approx(0.1, abs=0.02)
    assert scores["phrase_recall"] == scores["phrase_recall_at_depth"] == 0.0


# ----------------------------------------------------------------------------- skew filter


def _skew_corpus() -> list[Example]:
    """Twelve annotated reviews, half of each label; the gold rationale is the sentiment word.

    Outside the rationales, "odeon" occurs in five positive reviews and one negative one (a
    planted shortcut), "cinema" in four negative and one positive review (a weaker one), "the"
    and "film" in every review (no label signal), "rialto" in one (too rare to tell).
    """
    examples = []
    for i in range(12):
        label = "pos" if i % 2 else "neg"
        where = "odeon" if (label == "pos" and i != 11) or i == 0 else "cinema"
        if i == 4:
            where = "rialto"
        sentiment = "great" if label == "pos" else "awful"
        text = f"the film at the {where} was {sentiment}"
        examples.append(make_example(f"r{i}", text, label, gold=((6, 7),)))
    return examples


def test_word_label_skew_measures_label_signal_outside_human_rationales():
    examples = _skew_corpus()
    skew = word_label_skew(examples, LABELS)
    # "odeon": 5 pos + 1 neg reviews against a 6:6 prior → logit(6/8) − logit(7/14)
    assert skew["odeon"] == pytest.approx(math.log(3))
    assert skew["cinema"] == pytest.approx(math.log(2.5))  # 4 neg + 1 pos: logit(5/7) − 0
    assert skew["the"] == pytest.approx(0.0) and skew["film"] == pytest.approx(0.0)
    assert "rialto" not in skew  # one review: too little evidence
    # the sentiment words sit inside every rationale: they are no candidate at all
    assert "great" not in skew and "awful" not in skew
    assert "rialto" in word_label_skew(examples, LABELS, min_count=1)


def test_skew_filter_keeps_a_skewed_word_and_drops_balanced_and_rare_ones():
    examples = _skew_corpus()
    # the unsupervised run selected "the", "odeon"/"cinema"/"rialto" and the sentiment word
    predicted = {ex.id: np.array([1, 0, 0, 0, 1, 0, 1]) for ex in examples}
    candidates = shortcut_masks(examples, predicted)
    assert candidates["r1"].tolist() == [1, 0, 0, 0, 1, 0, 0]
    kept, dropped = skew_filter(examples, candidates, LABELS, min_skew=1.0)
    # only "odeon" survives, in the six reviews that mention it
    odeon = {ex.id for ex in examples if "odeon" in ex.document.tokens}
    assert len(odeon) == 6
    for example in examples:
        expected = [0, 0, 0, 0, 1, 0, 0] if example.id in odeon else [0] * 7
        assert kept[example.id].tolist() == expected, example.id
    assert dropped == 24 - 6  # 12 × "the", 5 × "cinema", 1 × "rialto" of 24 candidates
    # a lower threshold keeps the weaker "cinema" too
    weaker, dropped = skew_filter(examples, candidates, LABELS, min_skew=0.5)
    assert dropped == 13 and sum(int(m.sum()) for m in weaker.values()) == 11
    # no filter at 0; a filter stricter than the skew of "odeon" drops everything
    unfiltered, none_dropped = skew_filter(examples, candidates, LABELS, min_skew=0.0)
    assert none_dropped == 0 and unfiltered.keys() == candidates.keys()
    assert all(np.array_equal(unfiltered[i], candidates[i]) for i in candidates)
    nothing, all_dropped = skew_filter(examples, candidates, LABELS, min_skew=1.2)
    assert all_dropped == 24 and not any(m.any() for m in nothing.values())
    with pytest.raises(RationalizerError, match="min_skew"):
        skew_filter(examples, candidates, LABELS, min_skew=-1.0)


def test_the_report_records_what_the_skew_filter_dropped(tmp_path):
    examples = _skew_corpus()
    predicted = {ex.id: np.array([1, 0, 0, 0, 1, 0, 1]) for ex in examples}
    kept, dropped = skew_filter(examples, shortcut_masks(examples, predicted), LABELS, 1.0)
    report = build_report(
        examples, kept, LABELS, predicted=predicted, min_skew=1.0, filtered_words=dropped
    )
    assert (report.shortcut_words, report.filtered_words, report.candidate_words) == (6, 18, 24)
    assert report.selected_words == 36 and [p.phrase for p in report.phrases] == ["odeon"]
    assert ShortcutReport.load(report.save_json(tmp_path / "filtered.json")) == report
    markdown = report.to_markdown()
    assert "| candidates dropped by the label-skew filter (min skew 1) | 18 of 24 |" in markdown

    unfiltered = build_report(examples, shortcut_masks(examples, predicted), LABELS)
    fields = asdict(unfiltered)
    del fields["min_skew"], fields["filtered_words"]
    old = ShortcutReport.load(_todays_file(tmp_path, 2, fields))
    assert old == unfiltered and (old.min_skew, old.filtered_words) == (0.0, 0)

    def impossible(payload: dict) -> None:
        payload["filtered_words"] = 5  # without a filter nothing can be dropped

    with pytest.raises(DataFormatError, match="without a filter") as caught:
        ShortcutReport.load(_edited(unfiltered, tmp_path, impossible))
    assert caught.value.field == "filtered_words"


# ----------------------------------------------------------------------------- evidence filter


def _evidence_corpus() -> list[Example]:
    """Four annotated reviews and one without annotation. "mess" lies inside the rationale of
    r1 and r2 and outside it in r3 (where a rationalizer selects it): evidence elsewhere.
    "odeon" is never inside a rationale. r4 is annotated with an empty rationale."""
    return [
        make_example("r1", "what a mess of a film", "neg", gold=((2, 3),)),
        make_example("r2", "a Mess at the odeon", "neg", gold=((1, 2),)),
        make_example("r3", "the odeon mess was dull", "neg", gold=((4, 5),)),
        make_example("r4", "the odeon film", "pos", gold=()),
        make_example("u", "mess mess mess", "neg", gold=None),
    ]


def test_word_evidence_rates_count_every_annotated_occurrence_and_the_density():
    examples = _evidence_corpus()
    rates, density = word_evidence_rates(examples)
    assert rates["mess"] == pytest.approx(2 / 3)  # "Mess" counts as "mess"; "u" does not count
    assert rates["odeon"] == 0.0 and rates["dull"] == 1.0
    assert rates["film"] == 0.0  # r4's empty rationale is an annotation: "film" lies outside it
    assert density == pytest.approx(3 / 19)
    # the rates are the report's "in rationales" column for single words
    masks = shortcut_masks(examples, {ex.id: np.ones(len(ex.document), np.int8) for ex in examples})
    report = build_report(examples, masks, LABELS, min_count=1, top=None)
    shown = {stats.phrase: stats.evidence_rate for stats in report.unigrams}
    assert shown == {word: pytest.approx(rates[word]) for word in shown}
    assert report.rationale_density == pytest.approx(density)


def test_evidence_filter_drops_candidates_that_annotators_mark_as_rationale_elsewhere():
    examples = _evidence_corpus()
    # the rationalizer selected "the", "odeon" and "mess" in r3
    predicted = {ex.id: np.zeros(len(ex.document), np.int8) for ex in examples}
    predicted["r3"][:3] = 1
    candidates = shortcut_masks(examples, predicted)
    # "mess" is inside a rationale at 2/3 of its occurrences, 4.2 times the density 3/19
    kept, dropped = evidence_filter(examples, candidates, max_ratio=4.0)
    assert kept["r3"].tolist() == [1, 1, 0, 0, 0] and dropped == 1
    looser, none_dropped = evidence_filter(examples, candidates, max_ratio=4.5)
    assert looser["r3"].tolist() == [1, 1, 1, 0, 0] and none_dropped == 0
    # a word never inside a rationale stays however low the ratio
    strict, dropped = evidence_filter(examples, candidates, max_ratio=1e-6)
    assert strict["r3"].tolist() == [1, 1, 0, 0, 0] and dropped == 1
    off, dropped = evidence_filter(examples, candidates, max_ratio=0.0)
    assert dropped == 0 and all(np.array_equal(off[i], candidates[i]) for i in candidates)
    with pytest.raises(RationalizerError, match="max_ratio"):
        evidence_filter(examples, candidates, max_ratio=-1.0)


def test_without_any_rationale_word_the_evidence_filter_keeps_every_candidate():
    examples = [make_example(f"r{i}", "the odeon film", "pos", gold=()) for i in range(3)]
    candidates = {ex.id: np.ones(3, np.int8) for ex in examples}
    kept, dropped = evidence_filter(examples, candidates, max_ratio=2.0)
    assert dropped == 0 and all(mask.all() for mask in kept.values())


def test_the_report_records_what_the_evidence_filter_dropped(tmp_path):
    examples = _evidence_corpus()
    predicted = {ex.id: np.zeros(len(ex.document), np.int8) for ex in examples}
    predicted["r3"][:3] = 1
    kept, dropped = evidence_filter(examples, shortcut_masks(examples, predicted), 2.0)
    report = build_report(
        examples,
        kept,
        LABELS,
        min_count=1,
        predicted=predicted,
        max_evidence_ratio=2.0,
        evidence_filtered_words=dropped,
    )
    assert (report.shortcut_words, report.evidence_filtered_words) == (2, 1)
    assert report.candidate_words == 3
    assert "mess" not in {stats.phrase for stats in report.unigrams}
    assert ShortcutReport.load(report.save_json(tmp_path / "filtered.json")) == report
    assert (
        "| candidates dropped as evidence elsewhere (max evidence ratio 2) | 1 of 3 |"
        in report.to_markdown()
    )
    # reports of version 5 had no evidence filter
    fields = asdict(build_report(examples, shortcut_masks(examples, predicted), LABELS))
    del fields["max_evidence_ratio"], fields["evidence_filtered_words"]
    payload = {"format": "rationalizer.shortcut-report", "version": 5, **fields}
    (tmp_path / "v5.json").write_text(json.dumps(payload), encoding="utf-8")
    old = ShortcutReport.load(tmp_path / "v5.json")
    assert (old.max_evidence_ratio, old.evidence_filtered_words) == (0.0, 0)

    def impossible(payload: dict) -> None:
        payload["max_evidence_ratio"] = 0.0  # without a filter nothing can be dropped

    with pytest.raises(DataFormatError, match="without a filter") as caught:
        ShortcutReport.load(_edited(report, tmp_path, impossible))
    assert caught.value.field == "evidence_filtered_words"
