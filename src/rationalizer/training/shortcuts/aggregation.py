"""Aggregation of shortcut masks into a :class:`ShortcutReport`: counting and ranking phrases.

Beyond the paper, :func:`build_report` aggregates the shortcut words of a dataset into shortcut
*phrases* (maximal runs of consecutive shortcut words) and single words, ranked by how many
examples they appear in (or by label skew), each with its label distribution, a label-skew
score, how often annotators mark it as evidence where it occurs, and example contexts — a
practitioner's view of what the data lets a model cheat with.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rationalizer.data.example import Example, Span, mask_to_spans
from rationalizer.errors import RationalizerError
from rationalizer.training.shortcuts.masks import annotated_with_masks
from rationalizer.training.shortcuts.report import (
    RANKINGS,
    Context,
    PhraseStats,
    RankBy,
    ShortcutReport,
)
from rationalizer.training.shortcuts.skew import label_log_odds

#: Words of context shown on each side of a shortcut occurrence.
DEFAULT_WINDOW = 5


@dataclass
class _Tally:
    """Running counts of one phrase while the report is built."""

    occurrences: int = 0
    examples: set[str] = field(default_factory=set)
    label_counts: Counter[str] = field(default_factory=Counter)
    contexts: list[Context] = field(default_factory=list)

    def add(self, example: Example, context: Context, max_contexts: int) -> None:
        self.occurrences += 1
        if example.id not in self.examples:
            self.examples.add(example.id)
            self.label_counts[example.label] += 1
            if len(self.contexts) < max_contexts:
                self.contexts.append(context)


def _context(example: Example, tokens: Sequence[str], span: Span, window: int) -> Context:
    return Context(
        example_id=example.id,
        label=example.label,
        start=span.start,
        left=" ".join(tokens[max(0, span.start - window) : span.start]),
        phrase=" ".join(tokens[span.start : span.end]),
        right=" ".join(tokens[span.end : span.end + window]),
    )


def _stats(
    phrase: str, tally: _Tally, labels: Sequence[str], prior: Mapping[str, int]
) -> PhraseStats:
    log_odds = label_log_odds(tally.label_counts, prior, labels)
    skew = max(labels, key=lambda label: log_odds[label])  # first label wins ties
    return PhraseStats(
        phrase=phrase,
        count=len(tally.examples),
        occurrences=tally.occurrences,
        label_counts={label: tally.label_counts[label] for label in labels},
        skew_label=skew,
        skew_share=tally.label_counts[skew] / len(tally.examples),
        log_odds=log_odds[skew],
        contexts=tuple(tally.contexts),
    )


def _ranked(
    tallies: Mapping[str, _Tally],
    labels: Sequence[str],
    prior: Mapping[str, int],
    top: int | None,
    min_count: int,
    rank_by: RankBy,
) -> tuple[PhraseStats, ...]:
    """Tallies with at least ``min_count`` examples, ordered by ``rank_by`` (ties: examples,
    occurrences, then alphabetical), cut to ``top``."""
    kept = [
        _stats(phrase, tally, labels, prior)
        for phrase, tally in tallies.items()
        if len(tally.examples) >= min_count
    ]
    skew_first = rank_by == "skew"
    kept.sort(
        key=lambda s: (-s.log_odds if skew_first else 0.0, -s.count, -s.occurrences, s.phrase)
    )
    return tuple(kept[:top])


def _evidence_rates(
    lengths: Mapping[str, int], documents: Sequence[tuple[Sequence[str], np.ndarray]]
) -> dict[str, float]:
    """:attr:`PhraseStats.evidence_rate` of each phrase of ``lengths`` (phrase → its number of
    words), counted at every place it occurs in the ``documents`` (tokens, prefix sums of the
    gold mask), as a shortcut or not."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for phrase, n in lengths.items():
        wanted[n].add(phrase)
    starts = {n: {phrase.split(" ", 1)[0] for phrase in phrases} for n, phrases in wanted.items()}
    inside: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for tokens, gold in documents:
        lowered = [token.lower() for token in tokens]
        for n, phrases in wanted.items():
            for start in range(len(tokens) - n + 1):
                if lowered[start] not in starts[n]:
                    continue  # cheap pre-check; the join below decides
                phrase = " ".join(tokens[start : start + n]).lower()
                if phrase in phrases:
                    inside[phrase] += int(gold[start + n] - gold[start])
                    words[phrase] += n
    return {phrase: inside[phrase] / count for phrase, count in words.items()}


def _with_rates(rows: Sequence[PhraseStats], rates: Mapping[str, float]) -> tuple[PhraseStats, ...]:
    return tuple(
        replace(stats, evidence_rate=rates[stats.phrase]) if stats.phrase in rates else stats
        for stats in rows
    )


