"""Score ERASER results records against a dataset split, as ERASER's ``metrics.py`` does.

The report has ERASER's shape and key names (``iou_scores``, ``rationale_prf``, ``token_prf``,
``token_soft_metrics``, ``classification_scores``), and every number follows ERASER's
definition (see :mod:`~rationalizer.metrics.hard`, :mod:`~rationalizer.metrics.soft`,
:mod:`~rationalizer.metrics.faithfulness`). Where we differ, it is on purpose:

* **Which sections.** ERASER looks only at the first record to decide whether hard rationales,
  soft scores or classifications are present; we compute a section when *any* record carries
  the field (the results reader already demands all-or-none for the optional fields). Hard
  predictions count as given when a document lists ``hard_rationale_predictions``, even an
  empty list, so a model that never selects anything scores 0 instead of being skipped.
* **Coverage.** ERASER takes the truth from every annotation of the split but crashes on a
  missing record only when scoring classifications; missing records would otherwise silently
  count as empty rationales. We raise :class:`MissingPredictionsError` unless ``subset=True``,
  which restricts the truth to the examples that have a record.
* **Extras.** ``selection_rate`` (share of tokens predicted as rationale) always accompanies
  hard-rationale metrics. When the scored examples mix examples with and without a gold
  rationale (HateXplain's non-toxic posts have none), ``annotated_only`` repeats the
  rationale sections on the examples with one, as HateXplain reports them.
* **Undefined values.** Where ERASER divides by zero we report 0; where it averages nothing
  (average precision or ROC AUC with no two-class document) we report None instead of NaN.
* ``sentence_soft_metrics`` is not computed: examples do not keep ERASER's sentence indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rationalizer.data.example import Dataset, Document, Example, Span
from rationalizer.data.labels import LabelMap, relabel, result_labels
from rationalizer.data.results import ResultRecord, validate_results
from rationalizer.errors import RationalizerError
from rationalizer.metrics.classification import classification_metrics
from rationalizer.metrics.faithfulness import (
    aopc,
    comprehensiveness,
    entropy_drop,
    kl_divergence,
    sufficiency,
)
from rationalizer.metrics.hard import iou_scores, rationale_prf, selection_rate, token_prf
from rationalizer.metrics.info import ANNOTATED_ONLY
from rationalizer.metrics.soft import token_soft_metrics

DEFAULT_IOU_THRESHOLDS = (0.5,)
DEFAULT_AOPC_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.5)
_PERTURBATIONS = {"comprehensiveness": comprehensiveness, "sufficiency": sufficiency}


class MissingPredictionsError(RationalizerError):
    """Some examples of the split have no results record (and ``subset`` was not asked for)."""

    def __init__(self, missing: Sequence[str], dataset: Dataset) -> None:
        self.missing = tuple(missing)
        shown = ", ".join(repr(i) for i in self.missing[:10])
        more = f" and {len(self.missing) - 10} more" if len(self.missing) > 10 else ""
        super().__init__(
            f"{len(self.missing)} of {len(dataset)} examples of {dataset.name}/{dataset.split} "
            f"have no prediction: {shown}{more}. ERASER scores the whole split; to score only "
            "the predicted examples, pass subset=True (--subset)."
        )


class EvaluationReport(dict):
    """The report :func:`evaluate` returns: a plain ``dict`` in ERASER's shape (JSON-able,
    compared and indexed as before) that a notebook shows as the HTML report's metric table."""

    def _repr_html_(self) -> str:
        from rationalizer.report.notebook import evaluation_html

        return evaluation_html(self)


