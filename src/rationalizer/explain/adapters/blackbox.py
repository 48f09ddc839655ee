"""Any Python function from word lists to class probabilities, explained as a black box."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import numpy as np

from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance, run_in_batches
from rationalizer.explain.adapters.encoded import split_text, validated_keep
from rationalizer.explain.base import Capability, TextInput

BlackBoxMasking = Literal["delete", "mask"]
BLACK_BOX_MASKINGS: tuple[BlackBoxMasking, ...] = ("delete", "mask")
#: how far a row of probabilities may be from summing to 1
SUM_TOLERANCE = 1e-3

WordLists = list[list[str]]


class CallableAdapter(ClassifierAdapter):
    """A black box: ``fn`` maps a batch (list) of word lists to an (N, C) array of class
    probabilities, columns in the order of ``labels``.

    Only probabilities are available, so gradient methods refuse it (perturbation methods and
    greedy work). Removed words are left out (``masking="delete"``) or replaced by
    ``mask_word`` (``"mask"``). With ``takes_queries``, ``fn(word_lists, queries)`` also gets
    each input's query (a string or None); otherwise the query is not part of its input.
    Every answer is checked: shape, finite, non-negative, rows summing to 1.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"probabilities"})

    def __init__(
        self,
        fn: Callable[..., object],
        labels: Sequence[str],
        *,
        masking: BlackBoxMasking = "delete",
        mask_word: str = "[MASK]",
        takes_queries: bool = False,
        batch_size: int = 64,
        name: str | None = None,
    ) -> None:
        if not callable(fn):
            raise RationalizerError(f"a black-box model must be callable, got {type(fn).__name__}")
        if masking not in BLACK_BOX_MASKINGS:
            raise UnknownNameError("masking", masking, BLACK_BOX_MASKINGS)
        self.labels = tuple(labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise RationalizerError(f"a classifier needs two or more distinct labels: {labels}")
        self.fn = fn
        self.masking = masking
        self.mask_word = mask_word
        self.takes_queries = takes_queries
        self.batch_size = batch_size
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)

    def describe(self) -> str:
        return f"the black-box function {self.name}"

    def prepare(self, text: TextInput, query: str | None = None) -> Instance:
        return Instance(split_text(text), query)

    def variants(self, instance: Instance, keep: np.ndarray) -> WordLists:
        """The word list ``fn`` gets for each row of ``keep``."""
        keep = validated_keep(instance, keep)
        if self.masking == "delete":
            return [[w for w, k in zip(instance.words, row, strict=True) if k] for row in keep]
        return [
            [w if k else self.mask_word for w, k in zip(instance.words, row, strict=True)]
            for row in keep
        ]

    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        keep = validated_keep(instance, keep)
        return run_in_batches(keep, self.batch_size, lambda rows: self._run(instance, rows))

    def _run(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        """``fn`` on one batch of variants, its answer validated."""
        word_lists = self.variants(instance, keep)
        if self.takes_queries:
            answer = self.fn(word_lists, [instance.query] * len(word_lists))
        else:
            answer = self.fn(word_lists)
        return self._validated(answer, len(word_lists))

    def _validated(self, answer: object, count: int) -> np.ndarray:
        expected = (count, len(self.labels))
        try:
            probabilities = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError):
            raise RationalizerError(
                f"{self.describe()} returned {type(answer).__name__}, not an array of "
                f"probabilities of shape {expected}"
            ) from None
        if probabilities.shape != expected:
            raise RationalizerError(
                f"{self.describe()} returned shape {probabilities.shape} for {count} inputs; "
                f"expected {expected}: one row per word list, one column per label "
                f"({', '.join(self.labels)})"
            )
        if not np.isfinite(probabilities).all():
            raise RationalizerError(f"{self.describe()} returned NaN or infinite probabilities")
        if (probabilities < 0).any():
            raise RationalizerError(f"{self.describe()} returned negative probabilities")
        sums = probabilities.sum(axis=1)
        worst = int(np.abs(sums - 1).argmax())
        if abs(sums[worst] - 1) > SUM_TOLERANCE:
            raise RationalizerError(
                f"{self.describe()} returned a row summing to {sums[worst]:.6g}, not 1; "
                "return class probabilities (apply softmax to logits)"
            )
        return probabilities
