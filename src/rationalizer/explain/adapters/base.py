"""What an explainer needs from a model, and the one base class every model kind adapts to.

Explainers speak words; models speak token ids. An adapter holds both ends: it prepares an
:class:`Instance` (the words, and for models with token ids the :class:`Encoding` that aligns
positions to words) and answers the questions explainers ask, always per *word*:

* :meth:`ClassifierAdapter.probabilities`: class probabilities with only some words kept. The
  adapter hides removed words on token ids, the way its model was trained to see missing input
  (its ``masking``), and never decodes or re-tokenizes text, so perturbations cannot drift.
* with the ``embeddings`` capability: the input embeddings, the embedding a removed position
  gets (the baseline), and the logits for any embeddings; with ``gradients`` these are also
  differentiable. Position-level results come back to words with :meth:`words_from_positions`.

Explaining many inputs fast means running the model inputs of several instances in one forward
pass: :meth:`ClassifierAdapter.probabilities_batch` and
:meth:`ClassifierAdapter.logits_from_embeddings_batch` take one instance per row. Adapters of
models that read token ids pack the rows into shared forward passes, in the precision their
single-instance answers use; any other adapter answers them instance by instance, through its
single-instance methods, so a custom adapter gets them for free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from rationalizer.data.tokenization import Encoding
from rationalizer.errors import RationalizerError
from rationalizer.explain.base import CAPABILITIES, Capability, TextInput, _per_input


@dataclass(frozen=True, eq=False)
class Instance:
    """One input to explain: its words (and query), plus the model's encoding of them.

    ``encoding`` is None for black boxes, which take words. Words dropped by the model's
    truncation are part of ``words`` but not of the encoding: keeping or removing them changes
    nothing, and explainers give them score 0.
    """

    words: tuple[str, ...]
    query: str | None = None
    encoding: Encoding | None = None

    @property
    def num_words(self) -> int:
        return len(self.words)

    @property
    def seen_words(self) -> int:
        """How many leading words the model sees; the rest were truncated and never matter."""
        return self.num_words if self.encoding is None else self.encoding.num_words


Rows = TypeVar("Rows", np.ndarray, torch.Tensor)


def keep_everything(instances: Sequence[Instance]) -> list[np.ndarray]:
    """Keep vectors that keep every word of each instance (their full inputs)."""
    return [np.ones(instance.num_words, dtype=bool) for instance in instances]


def run_in_batches(
    rows: np.ndarray, batch_size: int, run: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``run`` on consecutive chunks of ``rows`` (at most ``batch_size`` each), stacked."""
    return np.concatenate([run(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)])


def by_instance(
    instances: Sequence[Instance],
    run: Callable[[Instance, list[int]], Rows],
    concatenate: Callable[[list[Rows]], Rows],
) -> Rows:
    """``run(instance, rows)`` for each distinct instance and the rows that are its, put back
    in row order: a per-row request answered by methods that take one instance."""
    groups: dict[int, list[int]] = {}
    for row, instance in enumerate(instances):
        groups.setdefault(id(instance), []).append(row)
    order = np.argsort(np.concatenate(list(groups.values())), kind="stable")
    parts = [run(instances[rows[0]], rows) for rows in groups.values()]
    return concatenate(parts)[order]


