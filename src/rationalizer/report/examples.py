"""The example browser's data: one compact JSON record per example, rendered page by page in JS.

Documents are embedded once, whatever the number of results files; each results file adds
only its own predictions. Spans are flat ``[start, end, start, end, ...]`` word offsets
(half-open, sorted, disjoint), which keeps 2,000 movie reviews at a few megabytes::

    {"labels": ["neg", "pos"],
     "runs": [{"name": "preds.jsonl", "hard": true, "classes": true}],
     "examples": [{"id": "negR_800.txt", "label": "neg", "query": null,
                   "docs": [{"docid": "negR_800.txt", "words": [...],
                             "gold": [4, 9], "shortcut": [17, 19]}],
                   "runs": [{"pred": "pos", "probs": [0.38, 0.62], "f1": 0.25,
                             "spans": [[3, 9, 40, 42]]}]}]}

``runs[i]`` of an example is null when results file ``i`` has no record for it. ``f1`` is the
example's token F1 (its words pooled over its documents), null when neither the gold nor the
predicted rationale marks a word: the per-instance F1 that ERASER's macro token F1 averages.
Shortcut spans mark every occurrence of a shortcut report's phrases (case-insensitive).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from rationalizer.data import Example, Span, merge_spans
from rationalizer.data.results import ResultRecord, TokenSpan
from rationalizer.report.inputs import ResultsInput

_DIGITS = 4


class PhraseFinder:
    """Finds the occurrences of multi-word phrases in a token sequence, ignoring case."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._by_first_word: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for phrase in phrases:
            words = tuple(phrase.lower().split())
            if words:
                self._by_first_word[words[0]].add(words)

    def __bool__(self) -> bool:
        return bool(self._by_first_word)

    def spans(self, tokens: Sequence[str]) -> tuple[Span, ...]:
        """Every occurrence, merged into disjoint spans."""
        lowered = [token.lower() for token in tokens]
        found = [
            Span(start, start + len(words))
            for start, word in enumerate(lowered)
            for words in self._by_first_word.get(word, ())
            if tuple(lowered[start : start + len(words)]) == words
        ]
        return merge_spans(found)


def browser_data(results: Sequence[ResultsInput], phrases: Iterable[str] = ()) -> dict:
    """The browser's JSON: every example with a record in any of ``results`` (dataset order).

    All results files must be scored against the same dataset.
    """
    if not results:
        raise ValueError("the example browser needs at least one results file")
    dataset = results[0].dataset
    finder = PhraseFinder(phrases)
    by_run = [{record.annotation_id: record for record in r.records} for r in results]
    examples = []
    for example in dataset:
        records = [run.get(example.id) for run in by_run]
        if any(record is not None for record in records):
            examples.append(_example(example, records, dataset.labels, finder))
    return {
        "labels": list(dataset.labels),
        "runs": [
            {
                "name": r.name,
                "hard": any(_has_hard(record) for record in r.records),
                "classes": any(record.classification is not None for record in r.records),
            }
            for r in results
        ],
        "examples": examples,
    }


def _example(
    example: Example,
    records: Sequence[ResultRecord | None],
    labels: Sequence[str],
    finder: PhraseFinder,
) -> dict:
    docs = [
        {
            "docid": doc.docid,
            "words": list(doc.tokens),
            "gold": _flat(example.rationale_spans(doc.docid)),
            "shortcut": _flat(finder.spans(doc.tokens)) if finder else [],
        }
        for doc in example.documents
    ]
    return {
        "id": example.id,
        "label": example.label,
        "query": example.query,
        "docs": docs,
        "runs": [None if r is None else _prediction(example, r, labels) for r in records],
    }


def _prediction(example: Example, record: ResultRecord, labels: Sequence[str]) -> dict:
    predicted = {r.docid: r.hard_rationale_predictions or () for r in record.rationales}
    masks = [_mask(predicted.get(doc.docid, ()), len(doc)) for doc in example.documents]
    scores = record.classification_scores
    return {
        "pred": record.classification,
        "probs": None
        if scores is None
        else [None if label not in scores else round(scores[label], _DIGITS) for label in labels],
        "f1": _token_f1(example, masks) if _has_hard(record) else None,
        "spans": [_mask_edges(mask) for mask in masks],
    }


def _mask(spans: Iterable[TokenSpan], length: int) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for span in spans:
        mask[span.start_token : span.end_token] = True
    return mask


def _mask_edges(mask: np.ndarray) -> list[int]:
    """The maximal runs of a mask as flat ``[start, end, ...]``: where it switches on and off."""
    return np.flatnonzero(np.diff(mask, prepend=False, append=False)).tolist()


def _token_f1(example: Example, predicted: Sequence[np.ndarray]) -> float | None:
    """Token F1 of the example's words pooled over its documents; None with nothing marked."""
    true_positives = selected = gold_words = 0
    for doc, chosen in zip(example.documents, predicted, strict=True):
        gold = example.rationale_mask(doc.docid).astype(bool)
        true_positives += int((gold & chosen).sum())
        selected += int(chosen.sum())
        gold_words += int(gold.sum())
    if selected + gold_words == 0:
        return None
    return round(2 * true_positives / (selected + gold_words), _DIGITS)


def _has_hard(record: ResultRecord) -> bool:
    return any(r.hard_rationale_predictions is not None for r in record.rationales)


def _flat(spans: Iterable[Span]) -> list[int]:
    return [offset for span in spans for offset in (span.start, span.end)]
