"""Data augmentation of the annotated examples at their shortcut words (SSR).

Few examples carry a human rationale (D_s), so SSR makes more of them: each augmented copy of an
annotated example keeps its label, gold rationale, length and shortcut positions and changes only
the words at its discovered shortcut positions, so the copy teaches the same evidence with the
shortcut broken. Strategies (see the method page):

* ``random``: each maximal run of shortcut words becomes a run of the same length copied, at a
  uniformly random offset, from the non-rationale text of another training example of either
  label (the authors' data shows such copied runs).
* ``semantic``: each shortcut word becomes its nearest neighbour by cosine similarity of word
  vectors among the non-rationale words of the training data (a :class:`Datastore`); copy ``k``
  takes the ``k``-th nearest neighbour so several copies of one example differ.
* ``mixed``: copies alternate between the two, starting from a seeded coin flip, so with one
  copy per example half the examples get each strategy and with two copies each example gets one
  of each.
* ``none``: no copies.

Only the annotated examples of the training data are donors (of text or candidate words): the
rationale of any other example is unknown to the run, so its text could hold evidence.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from rationalizer.data.embeddings import WordEmbeddings
from rationalizer.data.example import Document, Evidence, Example, mask_to_spans
from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.training.batching import TrainingExample

Strategy = Literal["none", "random", "semantic", "mixed"]
STRATEGIES: tuple[str, ...] = ("none", "random", "semantic", "mixed")
#: Query × candidate similarity entries computed at once (bounds the memory of a batch).
_SCORES_PER_BATCH = 1 << 24


def _donors(pool: Iterable[TrainingExample]) -> list[Example]:
    """Examples whose non-rationale text is known: annotated originals (not augmented copies)."""
    return [item.example for item in pool if item.annotated and not item.augmented]


def _non_rationale_words(examples: Iterable[Example]) -> Iterable[str]:
    for example in examples:
        yield from itertools.compress(example.document.tokens, example.rationale_mask() == 0)


class Datastore:
    """Candidate replacement words with unit word vectors, for batched nearest-neighbour search.

    Keys are lower-cased words with a vector in ``embeddings`` (GloVe is lower-case); each key
    maps to the first surface form seen, which is what a replacement writes. Results are cached
    per key, so asking again for a word costs a dictionary lookup.
    """

    def __init__(self, words: Iterable[str], embeddings: WordEmbeddings) -> None:
        surface: dict[str, str] = {}
        for word in dict.fromkeys(words):  # distinct words in first-seen order
            surface.setdefault(word.lower(), word)
        self.embeddings = embeddings
        self.keys = tuple(sorted(key for key in surface if key in embeddings))
        self.tokens = tuple(surface[key] for key in self.keys)
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._matrix = self._unit_vectors(self.keys)
        self._cache: dict[str, tuple[str, ...]] = {}
        self._searched: dict[str, int] = {}  # how many neighbours the cache holds per key

    @classmethod
    def from_examples(
        cls, examples: Iterable[TrainingExample], embeddings: WordEmbeddings
    ) -> Datastore:
        """Datastore of the non-rationale words of the annotated examples."""
        return cls(_non_rationale_words(_donors(examples)), embeddings)

    def __len__(self) -> int:
        return len(self.keys)

    def _unit_vectors(self, keys: Sequence[str]) -> np.ndarray:
        rows = self.embeddings.rows(keys)
        vectors = np.asarray(self.embeddings.vectors[rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.finfo(np.float32).tiny)

    def neighbours(self, words: Sequence[str], k: int = 1) -> list[tuple[str, ...]]:
        """The ``k`` nearest candidates of each word by cosine similarity, nearest first.

        A word never has itself (same key) as a neighbour; a word without a vector gets ``()``.
        Ties go to the alphabetically first key, so results are deterministic.
        """
        if k < 1:
            raise RationalizerError(f"number of neighbours must be at least 1, got {k}")
        keys = [word.lower() for word in words]
        if not self.keys:
            return [() for _ in keys]
        todo = sorted(
            {key for key in keys if key in self.embeddings and self._searched.get(key, 0) < k}
        )
        batch = max(1, _SCORES_PER_BATCH // len(self.keys))
        for start in range(0, len(todo), batch):
            self._search(todo[start : start + batch], k)
        return [self._cache.get(key, ())[:k] for key in keys]

    def _search(self, keys: Sequence[str], k: int) -> None:
        scores = self._unit_vectors(keys) @ self._matrix.T
        rows = np.arange(len(keys))
        own = np.asarray([self._index.get(key, -1) for key in keys])
        scores[rows[own >= 0], own[own >= 0]] = -np.inf  # never the word itself
        found: list[list[str]] = [[] for _ in keys]
        # k passes of argmax (cheaper than sorting rows for the few neighbours augmentation
        # needs): nearest first, ties to the first candidate in alphabetical order.
        for _ in range(min(k, len(self.keys))):
            best = scores.argmax(axis=1)
            for row in np.flatnonzero(np.isfinite(scores[rows, best])):
                found[row].append(self.tokens[best[row]])
            scores[rows, best] = -np.inf
        for key, tokens in zip(keys, found, strict=True):
            self._cache[key] = tuple(tokens)
            self._searched[key] = k


class _DonorText:
    """The non-rationale runs of the donor examples, to copy random windows of words from.

    Runs are stored donor by donor, so the windows of one donor form one contiguous block of the
    cumulative window counts: leaving out the example being augmented shifts the random pick
    past its block instead of costing a pass over every run.
    """

    def __init__(self, donors: Sequence[Example]) -> None:
        self.donors = donors
        owners: list[int] = []
        starts: list[int] = []
        lengths: list[int] = []
        self.blocks: dict[str, tuple[int, int]] = {}  # donor id → its runs [first, last)
        longest: dict[str, int] = {}
        for owner, example in enumerate(donors):
            first = len(starts)
            for span in mask_to_spans(1 - example.rationale_mask()):
                owners.append(owner)
                starts.append(span.start)
                lengths.append(len(span))
            self.blocks[example.id] = (first, len(starts))
            longest[example.id] = max(lengths[first:], default=0)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        # the two donors with the longest runs: the longest run outside any one example
        self.longest = heapq.nlargest(2, ((n, i) for i, n in longest.items()))
        self._ends: dict[int, np.ndarray] = {}  # window length → cumulative windows per run

    def fill(self, length: int, exclude_id: str, rng: np.random.Generator) -> list[str]:
        """``length`` words of other donors: one window when a run that long exists, else
        consecutive windows as long as the longest run allows."""
        longest = next((n for n, donor in self.longest if donor != exclude_id), 0)
        if longest == 0:
            raise RationalizerError(
                f"cannot augment {exclude_id!r}: no other annotated training example has "
                "non-rationale text to copy replacement words from"
            )
        words: list[str] = []
        while len(words) < length:
            words += self._window(min(longest, length - len(words)), exclude_id, rng)
        return words

    def _window(self, length: int, exclude_id: str, rng: np.random.Generator) -> list[str]:
        """A uniformly random window of ``length`` words among all windows of other donors."""
        ends = self._ends.get(length)
        if ends is None:
            ends = self._ends[length] = np.cumsum(np.maximum(self.lengths - length + 1, 0))
        first, last = self.blocks.get(exclude_id, (0, 0))
        before = int(ends[first - 1]) if first else 0
        excluded = (int(ends[last - 1]) if last else 0) - before
        pick = int(rng.integers(int(ends[-1]) - excluded))
        if pick >= before:
            pick += excluded
        run = int(np.searchsorted(ends, pick, side="right"))
        start = int(self.starts[run]) + pick - (int(ends[run - 1]) if run else 0)
        tokens = self.donors[int(self.owners[run])].document.tokens
        return list(tokens[start : start + length])


def _copy(example: Example, tokens: Sequence[str], k: int, strategy: str) -> Example:
    """``example`` with new document words, id ``<id>#aug<k>`` and docid ``<docid>#aug<k>``."""
    document = example.document
    docid = f"{document.docid}#aug{k}"
    return Example(
        id=f"{example.id}#aug{k}",
        documents=(Document(docid, tuple(tokens), document.sentence_starts),),
        label=example.label,
        query=example.query,
        evidence=tuple(
            tuple(Evidence(docid, evidence.span) for evidence in group)
            for group in example.evidence or ()
        ),
        metadata={"augmented_from": example.id, "augmentation": strategy},
    )


