"""From examples to batches of tensors: the annotated subset, encoding, bucketing and collation.

Training data flows as ``Example`` → :class:`TrainingExample` (adds this run's annotation flag and
discovered shortcuts) → :class:`EncodedExample` (model positions, with gold and shortcut masks
moved from words onto positions) → a batch dict from :func:`collate_batch`. The batch keys and
their meaning are fixed by the training design:

=================  =======================================================================
``input_ids``      (B, L) long, padded with the encoder's pad id
``attention_mask`` (B, L) long, 1 on real positions
``token_type_ids`` (B, L) long
``word_ids``       (B, L) long, the document word of each position, -1 elsewhere
``selectable``     (B, L) bool, document word positions: what the selector may choose
``labels``         (B,) long, index into the dataset's label tuple
``gold_mask``      (B, L) float, the human rationale on positions (0 for examples not in D_s)
``has_gold``       (B,) bool, the example is in the annotated set D_s of this run
``shortcut_mask``  (B, L) float, discovered shortcut positions (0 where none)
``has_shortcut``   (B,) bool, ``has_gold`` and some shortcut position survived truncation
``is_augmented``   (B,) bool
``index``          (B,) long, position of the example in the list given to encode_examples
=================  =======================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

from rationalizer.data.embeddings import load_embeddings
from rationalizer.data.example import Dataset, Example
from rationalizer.data.pretrained import resolve_model_path
from rationalizer.data.tokenization import (
    Encoder,
    Encoding,
    SubwordTokenizer,
    TruncationReport,
    WordTokenizer,
    WordVocabulary,
    collate,
)
from rationalizer.errors import RationalizerError
from rationalizer.training.config import TrainConfig

Batch = dict[str, torch.Tensor]


def _query_words(example: Example) -> list[str] | None:
    """The query as whitespace-separated words (None when there is none)."""
    words = example.query.split() if example.query else []
    return words or None


@dataclass(frozen=True, eq=False)
class TrainingExample:
    """An example as one training run sees it.

    ``annotated``: the example is in the annotated set D_s of this run (its human rationale may
    supervise the selector). ``shortcut_words``: 0/1 per document word, the discovered shortcut
    words of an annotated example, None when unknown. ``augmented``: ``example`` is an augmented
    copy (id ``"<orig>#aug<k>"``) differing from its original only at shortcut words.
    """

    example: Example
    annotated: bool
    shortcut_words: np.ndarray | None
    augmented: bool = False

    def __post_init__(self) -> None:
        if len(self.example.documents) != 1:
            raise RationalizerError(
                f"example {self.example.id!r} has {len(self.example.documents)} documents; "
                "training supports single-document examples only (optionally with a query)"
            )
        if self.annotated and not self.example.is_annotated:
            raise ValueError(
                f"example {self.example.id!r} carries no human annotation and cannot be annotated"
            )
        if self.shortcut_words is None:
            return
        if not self.annotated:
            raise ValueError(
                f"example {self.example.id!r}: shortcuts are only known for annotated examples"
            )
        words = np.asarray(self.shortcut_words)
        if words.shape != (len(self.example.document),) or not np.isin(words, (0, 1)).all():
            raise ValueError(
                f"example {self.example.id!r}: shortcut_words must be 0/1 for each of its "
                f"{len(self.example.document)} words, got shape {words.shape}"
            )
        object.__setattr__(self, "shortcut_words", words.astype(np.int8))


@dataclass(frozen=True, eq=False)
class EncodedExample:
    """One example on model positions, ready for :func:`collate_batch`."""

    encoding: Encoding
    label: int
    #: float32 per position: the word's gold value (0 where no word, or not annotated)
    gold_mask: np.ndarray
    #: float32 per position: the word's shortcut value (0 where no word or no shortcut known)
    shortcut_mask: np.ndarray
    annotated: bool
    augmented: bool
    #: position in the list of training examples that was encoded
    index: int
    pad_id: int

    @property
    def length(self) -> int:
        """Model positions of the example."""
        return len(self.encoding)


def choose_annotated(dataset: Dataset, fraction: float, seed: int) -> frozenset[str]:
    """Ids of the examples whose human rationale a run may use: the annotated set D_s.

    ``round(fraction * len(dataset))`` examples (half rounds up), at most all annotated ones, drawn
    without replacement from the examples a human annotated (``is_annotated``, which includes
    HateXplain's non-toxic posts with an empty rationale). The draw is stratified: each label
    gets its share of the annotated examples, remainders going to the largest fractional parts.
    The same dataset, fraction and seed always give the same set.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    pools = [
        [ex.id for ex in dataset if ex.is_annotated and ex.label == label]
        for label in dataset.labels
    ]
    available = sum(len(pool) for pool in pools)
    wanted = min(math.floor(fraction * len(dataset) + 0.5), available)
    if wanted == 0:
        return frozenset()
    quotas = np.array([wanted * len(pool) / available for pool in pools])
    counts = np.floor(quotas).astype(np.int64)
    # Largest remainder: stable sort keeps label order among equal remainders.
    by_remainder = np.argsort(-(quotas - counts), kind="stable")
    counts[by_remainder[: wanted - int(counts.sum())]] += 1
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for pool, count in zip(pools, counts, strict=True):
        chosen.update(pool[i] for i in rng.choice(len(pool), size=int(count), replace=False))
    return frozenset(chosen)


def build_encoder(
    config: TrainConfig, train_examples: Iterable[Example]
) -> tuple[Encoder, np.ndarray | None, WordVocabulary | None]:
    """The encoder of ``config.encoder``, plus the embedding table (rows of
    ``config.word_vectors``) and vocabulary for gru.

    The gru vocabulary holds the words of the training documents and queries (see
    :meth:`WordVocabulary.build`); a transformer brings its own tokenizer and embeddings.
    """
    if config.encoder_kind == "gru":
        vectors = load_embeddings(config.word_vectors)
        texts: list[Sequence[str]] = []
        for example in train_examples:
            texts.extend(document.tokens for document in example.documents)
            query = _query_words(example)
            if query:
                texts.append(query)
        vocabulary = WordVocabulary.build(texts, vectors, seed=config.seed)
        tokenizer = WordTokenizer(vocabulary, max_length=config.max_length)
        return tokenizer, vocabulary.embedding_matrix(vectors), vocabulary
    subword = SubwordTokenizer.from_pretrained(
        resolve_model_path(config.encoder), max_length=config.max_length
    )
    model_limit = subword.tokenizer.model_max_length
    if config.max_length is not None and config.max_length > model_limit:
        raise RationalizerError(
            f"max_length {config.max_length} exceeds the {model_limit} positions that model "
            f"{config.encoder!r} supports"
        )
    return subword, None, None


def encode_examples(
    encoder: Encoder,
    training_examples: Sequence[TrainingExample],
    labels: Sequence[str],
    max_length: int | None = None,
) -> tuple[list[EncodedExample], TruncationReport]:
    """Encode every training example (document plus query) in at most ``max_length`` positions
    (default: the encoder's own limit), moving gold and shortcut word masks onto positions."""
    label_ids = {label: i for i, label in enumerate(labels)}
    encoded = []
    for index, item in enumerate(training_examples):
        example = item.example
        if example.label not in label_ids:
            raise RationalizerError(
                f"example {example.id!r} has label {example.label!r}, not one of {tuple(labels)}"
            )
        encoding = encoder.encode(
            example.document.tokens, query=_query_words(example), max_length=max_length
        )
        no_mask = np.zeros(len(encoding), dtype=np.float32)
        encoded.append(
            EncodedExample(
                encoding=encoding,
                label=label_ids[example.label],
                gold_mask=(
                    encoding.words_to_positions(example.rationale_mask()).astype(np.float32)
                    if item.annotated
                    else no_mask
                ),
                shortcut_mask=(
                    no_mask
                    if item.shortcut_words is None
                    else encoding.words_to_positions(item.shortcut_words).astype(np.float32)
                ),
                annotated=item.annotated,
                augmented=item.augmented,
                index=index,
                pad_id=encoder.pad_id,
            )
        )
    return encoded, TruncationReport.of(item.encoding for item in encoded)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length, so little compute goes to padding, in a seeded random order.

    Each epoch the indices are shuffled, cut into buckets of ``batch_size * batches_per_bucket``,
    sorted by length within a bucket and cut into batches; the batch order is then shuffled. The
    order depends only on ``seed`` and the epoch set by :meth:`set_epoch`, so a resumed run sees
    the same batches. With ``shuffle=False`` (evaluation) the batches follow increasing length.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        batches_per_bucket: int = 50,
    ) -> None:
        if batch_size < 1 or batches_per_bucket < 1:
            raise ValueError("batch_size and batches_per_bucket must be positive")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batches_per_bucket = batches_per_bucket
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches_of(self, indices: np.ndarray) -> list[np.ndarray]:
        ordered = indices[np.argsort(self.lengths[indices], kind="stable")]
        return [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            yield from length_batches(self.lengths, self.batch_size)
            return
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.lengths))
        bucket = self.batch_size * self.batches_per_bucket
        batches = [
            batch
            for start in range(0, len(order), bucket)
            for batch in self._batches_of(order[start : start + bucket])
        ]
        for i in rng.permutation(len(batches)):
            yield batches[i].tolist()

    def __len__(self) -> int:
        # Buckets hold whole batches, so only the last batch can be short.
        return math.ceil(len(self.lengths) / self.batch_size)


