"""Token/span P/R/F1, IOU F1 and selection rate: hand-computed cases and ERASER's quirks.

test_eraser_reference.py checks the same functions against ERASER's set-based definitions."""

from __future__ import annotations

import numpy as np
import pytest

from rationalizer.data.example import Span
from rationalizer.metrics import iou_f1, iou_scores, rationale_prf, selection_rate, token_prf


def mask(length: int, *positions: int) -> np.ndarray:
    out = np.zeros(length, dtype=bool)
    out[list(positions)] = True
    return out


def spans(*pairs: tuple[int, int]) -> list[Span]:
    return [Span(a, b) for a, b in pairs]


def test_token_prf_hand_computed():
    truth = [mask(6, 0, 1, 2), mask(3), mask(4, 0, 1), mask(2)]
    pred = [mask(6, 1, 2, 3), mask(3, 0), mask(4), mask(2)]
    scores = token_prf(truth, pred)
    # Micro: hits {1,2} = 2; |P| = 3 + 1 = 4; |T| = 3 + 2 = 5 -> p = 1/2, r = 2/5,
    # f1 = 2 * 1/2 * 2/5 / (1/2 + 2/5) = 4/9.
    assert scores["instance_micro"] == pytest.approx({"p": 0.5, "r": 0.4, "f1": 4 / 9})
    # Macro over instances 0-2 (instance 3 has neither gold nor predicted tokens):
    # instance 0: p = r = f1 = 2/3; instance 1 (prediction, no gold) and 2 (gold, no
    # prediction): p = r = f1 = 0 -> means 2/9.
    assert scores["instance_macro"] == pytest.approx({"p": 2 / 9, "r": 2 / 9, "f1": 2 / 9})


def test_macro_token_f1_is_the_mean_of_instance_f1s():
    # Instance A: gold {0,1,2,3}, pred {0}: p = 1, r = 1/4, f1 = 0.4.
    # Instance B: gold {0}, pred {0,1,2,3}: p = 1/4, r = 1, f1 = 0.4.
    # Mean P = mean R = 0.625 (their F1 would be 0.625), but ERASER's macro F1 is 0.4.
    truth = [mask(4, 0, 1, 2, 3), mask(4, 0)]
    pred = [mask(4, 0), mask(4, 0, 1, 2, 3)]
    assert token_prf(truth, pred)["instance_macro"] == pytest.approx(
        {"p": 0.625, "r": 0.625, "f1": 0.4}
    )


def test_token_prf_without_any_prediction_scores_zero():
    # ERASER divides by |P| = 0 here; we report 0.
    scores = token_prf([mask(3, 0)], [mask(3)])
    assert scores["instance_micro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}
    assert scores["instance_macro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_token_prf_rejects_mismatched_documents():
    with pytest.raises(ValueError, match="document 1 has 3 gold positions but 4 predicted"):
        token_prf([mask(2), mask(3)], [mask(2), mask(4)])
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted"):
        token_prf([mask(2), mask(3)], [mask(2)])


def test_rationale_prf_hand_computed():
    truth = [spans((0, 2), (5, 8)), spans((1, 3))]
    pred = [spans((0, 2), (5, 7)), []]
    scores = rationale_prf(truth, pred)
    # Instance 0: (0,2) matches exactly, (5,7) does not -> p = r = f1 = 1/2.
    # Instance 1: gold only -> 0, 0, 0.
    # Micro: 1 hit, |P| = 2, |T| = 3 -> p = 1/2, r = 1/3, f1 = 2 * 1/6 / (5/6) = 0.4.
    assert scores["instance_micro"] == pytest.approx({"p": 0.5, "r": 1 / 3, "f1": 0.4})
    assert scores["instance_macro"] == pytest.approx({"p": 0.25, "r": 0.25, "f1": 0.25})


def test_rationale_prf_counts_duplicate_spans_once():
    # (0,2) listed twice in gold (e.g. by two evidence groups) and pred: one gold, one pred span.
    scores = rationale_prf([spans((0, 2), (0, 2))], [[(0, 2), (0, 2)]])
    assert scores["instance_micro"] == {"p": 1.0, "r": 1.0, "f1": 1.0}


def test_iou_hand_computed_with_erasers_recall_above_one():
    truth = [spans((0, 4)), spans((0, 10)), [], spans((2, 5))]
    pred = [spans((0, 2), (2, 4)), spans((0, 4)), spans((1, 3)), []]
    at_half, at_04 = iou_scores(truth, pred, (0.5, 0.4))
    # IOUs: instance 0: both halves 2/4 = 0.5; instance 1: 4/10 = 0.4; instance 2: no gold -> 0.
    # At 0.5: TPs = 2 (both halves of one gold span). Gold spans 3, predicted spans 4.
    assert at_half["threshold"] == 0.5
    assert at_half["micro"] == pytest.approx({"p": 0.5, "r": 2 / 3, "f1": 4 / 7})
    # Macro recall over gold instances 0, 1, 3: (2/1 + 0 + 0) / 3; precision over predicted
    # instances 0, 1, 2: (2/2 + 0 + 0) / 3; F1 of those two means: 2 * 2/9 / 1 = 4/9.
    assert at_half["macro"] == pytest.approx({"p": 1 / 3, "r": 2 / 3, "f1": 4 / 9})
    # At 0.4 instance 1 also matches: micro r = 3/3, p = 3/4, f1 = 6/7;
    # macro r = (2 + 1 + 0)/3 = 1, p = (1 + 1 + 0)/3 = 2/3, f1 = 2 * 2/3 / (5/3) = 0.8.
    assert at_04["micro"] == pytest.approx({"p": 0.75, "r": 1.0, "f1": 6 / 7})
    assert at_04["macro"] == pytest.approx({"p": 2 / 3, "r": 1.0, "f1": 0.8})
    assert iou_f1(truth, pred, 0.4) == at_04


def test_iou_zero_length_spans_never_overlap():
    # ERASER: IOU is 0 when the union is empty; a zero-length gold span is still a gold span.
    result = iou_f1([[(3, 3)]], [[(3, 3)]], 0.5)
    assert result["micro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_selection_rate():
    # 3 of 10 tokens selected; per document 2/4 and 1/6 -> mean 1/3.
    rate = selection_rate([mask(4, 0, 1), mask(6, 2)])
    assert rate == pytest.approx({"micro": 0.3, "macro": 1 / 3})