def build_report(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    labels: Sequence[str],
    *,
    top: int | None = 50,
    contexts: int = 3,
    min_count: int = 2,
    window: int = DEFAULT_WINDOW,
    predicted: Mapping[str, np.ndarray] | None = None,
    rank_by: RankBy = "count",
    min_skew: float = 0.0,
    filtered_words: int = 0,
    max_evidence_ratio: float = 0.0,
    evidence_filtered_words: int = 0,
) -> ShortcutReport:
    """Aggregate the shortcut masks of the annotated ``examples`` into a :class:`ShortcutReport`.

    A phrase is a maximal run of consecutive shortcut words, lower-cased and joined by spaces;
    every shortcut word also counts as a unigram. Phrases and words found in fewer than
    ``min_count`` examples are left out and only the ``top`` most frequent are kept (None: all).
    Each keeps up to ``contexts`` occurrences (the first ones, from distinct examples) with
    ``window`` words on each side. ``labels`` is the label set in canonical order (ties of the
    skew go to the earlier label). Pass the ``predicted`` masks that the shortcut masks came
    from to get the shortcut rate (shortcut words / selected words).

    ``rank_by="skew"`` orders by label skew instead of frequency: frequent words that a
    rationalizer selects in examples of every label (".", "is") sink, and phrases that give the
    label away rise, while the smoothing still favours phrases seen in many examples.

    ``min_skew`` and ``filtered_words`` record the label-skew filter the ``masks`` went through
    (see :func:`skew_filter`), ``max_evidence_ratio`` and ``evidence_filtered_words`` the
    evidence filter (:func:`evidence_filter`). Each kept phrase gets its evidence rate and the
    report the gold rationale density of the examples, its baseline.
    """
    _check_rank_by(rank_by)
    if top is not None and top < 1:
        raise RationalizerError(f"top must be at least 1 (or None for all), got {top}")
    if min_count < 1:
        raise RationalizerError(f"min_count must be at least 1, got {min_count}")
    if contexts < 0 or window < 0:
        raise RationalizerError("contexts and window must be >= 0")
    labels = tuple(labels)
    pairs = annotated_with_masks(examples, masks, "shortcut mask")
    prior: Counter[str] = Counter()
    phrase_tallies: dict[str, _Tally] = defaultdict(_Tally)
    word_tallies: dict[str, _Tally] = defaultdict(_Tally)
    phrase_lengths: dict[str, int] = {}
    documents: list[tuple[Sequence[str], np.ndarray]] = []
    shortcut_words = examples_with_shortcuts = 0
    for example, mask in pairs:
        if example.label not in labels:
            raise RationalizerError(
                f"example {example.id!r} has label {example.label!r} outside {list(labels)}"
            )
        prior[example.label] += 1
        tokens = example.document.tokens
        documents.append((tokens, np.concatenate(([0], np.cumsum(example.rationale_mask())))))
        spans = mask_to_spans(mask)
        shortcut_words += int(mask.sum())
        examples_with_shortcuts += bool(spans)
        for span in spans:
            phrase = " ".join(tokens[span.start : span.end]).lower()
            phrase_lengths[phrase] = len(span)
            phrase_tallies[phrase].add(example, _context(example, tokens, span, window), contexts)
            for position in span.positions():
                word = Span(position, position + 1)
                word_tallies[tokens[position].lower()].add(
                    example, _context(example, tokens, word, window), contexts
                )
    phrases = _ranked(phrase_tallies, labels, prior, top, min_count, rank_by)
    unigrams = _ranked(word_tallies, labels, prior, top, min_count, rank_by)
    listed = {s.phrase: phrase_lengths[s.phrase] for s in phrases} | {s.phrase: 1 for s in unigrams}
    rates = _evidence_rates(listed, documents)
    all_words = sum(len(tokens) for tokens, _ in documents)
    gold_words = sum(int(gold[-1]) for _, gold in documents)
    selected_words = None
    if predicted is not None:
        selected_words = sum(
            int(selected.sum())
            for _, selected in annotated_with_masks(examples, predicted, "predicted mask")
        )
    return ShortcutReport(
        labels=labels,
        label_counts={label: prior[label] for label in labels},
        annotated_examples=len(pairs),
        examples_with_shortcuts=examples_with_shortcuts,
        shortcut_words=shortcut_words,
        selected_words=selected_words,
        distinct_phrases=len(phrase_tallies),
        distinct_unigrams=len(word_tallies),
        top=top,
        min_count=min_count,
        window=window,
        rank_by=rank_by,
        min_skew=min_skew,
        filtered_words=filtered_words,
        max_evidence_ratio=max_evidence_ratio,
        evidence_filtered_words=evidence_filtered_words,
        rationale_density=gold_words / all_words if all_words else None,
        phrases=_with_rates(phrases, rates),
        unigrams=_with_rates(unigrams, rates),
    )


def _check_rank_by(rank_by: str) -> None:
    if rank_by not in RANKINGS:
        raise RationalizerError(f"unknown ranking {rank_by!r}: choose one of {', '.join(RANKINGS)}")