def evaluate(
    dataset: Dataset,
    records: Sequence[ResultRecord],
    *,
    iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    aopc_thresholds: Sequence[float] | None = DEFAULT_AOPC_THRESHOLDS,
    subset: bool = False,
    check: bool = True,
    label_map: LabelMap | None = None,
) -> EvaluationReport:
    """Every metric the records allow, as a JSON-able dict in ERASER's shape (an
    :class:`EvaluationReport`, which notebooks display as a table).

    Records are first checked against the dataset (errors name the 1-based record position as
    the line); pass ``check=False`` for records that :func:`read_results` already checked.
    ``aopc_thresholds=None`` uses the thresholds found in the records. ``label_map``
    (``{"neg": "NEG"}``: the records' label → the dataset's) scores records whose labels
    differ from the dataset's; labels that differ only in case are matched with a
    :class:`~rationalizer.data.labels.LabelsMatchedWarning`.
    """
    records = list(records)
    if not records:
        raise RationalizerError(f"no results records to score against {dataset.name}")
    dataset = relabel(dataset, result_labels(records), label_map, of="the results")
    if check:
        validate_results(list(enumerate(records, start=1)), dataset)
    by_id = {record.annotation_id: record for record in records}
    missing = [ex.id for ex in dataset if ex.id not in by_id]
    if missing and not subset:
        raise MissingPredictionsError(missing, dataset)
    pairs = [(ex, by_id[ex.id]) for ex in dataset if ex.id in by_id]

    documents = [_DocumentScores.of(ex, rec, doc) for ex, rec in pairs for doc in ex.documents]
    has_hard = any(d.pred_spans is not None for d in documents)
    has_soft = any(d.soft is not None for d in documents)
    report = EvaluationReport(_rationale_sections(documents, has_hard, has_soft, iou_thresholds))
    annotated = [d for d in documents if d.example_has_rationale]
    if report and 0 < len(annotated) < len(documents):
        report[ANNOTATED_ONLY] = _rationale_sections(annotated, has_hard, has_soft, iou_thresholds)
    if any(rec.classification is not None for _, rec in pairs):
        report["classification_scores"] = _classification_section(
            pairs, dataset.labels, aopc_thresholds
        )
    return report


@dataclass(frozen=True)
class _DocumentScores:
    """Gold and predicted rationale of one document of one example (an ERASER instance)."""

    example_has_rationale: bool
    truth_spans: frozenset[Span]
    truth_mask: np.ndarray
    length: int
    pred_spans: frozenset[tuple[int, int]] | None
    soft: np.ndarray | None

    @classmethod
    def of(cls, example: Example, record: ResultRecord, doc: Document) -> _DocumentScores:
        # ERASER's span-level truth keeps each group's spans as they are (no merging), once each.
        truth_spans = frozenset(
            ev.span for group in example.evidence or () for ev in group if ev.docid == doc.docid
        )
        predicted = next((r for r in record.rationales if r.docid == doc.docid), None)
        hard = None if predicted is None else predicted.hard_rationale_predictions
        soft = None if predicted is None else predicted.soft_rationale_predictions
        return cls(
            example_has_rationale=example.has_rationale,
            truth_spans=truth_spans,
            truth_mask=example.rationale_mask(doc.docid),
            length=len(doc),
            pred_spans=None
            if hard is None
            else frozenset((t.start_token, t.end_token) for t in hard),
            soft=None if soft is None else np.asarray(soft, dtype=np.float64),
        )

    def pred_mask(self) -> np.ndarray:
        mask = np.zeros(self.length, dtype=bool)
        for start, end in self.pred_spans or ():
            mask[start:end] = True
        return mask


def _rationale_sections(
    documents: Sequence[_DocumentScores],
    has_hard: bool,
    has_soft: bool,
    iou_thresholds: Sequence[float],
) -> dict:
    sections: dict = {}
    if has_hard:
        truth_spans = [d.truth_spans for d in documents]
        pred_spans = [d.pred_spans or frozenset() for d in documents]
        truth_masks = [d.truth_mask for d in documents]
        pred_masks = [d.pred_mask() for d in documents]
        sections["iou_scores"] = iou_scores(truth_spans, pred_spans, tuple(iou_thresholds))
        sections["rationale_prf"] = rationale_prf(truth_spans, pred_spans)
        sections["token_prf"] = token_prf(truth_masks, pred_masks)
        sections["selection_rate"] = selection_rate(pred_masks)
    if has_soft:
        # ERASER pairs soft scores only with the documents a record lists.
        scored = [(d.truth_mask, d.soft) for d in documents if d.soft is not None]
        sections["token_soft_metrics"] = token_soft_metrics(
            [truth for truth, _ in scored], [soft for _, soft in scored]
        )
    return sections


