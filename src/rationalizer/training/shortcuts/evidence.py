"""Evidence elsewhere: shortcut candidates that annotators mark as rationale where they occur.

A word the rationalizer selects outside one example's human rationale may lie inside the
rationale at most of its other occurrences: on the movie reviews `mess` and `enjoyable` (about
half of their occurrences against 8.5% of all words), on HateXplain the slurs of toxic posts.
Label skew cannot tell such a word from a spurious cue, since real evidence leans to a label
too. :func:`evidence_filter` drops the candidates whose word type annotators mark as rationale
``max_ratio`` times as often as the average word, so SSR does not train the model away from
evidence that one example's rationale happened to leave out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from rationalizer.data.example import Example
from rationalizer.training.shortcuts.masks import document_tokens, filter_word_types


def word_evidence_rates(examples: Iterable[Example]) -> tuple[dict[str, float], float]:
    """The share of each word type's occurrences (lower-cased) that lie inside a human rationale,
    over the annotated ``examples``, and the same share over all their words (the density).

    An annotated example with an empty rationale (a non-toxic HateXplain post) counts: its words
    are occurrences outside any rationale. The rates are those of the shortcut report's *in
    rationales* column for single words.
    """
    inside: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for example in examples:
        if not example.is_annotated:
            continue
        for word, gold in zip(document_tokens(example), example.rationale_mask(), strict=True):
            word = word.lower()
            total[word] += 1
            inside[word] += int(gold)
    words = sum(total.values())
    density = sum(inside.values()) / words if words else 0.0
    return {word: inside[word] / count for word, count in total.items()}, density


def evidence_filter(
    examples: Sequence[Example], masks: Mapping[str, np.ndarray], max_ratio: float
) -> tuple[dict[str, np.ndarray], int]:
    """The shortcut ``masks`` without the words that annotators count as evidence elsewhere, and
    how many candidate words were dropped.

    A candidate stays a shortcut word while its word type's :func:`word_evidence_rates` rate
    over the annotated ``examples`` is below ``max_ratio`` × the rationale density; a word
    never inside a rationale always stays. ``max_ratio`` 0 keeps every candidate.
    """

    def below_limit(annotated: list[Example]) -> Callable[[str], bool]:
        rates, density = word_evidence_rates(annotated)
        limit = max_ratio * density
        return lambda word: not 0 < limit <= rates.get(word, 0.0)

    return filter_word_types(examples, masks, ("max_ratio", max_ratio), below_limit)
