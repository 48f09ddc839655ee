"""Hard-rationale metrics of ERASER: token and span P/R/F1, IOU F1, and our selection rate.

Every function takes one entry per *instance*, an (annotation id, document) pair in ERASER's
terms, in the same order for gold and prediction. ERASER's definitions, which these follow:

* ``instance_micro`` pools all instances: ``p = |T∩P| / |P|``, ``r = |T∩P| / |T|``, F1 of those.
* ``instance_macro`` averages over the instances with any gold *or* predicted unit (a token, or
  a span); an instance gets precision 0 without predictions and recall 0 without gold, and the
  macro F1 is the mean of the per-instance F1 values, not the F1 of the mean P and R.
* Gold and predicted spans are compared as sets: duplicates count once.
* IOU F1 (``partial_match_score``): each predicted span is a true positive when its best
  intersection-over-union with a gold span of its instance reaches the threshold. Recall divides
  the true positives by the number of gold spans, so two predicted halves of one gold span both
  count and recall can exceed 1. Its macro F1 *is* the F1 of macro P and macro R.

Where ERASER divides by zero (no predicted or no gold unit at all) we report 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rationalizer.data.example import Span
from rationalizer.metrics._ragged import Ragged, check_same_shape, positions_within

MaskLike = np.ndarray | Sequence[bool] | Sequence[int]
PRF = dict[str, float]
#: a half-open ``[start, end)`` span: a :class:`Span` or a plain ``(start, end)`` pair
SpanLike = Span | tuple[int, int]


def token_prf(truth_masks: Sequence[MaskLike], pred_masks: Sequence[MaskLike]) -> dict[str, PRF]:
    """ERASER's ``token_prf``: P/R/F1 of predicted tokens, micro and macro over instances."""
    truth = Ragged.from_arrays(truth_masks, bool)
    pred = Ragged.from_arrays(pred_masks, bool)
    check_same_shape(truth, pred, "token_prf")
    both = Ragged(truth.values & pred.values, truth.lengths)
    return _prf_from_counts(truth.sums(), pred.sums(), both.sums())


def rationale_prf(
    truth_spans: Sequence[Iterable[SpanLike]], pred_spans: Sequence[Iterable[SpanLike]]
) -> dict[str, PRF]:
    """ERASER's ``rationale_prf``: P/R/F1 of exactly matching spans, micro and macro."""
    truth, pred = _SpanTable.build(truth_spans), _SpanTable.build(pred_spans)
    _check_instances(truth, pred)
    # Rows are unique within each table, so a row seen twice is in both.
    rows, repeated = _sort_rows(np.concatenate([truth.rows, pred.rows]))
    hit_counts = np.bincount(rows[repeated, 0], minlength=truth.n_instances)
    return _prf_from_counts(truth.counts(), pred.counts(), hit_counts)


def iou_scores(
    truth_spans: Sequence[Iterable[SpanLike]],
    pred_spans: Sequence[Iterable[SpanLike]],
    thresholds: Sequence[float] = (0.5,),
) -> list[dict]:
    """ERASER's ``iou_scores``: one ``{threshold, micro, macro}`` entry per IOU threshold."""
    truth, pred = _SpanTable.build(truth_spans), _SpanTable.build(pred_spans)
    _check_instances(truth, pred)
    best = _best_iou(truth, pred)
    n_truth, n_pred = truth.counts(), pred.counts()
    has_truth, has_pred = n_truth > 0, n_pred > 0
    scores = []
    for threshold in thresholds:
        tp = np.bincount(pred.instance[best >= threshold], minlength=pred.n_instances)
        micro_p = _ratio(tp.sum(), n_pred.sum())
        micro_r = _ratio(tp.sum(), n_truth.sum())
        macro_p = _mean(tp[has_pred] / n_pred[has_pred])
        macro_r = _mean(tp[has_truth] / n_truth[has_truth])
        scores.append(
            {
                "threshold": threshold,
                "micro": {"p": micro_p, "r": micro_r, "f1": _f1(micro_p, micro_r)},
                "macro": {"p": macro_p, "r": macro_r, "f1": _f1(macro_p, macro_r)},
            }
        )
    return scores


def iou_f1(
    truth_spans: Sequence[Iterable[SpanLike]],
    pred_spans: Sequence[Iterable[SpanLike]],
    threshold: float = 0.5,
) -> dict:
    """IOU P/R/F1 at one threshold: ``{threshold, micro: {p, r, f1}, macro: {p, r, f1}}``."""
    return iou_scores(truth_spans, pred_spans, (threshold,))[0]


