"""Word-level vocabulary and tokenizer: one position per word, for models on GloVe vectors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter

from rationalizer.data.embeddings import GLOVE_NAME, WordEmbeddings, load_embeddings
from rationalizer.data.tokenization.encoding import Encoding
from rationalizer.data.tokenization.truncation import document_budget
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError
from rationalizer.files import read_json, validated, write_json


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


@dataclass(frozen=True)
class _VocabularyFile:
    """The payload of a saved vocabulary (validated by pydantic on load)."""

    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")
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

    def save(self, path: str | Path) -> None:
        write_json(
            path,
            "word-vocabulary",
            {
                "words": list(self.words),
                "lowercase": self.lowercase,
                "oov": self.oov.value,
                "min_freq": self.min_freq,
                "seed": self.seed,
                "pretrained": self.pretrained,
                "dim": self.dim,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> WordVocabulary:
        """Read a vocabulary written by :meth:`save`; DataFormatError names the bad field."""
        data = validated(_VOCABULARY_FILE, read_json(path, "word-vocabulary"), path)
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
    for i in np.flatnonzero(rows < 0).tolist():
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
        budget = document_budget(self.max_length if max_length is None else max_length, len(prefix))
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
