"""The example browser's records: spans, labels and token F1 exactly as in the inputs."""

from __future__ import annotations

import numpy as np
import pytest
from tests.report.sample_inputs import pseudo_records

from rationalizer.data import Dataset, Document, Evidence, Example, Span, merge_spans
from rationalizer.metrics import token_prf
from rationalizer.report.examples import PhraseFinder, browser_data
from rationalizer.report.inputs import ResultsInput


def as_input(name: str, dataset: Dataset, records) -> ResultsInput:
    return ResultsInput(name=name, path=None, dataset=dataset, records=tuple(records), scores={})


def spans_of(flat: list[int]) -> list[tuple[int, int]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def test_phrases_are_found_case_insensitively_and_merged():
    finder = PhraseFinder(["the film", "film is", "Odeon"])
    tokens = ["The", "film", "is", "at", "the", "ODEON", ",", "the", "film"]
    assert finder.spans(tokens) == (Span(0, 3), Span(5, 6), Span(7, 9))
    assert finder.spans(["the", "films", "is"]) == ()
    assert not PhraseFinder([])


def test_records_hold_the_predicted_and_gold_spans_of_the_files(synthetic_test):
    records = pseudo_records(synthetic_test)
    data = browser_data([as_input("pseudo", synthetic_test, records)])
    assert data["labels"] == ["neg", "pos"]
    assert data["runs"] == [{"name": "pseudo", "hard": True, "classes": True}]
    assert [e["id"] for e in data["examples"]] == [ex.id for ex in synthetic_test]
    for example, item, record in zip(synthetic_test, data["examples"], records, strict=True):
        [doc] = item["docs"]
        [run] = item["runs"]
        predicted = merge_spans(
            t.to_span() for t in record.rationales[0].hard_rationale_predictions
        )
        assert spans_of(run["spans"][0]) == [(s.start, s.end) for s in predicted]
        assert spans_of(doc["gold"]) == [(s.start, s.end) for s in example.rationale_spans()]
        assert doc["words"] == list(example.document.tokens)
        assert run["pred"] == record.classification
        assert run["probs"] == [
            pytest.approx(record.classification_scores[k], abs=1e-4) for k in ("neg", "pos")
        ]


def test_token_f1_per_example_averages_to_erasers_macro_token_f1(synthetic_test):
    records = pseudo_records(synthetic_test, seed=3)
    data = browser_data([as_input("pseudo", synthetic_test, records)])
    per_example = [e["runs"][0]["f1"] for e in data["examples"]]
    pred_masks = []
    for example, record in zip(synthetic_test, records, strict=True):
        mask = np.zeros(len(example.document), dtype=bool)
        for span in record.rationales[0].hard_rationale_predictions:
            mask[span.start_token : span.end_token] = True
        pred_masks.append(mask)
    macro = token_prf([ex.rationale_mask() for ex in synthetic_test], pred_masks)
    defined = [f for f in per_example if f is not None]
    assert np.mean(defined) == pytest.approx(macro["instance_macro"]["f1"], abs=1e-4)


def test_examples_of_several_files_are_shown_once_with_a_gap_where_one_has_none(synthetic_test):
    records = pseudo_records(synthetic_test)
    first = as_input("all", synthetic_test, records)
    second = as_input("half", synthetic_test, records[::2])
    data = browser_data([first, second])
    assert len(data["examples"]) == len(synthetic_test)
    assert [e["runs"][1] is None for e in data["examples"][:4]] == [False, True, False, True]


def test_multi_document_examples_keep_a_query_and_spans_per_document():
    docs = (Document("a", ("one", "two", "three")), Document("b", ("four", "five")))
    example = Example(
        id="x",
        documents=docs,
        label="yes",
        query="which number ?",
        evidence=((Evidence("b", Span(0, 1)),),),
    )
    dataset = Dataset("tiny", "test", (example,), ("no", "yes"))
    [record] = pseudo_records(dataset)
    data = browser_data([as_input("r", dataset, [record])], phrases=["TWO three", "five"])
    [item] = data["examples"]
    assert item["query"] == "which number ?"
    assert [d["docid"] for d in item["docs"]] == ["a", "b"]
    assert [d["gold"] for d in item["docs"]] == [[], [0, 1]]
    assert [d["shortcut"] for d in item["docs"]] == [[1, 3], [1, 2]]
    assert len(item["runs"][0]["spans"]) == 2
