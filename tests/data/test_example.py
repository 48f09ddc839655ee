"""The data model: span/mask conversions and the invariants examples enforce."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rationalizer.data.example import (
    Dataset,
    Document,
    Evidence,
    Example,
    Span,
    mask_to_spans,
    merge_spans,
    spans_to_mask,
)


@given(st.lists(st.booleans(), max_size=200))
def test_mask_spans_mask_round_trip(bits):
    mask = np.array(bits, dtype=np.int8)
    spans = mask_to_spans(mask)
    assert np.array_equal(spans_to_mask(spans, len(mask)), mask)
    # maximal runs: disjoint, sorted, separated by at least one unselected position
    for left, right in itertools.pairwise(spans):
        assert left.end < right.start


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10)), max_size=20))
def test_merge_spans_is_union(pairs):
    spans = [Span(a, a + n) for a, n in pairs]
    merged = merge_spans(spans)
    covered = {t for s in spans for t in s.positions()}
    assert {t for s in merged for t in s.positions()} == covered
    assert merged == mask_to_spans(spans_to_mask(merged, 61))


def test_known_mask():
    assert mask_to_spans([0, 1, 1, 0, 1]) == (Span(1, 3), Span(4, 5))
    assert spans_to_mask([Span(0, 2), Span(3, 4)], 5).tolist() == [1, 1, 0, 1, 0]
    assert mask_to_spans([]) == ()


def test_span_rejects_negative_and_reversed():
    with pytest.raises(ValueError):
        Span(-1, 2)
    with pytest.raises(ValueError):
        Span(3, 2)


def test_spans_to_mask_rejects_out_of_range():
    with pytest.raises(ValueError, match="exceeds document length 3"):
        spans_to_mask([Span(1, 4)], 3)


def _doc(docid: str, n: int) -> Document:
    return Document(docid, tuple(f"w{i}" for i in range(n)))


def test_rationale_is_union_of_evidence_groups():
    doc = _doc("d", 10)
    groups = ((Evidence("d", Span(1, 3)),), (Evidence("d", Span(2, 5)), Evidence("d", Span(8, 9))))
    ex = Example("a", (doc,), "pos", evidence=groups)
    assert ex.rationale_spans() == (Span(1, 5), Span(8, 9))
    assert ex.rationale_mask().tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 1, 0]
    assert ex.has_rationale and ex.is_annotated


def test_annotated_but_empty_versus_unannotated():
    doc = _doc("d", 4)
    empty = Example("a", (doc,), "neg", evidence=((),))
    none = Example("b", (doc,), "neg")
    assert empty.is_annotated and not empty.has_rationale
    assert not none.is_annotated and not none.has_rationale
    assert empty.rationale_mask().sum() == 0


def test_example_validates_evidence():
    doc = _doc("d", 4)
    with pytest.raises(ValueError, match="unknown docid"):
        Example("a", (doc,), "pos", evidence=((Evidence("x", Span(0, 1)),),))
    with pytest.raises(ValueError, match="exceeds document"):
        Example("a", (doc,), "pos", evidence=((Evidence("d", Span(0, 5)),),))
    with pytest.raises(ValueError, match="no document"):
        Example("a", (), "pos")


def test_example_is_frozen_and_metadata_read_only():
    ex = Example("a", (_doc("d", 2),), "pos", metadata={"source": "x"})
    with pytest.raises(AttributeError):
        ex.label = "neg"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ex.metadata["source"] = "y"  # type: ignore[index]


def test_multi_document_example_requires_docid():
    ex = Example(
        "a", (_doc("d1", 2), _doc("d2", 3)), "pos", evidence=((Evidence("d2", Span(0, 1)),),)
    )
    with pytest.raises(ValueError, match="2 documents"):
        _ = ex.document
    assert ex.rationale_mask("d2").tolist() == [1, 0, 0]
    assert ex.rationale_mask("d1").tolist() == [0, 0]


def test_document_sentences():
    doc = Document("d", ("a", "b", "c", "d"), sentence_starts=(0, 3))
    assert doc.sentences() == (Span(0, 3), Span(3, 4))
    assert Document("e", ("a", "b")).sentences() == (Span(0, 2),)


def test_dataset_rejects_unknown_label():
    ex = Example("a", (_doc("d", 2),), "maybe")
    with pytest.raises(ValueError, match="label 'maybe'"):
        Dataset("toy", "test", (ex,), labels=("neg", "pos"))
