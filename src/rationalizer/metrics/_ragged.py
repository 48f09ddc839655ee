"""Per-document vectors stored back to back, so thousands of documents are scored without a loop.

Rationale metrics are defined per document (an ERASER *instance*: one annotation id and one
docid). Looping over 10,000 documents with a library call each costs seconds; concatenating the
vectors once and working with segment ids keeps every metric a handful of numpy operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """``values`` of all documents concatenated; document ``i`` owns ``lengths[i]`` of them."""

    values: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray | Sequence[float]], dtype: type) -> Ragged:
        parts: list[np.ndarray] = [np.asarray(a, dtype=dtype).reshape(-1) for a in arrays]
        lengths = np.fromiter((p.size for p in parts), dtype=np.int64, count=len(parts))
        values = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
        return cls(values, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths

    def segment_ids(self) -> np.ndarray:
        """The document index of every value."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    def sums(self) -> np.ndarray:
        """Per-document sum of the values (as float64)."""
        return np.bincount(self.segment_ids(), weights=self.values, minlength=len(self))


def check_same_shape(truth: Ragged, other: Ragged, what: str) -> None:
    """Raise when two per-document sequences do not pair up document by document."""
    if len(truth) != len(other):
        raise ValueError(f"{what}: {len(truth)} gold documents but {len(other)} predicted ones")
    differ = np.flatnonzero(truth.lengths != other.lengths)
    if differ.size:
        i = int(differ[0])
        raise ValueError(
            f"{what}: document {i} has {truth.lengths[i]} gold positions "
            f"but {other.lengths[i]} predicted ones"
        )


def positions_within(lengths: np.ndarray) -> np.ndarray:
    """``0..n-1`` restarted for every segment: ``[2, 3] -> [0, 1, 0, 1, 2]``."""
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    return np.arange(total) - np.repeat(starts, lengths)