def augment(
    training_examples: Sequence[TrainingExample],
    strategy: Strategy | str,
    *,
    copies: int = 1,
    seed: int,
    pool: Sequence[TrainingExample] | None = None,
    embeddings: WordEmbeddings | None = None,
) -> list[TrainingExample]:
    """New augmented copies (only those; the caller adds them to the training data).

    Every annotated, non-augmented example with at least one shortcut word gets ``copies``
    copies, ids ``<id>#aug1`` … ``<id>#aug<copies>``, in input order; ``metadata`` records
    ``augmented_from`` (the original id) and ``augmentation`` (the strategy of that copy,
    ``random`` or ``semantic``). Replacement text comes from the annotated examples of ``pool``
    (default: ``training_examples``), never from the example itself. ``semantic``/``mixed`` need
    word ``embeddings`` (e.g. :func:`rationalizer.data.embeddings.load_glove`); a shortcut word
    without a vector, or without any candidate, gets a random donor word instead, so every
    shortcut position is replaced. The same inputs and ``seed`` give the same copies.
    """
    if strategy not in STRATEGIES:
        raise UnknownNameError("augmentation strategy", str(strategy), STRATEGIES)
    if copies < 1:
        raise RationalizerError(f"copies must be at least 1, got {copies}")
    if strategy == "none":
        return []
    if strategy != "random" and embeddings is None:
        raise RationalizerError(f"{strategy!r} augmentation needs word embeddings (e.g. GloVe)")
    sources = [
        item
        for item in training_examples
        if item.annotated
        and not item.augmented
        and item.shortcut_words is not None
        and np.any(item.shortcut_words)
    ]
    if not sources:
        return []
    rng = np.random.default_rng(seed)
    donor_pool = training_examples if pool is None else pool
    text = _DonorText(_donors(donor_pool))
    store = (
        None
        if strategy == "random" or embeddings is None
        else Datastore.from_examples(donor_pool, embeddings)
    )
    if store is not None:  # one batched search for every shortcut word; copies read the cache
        store.neighbours([word for item in sources for word in _shortcut_words(item)], k=copies)
    phase = int(rng.integers(2))
    out = []
    for i, item in enumerate(sources):
        semantic_copies = 0
        for k in range(1, copies + 1):
            kind = ("random", "semantic")[(i + k + phase) % 2] if strategy == "mixed" else strategy
            if store is None or kind == "random":  # store is None only for "random"
                words = _random_replacement(item, text, rng)
            else:
                semantic_copies += 1
                words = _semantic_replacement(item, store, semantic_copies, text, rng)
            out.append(
                TrainingExample(
                    example=_copy(item.example, words, k, kind),
                    annotated=True,
                    shortcut_words=np.array(item.shortcut_words, dtype=np.int8),
                    augmented=True,
                )
            )
    return out