class ClassifierAdapter(ABC):
    """A classifier as explainers see it. Subclasses set ``capabilities`` and ``labels``.

    ``masking`` names how removed words are hidden from the model (``"model"``: the
    rationalizer's own keep mechanism; ``"mask"``: the [MASK] token; ``"pad"``: the pad token
    with attention off; ``"delete"``: removed, with the remaining tokens keeping their original
    positions). Faithfulness metrics and perturbation explainers all use it.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"probabilities"})
    labels: tuple[str, ...]
    masking: str
    batch_size: int = 64

    # ------------------------------------------------------------------ inputs
    @abstractmethod
    def prepare(self, text: TextInput, query: str | None = None) -> Instance:
        """The instance for one text (a string is split on whitespace)."""

    def prepare_all(
        self,
        inputs: TextInput | Instance | Sequence[TextInput | Instance],
        queries: str | Sequence[str | None] | None = None,
    ) -> list[Instance]:
        """Instances for one input (a string or an instance) or a sequence of inputs (strings,
        word lists or instances), like :meth:`Rationalizer.predict`: a list of strings is a list
        of texts, so pass one text's words as ``[words]``."""
        items = [inputs] if isinstance(inputs, str | Instance) else list(inputs)
        if not items:
            raise RationalizerError("nothing to explain: no inputs given")
        query_list = _per_input(queries, len(items), "query")
        instances = []
        for i, (item, query) in enumerate(zip(items, query_list, strict=True)):
            instance = item if isinstance(item, Instance) else self.prepare(item, query)
            if instance.num_words == 0:
                raise RationalizerError(f"input {i} is empty: there is no word to explain")
            instances.append(instance)
        return instances

    def label_index(self, label: int | str) -> int:
        """The index of ``label`` (a label name, or an index checked to be in range)."""
        if isinstance(label, str):
            if label not in self.labels:
                raise RationalizerError(
                    f"unknown label {label!r}; this model's labels: {', '.join(self.labels)}"
                )
            return self.labels.index(label)
        if not 0 <= label < len(self.labels):
            raise RationalizerError(
                f"label index {label} out of range for {len(self.labels)} labels"
            )
        return int(label)

    def check_capability(self, needed: Capability, method: str) -> None:
        """Refuse, saying why, a method that needs more than this model offers."""
        if CAPABILITIES.index(needed) > max(CAPABILITIES.index(c) for c in self.capabilities):
            raise RationalizerError(
                f"{method} needs {_NEEDS[needed]}, but {self.describe()} only gives "
                f"{_NEEDS[max(self.capabilities, key=CAPABILITIES.index)]}; use a "
                "perturbation method (occlusion, lime, kernel-shap) or greedy instead"
            )

    def describe(self) -> str:
        """A few words naming this model, for messages."""
        return type(self).__name__

    # ------------------------------------------------------------------ every model
    @abstractmethod
    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C) for N variants of ``instance``.

        ``keep`` is (N, num_words) 0/1: the words each variant keeps. Query and special tokens
        are always kept. Large N is run in batches of :attr:`batch_size`.
        """

    def probabilities_batch(
        self,
        instances: Sequence[Instance],
        keep: Sequence[np.ndarray],
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Class probabilities (N, C): row ``i`` is ``instances[i]`` with only the words
        ``keep[i]`` (0/1 per word) left, the rows of any instances in one call.

        At most ``batch_size`` rows (default :attr:`batch_size`) go to the model at once. This
        default runs each instance's rows through :meth:`probabilities`, so an instance's rows
        share passes but different instances never do; adapters that can pack several
        instances into one forward pass override it (and must answer the same).
        """
        size = batch_size or self.batch_size
        return by_instance(
            instances,
            lambda instance, rows: run_in_batches(
                np.stack([keep[row] for row in rows]),
                size,
                lambda chunk: self.probabilities(instance, chunk),
            ),
            np.concatenate,
        )

    # ------------------------------------------------------------------ embeddings / gradients
    def embeddings(self, instance: Instance) -> torch.Tensor:
        """The input embeddings (1, L, D) of the instance's positions."""
        raise self._lacks("embeddings")

    def baseline_embeddings(self, instance: Instance) -> torch.Tensor:
        """(1, L, D): what the model sees where document words are removed (its masking),
        with every other position (special, query tokens) as in :meth:`embeddings`."""
        raise self._lacks("embeddings")

    def logits_from_embeddings(self, instance: Instance, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for N variants (N, L, D) of the instance's input embeddings;
        differentiable when the adapter has the ``gradients`` capability."""
        raise self._lacks("embeddings")

    def padded_embeddings(self, instances: Sequence[Instance]) -> tuple[torch.Tensor, torch.Tensor]:
        """Input and baseline embeddings (B, L, D) of ``instances``, right-padded with zeros to
        the longest: row ``b`` holds ``len(instances[b].encoding)`` real positions. The form
        :meth:`logits_from_embeddings_batch` takes."""
        inputs = [self.embeddings(instance)[0] for instance in instances]
        baselines = [self.baseline_embeddings(instance)[0] for instance in instances]
        return pad_sequence(inputs, batch_first=True), pad_sequence(baselines, batch_first=True)

    def logits_from_embeddings_batch(
        self, instances: Sequence[Instance], embeddings: torch.Tensor
    ) -> torch.Tensor:
        """Logits (N, C) with ``embeddings[i]`` as the input embeddings of ``instances[i]``,
        right-padded (as from :meth:`padded_embeddings`; only each row's own positions reach
        the model); differentiable like :meth:`logits_from_embeddings`.

        This default runs each instance's rows through :meth:`logits_from_embeddings`;
        adapters that can pack several instances into one forward pass override it.
        """
        return by_instance(
            instances,
            lambda instance, rows: self.logits_from_embeddings(
                instance, embeddings[rows, : len(self.encoding_of(instance))]
            ),
            torch.cat,
        )

    def encoding_of(self, instance: Instance) -> Encoding:
        """The model's encoding of ``instance``, which only adapters with embeddings give."""
        if instance.encoding is None:
            raise self._lacks("embeddings")
        return instance.encoding

    def document_positions(self, instance: Instance) -> np.ndarray:
        """(L,) bool: the positions that belong to a document word (the ones attributed)."""
        return self.encoding_of(instance).word_ids >= 0

    def words_from_positions(self, instance: Instance, values: np.ndarray) -> np.ndarray:
        """Position values (L,) summed into word values (num_words,); truncated words get 0."""
        return self.encoding_of(instance).positions_to_words(values, aggregate="sum", fill=0.0)

    def _lacks(self, capability: Capability) -> RationalizerError:
        return RationalizerError(f"{self.describe()} gives no {_NEEDS[capability]}")


_NEEDS: dict[Capability, str] = {
    "probabilities": "class probabilities",
    "embeddings": "access to its input embeddings",
    "gradients": "gradients with respect to its input embeddings",
}
