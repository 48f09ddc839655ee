"""Descriptive statistics of a dataset split, as shown by ``rationalizer data stats``.

Lengths count the word tokens of the documents (the query is not counted), and rationale
density is rationale tokens over document tokens, as in the data README: *micro* pools all tokens,
*macro* averages per-example ratios. Truncation statistics say what a model with a given maximum
length would lose, so that users choose ``max_length`` knowingly instead of truncating silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from rationalizer.data.example import Dataset, Example

if TYPE_CHECKING:  # the tokenizers import torch, which `rationalizer data` does not need
    from rationalizer.data.tokenization import Encoder


@dataclass(frozen=True)
class Truncation:
    """What truncating every example to ``max_length`` model positions would drop."""

    max_length: int
    unit: str
    truncated_examples: int
    dropped_token_fraction: float
    dropped_rationale_fraction: float


@dataclass(frozen=True)
class SplitStats:
    dataset: str
    split: str
    examples: int
    label_counts: dict[str, int]
    mean_tokens: float
    median_tokens: float
    min_tokens: int
    max_tokens: int
    mean_query_tokens: float | None
    with_rationale: int
    spans_per_rationale_example: float
    rationale_tokens_per_rationale_example: float
    density_micro: float
    density_macro: float
    density_all_examples: float
    truncation: Truncation | None

    def to_dict(self) -> dict:
        return asdict(self)


def _kept_words(example: Example, max_length: int, encoder: Encoder | None) -> int:
    """Words of the (first) document that survive truncation to ``max_length``."""
    words = example.documents[0].tokens
    if encoder is None:
        return min(len(words), max_length)
    query = example.query.split() if example.query else None
    return encoder.encode(words, query=query, max_length=max_length).num_words


def split_stats(
    dataset: Dataset, max_length: int | None = None, encoder: Encoder | None = None
) -> SplitStats:
    """Counts, label balance, lengths, rationale density and (optionally) truncation loss.

    With ``encoder`` (a word or subword tokenizer), ``max_length`` counts that encoder's
    positions, special and query tokens included; without, it counts document words.
    """
    if len(dataset) == 0:
        raise ValueError(f"{dataset.name}/{dataset.split} has no examples")
    lengths = np.array([sum(len(d) for d in ex.documents) for ex in dataset], dtype=np.int64)
    annotated = [ex for ex in dataset if ex.has_rationale]
    rationale_len = np.array(
        [sum(int(ex.rationale_mask(d.docid).sum()) for d in ex.documents) for ex in annotated],
        dtype=np.int64,
    )
    annotated_len = np.array(
        [sum(len(d) for d in ex.documents) for ex in annotated], dtype=np.int64
    )
    spans = [sum(len(ex.rationale_spans(d.docid)) for d in ex.documents) for ex in annotated]
    queries = [len(ex.query.split()) for ex in dataset if ex.query]

    truncation = None
    if max_length is not None:
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length}")
        dropped = dropped_rationale = truncated = 0
        for ex in dataset:
            doc = ex.documents[0]
            kept = _kept_words(ex, max_length, encoder)
            lost = len(doc) - kept + sum(len(d) for d in ex.documents[1:])
            truncated += lost > 0
            dropped += lost
            if ex.has_rationale:
                dropped_rationale += int(ex.rationale_mask(doc.docid)[kept:].sum())
                dropped_rationale += sum(
                    int(ex.rationale_mask(d.docid).sum()) for d in ex.documents[1:]
                )
        truncation = Truncation(
            max_length=max_length,
            unit="words" if encoder is None else "model positions",
            truncated_examples=truncated,
            dropped_token_fraction=dropped / max(int(lengths.sum()), 1),
            dropped_rationale_fraction=dropped_rationale / max(int(rationale_len.sum()), 1),
        )

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den else 0.0

    return SplitStats(
        dataset=dataset.name,
        split=dataset.split,
        examples=len(dataset),
        label_counts={
            label: Counter(ex.label for ex in dataset)[label] for label in dataset.labels
        },
        mean_tokens=float(lengths.mean()),
        median_tokens=float(np.median(lengths)),
        min_tokens=int(lengths.min()),
        max_tokens=int(lengths.max()),
        mean_query_tokens=float(np.mean(queries)) if queries else None,
        with_rationale=len(annotated),
        spans_per_rationale_example=float(np.mean(spans)) if spans else 0.0,
        rationale_tokens_per_rationale_example=float(rationale_len.mean()) if annotated else 0.0,
        density_micro=ratio(rationale_len.sum(), annotated_len.sum()),
        density_macro=float(np.mean(rationale_len / annotated_len)) if annotated else 0.0,
        density_all_examples=ratio(rationale_len.sum(), lengths.sum()),
        truncation=truncation,
    )
