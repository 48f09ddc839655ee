"""ERASER-compatible rationale metrics, with metadata for every reported number.

:func:`evaluate` scores results records against a dataset split and returns ERASER's report;
the array-level functions compute the same metrics straight from model outputs (masks, spans,
scores and class probabilities), without writing results files.
"""

from rationalizer.metrics.classification import classification_metrics
from rationalizer.metrics.evaluate import (
    DEFAULT_AOPC_THRESHOLDS,
    DEFAULT_IOU_THRESHOLDS,
    EvaluationReport,
    MissingPredictionsError,
    evaluate,
)
from rationalizer.metrics.faithfulness import (
    AOPC,
    aopc,
    comprehensiveness,
    entropy_drop,
    kl_divergence,
    prediction_drop,
    sufficiency,
)
from rationalizer.metrics.hard import iou_f1, iou_scores, rationale_prf, selection_rate, token_prf
from rationalizer.metrics.info import METRICS, MetricInfo, describe, flatten
from rationalizer.metrics.soft import auprc, soft_scores_per_document, token_soft_metrics

__all__ = [
    "AOPC",
    "DEFAULT_AOPC_THRESHOLDS",
    "DEFAULT_IOU_THRESHOLDS",
    "METRICS",
    "EvaluationReport",
    "MetricInfo",
    "MissingPredictionsError",
    "aopc",
    "auprc",
    "classification_metrics",
    "comprehensiveness",
    "describe",
    "entropy_drop",
    "evaluate",
    "flatten",
    "iou_f1",
    "iou_scores",
    "kl_divergence",
    "prediction_drop",
    "rationale_prf",
    "selection_rate",
    "soft_scores_per_document",
    "sufficiency",
    "token_prf",
    "token_soft_metrics",
]
