"""Scoring shortcut discovery against planted shortcuts (the synthetic dataset's).

On a dataset whose shortcuts are planted, :func:`discovery_scores` measures how well the
discovered shortcut words and the ranked phrases of a report recover them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from rationalizer.data.example import Example, Span, spans_to_mask
from rationalizer.errors import RationalizerError
from rationalizer.metrics.hard import token_prf
from rationalizer.training.shortcuts.aggregation import build_report
from rationalizer.training.shortcuts.masks import annotated_with_masks
from rationalizer.training.shortcuts.report import RankBy

#: How many top phrases of a report a reader looks at; :func:`discovery_scores` counts the
#: planted phrases found that far down the ranking.
READING_DEPTH = 20


def _planted_mask(example: Example) -> np.ndarray:
    spans = example.metadata.get("shortcut_spans")
    if spans is None:
        raise RationalizerError(
            f"example {example.id!r} has no metadata['shortcut_spans']: discovery scores need a "
            "dataset with planted shortcuts, such as 'synthetic'"
        )
    try:
        return spans_to_mask((Span(start, end) for start, end in spans), len(example.document))
    except (TypeError, ValueError) as err:
        raise RationalizerError(
            f"example {example.id!r}: invalid metadata['shortcut_spans'] {spans!r} ({err})"
        ) from None


def _is_punctuation(word: str) -> bool:
    return not any(character.isalnum() for character in word)


def _without_edge_punctuation(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` without their leading and trailing punctuation tokens."""
    start, end = 0, len(words)
    while start < end and _is_punctuation(words[start]):
        start += 1
    while end > start and _is_punctuation(words[end - 1]):
        end -= 1
    return words[start:end]


def _is_telling_part(discovered: tuple[str, ...], planted: tuple[str, ...]) -> bool:
    """Whether ``discovered``, without edge punctuation, is ``planted`` or a contiguous part of
    it with a content word.

    A selector often keeps only the informative core of a phrase ("odeon" of "at the odeon");
    that still recovers the shortcut. A part made only of stopwords ("at the") does not: those
    words occur everywhere and say nothing about the planted phrase. A selector also often
    takes the full stop or comma next to the phrase ("at the odeon ."); the phrase is still
    found, so punctuation at either end is ignored (inside a phrase it is not).
    """
    core = _without_edge_punctuation(discovered)
    if not any(word not in ENGLISH_STOP_WORDS for word in core):
        return bool(core) and core == planted
    width = len(core)
    return any(planted[start : start + width] == core for start in range(len(planted) - width + 1))


def discovery_scores(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    planted: Mapping[str, str],
    *,
    depth: int = READING_DEPTH,
    rank_by: RankBy = "count",
) -> dict:
    """How well the shortcut ``masks`` recover planted shortcuts, over the annotated examples.

    Token level (pooled over examples; each example's planted words come from
    ``metadata["shortcut_spans"]``):

    * ``token_precision`` = discovered shortcut words that are planted words / discovered words
    * ``token_recall`` = planted words that were discovered / planted words
    * ``token_f1`` their harmonic mean; every ratio is 0 when its denominator is 0.

    Phrase level, on the ranking of the discovered phrases (``rank_by``, as by
    :func:`build_report`, over every phrase however rare). A discovered phrase *matches* a
    planted one when, after dropping punctuation tokens at its ends, it equals the planted
    phrase or is a contiguous part of it holding at least one non-stopword (case-insensitive):
    "odeon", "the odeon" and "at the odeon ." match "at the odeon"; "at the", "odeon again"
    and "at . odeon" do not.

    * ``phrase_precision`` = top-k phrases that match some planted phrase / top-k phrases and
      ``phrase_recall`` = planted phrases matched by some top-k phrase / planted phrases, with
      ``k`` = the number of planted phrases (``top_phrases``): strict, as by count frequent
      unskewed words ("." or "is") may outrank every planted phrase;
    * ``phrase_recall_at_depth`` = planted phrases matched within the top ``depth`` phrases /
      planted phrases: what a reader of the report's first rows sees (``depth`` defaults to
      :data:`READING_DEPTH`).

    Every ratio is 0 when nothing was found. ``planted`` maps phrase → the label it is skewed
    towards. Per planted phrase, ``planted`` in the result gives ``found`` (matched within the
    top k), the best-ranked matching discovered phrase over the whole ranking (``matched``, its
    ``rank`` and ``skew_label``; None when no discovered phrase matches) next to the planted
    ``label``.
    """
    if depth < 1:
        raise RationalizerError(f"depth must be at least 1, got {depth}")
    pairs = annotated_with_masks(examples, masks, "shortcut mask")
    planted_masks = [_planted_mask(example) for example, _ in pairs]
    discovered = [mask for _, mask in pairs]
    micro = token_prf(planted_masks, discovered)["instance_micro"]
    labels = tuple(dict.fromkeys(example.label for example, _ in pairs))
    ranking = build_report(
        [example for example, _ in pairs],
        masks,
        labels,
        top=None,
        contexts=0,
        min_count=1,
        rank_by=rank_by,
    ).phrases
    k = len(planted)
    planted_words = {phrase: tuple(phrase.lower().split()) for phrase in planted}
    best_match = {
        phrase: next(
            (
                (rank, stats)
                for rank, stats in enumerate(ranking, start=1)
                if _is_telling_part(tuple(stats.phrase.split()), words)
            ),
            (None, None),
        )
        for phrase, words in planted_words.items()
    }

    def recall_within(limit: int) -> float:
        matched = sum(rank is not None and rank <= limit for rank, _ in best_match.values())
        return matched / k if k else 0.0

    top = ranking[:k]
    top_matching = sum(
        any(
            _is_telling_part(tuple(stats.phrase.split()), words) for words in planted_words.values()
        )
        for stats in top
    )
    details = {}
    for phrase, label in planted.items():
        rank, stats = best_match[phrase]
        details[phrase] = {
            "label": label,
            "found": rank is not None and rank <= k,
            "matched": None if stats is None else stats.phrase,
            "rank": rank,
            "skew_label": None if stats is None else stats.skew_label,
        }
    return {
        "examples": len(pairs),
        "discovered_words": sum(int(m.sum()) for m in discovered),
        "planted_words": sum(int(m.sum()) for m in planted_masks),
        "correct_words": sum(
            int((m & p).sum()) for m, p in zip(discovered, planted_masks, strict=True)
        ),
        "token_precision": micro["p"],
        "token_recall": micro["r"],
        "token_f1": micro["f1"],
        "rank_by": rank_by,
        "k": k,
        "top_phrases": [stats.phrase for stats in top],
        "planted_found": [phrase for phrase in planted if details[phrase]["found"]],
        "phrase_precision": top_matching / len(top) if top else 0.0,
        "phrase_recall": recall_within(k),
        "depth": depth,
        "phrase_recall_at_depth": recall_within(depth),
        "planted": details,
    }
