"""Adapters of models that read token ids: one path from (instance, kept words) to logits.

Explaining runs many variants of one instance; fine-tuning runs one variant each of many
instances. Both go through :meth:`EncodedAdapter.logits`, so the masking a model is explained
with is exactly the masking it was fine-tuned with.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rationalizer.data.tokenization import Encoder, Encoding
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
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


def run_in_batches(
    keep: np.ndarray, batch_size: int, run: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``run`` on consecutive row chunks of ``keep`` (at most ``batch_size`` rows), stacked."""
    return np.concatenate([run(keep[i : i + batch_size]) for i in range(0, len(keep), batch_size)])


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

        @torch.no_grad()
        def run(rows: np.ndarray) -> np.ndarray:
            logits = self.logits([instance] * len(rows), list(rows))
            return torch.softmax(logits.float(), -1).cpu().numpy()

        return run_in_batches(keep, self.batch_size, run)
