"""Truncation to a position budget, and how much of the documents it removed.

Truncation only removes whole document words from the end; the query is never truncated. An
:class:`~rationalizer.data.tokenization.encoding.Encoding` keeps ``num_words`` words and records
``truncated_words`` dropped, and :class:`TruncationReport` sums this over many encodings, so
truncation is always reported and never silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rationalizer.data.tokenization.encoding import Encoding
from rationalizer.errors import RationalizerError


@dataclass(frozen=True)
class TruncationReport:
    """How much truncation removed over a batch or a dataset; add reports to accumulate."""

    examples: int = 0
    truncated_examples: int = 0
    words: int = 0
    dropped_words: int = 0

    @classmethod
    def of(cls, encodings: Iterable[Encoding]) -> TruncationReport:
        encodings = list(encodings)
        return cls(
            examples=len(encodings),
            truncated_examples=sum(e.truncated_words > 0 for e in encodings),
            words=sum(e.total_words for e in encodings),
            dropped_words=sum(e.truncated_words for e in encodings),
        )

    def __add__(self, other: TruncationReport) -> TruncationReport:
        return TruncationReport(
            examples=self.examples + other.examples,
            truncated_examples=self.truncated_examples + other.truncated_examples,
            words=self.words + other.words,
            dropped_words=self.dropped_words + other.dropped_words,
        )

    @property
    def dropped_fraction(self) -> float:
        return self.dropped_words / self.words if self.words else 0.0

    def __str__(self) -> str:
        return (
            f"truncation: {self.truncated_examples} of {self.examples} examples truncated, "
            f"{self.dropped_words} of {self.words} document words dropped "
            f"({self.dropped_fraction:.1%})"
        )


def document_budget(max_length: int | None, taken: int) -> int | None:
    """Positions left for document words once ``taken`` query and special positions are placed."""
    if max_length is None:
        return None
    if max_length - taken < 0:
        raise RationalizerError(
            f"max_length {max_length} is too small: the query and special tokens alone take "
            f"{taken} positions"
        )
    return max_length - taken


def words_that_fit(positions_per_word: np.ndarray, budget: int | None) -> int:
    """How many leading words fit in ``budget`` positions without splitting a word."""
    if budget is None:
        return len(positions_per_word)
    return int(np.searchsorted(np.cumsum(positions_per_word), budget, side="right"))