def _classification_section(
    pairs: Sequence[tuple[Example, ResultRecord]],
    labels: Sequence[str],
    aopc_thresholds: Sequence[float] | None,
) -> dict:
    records = [rec for _, rec in pairs]
    predictions = [_prediction(rec) for rec in records]
    section = classification_metrics(
        [ex.label for ex, _ in pairs], [label for label, _ in predictions], labels
    )
    section.update(dict.fromkeys(_FAITHFULNESS_KEYS))
    column = {label: i for i, label in enumerate(labels)}
    target = np.array([column[label] for label, _ in predictions])
    full = np.array([_probabilities(scores, column) for _, scores in predictions])
    for kind, metric in _PERTURBATIONS.items():
        field = f"{kind}_classification_scores"
        if any(getattr(rec, field) is not None for rec in records):
            perturbed = np.array([_probabilities(getattr(rec, field), column) for rec in records])
            section[kind] = metric(full, perturbed, target)
            section[f"{kind}_entropy"] = entropy_drop(full, perturbed)
            section[f"{kind}_kl"] = kl_divergence(full, perturbed)
    if any(rec.thresholded_scores is not None for rec in records):
        thresholds = _aopc_thresholds(records, aopc_thresholds)
        section["aopc_thresholds"] = thresholds
        for kind in _PERTURBATIONS:
            field = f"{kind}_classification_scores"
            curve = aopc(full, _thresholded(records, thresholds, field, column), target)
            section[f"{kind}_aopc"] = curve.score
            section[f"{kind}_aopc_points"] = list(curve.points)
    return section


def _prediction(record: ResultRecord) -> tuple[str, dict[str, float]]:
    """The record's label and scores; classification is scored only when every record has one."""
    if record.classification is None or record.classification_scores is None:
        raise RationalizerError(
            f"record {record.annotation_id!r} has no classification, but other records do"
        )
    return record.classification, record.classification_scores


_FAITHFULNESS_KEYS = (
    "comprehensiveness",
    "sufficiency",
    "comprehensiveness_entropy",
    "comprehensiveness_kl",
    "sufficiency_entropy",
    "sufficiency_kl",
    "aopc_thresholds",
    "comprehensiveness_aopc",
    "comprehensiveness_aopc_points",
    "sufficiency_aopc",
    "sufficiency_aopc_points",
)


def _probabilities(scores: Mapping[str, float], column: Mapping[str, int]) -> np.ndarray:
    """One distribution as a row in label order; labels a record leaves out get 0.

    ERASER compares a perturbed distribution with the full one label by label (KL), so both
    must name the same labels; a label absent from both adds nothing to entropy or KL.
    """
    row = np.zeros(len(column))
    for label, probability in scores.items():
        row[column[label]] = probability
    return row


def _aopc_thresholds(
    records: Sequence[ResultRecord], requested: Sequence[float] | None
) -> list[float]:
    available = sorted({t.threshold for t in records[0].thresholded_scores or ()})
    if requested is None:
        return available
    wanted = sorted(set(requested))
    absent = [t for t in wanted if t not in available]
    if absent:
        raise RationalizerError(
            f"AOPC thresholds {absent} are not in the results, which have {available}; "
            "ask for those, or pass aopc_thresholds=None to use them all"
        )
    return wanted


def _thresholded(
    records: Sequence[ResultRecord],
    thresholds: Sequence[float],
    field: str,
    column: Mapping[str, int],
) -> np.ndarray:
    """``(n_records, n_thresholds, n_labels)`` probabilities at the requested thresholds."""
    out = np.zeros((len(records), len(thresholds), len(column)))
    for i, rec in enumerate(records):
        at = {t.threshold: getattr(t, field) for t in rec.thresholded_scores or ()}
        for k, threshold in enumerate(thresholds):
            out[i, k] = _probabilities(at[threshold], column)
    return out
