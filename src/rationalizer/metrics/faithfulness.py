"""Faithfulness metrics of ERASER: comprehensiveness, sufficiency, their entropy/KL and AOPC.

All functions take class-probability arrays of shape ``(n_examples, n_classes)`` with the
classes in one fixed order, and ``target``, the index of the class the model predicted on the
full input. ``perturbed_probs`` are the model's probabilities on the input with the rationale
removed (comprehensiveness) or with only the rationale kept (sufficiency).

As in ERASER, entropies and KL divergences use :func:`scipy.stats.entropy`, which normalises
each distribution to sum to 1 and uses the natural logarithm; a KL divergence is infinite when
the full-input distribution gives 0 to a class that the perturbed one does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import entropy


def prediction_drop(full_probs: ArrayLike, perturbed_probs: ArrayLike, target: ArrayLike) -> float:
    """Mean of ``full[target] − perturbed[target]``: how much the predicted class loses."""
    full, perturbed, target = _check(full_probs, perturbed_probs, target)
    rows = np.arange(len(target))
    return float(np.mean(full[rows, target] - perturbed[rows, target]))


def comprehensiveness(full_probs: ArrayLike, removed_probs: ArrayLike, target: ArrayLike) -> float:
    """ERASER comprehensiveness; ``removed_probs`` come from the input without the rationale.

    Higher is better: removing a faithful rationale should take the prediction away.
    """
    return prediction_drop(full_probs, removed_probs, target)


def sufficiency(full_probs: ArrayLike, kept_probs: ArrayLike, target: ArrayLike) -> float:
    """ERASER sufficiency; ``kept_probs`` come from the rationale alone.

    Lower is better: a faithful rationale alone should keep the prediction.
    """
    return prediction_drop(full_probs, kept_probs, target)


def entropy_drop(full_probs: ArrayLike, perturbed_probs: ArrayLike) -> float:
    """Mean of ``H(full) − H(perturbed)`` (ERASER's ``*_entropy``)."""
    full, perturbed, _ = _check(full_probs, perturbed_probs, None)
    return float(np.mean(entropy(full, axis=1) - entropy(perturbed, axis=1)))


def kl_divergence(full_probs: ArrayLike, perturbed_probs: ArrayLike) -> float:
    """Mean of ``KL(perturbed ‖ full)`` (ERASER's ``*_kl``; note the direction)."""
    full, perturbed, _ = _check(full_probs, perturbed_probs, None)
    return float(np.mean(entropy(perturbed, full, axis=1)))


@dataclass(frozen=True)
class AOPC:
    """Area over the perturbation curve: overall mean and the mean at each threshold."""

    score: float
    points: tuple[float, ...]


def aopc(full_probs: ArrayLike, thresholded_probs: ArrayLike, target: ArrayLike) -> AOPC:
    """ERASER's AOPC from ``thresholded_probs`` of shape ``(n_examples, n_thresholds, n_classes)``.

    Entry ``[i, k]`` holds example ``i``'s probabilities after removing (comprehensiveness) or
    keeping only (sufficiency) the top-scored tokens at the ``k``-th threshold, thresholds in
    increasing order. The score is the mean of ``full[target] − thresholded[k, target]`` over all
    examples and thresholds; ``points`` are the means per threshold.
    """
    full = np.asarray(full_probs, dtype=np.float64)
    thresholded = np.asarray(thresholded_probs, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    if thresholded.ndim != 3 or thresholded.shape[::2] != full.shape or not thresholded.shape[1]:
        raise ValueError(
            f"thresholded_probs must have shape (n_examples, n_thresholds, n_classes) matching "
            f"full_probs {full.shape}, with at least one threshold; got {thresholded.shape}"
        )
    _check(full, full, target)
    rows = np.arange(len(target))
    deltas = full[rows, target][:, None] - thresholded[rows, :, target]
    return AOPC(float(np.mean(deltas)), tuple(float(x) for x in np.mean(deltas, axis=0)))


def _check(
    full_probs: ArrayLike, perturbed_probs: ArrayLike, target: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    full = np.asarray(full_probs, dtype=np.float64)
    perturbed = np.asarray(perturbed_probs, dtype=np.float64)
    if full.ndim != 2 or full.shape != perturbed.shape:
        raise ValueError(
            "probabilities must be arrays of shape (n_examples, n_classes) of equal shape; "
            f"got {full.shape} and {perturbed.shape}"
        )
    if full.shape[0] == 0:
        raise ValueError("no examples to score")
    index = np.zeros(len(full), dtype=np.int64) if target is None else np.asarray(target)
    if index.shape != (len(full),) or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"target must hold one class index per example; got shape {index.shape}")
    if ((index < 0) | (index >= full.shape[1])).any():
        raise ValueError(f"target holds class indices outside 0..{full.shape[1] - 1}")
    return full, perturbed, index.astype(np.int64)
