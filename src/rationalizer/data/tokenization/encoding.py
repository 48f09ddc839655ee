"""The :class:`Encoding` of one example: model inputs aligned position by position with words.

Gold rationales, predicted masks and soft scores are indexed by *document word* (see
:mod:`rationalizer.data.example`), but a model sees *positions*: subword pieces, special tokens,
query tokens. An :class:`Encoding` records which document word every position came from, so
masks and scores move between the two indexings without guessing. Conventions:

* ``word_ids[p]`` is the index of the document word position ``p`` belongs to, or -1 for special
  tokens, query tokens and padding. Query positions are marked in ``is_query``; special tokens are
  the positions with neither a word nor ``is_query``.
* Every kept document word has at least one position (a word the subword tokenizer would drop, such
  as a zero-width joiner, is encoded as the unknown token), and its positions are contiguous.
* Mapping back to words, dropped words get ``fill`` (NaN by default for scores: the model gave
  them no score) and are never selected by a mask.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch

from rationalizer.errors import UnknownNameError

Aggregation = Literal["sum", "mean", "max", "min", "first"]
AGGREGATIONS: tuple[Aggregation, ...] = ("sum", "mean", "max", "min", "first")


@dataclass(frozen=True, eq=False)
class Encoding:
    """One encoded example: model inputs plus the alignment of positions to document words."""

    input_ids: np.ndarray
    #: per position: document word index, or -1 (special token, query token, padding)
    word_ids: np.ndarray
    #: per position: True for query tokens
    is_query: np.ndarray
    #: per position: the segment id a BERT-style model expects (0 query/single text, 1 document)
    token_type_ids: np.ndarray
    #: document words kept (words ``0 .. num_words - 1``)
    num_words: int
    #: document words dropped from the end by truncation
    truncated_words: int

    def __post_init__(self) -> None:
        n = len(self.input_ids)
        if not (len(self.word_ids) == len(self.is_query) == len(self.token_type_ids) == n):
            raise ValueError("encoding arrays differ in length")
        document = self.word_ids[self.word_ids >= 0]
        # The word at the start of each run must be 0, 1, 2, ...: in order, contiguous, none lost.
        run_words = document[np.diff(document, prepend=-1) != 0]
        if not np.array_equal(run_words, np.arange(self.num_words)):
            raise ValueError(
                "word_ids must cover document words 0..num_words-1 in order, each at least once"
            )
        if np.any(self.is_query & (self.word_ids >= 0)):
            raise ValueError("a position cannot belong to both the query and the document")

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def total_words(self) -> int:
        """Words of the document before truncation."""
        return self.num_words + self.truncated_words

    @property
    def dropped_words(self) -> range:
        """Indices of the document words removed by truncation."""
        return range(self.num_words, self.total_words)

    @property
    def special_tokens_mask(self) -> np.ndarray:
        """True at positions that belong to no word and no query token."""
        return (self.word_ids < 0) & ~self.is_query

    @functools.cached_property
    def _document_positions(self) -> np.ndarray:
        return np.flatnonzero(self.word_ids >= 0)

    @functools.cached_property
    def _word_starts(self) -> np.ndarray:
        """Offsets into :attr:`_document_positions` where each kept word begins."""
        words = self.word_ids[self._document_positions]
        return np.flatnonzero(np.diff(words, prepend=-1) != 0)

    def words_to_positions(self, values: Sequence | np.ndarray, fill: float = 0) -> np.ndarray:
        """Spread one value per document word (a gold mask, word scores) onto positions.

        ``values`` covers the whole document (``total_words``); every position of a word gets the
        word's value, positions without a word get ``fill``. The dtype follows ``values``.
        """
        values = np.asarray(values)
        if values.shape != (self.total_words,):
            raise ValueError(f"expected {self.total_words} word values, got shape {values.shape}")
        out = np.full(len(self), fill, dtype=np.result_type(values, fill))
        positions = self._document_positions
        out[positions] = values[self.word_ids[positions]]
        return out

    def positions_to_words(
        self,
        values: Sequence | np.ndarray,
        aggregate: Aggregation = "max",
        fill: float = np.nan,
    ) -> np.ndarray:
        """Collapse one value per position into one float per document word.

        Each kept word's value aggregates its positions' values: ``sum``, ``mean``, ``max``,
        ``min`` or ``first`` (the first subword's). Values at special and query positions are
        ignored. Words dropped by truncation get ``fill`` (NaN by default: the model never saw
        them; pass ``fill=0.0`` where a number is required).
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(self),):
            raise ValueError(f"expected {len(self)} position values, got shape {values.shape}")
        if aggregate not in AGGREGATIONS:
            raise UnknownNameError("aggregation", aggregate, AGGREGATIONS)
        out = np.full(self.total_words, fill, dtype=np.float64)
        if self.num_words == 0:
            return out
        per_position = values[self._document_positions]
        starts = self._word_starts
        if aggregate == "first":
            out[: self.num_words] = per_position[starts]
        elif aggregate == "max":
            out[: self.num_words] = np.maximum.reduceat(per_position, starts)
        elif aggregate == "min":
            out[: self.num_words] = np.minimum.reduceat(per_position, starts)
        else:
            sums = np.add.reduceat(per_position, starts)
            counts = np.diff(starts, append=len(per_position))
            out[: self.num_words] = sums if aggregate == "sum" else sums / counts
        return out

    def position_mask_to_words(
        self, mask: Sequence | np.ndarray, require: Literal["any", "all"] = "any"
    ) -> np.ndarray:
        """A 0/1 word mask (int8) from a position mask: a word is selected when ``any`` (or
        ``all``) of its positions are. Words dropped by truncation are never selected."""
        if require not in ("any", "all"):
            raise UnknownNameError("mask requirement", require, ("any", "all"))
        selected = np.asarray(mask) != 0
        words = self.positions_to_words(selected, "max" if require == "any" else "min", fill=0)
        return words.astype(np.int8)


class Encoder(Protocol):
    """What models and higher layers need from either tokenizer."""

    @property
    def pad_id(self) -> int: ...

    def encode(
        self,
        words: Sequence[str],
        query: Sequence[str] | None = None,
        max_length: int | None = None,
    ) -> Encoding: ...


def collate(encodings: Sequence[Encoding], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad encodings into LongTensors of shape (batch, longest).

    Returns ``input_ids`` (padded with ``pad_id``), ``attention_mask`` (1 on real positions),
    ``token_type_ids`` (padded with 0) and ``word_ids`` (padded with -1).
    """
    if not encodings:
        raise ValueError("cannot collate an empty batch")
    shape = (len(encodings), max(len(e) for e in encodings))
    batch = {
        "input_ids": torch.full(shape, pad_id, dtype=torch.long),
        "attention_mask": torch.zeros(shape, dtype=torch.long),
        "token_type_ids": torch.zeros(shape, dtype=torch.long),
        "word_ids": torch.full(shape, -1, dtype=torch.long),
    }
    for row, enc in enumerate(encodings):
        n = len(enc)
        batch["input_ids"][row, :n] = torch.from_numpy(enc.input_ids)
        batch["attention_mask"][row, :n] = 1
        batch["token_type_ids"][row, :n] = torch.from_numpy(enc.token_type_ids)
        batch["word_ids"][row, :n] = torch.from_numpy(enc.word_ids)
    return batch
