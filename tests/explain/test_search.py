"""Greedy and exhaustive subset search on scorers whose sufficient subsets are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rationalizer.errors import RationalizerError
from rationalizer.explain.search import (
    MAX_EXHAUSTIVE_UNITS,
    SubsetScores,
    approximation_ratio,
    exhaustive_search,
    greedy_search,
)


def linear_scorer(weights: np.ndarray, bias: np.ndarray, target: int, calls: list | None = None):
    """A softmax-linear model over kept units: weights (units, classes), bias (classes,)."""

    def score(masks: np.ndarray) -> SubsetScores:
        if calls is not None:
            calls.append(masks.copy())
        logits = masks.astype(float) @ weights + bias
        probabilities = np.exp(logits - logits.max(1, keepdims=True))
        probabilities /= probabilities.sum(1, keepdims=True)
        return SubsetScores(probabilities[:, target], probabilities.argmax(1) == target)

    return score


def rule_scorer(sufficient_sets: list[set[int]], gains: list[float]):
    """Sufficient iff the subset contains one of ``sufficient_sets``; the target probability
    is the sum of the kept units' ``gains`` (what greedy follows)."""

    def score(masks: np.ndarray) -> SubsetScores:
        kept = [set(np.flatnonzero(row)) for row in masks]
        return SubsetScores(
            masks.astype(float) @ np.array(gains),
            np.array([any(needed <= k for needed in sufficient_sets) for k in kept]),
        )

    return score


def test_greedy_adds_the_best_unit_first_and_stops_at_the_first_sufficient_subset():
    # Two classes, target 1 behind by 2: the units' weights for it are 0.5, 1.5, 0.1, 1.0.
    weights = np.array([[0, 0.5], [0, 1.5], [0, 0.1], [0, 1.0]])
    result = greedy_search(linear_scorer(weights, np.array([2.0, 0.0]), 1), 4)
    assert result.units == (1, 3)
    assert result.sufficient


def test_greedy_scores_every_subset_once_in_one_batch_per_step():
    weights = np.array([[0, 0.5], [0, 1.5], [0, 0.1], [0, 1.0]])
    calls: list[np.ndarray] = []
    result = greedy_search(linear_scorer(weights, np.array([2.0, 0.0]), 1, calls), 4)
    # the empty subset, then the 4 additions to it, then the 3 additions to {1}
    assert [len(batch) for batch in calls] == [1, 4, 3]
    assert result.evaluations == 8
    scored = [tuple(row) for batch in calls for row in batch]
    assert len(set(scored)) == len(scored)


def test_greedy_stops_on_the_start_subset_when_it_already_suffices():
    weights = np.array([[0, 1.0], [0, 1.0]])
    result = greedy_search(linear_scorer(weights, np.array([0.0, 0.5]), 1), 2)
    assert result.units == ()
    assert result.sufficient
    assert result.evaluations == 1


def test_greedy_grows_from_the_start_units_and_respects_max_steps():
    weights = np.array([[0, 1.0], [0, 0.2], [0, 0.3], [0, 0.4]])
    bias = np.array([1.85, 0.0])
    grown = greedy_search(linear_scorer(weights, bias, 1), 4, start=(1,))
    assert grown.units == (1, 0, 3, 2)
    assert grown.sufficient
    capped = greedy_search(linear_scorer(weights, bias, 1), 4, start=(1,), max_steps=1)
    assert capped.units == (1, 0)
    assert not capped.sufficient


def test_greedy_reports_a_target_no_subset_reaches():
    weights = np.array([[1.0, 0.0], [1.0, 0.5]])
    result = greedy_search(linear_scorer(weights, np.zeros(2), 1), 2)
    assert sorted(result.units) == [0, 1]
    assert not result.sufficient


def test_exhaustive_search_finds_the_optimum_greedy_misses():
    # Unit 0 gains most but only {0, 3, 4} or {1, 2} suffice: greedy takes 0 first.
    score = rule_scorer([{1, 2}, {0, 3, 4}], gains=[0.4, 0.2, 0.2, 0.25, 0.25])
    greedy = greedy_search(score, 5)
    optimum = exhaustive_search(score, 5)
    assert optimum.units == (1, 2)
    assert greedy.units == (0, 3, 4)
    assert approximation_ratio(greedy.size, optimum.size) == pytest.approx(1.5)


def test_exhaustive_search_prefers_the_most_probable_of_equally_small_subsets():
    score = rule_scorer([{0, 1}, {2, 3}], gains=[0.1, 0.1, 0.3, 0.3])
    assert exhaustive_search(score, 4).units == (2, 3)


def test_exhaustive_search_counts_subsets_by_size_and_handles_edge_cases():
    score = rule_scorer([{0, 1, 2}], gains=[0.1, 0.1, 0.1])
    assert exhaustive_search(score, 3).evaluations == 8
    nothing_needed = exhaustive_search(rule_scorer([set()], gains=[0.1, 0.1]), 2)
    assert nothing_needed.units == ()
    impossible = exhaustive_search(rule_scorer([], gains=[0.1, 0.1]), 2)
    assert impossible.units == (0, 1)
    assert not impossible.sufficient


@pytest.mark.parametrize("seed", range(12))
def test_greedy_is_never_smaller_than_the_exhaustive_optimum(seed):
    rng = np.random.default_rng(seed)
    units = int(rng.integers(3, 9))
    weights = rng.normal(size=(units, 3))
    bias = rng.normal(size=3)
    full = weights.sum(0) + bias
    score = linear_scorer(weights, bias, int(full.argmax()))
    greedy, optimum = greedy_search(score, units), exhaustive_search(score, units)
    assert greedy.sufficient and optimum.sufficient
    ratio = approximation_ratio(greedy.size, optimum.size)
    assert ratio >= 1
    # the optimum is truly minimal: no smaller subset suffices
    for size in range(optimum.size):
        for subset in itertools.combinations(range(units), size):
            mask = np.zeros((1, units), dtype=bool)
            mask[0, list(subset)] = True
            assert not score(mask).sufficient[0]


def test_exhaustive_search_refuses_more_than_twelve_units():
    assert MAX_EXHAUSTIVE_UNITS == 12
    assert exhaustive_search(rule_scorer([{11}], gains=[0.0] * 12), 12).units == (11,)
    with pytest.raises(RationalizerError, match=r"at most 12 words; this input has 13.*greedy"):
        exhaustive_search(rule_scorer([set()], gains=[0.0] * 13), 13)


def test_approximation_ratio_checks_its_sizes():
    assert approximation_ratio(3, 2) == pytest.approx(1.5)
    assert approximation_ratio(0, 0) == 1.0
    assert approximation_ratio(2, 0) == float("inf")
    with pytest.raises(ValueError, match="did not explain the same prediction"):
        approximation_ratio(1, 2)
    with pytest.raises(ValueError, match="negative"):
        approximation_ratio(-1, 0)
