"""Known-answer models for explainer tests: bag-of-words classifiers whose attributions are known.

:class:`BagOfWords` is a two-class torch classifier behind the full adapter interface (gradients
included). Every word piece has a weight; the first coordinate of its input embedding *is* that
weight and the other coordinates are fixed pseudo-random values the classifier ignores, so the
positive class's log-odds is::

    log p(pos) / p(neg) = bias + Σ over pieces of activation(weight)

with ``activation`` the identity (a linear model: each word contributes exactly the sum of its
pieces' weights) or ReLU (``relu=True``: words with weight ≤ 0 have no effect and no gradient —
with one positive word, a model that looks at that word only). Words split on ``-`` into
pieces, several positions per word like subwords. A removed word's embedding is 0, which adds
exactly nothing: removal is deletion, so probabilities and embedding baselines agree.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch

from rationalizer.data.tokenization import Encoding
from rationalizer.explain.adapters import CallableAdapter, ClassifierAdapter, Instance
from rationalizer.explain.base import CAPABILITIES, Capability

LABELS = ("neg", "pos")
#: embedding size: the weight plus coordinates the classifier ignores
DIMENSIONS = 6
SPECIAL = "[CLS]"


def pieces(word: str) -> list[str]:
    """The positions a word gets: its parts between hyphens (the word itself if none)."""
    return [piece for piece in word.split("-") if piece] or [word]


class BagOfWords(ClassifierAdapter):
    """A bag-of-words classifier with known attributions (see the module docstring).

    ``weights`` maps pieces to weights (``default`` for any other piece); ``max_words``
    truncates the encoding like a model with a length limit.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(CAPABILITIES)
    labels = LABELS
    masking = "delete"

    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        bias: float = 0.0,
        default: float = 0.0,
        relu: bool = False,
        max_words: int | None = None,
    ) -> None:
        self.weights = dict(weights)
        self.bias = bias
        self.default = default
        self.activation: Callable[[torch.Tensor], torch.Tensor] = (
            torch.relu if relu else torch.clone
        )
        self.max_words = max_words
        self.vocabulary: dict[str, int] = {SPECIAL: 0}

    # ------------------------------------------------------------------ the model
    def embedding(self, piece: str) -> torch.Tensor:
        """A piece's input embedding: its weight, then fixed values drawn from its name."""
        rng = np.random.default_rng(zlib.crc32(piece.encode()))
        weight = 0.0 if piece == SPECIAL else self.weights.get(piece, self.default)
        return torch.tensor([weight, *rng.normal(size=DIMENSIONS - 1)], dtype=torch.float64)

    def log_odds(self, embeddings: torch.Tensor) -> torch.Tensor:
        """log p(pos) / p(neg) for embeddings (N, L, D)."""
        return self.bias + self.activation(embeddings[..., 0]).sum(-1)

    # ------------------------------------------------------------------ the adapter
    def prepare(self, text, query=None) -> Instance:
        words = tuple(text.split()) if isinstance(text, str) else tuple(text)
        kept = len(words) if self.max_words is None else min(len(words), self.max_words)
        tokens = [SPECIAL]
        word_ids = [-1]
        for index, word in enumerate(words[:kept]):
            tokens += pieces(word)
            word_ids += [index] * len(pieces(word))
        ids = [self.vocabulary.setdefault(token, len(self.vocabulary)) for token in tokens]
        encoding = Encoding(
            input_ids=np.array(ids),
            word_ids=np.array(word_ids),
            is_query=np.zeros(len(ids), dtype=bool),
            token_type_ids=np.zeros(len(ids), dtype=np.int64),
            num_words=kept,
            truncated_words=len(words) - kept,
        )
        return Instance(words, query, encoding)

    def embeddings(self, instance: Instance) -> torch.Tensor:
        tokens = {index: token for token, index in self.vocabulary.items()}
        return torch.stack([self.embedding(tokens[i]) for i in instance.encoding.input_ids])[None]

    def baseline_embeddings(self, instance: Instance) -> torch.Tensor:
        document = torch.from_numpy(self.document_positions(instance))
        return torch.where(document[None, :, None], 0.0, self.embeddings(instance))

    def logits_from_embeddings(self, instance: Instance, embeddings: torch.Tensor) -> torch.Tensor:
        log_odds = self.log_odds(embeddings)
        return torch.stack([torch.zeros_like(log_odds), log_odds], dim=1)

    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        word_ids = instance.encoding.word_ids
        document = word_ids >= 0
        kept = np.ones((len(keep), len(word_ids)))
        kept[:, document] = np.asarray(keep)[:, word_ids[document]]
        embeddings = self.embeddings(instance) * torch.from_numpy(kept)[..., None]
        logits = self.logits_from_embeddings(instance, embeddings)
        return torch.softmax(logits, -1).numpy()

    # ------------------------------------------------------------------ the known answers
    def contributions(self, instance: Instance, target: str = "pos") -> np.ndarray:
        """Each word's exact contribution to the target's log-odds (0 for truncated words)."""
        values = self.activation(self.embeddings(instance)[0, :, 0]).numpy()
        sign = 1.0 if target == "pos" else -1.0
        return sign * self.words_from_positions(instance, values)

    def as_black_box(self) -> CallableAdapter:
        """The same classifier behind a plain function of word lists (probabilities only)."""

        def classify(word_lists: Sequence[Sequence[str]]) -> np.ndarray:
            everything = [self.prepare(words) for words in word_lists]
            return np.concatenate(
                [self.probabilities(one, np.ones((1, one.num_words))) for one in everything]
            )

        return CallableAdapter(classify, LABELS, name="bag_of_words")
