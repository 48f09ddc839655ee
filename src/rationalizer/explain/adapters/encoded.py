"""Adapters of models that read token ids: one path from (instance, kept words) to logits.

Explaining runs many variants of one instance, or of several instances packed together;
fine-tuning runs one variant each of many instances. All go through
:meth:`EncodedAdapter.logits`, so the masking (and precision) a model is explained with is
exactly the masking it was fine-tuned with, whatever the packing.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rationalizer.data.tokenization import Encoder, Encoding
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance, run_in_batches
from rationalizer.explain.base import TextInput
from rationalizer.training.precision import autocast


def split_text(text: TextInput) -> tuple[str, ...]:
    """The words of a text: a string split on whitespace, or a word sequence as given."""
    return tuple(text.split()) if isinstance(text, str) else tuple(text)


def validated_keep(instance: Instance, keep: np.ndarray) -> np.ndarray:
    """``keep`` as an (N, num_words) bool array; a clear error for any other shape or value."""
    keep = np.asarray(keep)
    if keep.ndim != 2 or keep.shape[1] != instance.num_words or keep.shape[0] == 0:
        raise RationalizerError(
            f"keep must have shape (variants, {instance.num_words}) for an input of "
            f"{instance.num_words} words, got {keep.shape}"
        )
    if not np.isin(keep, (0, 1)).all():
        raise RationalizerError("keep must hold only 0 (word removed) and 1 (word kept)")
    return keep.astype(bool)


def padded_position_keep(
    encodings: Sequence[Encoding], keep: Sequence[np.ndarray], length: int
) -> torch.Tensor:
    """(B, length) bool: the positions each row keeps. A position of a document word follows
    its word; special and query positions are kept; padding beyond a row's end is not."""
    out = torch.zeros((len(encodings), length), dtype=torch.bool)
    for row, (encoding, words) in enumerate(zip(encodings, keep, strict=True)):
        kept = encoding.words_to_positions(np.asarray(words, dtype=bool), fill=True)
        out[row, : len(kept)] = torch.from_numpy(kept)
    return out


class EncodedAdapter(ClassifierAdapter):
    """A classifier over the token ids of an :class:`Encoder`, trainable by
    :func:`~rationalizer.explain.finetune.finetune`.

    Subclasses set ``encoder`` and ``max_length`` and implement :meth:`logits` (differentiable,
    for a batch of instances each with its own kept words), :attr:`module` and :meth:`save`.
    """

    encoder: Encoder
    #: how messages and reports name the model
    name: str
    max_length: int | None = None
    #: the dtype the logits are computed in under autocast (None: float32), see ``precision=``
    #: of :func:`~rationalizer.explain.adapters.load_adapter`
    autocast_to: torch.dtype | None = None

    def prepare(self, text: TextInput, query: str | None = None) -> Instance:
        words = split_text(text)
        query_words = query.split() if query else None
        encoding = self.encoder.encode(words, query=query_words, max_length=self.max_length)
        return Instance(words, query, encoding)

    @property
    @abstractmethod
    def module(self) -> torch.nn.Module:
        """The torch module holding every weight of the classifier (what fine-tuning trains)."""

    @abstractmethod
    def logits(self, instances: Sequence[Instance], keep: Sequence[np.ndarray]) -> torch.Tensor:
        """Logits (B, C) of each instance with only its ``keep`` words (0/1 per word) left,
        removed words hidden by this adapter's masking; differentiable in the weights."""

    @abstractmethod
    def save(self, out_dir: str | Path) -> None:
        """Write the classifier to ``out_dir`` in the form :func:`load_adapter` reads back."""

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def autocast(self):
        """The context the model computes in: autocast to :attr:`autocast_to`, if set."""
        return autocast(self.autocast_to, self.device)

    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        keep = validated_keep(instance, keep)
        return self.probabilities_batch([instance] * len(keep), list(keep))

    def probabilities_batch(
        self,
        instances: Sequence[Instance],
        keep: Sequence[np.ndarray],
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Class probabilities (N, C) of each instance with only its ``keep`` words: any
        instances' rows share forward passes, ``batch_size`` (default :attr:`batch_size`) to
        a pass, through :meth:`logits`, as :meth:`probabilities` runs one instance's rows."""

        @torch.no_grad()
        def run(rows: np.ndarray) -> np.ndarray:
            logits = self.logits([instances[row] for row in rows], [keep[row] for row in rows])
            return torch.softmax(logits.float(), -1).cpu().numpy()

        return run_in_batches(np.arange(len(instances)), batch_size or self.batch_size, run)

    def logits_from_embeddings(self, instance: Instance, embeddings: torch.Tensor) -> torch.Tensor:
        # N variants of one instance are a batch of N rows of it: one code path for both.
        return self.logits_from_embeddings_batch([instance] * len(embeddings), embeddings)

    def logits_from_embeddings_batch(
        self, instances: Sequence[Instance], embeddings: torch.Tensor
    ) -> torch.Tensor:
        """Subclasses with the ``embeddings`` capability run the rows of several instances in
        one forward pass, under :meth:`autocast`, like :meth:`logits`."""
        raise self._lacks("embeddings")
