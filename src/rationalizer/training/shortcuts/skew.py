"""Label skew: how much a phrase or word type leans to one label, and the filter built on it.

Not every candidate shortcut word is a shortcut: a rationalizer also selects ".", "the" or a
name, which say nothing about the label. :func:`skew_filter` keeps only the candidates whose word
type leans to a label where it occurs outside the human rationales (:func:`word_label_skew`),
measured by :func:`label_log_odds`, which also scores the phrases of a report.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from rationalizer.data.example import Example
from rationalizer.training.config import SKEW_MIN_COUNT
from rationalizer.training.shortcuts.masks import document_tokens, filter_word_types


def label_log_odds(
    counts: Mapping[str, int], prior_counts: Mapping[str, int], labels: Sequence[str]
) -> dict[str, float]:
    """Smoothed log-odds ratio (nats) of each label where a phrase occurs vs the label prior.

    ``logit(p̂_y) − logit(q_y)`` with add-one (Laplace) smoothing on both sides:
    ``p̂_y = (n_y + 1) / (n + K)`` over the ``n`` examples of the phrase and
    ``q_y = (N_y + 1) / (N + K)`` over all ``N`` examples, for ``K`` labels.

    Why this measure: it is 0 when the phrase's labels follow the prior, so it stays honest on
    imbalanced data (HateXplain) where the raw majority share is not; unlike PMI it keeps growing
    with the amount of evidence, and the smoothing pulls phrases seen in few examples towards 0,
    so a phrase in 40 examples all of one label outranks one seen twice.
    """
    k = len(labels)
    if k < 2:  # one label: nothing to lean towards
        return dict.fromkeys(labels, 0.0)
    n = sum(counts.get(label, 0) for label in labels)
    total = sum(prior_counts.get(label, 0) for label in labels)

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    return {
        label: logit((counts.get(label, 0) + 1) / (n + k))
        - logit((prior_counts.get(label, 0) + 1) / (total + k))
        for label in labels
    }


def word_label_skew(
    examples: Iterable[Example], labels: Sequence[str], *, min_count: int = SKEW_MIN_COUNT
) -> dict[str, float]:
    """How much each word type leans to a label outside the human rationales, by lower-cased word.

    Over the annotated ``examples``: the add-one smoothed log-odds (nats, :func:`label_log_odds`)
    of the label most over-represented among the examples where the word occurs outside the
    gold rationale, against the labels of all annotated examples. 0: the word follows the prior.
    Words outside the rationale of fewer than ``min_count`` examples are left out (too little
    evidence either way). An example counts once per word, however often the word occurs in it.
    """
    labels = tuple(labels)
    prior: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        if not example.is_annotated:
            continue
        prior[example.label] += 1
        outside = example.rationale_mask() == 0
        tokens = document_tokens(example)
        for word in {w.lower() for w, out in zip(tokens, outside, strict=True) if out}:
            counts[word][example.label] += 1
    return {
        word: max(label_log_odds(by_label, prior, labels).values())
        for word, by_label in counts.items()
        if sum(by_label.values()) >= min_count
    }


def skew_filter(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    labels: Sequence[str],
    min_skew: float,
) -> tuple[dict[str, np.ndarray], int]:
    """The shortcut ``masks`` with only the words whose type carries label signal, and how many
    candidate words were dropped.

    A candidate (a selected word outside the gold rationale) stays a shortcut word when its
    :func:`word_label_skew` over the annotated ``examples`` is at least ``min_skew``; a word
    seen outside the rationale of fewer than :data:`SKEW_MIN_COUNT` examples is dropped.
    ``min_skew`` 0 keeps every candidate.
    """

    def skewed(annotated: list[Example]) -> Callable[[str], bool]:
        skew = word_label_skew(annotated, labels)
        return lambda word: skew.get(word, -math.inf) >= min_skew

    return filter_word_types(examples, masks, ("min_skew", min_skew), skewed)
