"""Greedy rationalization (Vafa et al. 2021, *Rationales for Sequential Predictions*).

The rationale is a small set of words on which the model, shown nothing else, makes the same
prediction: start from no word at all (query and special tokens are always kept), add the word
that raises the target's probability most, and stop as soon as the target is the model's top
class on the words chosen. Removed words are hidden by the adapter's masking, so the chosen
words keep their original positions. Every step scores all candidate additions in one batch.

With every word removed a classifier still predicts *some* class, so for a share of inputs
(about half, for a two-class model) the empty set is already sufficient and the paper's
rationale is empty. ``min_size`` (default 1) keeps adding until at least that many units are
chosen, so every input gets the words that most support its prediction; ``min_size=0`` is the
paper's definition.

A word-level step costs one model input per word, each as long as the document, so on long
documents the search first runs over *sentences* (or fixed-width *spans*) and then, with
``refine``, word by word within the chosen ones. That is the default: on movie reviews with a
BiGRU it found rationales as small as the word-level search in a fraction of the time. An
input without sentence breaks is one sentence, so for it the default *is* the word-level
search; ``unit="word"`` runs the paper's search over every word of any input.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rationalizer.explain.base import Explainer, ExplainerOptions
from rationalizer.explain.search import (
    Scorer,
    SearchResult,
    SubsetScores,
    classifier_scorer,
    greedy_search,
)

if TYPE_CHECKING:
    from rationalizer.explain.adapters.base import ClassifierAdapter, Instance

Unit = Literal["word", "sentence", "span"]

#: a word ending in one of these ends a sentence ("." as a token, or "film." in raw text)
SENTENCE_END = (".", "!", "?")


class GreedyOptions(ExplainerOptions):
    #: what the search adds at each step: a word, a sentence, or a span of ``span_width`` words
    unit: Unit = "sentence"
    #: words per span (unit "span")
    span_width: int = Field(20, ge=1)
    #: after a sentence or span search, search again word by word within the chosen units
    #: (no effect with unit "word")
    refine: bool = True
    #: stop after this many additions even if the target is not yet the top class
    max_steps: int | None = Field(None, ge=1)
    #: choose at least this many units (of each search: sentences, then words with ``refine``)
    #: even when fewer already make the target the top class; 0: the paper's definition, under
    #: which an input the model predicts with every word removed gets an empty rationale
    min_size: int = Field(1, ge=0)


class Greedy(Explainer):
    """Greedy rationalization for any classifier (only class probabilities are needed).

    Scores are the selection order of the last search (the word-level one with ``refine``):
    with k units chosen, the r-th chosen (r = 0, 1, ...) scores (k − r) / k — the first 1, the
    last 1/k — and every word of a unit gets its unit's score; words never chosen score 0. The
    hard rationale is the chosen set itself (every word scoring above 0), not a rule over the
    scores. It holds at least ``min_size`` units (all of them, for an input with fewer): with
    ``min_size=0`` it is empty when the model predicts the target with every word removed. When
    the search ends without the target on top (``max_steps``, or a target other than the
    model's prediction) the rationale is what it had chosen, with a warning. Candidates are run
    ``batch_size`` at a time.
    """

    name = "greedy"
    description = (
        "greedy rationalization (Vafa et al. 2021): words added one at a time (within the best "
        "sentences) until the model alone predicts the target, at least min_size (1) of them; "
        "score = selection order, first chosen 1, unchosen 0"
    )
    requires = "probabilities"
    Options = GreedyOptions
    options: GreedyOptions

    @property
    def settings(self) -> dict[str, Any]:
        """The options; no rationale rule, since greedy chooses its rationale itself."""
        return self.options.model_dump(mode="json")

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        unit = self.options.unit
        units = search_units(instance, unit, self.options.span_width)
        result = self._search(model, instance, target, units)
        if self.options.refine and unit != "word" and result.size > 0 and result.sufficient:
            unit, units = "word", words_of_units(units, result.units)
            result = self._search(model, instance, target, units)
        if not result.sufficient:
            warnings.warn(
                f"greedy: {model.labels[target]!r} is still not the top prediction after "
                f"{result.size} {unit}(s); the rationale is not sufficient",
                stacklevel=2,
            )
        return selection_order_scores(units, result.units)

    def hard_rationale(
        self, model: ClassifierAdapter, instance: Instance, target: int, scores: np.ndarray
    ) -> np.ndarray:
        return (scores > 0).astype(np.int8)

    def _search(
        self, model: ClassifierAdapter, instance: Instance, target: int, units: np.ndarray
    ) -> SearchResult:
        """Greedy search over ``units`` (each word's unit, -1: always removed)."""
        count = int(units.max()) + 1
        scorer = classifier_scorer(model, instance, target, units, self.options.batch_size)
        scorer = at_least(scorer, min(self.options.min_size, count))
        return greedy_search(scorer, count, max_steps=self.options.max_steps)


def at_least(score: Scorer, size: int) -> Scorer:
    """``score``, with subsets of fewer than ``size`` units never sufficient."""

    def scored(unit_masks: np.ndarray) -> SubsetScores:
        scores = score(unit_masks)
        return scores._replace(sufficient=scores.sufficient & (unit_masks.sum(1) >= size))

    return scored


def search_units(instance: Instance, unit: Unit, span_width: int) -> np.ndarray:
    """Each word's unit index (num_words,), counted from 0; -1 for words the model never sees
    (truncated), which are never searched.

    Sentences end at (and include) a word ending in ``.``, ``!`` or ``?``; spans are
    consecutive windows of ``span_width`` words.
    """
    seen = instance.seen_words
    units = np.full(instance.num_words, -1, dtype=np.int64)
    if unit == "word":
        units[:seen] = np.arange(seen)
    elif unit == "span":
        units[:seen] = np.arange(seen) // span_width
    else:
        ends = np.array([word.endswith(SENTENCE_END) for word in instance.words[:seen]], bool)
        units[:seen] = np.concatenate(([0], np.cumsum(ends[:-1]))) if seen else []
    return units


def words_of_units(units: np.ndarray, chosen: tuple[int, ...]) -> np.ndarray:
    """Word units (consecutive from 0) for the words of the ``chosen`` units; -1 elsewhere."""
    inside = np.isin(units, chosen)
    words = np.full(len(units), -1, dtype=np.int64)
    words[inside] = np.arange(int(inside.sum()))
    return words


def selection_order_scores(units: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Word scores from the order units were chosen: the r-th of k scores (k − r) / k."""
    unit_scores = np.zeros(int(units.max()) + 2)  # the extra last slot is -1's: score 0
    unit_scores[list(order)] = (len(order) - np.arange(len(order))) / max(len(order), 1)
    return unit_scores[units]
