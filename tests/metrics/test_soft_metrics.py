"""AUPRC, average precision and ROC AUC: hand-computed curves and scikit-learn equivalence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from rationalizer.metrics import auprc, soft_scores_per_document, token_soft_metrics

# Gold [1, 0, 1, 0], scores [0.9, 0.8, 0.8, 0.1]: the 0.8 tie holds one gold and one non-gold
# token. Curve points (one per distinct score, decreasing):
#   0.9: tp 1 fp 0 -> precision 1,   recall 1/2, fpr 0
#   0.8: tp 2 fp 1 -> precision 2/3, recall 1,   fpr 1/2
#   0.1: tp 2 fp 2 -> precision 1/2, recall 1,   fpr 1
# AUPRC from (0, 1): 1/2 * (1 + 1)/2 + 1/2 * (1 + 2/3)/2 + 0 = 1/2 + 5/12 = 11/12.
# AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.  ROC AUC: 1/2 * (1/2 + 1)/2 + 1/2 * 1 = 7/8
# (= pairs won 3 + tie 1/2, over 4 pairs).
TIED_TRUTH, TIED_SCORES = [1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1]


def test_hand_computed_curve_with_a_tie():
    per = soft_scores_per_document([TIED_TRUTH], [TIED_SCORES])
    assert per["auprc"][0] == pytest.approx(11 / 12)
    assert per["average_precision"][0] == pytest.approx(5 / 6)
    assert per["roc_auc_score"][0] == pytest.approx(7 / 8)
    assert auprc(TIED_TRUTH, TIED_SCORES) == pytest.approx(11 / 12)


def test_single_class_documents_count_for_auprc_only():
    # All-negative: recall is 1 at every threshold (scikit-learn), precision 0 -> the curve goes
    # from (0, 1) to (1, 0): AUPRC 1/2. All-positive: precision 1 everywhere -> AUPRC 1.
    truths = [TIED_TRUTH, [0, 0, 0], [1, 1]]
    scores = [TIED_SCORES, [0.2, 0.5, 0.2], [0.3, 0.7]]
    per = soft_scores_per_document(truths, scores)
    assert per["auprc"] == pytest.approx([11 / 12, 0.5, 1.0])
    assert np.isnan(per["average_precision"][1:]).all()
    assert np.isnan(per["roc_auc_score"][1:]).all()
    # ERASER: AUPRC averages all documents, AP and ROC AUC skip single-class ones.
    assert token_soft_metrics(truths, scores) == pytest.approx(
        {"auprc": (11 / 12 + 0.5 + 1.0) / 3, "average_precision": 5 / 6, "roc_auc_score": 7 / 8}
    )


def test_undefined_and_empty_aggregates():
    assert token_soft_metrics([[0, 0]], [[0.1, 0.2]]) == {
        "auprc": 0.5,
        "average_precision": None,
        "roc_auc_score": None,
    }
    # ERASER returns 0.0 for every score when nothing is scored.
    assert token_soft_metrics([], []) == {
        "auprc": 0.0,
        "average_precision": 0.0,
        "roc_auc_score": 0.0,
    }


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="has 2 gold positions but 3 predicted"):
        soft_scores_per_document([[1, 0]], [[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="document 1 has no tokens"):
        soft_scores_per_document([[1], []], [[0.1], []])
    with pytest.raises(ValueError, match="NaN or infinity"):
        soft_scores_per_document([[1, 0]], [[0.1, float("nan")]])


def sklearn_scores(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """ERASER's per-document calls; NaN where ERASER skips the document."""
    y = truth.astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns on single-class documents
        precision, recall, _ = precision_recall_curve(y, scores)
        area = auc(recall, precision)
    if y.all() or not y.any():
        return area, float("nan"), float("nan")
    return area, average_precision_score(y, scores), roc_auc_score(y, scores)


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_curves_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    truths, scores = [], []
    for _ in range(400):
        length = int(rng.integers(1, 40))
        truth = rng.random(length) < rng.random()
        kind = rng.integers(0, 5)
        if kind == 0:
            truth[:] = False
        elif kind == 1:
            truth[:] = True
        # Coarse scores make many ties; some documents have a single repeated score.
        if kind == 2:
            doc_scores = np.full(length, 0.3)
        elif kind == 3:
            doc_scores = rng.integers(0, 4, length) / 3
        else:
            doc_scores = rng.normal(size=length)
        truths.append(truth)
        scores.append(doc_scores)
    per = soft_scores_per_document(truths, scores)
    expected = np.array([sklearn_scores(t, s) for t, s in zip(truths, scores, strict=True)])
    got = np.column_stack([per["auprc"], per["average_precision"], per["roc_auc_score"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    aggregate = token_soft_metrics(truths, scores)
    assert aggregate["auprc"] == pytest.approx(np.mean(expected[:, 0]), abs=1e-12)
    assert aggregate["average_precision"] == pytest.approx(np.nanmean(expected[:, 1]), abs=1e-12)
    assert aggregate["roc_auc_score"] == pytest.approx(np.nanmean(expected[:, 2]), abs=1e-12)
