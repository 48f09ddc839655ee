"""Comprehensiveness, sufficiency, entropy/KL, AOPC and the classification report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import entropy

from rationalizer.metrics import (
    aopc,
    classification_metrics,
    comprehensiveness,
    entropy_drop,
    kl_divergence,
    sufficiency,
)

# Two examples, classes (a, b); example 0 predicts a, example 1 predicts b.
FULL = [[0.8, 0.2], [0.3, 0.7]]
REMOVED = [[0.4, 0.6], [0.5, 0.5]]
KEPT = [[0.7, 0.3], [0.2, 0.8]]
TARGET = [0, 1]


def h(*p: float) -> float:
    """Shannon entropy in nats of a normalised distribution."""
    return -sum(x * math.log(x) for x in p if x > 0)


def test_comprehensiveness_and_sufficiency():
    # ((0.8 - 0.4) + (0.7 - 0.5)) / 2 = 0.3 and ((0.8 - 0.7) + (0.7 - 0.8)) / 2 = 0.
    assert comprehensiveness(FULL, REMOVED, TARGET) == pytest.approx(0.3)
    assert sufficiency(FULL, KEPT, TARGET) == pytest.approx(0.0)


def test_entropy_drop_is_full_minus_perturbed_and_normalises():
    expected = ((h(0.8, 0.2) - h(0.4, 0.6)) + (h(0.3, 0.7) - h(0.5, 0.5))) / 2
    assert entropy_drop(FULL, REMOVED) == pytest.approx(expected)
    # scipy normalises: (2, 2) is the uniform distribution, entropy ln 2.
    assert entropy_drop([[2.0, 2.0]], [[0.9, 0.1]]) == pytest.approx(math.log(2) - h(0.9, 0.1))


def test_kl_is_perturbed_relative_to_full():
    full, perturbed = [[0.5, 0.5]], [[0.9, 0.1]]
    # KL(perturbed || full) = 0.9 ln(0.9/0.5) + 0.1 ln(0.1/0.5); the reverse would be
    # 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1), a different number.
    forward = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    reverse = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl_divergence(full, perturbed) == pytest.approx(forward)
    assert forward != pytest.approx(reverse)
    # Unnormalised inputs are normalised first: (1, 1) is (0.5, 0.5), (9, 1) is (0.9, 0.1).
    assert kl_divergence([[1.0, 1.0]], [[9.0, 1.0]]) == pytest.approx(forward)


def test_vectorised_entropy_matches_row_by_row_scipy():
    rng = np.random.default_rng(0)
    full, perturbed = rng.random((50, 3)), rng.random((50, 3))
    rows = [entropy(f) - entropy(p) for f, p in zip(full, perturbed, strict=True)]
    kls = [entropy(p, f) for f, p in zip(full, perturbed, strict=True)]
    assert entropy_drop(full, perturbed) == pytest.approx(np.mean(rows), abs=1e-12)
    assert kl_divergence(full, perturbed) == pytest.approx(np.mean(kls), abs=1e-12)


def test_aopc_averages_all_deltas_and_per_threshold():
    # Deltas full[target] - thresholded[target]:
    #   example 0 (target a, 0.8): 0.8 - 0.7 = 0.1 and 0.8 - 0.5 = 0.3
    #   example 1 (target b, 0.7): 0.7 - 0.5 = 0.2 and 0.7 - 0.3 = 0.4
    thresholded = [[[0.7, 0.3], [0.5, 0.5]], [[0.5, 0.5], [0.7, 0.3]]]
    result = aopc(FULL, thresholded, TARGET)
    assert result.score == pytest.approx(0.25)
    assert result.points == pytest.approx((0.15, 0.35))


def test_shape_and_index_errors():
    with pytest.raises(ValueError, match="equal shape"):
        comprehensiveness(FULL, [[0.5, 0.5]], TARGET)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        sufficiency(FULL, KEPT, [0, 2])
    with pytest.raises(ValueError, match="at least one threshold"):
        aopc(FULL, np.zeros((2, 0, 2)), TARGET)


def test_classification_report_by_label_name():
    result = classification_metrics(
        ["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"], labels=("a", "b", "c")
    )
    assert result["accuracy"] == pytest.approx(3 / 5)
    prf = result["prf"]
    # a: predicted twice, once right -> precision 1/2; gold twice, found once -> recall 1/2.
    assert prf["a"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    )
    # b: predicted 3 times, 2 right; gold 3 times, 2 found.
    assert prf["b"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1-score": 2 / 3, "support": 3}
    )
    # "c" never occurs, so (like ERASER, whose labels come from the gold labels) it is left out
    # and does not drag the macro average down.
    assert "c" not in prf
    assert prf["macro avg"]["precision"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert prf["weighted avg"]["precision"] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)
    with pytest.raises(ValueError, match=r"\['z'\] are not among"):
        classification_metrics(["a"], ["z"], labels=("a", "b"))