def _shortcut_words(item: TrainingExample) -> list[str]:
    tokens = item.example.document.tokens
    return [tokens[p] for p in np.flatnonzero(np.asarray(item.shortcut_words))]


def _random_replacement(
    item: TrainingExample, text: _DonorText, rng: np.random.Generator
) -> list[str]:
    """The example's words with each shortcut run replaced by a random donor window."""
    words = list(item.example.document.tokens)
    for span in mask_to_spans(np.asarray(item.shortcut_words)):
        words[span.start : span.end] = text.fill(len(span), item.example.id, rng)
    return words


def _semantic_replacement(
    item: TrainingExample,
    store: Datastore,
    rank: int,
    text: _DonorText,
    rng: np.random.Generator,
) -> list[str]:
    """The example's words with each shortcut word replaced by its ``rank``-th nearest candidate
    (the farthest found when there are fewer), or a random donor word when it has none."""
    words = list(item.example.document.tokens)
    positions = np.flatnonzero(np.asarray(item.shortcut_words))
    found = store.neighbours([words[p] for p in positions], k=rank)
    for position, candidates in zip(positions, found, strict=True):
        words[position] = (
            candidates[min(rank, len(candidates)) - 1]
            if candidates
            else text.fill(1, item.example.id, rng)[0]
        )
    return words
