"""Soft-rationale metrics of ERASER: AUPRC, average precision and ROC AUC of token scores.

ERASER scores every document with scikit-learn: ``auc(recall, precision)`` on
``precision_recall_curve``, ``average_precision_score`` and ``roc_auc_score``. One such call
costs about a millisecond, which makes 10,000 documents take tens of seconds, so this module
computes the same curves for all documents at once. The definitions are scikit-learn's exactly
(and the tests check them against scikit-learn on random inputs with ties):

* the curves have one point per *distinct* score of a document, taken in decreasing order;
* the precision–recall curve starts at (recall 0, precision 1); AUPRC is its trapezoidal area;
* average precision is the step sum ``Σ (R_i − R_{i−1}) · P_i``;
* the ROC curve starts at (0, 0); ROC AUC is its trapezoidal area;
* a document without gold tokens gets recall 1 at every threshold (so its AUPRC is 0.5), as
  scikit-learn defines it since 1.1 (earlier releases gave NaN, which made ERASER's mean NaN);
  ERASER averages AUPRC over *all* documents, but skips documents whose gold mask is all-0 or
  all-1 for average precision and ROC AUC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rationalizer.metrics._ragged import Ragged, check_same_shape

MaskLike = np.ndarray | Sequence[bool] | Sequence[int]
ScoresLike = np.ndarray | Sequence[float]


def soft_scores_per_document(
    truths: Sequence[MaskLike], scores: Sequence[ScoresLike]
) -> dict[str, np.ndarray]:
    """AUPRC, average precision and ROC AUC of every document (NaN where undefined).

    ``truths[i]`` is the gold 0/1 mask of document ``i`` and ``scores[i]`` its token scores.
    Average precision and ROC AUC are NaN for documents whose gold mask has a single class.
    """
    return _per_document(Ragged.from_arrays(truths, bool), Ragged.from_arrays(scores, np.float64))


def token_soft_metrics(
    truths: Sequence[MaskLike], scores: Sequence[ScoresLike]
) -> dict[str, float | None]:
    """ERASER's ``token_soft_metrics``: per-document scores averaged over documents.

    AUPRC averages over all documents; average precision and ROC AUC over documents with both
    gold and non-gold tokens, and are None when there is none (ERASER would report NaN). With
    no document at all, every score is 0.0, as in ERASER.
    """
    if len(truths) == 0:
        return {"auprc": 0.0, "average_precision": 0.0, "roc_auc_score": 0.0}
    per_document = soft_scores_per_document(truths, scores)
    return {
        "auprc": float(np.mean(per_document["auprc"])),
        "average_precision": _mean_where_defined(per_document["average_precision"]),
        "roc_auc_score": _mean_where_defined(per_document["roc_auc_score"]),
    }


def auprc(truth: MaskLike, scores: ScoresLike) -> float:
    """Area under the precision–recall curve of one document (scikit-learn's definition)."""
    return float(soft_scores_per_document([truth], [scores])["auprc"][0])


def _mean_where_defined(values: np.ndarray) -> float | None:
    defined = values[~np.isnan(values)]
    return float(np.mean(defined)) if defined.size else None


def _per_document(truth: Ragged, score: Ragged) -> dict[str, np.ndarray]:
    check_same_shape(truth, score, "soft rationale scores")
    empty = np.flatnonzero(truth.lengths == 0)
    if empty.size:
        raise ValueError(f"soft rationale scores: document {int(empty[0])} has no tokens")
    if not np.isfinite(score.values).all():
        raise ValueError("soft rationale scores contain NaN or infinity")
    doc_of_value = truth.segment_ids()
    order = _rank_within_documents(score.values, doc_of_value)
    ranked_scores = score.values[order]
    cumulative = np.cumsum(truth.values[order], dtype=np.float64)
    doc_starts, doc_ends = truth.starts, np.cumsum(truth.lengths) - 1
    positives = np.diff(cumulative[doc_ends], prepend=0.0)
    negatives = truth.lengths - positives

    # A curve point sits at the last token of every run of equal scores within a document.
    is_point = np.ones(ranked_scores.size, dtype=bool)
    is_point[:-1] = ranked_scores[1:] != ranked_scores[:-1]
    is_point[doc_ends] = True
    point = np.flatnonzero(is_point)
    doc = doc_of_value[point]
    tp = cumulative[point] - (cumulative[doc_ends] - positives)[doc]
    fp = (point - doc_starts[doc] + 1) - tp
    precision = tp / (tp + fp)
    doc_positives = positives[doc]
    recall = np.divide(tp, doc_positives, out=np.ones_like(tp), where=doc_positives > 0)

    # Each document's curve starts at (recall 0, precision 1) and at (fp 0, tp 0).
    first = np.searchsorted(doc, np.arange(len(truth)))
    d_recall = _step(recall, first)
    d_fp = _step(fp, first)
    auprc_values = np.add.reduceat(
        d_recall * (precision + _previous(precision, first, 1.0)) / 2.0, first
    )
    average_precision = np.add.reduceat(d_recall * precision, first)
    roc_twice_area = np.add.reduceat(d_fp * (tp + _previous(tp, first, 0.0)), first)

    two_classes = (positives > 0) & (negatives > 0)
    pairs = np.where(two_classes, positives * negatives, 1.0)
    return {
        "auprc": auprc_values,
        "average_precision": np.where(two_classes, average_precision, np.nan),
        "roc_auc_score": np.where(two_classes, roc_twice_area / (2.0 * pairs), np.nan),
    }


def _rank_within_documents(values: np.ndarray, doc_of_value: np.ndarray) -> np.ndarray:
    """Order that groups values by document and sorts each document by decreasing value.

    Ties may come in any order: the curves only use the last position of a run of equal
    scores. Two unstable sorts (by score, then by a unique integer key) are much faster than
    one stable ``lexsort`` on millions of tokens.
    """
    global_rank = np.empty(values.size, dtype=np.int64)
    global_rank[np.argsort(-values)] = np.arange(values.size)
    return np.argsort(doc_of_value * values.size + global_rank)


def _previous(values: np.ndarray, first: np.ndarray, start: float) -> np.ndarray:
    """Each curve point's predecessor in its document; ``start`` before a document's first."""
    shifted = np.empty_like(values)
    shifted[1:] = values[:-1]
    shifted[first] = start
    return shifted


def _step(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Increase over the previous curve point of the document (from 0 at its first point)."""
    return values - _previous(values, first, 0.0)