def length_batches(lengths: Sequence[int] | np.ndarray, batch_size: int) -> list[list[int]]:
    """Indices in order of increasing length (ties by index), cut into batches: how evaluation
    and prediction batch. The batches depend only on the lengths, so a run sharded over several
    processes computes every example in the same batch, hence the same numbers, as one process."""
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def shard_batch(batch: Sequence[int], rank: int, world_size: int) -> tuple[list[int], float]:
    """Rank ``rank``'s contiguous share of a global batch, and the weight of its mean loss.

    The shares differ in size by at most one. Data-parallel training averages the ranks'
    gradients, so a rank's mean loss is weighed by its share × ``world_size``: the average is
    then the gradient of the mean over the whole batch, as one process computes it. Every rank
    must step, so a rank left without an example (a last batch smaller than the world) gets the
    batch's first example with weight 0.
    """
    size = len(batch)
    start, end = size * rank // world_size, size * (rank + 1) // world_size
    if start == end:
        return [batch[0]], 0.0
    return list(batch[start:end]), (end - start) * world_size / size


def _pad_rows(rows: Sequence[np.ndarray], length: int) -> torch.Tensor:
    out = np.zeros((len(rows), length), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def collate_batch(encoded: Sequence[EncodedExample]) -> Batch:
    """Pad encoded examples into the batch dict described in the module docstring."""
    if not encoded:
        raise ValueError("cannot collate an empty batch")
    pad_ids = {item.pad_id for item in encoded}
    if len(pad_ids) > 1:
        raise ValueError(f"examples of one batch come from different encoders (pad ids {pad_ids})")
    batch = collate([item.encoding for item in encoded], pad_ids.pop())
    length = batch["input_ids"].shape[1]
    has_gold = torch.tensor([item.annotated for item in encoded], dtype=torch.bool)
    shortcut_mask = _pad_rows([item.shortcut_mask for item in encoded], length)
    batch.update(
        selectable=batch["word_ids"] >= 0,
        labels=torch.tensor([item.label for item in encoded], dtype=torch.long),
        gold_mask=_pad_rows([item.gold_mask for item in encoded], length),
        has_gold=has_gold,
        shortcut_mask=shortcut_mask,
        has_shortcut=has_gold & (shortcut_mask > 0).any(dim=1),
        is_augmented=torch.tensor([item.augmented for item in encoded], dtype=torch.bool),
        index=torch.tensor([item.index for item in encoded], dtype=torch.long),
    )
    return batch


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device | str) -> Batch:
    """The batch with every tensor on ``device``."""
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}
