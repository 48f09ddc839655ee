"""Subword tokenizer: a Hugging Face fast tokenizer aligned exactly with document words."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rationalizer.data.tokenization.encoding import Encoding
from rationalizer.data.tokenization.truncation import document_budget, words_that_fit
from rationalizer.errors import RationalizerError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def _refuse_lone_surrogates(words: Sequence[str]) -> None:
    """A lone surrogate is no Unicode text: a Rust tokenizer refuses a word holding one with a
    TypeError that names neither the word nor the character; this error names both."""
    try:
        "".join(words).encode("utf-8")
    except UnicodeEncodeError:
        for i, word in enumerate(words):
            bad = next((c for c in word if "\ud800" <= c <= "\udfff"), None)
            if bad is not None:
                raise RationalizerError(
                    f"word {i} ({word!r}) holds a lone surrogate (U+{ord(bad):04X}), which is "
                    "not Unicode text"
                ) from None


class SubwordTokenizer:
    """A Hugging Face *fast* tokenizer, fed pre-split words so its word ids give exact alignment.

    A document word that the tokenizer turns into no subword at all (zero-width characters,
    variation selectors, some control characters) is encoded as the unknown token, so that every
    word keeps at least one position. With a query, the tokenizer's own pair encoding is used
    (``[CLS] query [SEP] document [SEP]`` for BERT); if no document word fits, the encoding holds
    the query alone, as the tokenizer encodes an empty pair.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise RationalizerError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; exact word alignment needs "
                "the word ids only fast (Rust) tokenizers provide"
            )
        self.tokenizer = tokenizer
        model_limit = tokenizer.model_max_length
        # Tokenizers without a known limit report a huge sentinel number.
        if max_length is None and model_limit < 1_000_000:
            max_length = model_limit
        self.max_length = max_length

    @classmethod
    def from_pretrained(cls, path: str | Path, max_length: int | None = None) -> SubwordTokenizer:
        """Load the tokenizer files of a local model directory (never from a model hub)."""
        from transformers import AutoTokenizer  # imported here: transformers is slow to import

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as err:
            raise RationalizerError(f"cannot load a tokenizer from {path}: {err}") from err
        return cls(tokenizer, max_length)

    @property
    def pad_id(self) -> int:
        if self.tokenizer.pad_token_id is None:
            raise RationalizerError(f"{type(self.tokenizer).__name__} has no padding token")
        return int(self.tokenizer.pad_token_id)

    def _pieces(self, words: Sequence[str]) -> list[int | None]:
        """Word id of each subword of ``words`` encoded alone, without special tokens."""
        _refuse_lone_surrogates(words)
        encoded = self.tokenizer(
            list(words), is_split_into_words=True, add_special_tokens=False, verbose=False
        )
        return encoded.word_ids()

    def _stand_in_for_empty_words(self, words: list[str]) -> tuple[list[str], np.ndarray]:
        """Words with zero-subword words replaced by the unknown token, and positions per word."""
        word_ids = [w for w in self._pieces(words) if w is not None]
        counts = np.bincount(np.asarray(word_ids, dtype=np.int64), minlength=len(words))
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            unk = self.tokenizer.unk_token
            if unk is None:
                raise RationalizerError(
                    f"word {words[empty[0]]!r} gives no subword token and "
                    f"{type(self.tokenizer).__name__} has no unknown token to stand in for it"
                )
            words = list(words)
            for i in empty:
                words[i] = unk
            counts[empty] = 1
        return words, counts

    def encode(
        self,
        words: Sequence[str],
        query: Sequence[str] | None = None,
        max_length: int | None = None,
    ) -> Encoding:
        """Encode document ``words`` (and an optional ``query``) in at most ``max_length``
        positions (default: this tokenizer's ``max_length``, the model's limit)."""
        max_length = self.max_length if max_length is None else max_length
        words, positions_per_word = self._stand_in_for_empty_words(list(words))
        taken = self.tokenizer.num_special_tokens_to_add(pair=query is not None)
        if query is not None:
            taken += len(self._pieces(query))
        kept = words_that_fit(positions_per_word, document_budget(max_length, taken))
        texts = [words[:kept]] if query is None else [list(query), words[:kept]]
        encoded = self.tokenizer(
            *texts,
            is_split_into_words=True,
            add_special_tokens=True,
            return_token_type_ids=True,
            return_attention_mask=False,
            verbose=False,
        )
        document_sequence = 0 if query is None else 1
        sequences = encoded.sequence_ids()
        word_ids = [
            w if s == document_sequence else -1
            for w, s in zip(encoded.word_ids(), sequences, strict=True)
        ]
        if max_length is not None and len(word_ids) > max_length:
            raise RationalizerError(
                f"{type(self.tokenizer).__name__} encodes words differently in context than "
                f"alone ({len(word_ids)} > {max_length} positions); it cannot be aligned exactly"
            )
        return Encoding(
            input_ids=np.asarray(encoded["input_ids"], dtype=np.int64),
            word_ids=np.asarray(word_ids, dtype=np.int64),
            is_query=np.asarray([query is not None and s == 0 for s in sequences], dtype=bool),
            token_type_ids=np.asarray(
                encoded.get("token_type_ids", [0] * len(word_ids)), dtype=np.int64
            ),
            num_words=kept,
            truncated_words=len(words) - kept,
        )
