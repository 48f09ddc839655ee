"""The one "top fraction of the words" rule: count, ties, NaN scores and truncation."""

from __future__ import annotations

import numpy as np
import pytest

from rationalizer.errors import RationalizerError
from rationalizer.metrics.ranking import top_fraction_words, top_words


def chosen(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def test_the_top_ceil_of_fraction_times_words_are_chosen_whatever_their_sign():
    scores = [0.1, 0.5, -0.2, -1.0, 0.3]
    assert chosen(top_fraction_words(scores, 0.4)) == [1, 4]  # ceil(0.4 × 5) = 2
    assert chosen(top_fraction_words(scores, 0.5)) == [0, 1, 4]  # ceil(0.5 × 5) = 3
    assert chosen(top_fraction_words(scores, 0.8)) == [0, 1, 2, 4]
    assert top_fraction_words(scores, 1.0).all()


def test_ties_go_to_the_earlier_word():
    assert chosen(top_fraction_words(np.ones(3), 0.34)) == [0, 1]  # ceil(0.34 × 3) = 2
    assert chosen(top_fraction_words([0.0, 0.7, 0.2, 0.7, 0.7], 0.4)) == [1, 3]


def test_a_fraction_below_one_word_still_chooses_one():
    assert chosen(top_fraction_words([0.2, 0.9, 0.4], 1e-9)) == [1]


def test_nan_scores_come_after_every_number():
    scores = [np.nan, -5.0, np.nan, 2.0]
    assert chosen(top_fraction_words(scores, 0.5)) == [1, 3]
    # -inf is still a number: it goes before an unrankable word
    assert chosen(top_words([np.nan, -np.inf, 1.0], 2)) == [1, 2]
    # only when the count asks for more words than have scores are NaN words taken
    assert chosen(top_fraction_words(scores, 0.75)) == [0, 1, 3]


def test_only_the_words_the_model_sees_count_and_are_chosen():
    scores = np.array([0.1, 0.4, 0.3, 0.2, 9.0, 9.0])  # the last two were truncated
    assert chosen(top_fraction_words(scores, 0.5, seen=4)) == [1, 2]  # ceil(0.5 × 4) = 2
    assert chosen(top_fraction_words(scores, 1.0, seen=4)) == [0, 1, 2, 3]
    assert not top_fraction_words(scores, 0.5, seen=0).any()


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_a_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(RationalizerError, match="top fraction"):
        top_fraction_words([1.0, 2.0], fraction)


def test_seen_beyond_the_scored_words_is_refused():
    with pytest.raises(RationalizerError, match="3 words seen of 2"):
        top_fraction_words([1.0, 2.0], 0.5, seen=3)
