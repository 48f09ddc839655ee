"""Word and subword encoders with exact word ↔ model-position alignment.

Gold rationales, predicted masks and soft scores are indexed by *document word* (see
:mod:`rationalizer.data.example`), but a model sees *positions*: subword pieces, special tokens,
query tokens. Both encoders here, :class:`WordTokenizer` (one position per word, for GloVe models)
and :class:`SubwordTokenizer` (a Hugging Face fast tokenizer), return an :class:`Encoding` that
records which document word every position came from, so masks and scores move between the two
indexings without guessing.

Conventions shared by every :class:`Encoding`:

* ``word_ids[p]`` is the index of the document word position ``p`` belongs to, or -1 for special
  tokens, query tokens and padding. Query positions are marked in ``is_query``; special tokens are
  the positions with neither a word nor ``is_query``.
* Every kept document word has at least one position (a word the subword tokenizer would drop, such
  as a zero-width joiner, is encoded as the unknown token), and its positions are contiguous.
* Truncation only removes whole document words from the end; the query is never truncated.
  ``num_words`` words are kept, ``truncated_words`` dropped, and :class:`TruncationReport` sums
  this over many encodings, so truncation is always reported and never silent.
* Mapping back to words, dropped words get ``fill`` (NaN by default for scores: the model gave
  them no score) and are never selected by a mask.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

import numpy as np
import torch
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from rationalizer.data.embeddings import GLOVE_NAME, WordEmbeddings, load_embeddings
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

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


def _document_budget(max_length: int | None, taken: int) -> int | None:
    """Positions left for document words once ``taken`` query and special positions are placed."""
    if max_length is None:
        return None
    if max_length - taken < 0:
        raise RationalizerError(
            f"max_length {max_length} is too small: the query and special tokens alone take "
            f"{taken} positions"
        )
    return max_length - taken


def _words_that_fit(positions_per_word: np.ndarray, budget: int | None) -> int:
    """How many leading words fit in ``budget`` positions without splitting a word."""
    if budget is None:
        return len(positions_per_word)
    return int(np.searchsorted(np.cumsum(positions_per_word), budget, side="right"))


# ---------------------------------------------------------------------------------------------
# Word-level vocabulary and tokenizer


class OOVPolicy(StrEnum):
    """What a vocabulary does with training words that have no pretrained vector.

    ``unk``: they map to ``<unk>``. ``random``: those seen at least ``min_freq`` times get their
    own row, initialised randomly (seeded). ``zero``: the same, initialised to zeros.
    """

    UNK = "unk"
    RANDOM = "random"
    ZERO = "zero"


PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
SEP_TOKEN = "<sep>"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, SEP_TOKEN)
_VOCABULARY_FORMAT = "rationalizer.word-vocabulary"


@dataclass(frozen=True)
class _VocabularyFile:
    """The JSON layout of a saved vocabulary (validated by pydantic on load)."""

    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")
    format: Literal["rationalizer.word-vocabulary"]
    version: Literal[1]
    words: tuple[str, ...]
    lowercase: bool
    oov: OOVPolicy
    min_freq: Annotated[int, Field(ge=1)]
    seed: int
    pretrained: str | None
    dim: Annotated[int, Field(ge=1)]


_VOCABULARY_FILE = TypeAdapter(_VocabularyFile)


class WordVocabulary:
    """Word ↔ id mapping for word-level models, aligned with a pretrained embedding table.

    Ids 0, 1, 2 are ``<pad>``, ``<unk>`` and ``<sep>`` (separates a query from the document).
    Built from training texts: a training word enters the vocabulary if it has a pretrained vector
    (any count), or, under the ``random``/``zero`` :class:`OOVPolicy`, if it occurs at least
    ``min_freq`` times. With ``lowercase`` (GloVe is lowercase), words are lowercased before
    lookup; without, a cased word falls back to its lowercase pretrained vector.
    """

    pad_id = 0
    unk_id = 1
    sep_id = 2

    def __init__(
        self,
        words: Sequence[str],
        *,
        dim: int,
        lowercase: bool = True,
        oov: OOVPolicy | str = OOVPolicy.RANDOM,
        min_freq: int = 2,
        seed: int = 0,
        pretrained: str | None = GLOVE_NAME,
    ) -> None:
        if tuple(words[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a vocabulary must start with {SPECIAL_TOKENS}")
        self.words = tuple(words)
        self._index = {word: i for i, word in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        if min_freq < 1 or dim < 1:
            raise ValueError("min_freq and dim must be positive")
        self.dim = dim
        self.lowercase = lowercase
        self.oov = _oov_policy(oov)
        self.min_freq = min_freq
        self.seed = seed
        self.pretrained = pretrained

    @classmethod
    def build(
        cls,
        texts: Iterable[Sequence[str]],
        embeddings: WordEmbeddings | None,
        *,
        lowercase: bool = True,
        oov: OOVPolicy | str = OOVPolicy.RANDOM,
        min_freq: int = 2,
        seed: int = 0,
        dim: int | None = None,
    ) -> WordVocabulary:
        """Vocabulary of the training ``texts`` (word sequences), most frequent first.

        ``embeddings`` (e.g. :func:`~rationalizer.data.embeddings.load_glove`) supplies the
        pretrained vectors; with None every word is out-of-vocabulary and ``dim`` is required.
        """
        if embeddings is None and dim is None:
            raise ValueError("without pretrained embeddings, give the vector size `dim`")
        counts = Counter(word.lower() if lowercase else word for text in texts for word in text)
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        candidates = sorted(counts, key=lambda word: (-counts[word], word))
        pretrained = (
            np.zeros(len(candidates), dtype=bool)
            if embeddings is None
            else _pretrained_rows(candidates, embeddings) >= 0
        )
        own_row = _oov_policy(oov) is not OOVPolicy.UNK
        words = [
            word
            for word, known in zip(candidates, pretrained, strict=True)
            if known or (own_row and counts[word] >= min_freq)
        ]
        return cls(
            [*SPECIAL_TOKENS, *words],
            dim=embeddings.dim if embeddings is not None else dim,  # type: ignore[arg-type]
            lowercase=lowercase,
            oov=oov,
            min_freq=min_freq,
            seed=seed,
            pretrained=None if embeddings is None else embeddings.name,
        )

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._normalise(word) in self._index

    def _normalise(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def id(self, word: str) -> int:
        """The id of ``word``, ``unk_id`` when it is not in the vocabulary."""
        return self._index.get(self._normalise(word), self.unk_id)

    def ids(self, words: Sequence[str]) -> list[int]:
        return [self.id(word) for word in words]

    def oov_rate(self, texts: Iterable[Sequence[str]]) -> float:
        """Fraction of the word tokens of ``texts`` that map to ``<unk>`` (0.0 for no tokens)."""
        total = unknown = 0
        for text in texts:
            total += len(text)
            unknown += sum(self.id(word) == self.unk_id for word in text)
        return unknown / total if total else 0.0

    def embedding_matrix(self, embeddings: WordEmbeddings | None = None) -> np.ndarray:
        """The float32 ``(len(self), dim)`` initial embedding table, reproducible from the seed.

        Words with a pretrained vector get it; other words get a random row (``random`` policy,
        normal with the pretrained rows' standard deviation) or zeros (``zero``); ``<pad>`` and
        ``<unk>`` are zeros and ``<sep>`` is random. ``embeddings`` defaults to loading the set
        named by :attr:`pretrained`.
        """
        if self.pretrained is None:
            if embeddings is not None:
                raise RationalizerError("this vocabulary was built without pretrained embeddings")
            rows = np.full(len(self), -1, dtype=np.int64)
        else:
            embeddings = load_embeddings(self.pretrained) if embeddings is None else embeddings
            if embeddings.name != self.pretrained or embeddings.dim != self.dim:
                raise RationalizerError(
                    f"this vocabulary was built on {self.pretrained!r} ({self.dim}d), "
                    f"not {embeddings.name!r} ({embeddings.dim}d)"
                )
            rows = _pretrained_rows(self.words, embeddings)
            rows[: len(SPECIAL_TOKENS)] = -1
        found = rows >= 0
        pretrained = (
            np.asarray(embeddings.vectors[rows[found]], dtype=np.float32)
            if embeddings is not None and found.any()
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        scale = float(pretrained.std()) if pretrained.size else 1.0
        rng = np.random.default_rng(self.seed)
        random_rows = rng.normal(0.0, scale, size=(len(self), self.dim)).astype(np.float32)
        matrix = random_rows if self.oov is OOVPolicy.RANDOM else np.zeros_like(random_rows)
        matrix[found] = pretrained
        matrix[[self.pad_id, self.unk_id]] = 0.0
        matrix[self.sep_id] = random_rows[self.sep_id]
        return matrix

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _VOCABULARY_FORMAT,
                "version": 1,
                "words": list(self.words),
                "lowercase": self.lowercase,
                "oov": self.oov.value,
                "min_freq": self.min_freq,
                "seed": self.seed,
                "pretrained": self.pretrained,
                "dim": self.dim,
            },
            ensure_ascii=False,
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> WordVocabulary:
        """Read a vocabulary written by :meth:`save`; DataFormatError names the bad field."""
        path = Path(path)
        try:
            data = _VOCABULARY_FILE.validate_json(path.read_bytes())
        except FileNotFoundError:
            raise DataFormatError(path, "no such vocabulary file") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(part) for part in err["loc"]) or None
            raise DataFormatError(path, err["msg"], field=field) from None
        try:
            return cls(
                data.words,
                dim=data.dim,
                lowercase=data.lowercase,
                oov=data.oov,
                min_freq=data.min_freq,
                seed=data.seed,
                pretrained=data.pretrained,
            )
        except ValueError as exc:
            raise DataFormatError(path, str(exc), field="words") from None


def _oov_policy(name: OOVPolicy | str) -> OOVPolicy:
    try:
        return OOVPolicy(name)
    except ValueError:
        raise UnknownNameError("OOV policy", str(name), [p.value for p in OOVPolicy]) from None


def _pretrained_rows(words: Sequence[str], embeddings: WordEmbeddings) -> np.ndarray:
    """Embedding rows of ``words`` (-1 where none), falling back to the lowercase form."""
    rows = embeddings.rows(words)
    for i in np.flatnonzero(rows < 0):
        rows[i] = embeddings.rows([words[i].lower()])[0]
    return rows


class WordTokenizer:
    """One position per word over a :class:`WordVocabulary`; a query comes first, then ``<sep>``."""

    def __init__(self, vocabulary: WordVocabulary, max_length: int | None = None) -> None:
        self.vocabulary = vocabulary
        self.max_length = max_length

    @property
    def pad_id(self) -> int:
        return self.vocabulary.pad_id

    def encode(
        self,
        words: Sequence[str],
        query: Sequence[str] | None = None,
        max_length: int | None = None,
    ) -> Encoding:
        """Encode document ``words`` (and an optional ``query``) in at most ``max_length``
        positions (default: this tokenizer's ``max_length``; None keeps everything)."""
        prefix = [] if query is None else [*self.vocabulary.ids(query), self.vocabulary.sep_id]
        budget = _document_budget(
            self.max_length if max_length is None else max_length, len(prefix)
        )
        kept = len(words) if budget is None else min(len(words), budget)
        ids = [*prefix, *self.vocabulary.ids(words[:kept])]
        in_document = np.arange(len(ids)) >= len(prefix)
        return Encoding(
            input_ids=np.asarray(ids, dtype=np.int64),
            word_ids=np.where(in_document, np.arange(len(ids)) - len(prefix), -1),
            is_query=np.arange(len(ids)) < len(prefix) - 1,
            token_type_ids=(in_document & (query is not None)).astype(np.int64),
            num_words=kept,
            truncated_words=len(words) - kept,
        )


# ---------------------------------------------------------------------------------------------
# Subword tokenizer


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
        kept = _words_that_fit(positions_per_word, _document_budget(max_length, taken))
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
