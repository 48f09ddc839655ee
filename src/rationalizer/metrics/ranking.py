"""Which words are "the top fraction" of an input: the one rule every AOPC score, fraction
rationale and reference baseline uses, so that a number computed by a trained rationalizer and
one computed by a post-hoc explainer count the same words.

It lives in :mod:`rationalizer.metrics` because the metrics depend on the data layer only, so
both :mod:`rationalizer.explain` and :mod:`rationalizer.training` import it without a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rationalizer.errors import RationalizerError


def top_words(
    scores: Sequence[float] | np.ndarray, count: int, seen: int | None = None
) -> np.ndarray:
    """Boolean mask of the ``count`` highest-scoring of the first ``seen`` words (default all).

    Ties go to the earlier word; a NaN score (unrankable) comes after every number, so it is
    chosen only when ``count`` needs more words than have scores. Words after ``seen`` (dropped
    by truncation) are never chosen: removing a word the model never read measures nothing.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise RationalizerError(f"word scores must be one per word, got shape {scores.shape}")
    seen = len(scores) if seen is None else seen
    if not 0 <= seen <= len(scores):
        raise RationalizerError(f"{seen} words seen of {len(scores)} scored")
    candidates = scores[:seen]
    unrankable = np.isnan(candidates)
    # lexsort is stable and sorts by its last key first: numbers before NaN, then by score
    order = np.lexsort((-np.where(unrankable, 0.0, candidates), unrankable))
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:count]] = True
    return mask


def top_fraction_words(
    scores: Sequence[float] | np.ndarray, fraction: float, seen: int | None = None
) -> np.ndarray:
    """Boolean mask of the top ``ceil(fraction × seen)`` words by score, at least one
    (:func:`top_words`).

    ``seen`` is the number of words the model reads (the first ``seen``; truncation dropped the
    rest, default all): the fraction counts only them. Words count whole, never subwords, so
    models with different tokenizers are compared on the same words.
    """
    if not 0 < fraction <= 1:
        raise RationalizerError(f"a top fraction must lie in (0, 1], got {fraction}")
    seen = len(scores) if seen is None else seen
    return top_words(scores, max(math.ceil(fraction * seen), 1), seen)
