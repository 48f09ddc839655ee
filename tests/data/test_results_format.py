"""ERASER results files: round trips and a clear error for every kind of bad line."""

from __future__ import annotations

import json

import pytest
from tests.results_records import results_record

from rationalizer.data.example import Dataset, Document, Evidence, Example, Span
from rationalizer.data.results import (
    DocumentRationale,
    ResultRecord,
    ThresholdedScores,
    TokenSpan,
    read_results,
    write_results,
)
from rationalizer.errors import DataFormatError


@pytest.fixture()
def dataset() -> Dataset:
    doc_a = Document("da", ("a", "very", "good", "film"))
    doc_b = Document("db", ("a", "dull", "one"))
    return Dataset(
        "toy",
        "test",
        (
            Example("a", (doc_a,), "pos", evidence=((Evidence("da", Span(1, 3)),),)),
            Example("b", (doc_b,), "neg", evidence=((Evidence("db", Span(1, 2)),),)),
        ),
        labels=("neg", "pos"),
    )


def _write(tmp_path, lines: list[dict | str]):
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_round_trip(tmp_path, dataset):
    record = ResultRecord(
        annotation_id="a",
        rationales=(DocumentRationale("da", (TokenSpan(0, 2),), (0.5, 0.2, 0.1, 0.0)),),
        classification="pos",
        classification_scores={"neg": 0.25, "pos": 0.75},
        thresholded_scores=None,
    )
    path = tmp_path / "out.jsonl"
    assert write_results(path, [record]) == 1
    assert "soft_sentence_predictions" not in path.read_text()  # absent fields are left out
    path.write_text(
        path.read_text()
        + json.dumps(results_record("b", "db", 3, "neg") | {"thresholded_scores": None})
        + "\n"
    )
    # the second record has comprehensiveness scores the first lacks: all-or-none is enforced
    with pytest.raises(DataFormatError, match="line 2"):
        read_results(path, dataset)


def test_good_file_reads(tmp_path, dataset):
    path = _write(
        tmp_path, [results_record("a", "da", 4, "pos"), results_record("b", "db", 3, "neg")]
    )
    records = read_results(path, dataset)
    assert [r.annotation_id for r in records] == ["a", "b"]
    assert records[0].rationales[0].hard_rationale_predictions[0].to_span() == Span(1, 2)
    assert records[1].thresholded_scores[1] == ThresholdedScores(
        0.5, {"neg": 0.5, "pos": 0.5}, {"neg": 0.5, "pos": 0.5}
    )


def _mutated(**changes) -> dict:
    record = results_record("b", "db", 3, "neg")
    for dotted, value in changes.items():
        target = record
        *path, last = dotted.split("__")
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return record


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ('{"annotation_id": "b", "rationales": [', None, "not valid JSON"),
        (_mutated(classification="maybe"), "classification", "unknown label 'maybe'"),
        (_mutated(annotation_id="zzz"), "annotation_id", "not in toy/test"),
        (_mutated(rationales__0__docid="nope"), "rationales[0].docid", "unknown docid 'nope'"),
        (
            _mutated(
                rationales__0__hard_rationale_predictions=[{"start_token": 2, "end_token": 9}]
            ),
            "rationales[0].hard_rationale_predictions[0]",
            "out of range for document of 3 tokens",
        ),
        (
            _mutated(
                rationales__0__hard_rationale_predictions=[
                    {"start_token": 0, "end_token": 2},
                    {"start_token": 1, "end_token": 3},
                ]
            ),
            "rationales[0].hard_rationale_predictions[1]",
            "overlaps",
        ),
        (
            _mutated(rationales__0__soft_rationale_predictions=[0.1]),
            "rationales[0].soft_rationale_predictions",
            "1 scores for a document of 3",
        ),
        (
            _mutated(
                rationales__0__hard_rationale_predictions=[{"start_token": "1", "end_token": 2}]
            ),
            "rationales[0].hard_rationale_predictions[0].start_token",
            "valid integer",
        ),
        (
            _mutated(classification_scores={"neg": 0.3, "maybe": 0.7}),
            "classification_scores",
            "unknown label",
        ),
        (
            _mutated(classification_scores={"neg": -0.3, "pos": 0.7}),
            "classification_scores",
            "expected a probability",
        ),
        (_mutated(thresholded_scores=[]), "thresholded_scores", "is empty"),
        (_mutated(annotation_id="a"), "annotation_id", "duplicate id 'a'"),
        (_mutated(classifcation="neg"), "classifcation", "unknown field"),
        (_mutated(classification=None), "classification", "some records but not others"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, dataset, line, field, reason):
    path = _write(tmp_path, [results_record("a", "da", 4, "pos"), line])
    with pytest.raises(DataFormatError) as info:
        read_results(path, dataset)
    err = info.value
    assert err.path == str(path) and err.line == 2 and err.field == field
    assert reason in str(err)
    assert f"{path}, line 2" in str(err)


def test_empty_and_missing_files(tmp_path, dataset):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataFormatError, match="empty"):
        read_results(empty, dataset)
    with pytest.raises(DataFormatError, match="no such results file"):
        read_results(tmp_path / "missing.jsonl", dataset)


def test_classification_needs_its_scores(tmp_path, dataset):
    record = results_record("a", "da", 4, "pos")
    del record["classification_scores"], record["thresholded_scores"]
    with pytest.raises(DataFormatError, match="given together") as info:
        read_results(_write(tmp_path, [record]), dataset)
    assert info.value.line == 1 and info.value.field == "classification_scores"


def test_perturbed_scores_must_name_the_same_labels(tmp_path, dataset):
    record = results_record("a", "da", 4, "pos")
    record["comprehensiveness_classification_scores"] = {"pos": 0.4}
    with pytest.raises(DataFormatError, match="classification_scores for") as info:
        read_results(_write(tmp_path, [record]), dataset)
    assert info.value.field == "comprehensiveness_classification_scores"


def test_empty_thresholded_scores_are_rejected_and_never_written(tmp_path, dataset):
    record = results_record("a", "da", 4, "pos")
    record["thresholded_scores"] = []
    with pytest.raises(DataFormatError, match="is empty") as info:
        read_results(_write(tmp_path, [record]), dataset)
    assert info.value.line == 1 and info.value.field == "thresholded_scores"
    written = ResultRecord.single_document(
        "a",
        "da",
        [(0, 1)],
        [0.9, 0.1, 0.0, 0.0],
        ("neg", "pos"),
        [0.2, 0.8],
        [0.5, 0.5],
        [0.3, 0.7],
        [],
    )
    assert written.thresholded_scores is None


def test_repeated_threshold_is_rejected(tmp_path, dataset):
    record = results_record("a", "da", 4, "pos")
    record["thresholded_scores"].append(record["thresholded_scores"][0])
    with pytest.raises(DataFormatError, match="repeats a threshold"):
        read_results(_write(tmp_path, [record]), dataset)