def selection_rate(pred_masks: Sequence[MaskLike]) -> dict[str, float]:
    """Fraction of tokens selected as rationale: pooled (micro) and per-document mean (macro).

    Not an ERASER metric; it shows how much text a rationalizer keeps, to compare with the
    density of the human rationales. Empty documents are left out of the macro mean.
    """
    pred = Ragged.from_arrays(pred_masks, bool)
    selected = pred.sums()
    nonempty = pred.lengths > 0
    return {
        "micro": _ratio(selected.sum(), pred.lengths.sum()),
        "macro": _mean(selected[nonempty] / pred.lengths[nonempty]),
    }


class _SpanTable:
    """Deduplicated spans of many instances: rows ``(instance, start, end)`` in sorted order."""

    def __init__(self, rows: np.ndarray, n_instances: int) -> None:
        self.rows, self.n_instances = rows, n_instances
        self.instance, self.start, self.end = rows[:, 0], rows[:, 1], rows[:, 2]

    @classmethod
    def build(cls, per_instance: Sequence[Iterable[SpanLike]]) -> _SpanTable:
        rows = [
            (i, *(span if isinstance(span, tuple) else (span.start, span.end)))
            for i, spans in enumerate(per_instance)
            for span in spans
        ]
        table = np.array(rows, dtype=np.int64).reshape(-1, 3)
        if ((table[:, 1] < 0) | (table[:, 1] > table[:, 2])).any():
            raise ValueError("spans must be half-open [start, end) with 0 <= start <= end")
        table, repeated = _sort_rows(table)
        return cls(table[~repeated], len(per_instance))

    def counts(self) -> np.ndarray:
        return np.bincount(self.instance, minlength=self.n_instances)


def _sort_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in sorted order, and which of them equal the row before."""
    rows = rows[np.lexsort(rows.T[::-1])]
    repeated = np.zeros(len(rows), dtype=bool)
    repeated[1:] = (rows[1:] == rows[:-1]).all(axis=1)
    return rows, repeated


def _check_instances(truth: _SpanTable, pred: _SpanTable) -> None:
    if truth.n_instances != pred.n_instances:
        raise ValueError(
            f"{truth.n_instances} gold instances but {pred.n_instances} predicted ones"
        )


def _best_iou(truth: _SpanTable, pred: _SpanTable) -> np.ndarray:
    """For every predicted span, its highest IOU with a gold span of the same instance (or 0)."""
    best = np.zeros(pred.instance.size)
    n_truth = truth.counts()
    first_truth = np.cumsum(n_truth) - n_truth
    # Pair every predicted span with every gold span of its instance.
    pairs_per_pred = n_truth[pred.instance]
    pred_idx = np.repeat(np.arange(pred.instance.size), pairs_per_pred)
    truth_idx = np.repeat(first_truth[pred.instance], pairs_per_pred) + positions_within(
        pairs_per_pred
    )
    ps, pe = pred.start[pred_idx], pred.end[pred_idx]
    ts, te = truth.start[truth_idx], truth.end[truth_idx]
    overlap = np.clip(np.minimum(pe, te) - np.maximum(ps, ts), 0, None)
    union = (pe - ps) + (te - ts) - overlap
    iou = np.divide(overlap, union, out=np.zeros(union.shape), where=union > 0)
    np.maximum.at(best, pred_idx, iou)
    return best


def _prf_from_counts(n_truth: np.ndarray, n_pred: np.ndarray, n_hit: np.ndarray) -> dict[str, PRF]:
    n_truth, n_pred, n_hit = (np.asarray(a, dtype=np.float64) for a in (n_truth, n_pred, n_hit))
    micro_p = _ratio(n_hit.sum(), n_pred.sum())
    micro_r = _ratio(n_hit.sum(), n_truth.sum())
    scored = (n_truth > 0) | (n_pred > 0)
    p = np.divide(n_hit, n_pred, out=np.zeros_like(n_hit), where=n_pred > 0)[scored]
    r = np.divide(n_hit, n_truth, out=np.zeros_like(n_hit), where=n_truth > 0)[scored]
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p > 0) & (r > 0))
    return {
        "instance_micro": {"p": micro_p, "r": micro_r, "f1": _f1(micro_p, micro_r)},
        "instance_macro": {"p": _mean(p), "r": _mean(r), "f1": _mean(f1)},
    }


def _f1(p: float, r: float) -> float:
    return 0.0 if p == 0 or r == 0 else 2 * p * r / (p + r)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else 0.0


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else 0.0
