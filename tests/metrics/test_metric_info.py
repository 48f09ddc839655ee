"""Metric metadata: every flattened key of a full report is described, with the right direction."""

from __future__ import annotations

import math

import pytest

from rationalizer.errors import UnknownNameError
from rationalizer.metrics import METRICS, describe, flatten

REPORT = {
    "iou_scores": [
        {
            "threshold": 0.5,
            "micro": {"p": 0.1, "r": 0.2, "f1": 0.3},
            "macro": {"p": 0.4, "r": 0.5, "f1": 0.6},
        }
    ],
    "token_prf": {
        "instance_micro": {"p": 1, "r": 2, "f1": 3},
        "instance_macro": {"p": 4, "r": 5, "f1": 6},
    },
    "selection_rate": {"micro": 0.25, "macro": 0.5},
    "token_soft_metrics": {"auprc": 0.9, "average_precision": None, "roc_auc_score": 0.7},
    "annotated_only": {
        "token_soft_metrics": {"auprc": 0.8, "average_precision": 0.6, "roc_auc_score": 0.5}
    },
    "classification_scores": {
        "accuracy": 0.75,
        "prf": {
            "non-toxic": {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2.0},
            "accuracy": 0.75,
            "macro avg": {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2.0},
        },
        "comprehensiveness": 0.3,
        "sufficiency": None,
        "aopc_thresholds": [0.01, 0.5],
        "comprehensiveness_aopc": 0.2,
        "comprehensiveness_aopc_points": [0.1, 0.3],
        "sufficiency_aopc_points": None,
    },
}


def test_flatten_names_every_number_once():
    flat = flatten(REPORT)
    assert flat["iou_scores@0.5.macro.f1"] == 0.6
    assert flat["token_prf.instance_macro.r"] == 5.0
    assert flat["annotated_only.token_soft_metrics.average_precision"] == 0.6
    assert flat["classification_scores.prf.non-toxic.f1-score"] == 0.5
    assert flat["classification_scores.prf.accuracy"] == 0.75
    assert flat["classification_scores.comprehensiveness_aopc_points@0.01"] == 0.1
    assert flat["classification_scores.comprehensiveness_aopc_points@0.5"] == 0.3
    # None values and the threshold lists are not metrics.
    assert "token_soft_metrics.average_precision" not in flat
    assert "classification_scores.sufficiency" not in flat
    assert not any("aopc_thresholds" in key or "threshold" in key.split(".") for key in flat)
    # 6 IOU + 6 token + 2 selection + 2 soft + 3 annotated soft + accuracy + 4 label
    # + report accuracy + 4 macro + comprehensiveness + aopc + 2 points.
    assert len(flat) == 33


def test_every_flattened_key_is_described():
    for key in flatten(REPORT):
        info = describe(key)
        assert info.key == key
        assert info.lower <= info.upper


def test_descriptions_fill_in_thresholds_and_labels():
    iou = describe("iou_scores@0.25.micro.f1")
    assert "0.25" in iou.name and "0.25" in iou.description
    label = describe("classification_scores.prf.non-toxic.recall")
    assert "non-toxic" in label.name
    annotated = describe("annotated_only.token_prf.instance_micro.f1")
    assert annotated.name == describe("token_prf.instance_micro.f1").name + ", annotated only"


@pytest.mark.parametrize(
    ("key", "higher", "lower", "upper"),
    [
        ("token_prf.instance_macro.f1", True, 0.0, 1.0),
        ("classification_scores.comprehensiveness", True, -1.0, 1.0),
        ("classification_scores.sufficiency", False, -1.0, 1.0),
        ("classification_scores.sufficiency_aopc_points@0.2", False, -1.0, 1.0),
        ("classification_scores.comprehensiveness_kl", True, 0.0, math.inf),
        ("classification_scores.sufficiency_kl", False, 0.0, math.inf),
        ("classification_scores.comprehensiveness_entropy", None, -math.inf, math.inf),
        ("selection_rate.macro", None, 0.0, 1.0),
        # ERASER's IOU recall counts matched predictions, so it can exceed 1.
        ("iou_scores@0.5.macro.r", True, 0.0, math.inf),
        ("iou_scores@0.5.macro.p", True, 0.0, 1.0),
    ],
)
def test_direction_and_range(key, higher, lower, upper):
    info = describe(key)
    assert (info.higher_is_better, info.lower, info.upper) == (higher, lower, upper)


@pytest.mark.parametrize(
    "key",
    [
        "token_prf.instance_micro",
        "iou_scores@x.micro.f1",
        "annotated_only.classification_scores.accuracy",
        "nope",
    ],
)
def test_unknown_keys(key):
    with pytest.raises(UnknownNameError, match="unknown metric"):
        describe(key)


def test_registry_patterns_are_unique_and_keyed_by_themselves():
    assert all(key == info.key for key, info in METRICS.items())
    assert len({info.name for info in METRICS.values()}) == len(METRICS)
