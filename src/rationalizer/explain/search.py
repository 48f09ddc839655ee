"""Searches for sufficient rationales: greedy growth and exhaustive enumeration of subsets.

A rationale is *sufficient* when the model, shown only the rationale, still gives the target
its top prediction. Both searches run over abstract *units* (words, sentences, spans of a
classifier's input, or the context tokens of a language model) through one :data:`Scorer`,
which scores a batch of unit subsets at once; that is what lets greedy rationalization
(Vafa et al. 2021) and the exhaustive optimum it is measured against share every model call.

Exhaustive search is exponential, so it refuses inputs of more than
:data:`MAX_EXHAUSTIVE_UNITS` units; :func:`approximation_ratio` compares the two sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from rationalizer.errors import RationalizerError

if TYPE_CHECKING:
    from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
    from rationalizer.explain.base import TextInput

#: the largest input exhaustive search enumerates (2**12 = 4096 subsets at most)
MAX_EXHAUSTIVE_UNITS = 12


class SubsetScores(NamedTuple):
    """What a search needs to know about N unit subsets."""

    #: (N,) the model's probability of the target with only the subset shown
    target_probability: np.ndarray
    #: (N,) bool: whether the target is then the model's top prediction (the subset suffices)
    sufficient: np.ndarray


#: Scores a batch of unit subsets, given as an (N, units) bool array of the units each keeps.
Scorer = Callable[[np.ndarray], SubsetScores]


@dataclass(frozen=True)
class SearchResult:
    """The units a search chose, whether they suffice, and how many subsets it scored."""

    #: greedy: in the order they were added; exhaustive: ascending
    units: tuple[int, ...]
    sufficient: bool
    #: model inputs run (the search's cost)
    evaluations: int

    @property
    def size(self) -> int:
        return len(self.units)


def greedy_search(
    score: Scorer, num_units: int, *, start: Sequence[int] = (), max_steps: int | None = None
) -> SearchResult:
    """Grow a subset from ``start`` one unit at a time until it suffices (Vafa et al. 2021).

    Each step scores every unit not yet chosen, added to the current subset, in one batch, and
    adds the one that raises the target's probability most (ties: the earlier unit). It stops
    as soon as the subset suffices — checked on ``start`` first, then on the scores each step
    already computed, so no subset is run twice — after ``max_steps`` additions, or when no
    unit is left (``sufficient`` then says whether the last subset sufficed).
    """
    chosen = np.zeros(num_units, dtype=bool)
    chosen[list(start)] = True
    order = [int(unit) for unit in start]
    first = score(chosen[None])
    evaluations, sufficient = 1, bool(first.sufficient[0])
    while not sufficient and (max_steps is None or len(order) - len(start) < max_steps):
        remaining = np.flatnonzero(~chosen)
        if len(remaining) == 0:
            break
        variants = np.repeat(chosen[None], len(remaining), axis=0)
        variants[np.arange(len(remaining)), remaining] = True
        scores = score(variants)
        evaluations += len(remaining)
        best = int(np.argmax(scores.target_probability))
        chosen[remaining[best]] = True
        order.append(int(remaining[best]))
        sufficient = bool(scores.sufficient[best])
    return SearchResult(tuple(order), sufficient, evaluations)


def exhaustive_search(score: Scorer, num_units: int) -> SearchResult:
    """The smallest sufficient subset of ``num_units`` units, by enumerating subsets by size.

    All subsets of one size are scored in one batch, smallest size first (the empty subset
    included); among the sufficient subsets of the first size that has one, the one giving
    the target the highest probability wins. If no subset suffices, the result is every unit
    with ``sufficient`` False. Refuses more than :data:`MAX_EXHAUSTIVE_UNITS` units.
    """
    if num_units > MAX_EXHAUSTIVE_UNITS:
        raise RationalizerError(
            f"exhaustive search enumerates every subset, so it takes at most "
            f"{MAX_EXHAUSTIVE_UNITS} words; this input has {num_units} (2**{num_units} subsets). "
            "Use greedy rationalization for longer inputs"
        )
    evaluations = 0
    for size in range(num_units + 1):
        subsets = np.array(list(itertools.combinations(range(num_units), size)), dtype=np.int64)
        masks = np.zeros((len(subsets), num_units), dtype=bool)
        masks[np.arange(len(subsets))[:, None], subsets] = True
        scores = score(masks)
        evaluations += len(subsets)
        if scores.sufficient.any():
            probability = np.where(scores.sufficient, scores.target_probability, -np.inf)
            best = subsets[int(np.argmax(probability))]
            return SearchResult(tuple(int(unit) for unit in best), True, evaluations)
    return SearchResult(tuple(range(num_units)), False, evaluations)


def approximation_ratio(greedy_size: int, optimal_size: int) -> float:
    """How many times larger the greedy rationale is than the smallest sufficient one (≥ 1).

    Both sizes must come from the same model, input and target: a greedy rationale smaller
    than the optimum is impossible and means they did not, so it raises ``ValueError``. Two
    empty rationales (the model predicts the target with every word removed) have ratio 1; a
    non-empty one against an empty optimum has ratio infinity.
    """
    if greedy_size < 0 or optimal_size < 0:
        raise ValueError(f"sizes cannot be negative: {greedy_size}, {optimal_size}")
    if greedy_size < optimal_size:
        raise ValueError(
            f"a greedy rationale of {greedy_size} units is smaller than the optimum of "
            f"{optimal_size}: the two searches did not explain the same prediction"
        )
    if optimal_size == 0:
        return 1.0 if greedy_size == 0 else float("inf")
    return greedy_size / optimal_size


# ------------------------------------------------------------------ classifiers
def classifier_scorer(
    model: ClassifierAdapter,
    instance: Instance,
    target: int,
    unit_of_word: np.ndarray,
    batch_size: int,
) -> Scorer:
    """A :data:`Scorer` of unit subsets of ``instance`` for class index ``target``.

    ``unit_of_word`` (num_words,) gives each word's unit, or -1 for a word that is always
    removed. Subsets become word keep masks and run ``batch_size`` per forward pass; the target
    suffices when it is the argmax.
    """
    in_unit = unit_of_word >= 0

    def score(unit_masks: np.ndarray) -> SubsetScores:
        keep = np.zeros((len(unit_masks), instance.num_words), dtype=np.int8)
        keep[:, in_unit] = unit_masks[:, unit_of_word[in_unit]]
        probabilities = model.probabilities_batch([instance] * len(keep), list(keep), batch_size)
        return SubsetScores(probabilities[:, target], probabilities.argmax(axis=1) == target)

    return score


def units_to_word_mask(unit_of_word: np.ndarray, units: Iterable[int]) -> np.ndarray:
    """The 0/1 word mask (int8) of the words belonging to ``units``."""
    return np.isin(unit_of_word, list(units)).astype(np.int8)


def smallest_sufficient_subset(
    model: ClassifierAdapter,
    text: TextInput | Instance,
    target: int | str | None = None,
    *,
    query: str | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """The word mask (int8) of the smallest word subset on which ``model`` alone predicts
    ``target`` (by default its prediction on the full input), found exhaustively.

    For inputs of at most :data:`MAX_EXHAUSTIVE_UNITS` words the model sees; the yardstick
    greedy rationalization's :func:`approximation_ratio` is measured against. Raises
    :class:`~rationalizer.errors.RationalizerError` when no subset suffices (possible only for
    a target other than the prediction).
    """
    [instance] = model.prepare_all([text], query)
    full = model.probabilities(instance, np.ones((1, instance.num_words), dtype=np.int8))[0]
    index = int(full.argmax()) if target is None else model.label_index(target)
    unit_of_word = np.full(instance.num_words, -1, dtype=np.int64)
    unit_of_word[: instance.seen_words] = np.arange(instance.seen_words)
    scorer = classifier_scorer(model, instance, index, unit_of_word, batch_size)
    result = exhaustive_search(scorer, instance.seen_words)
    if not result.sufficient:
        raise RationalizerError(
            f"no subset of the words makes {model.labels[index]!r} the model's top prediction"
        )
    return units_to_word_mask(unit_of_word, result.units)
