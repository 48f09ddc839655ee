"""One forward pass for the model inputs of several examples, padded so exactly that padding
changes no number.

The adapters answer for one instance at a time; explaining a dataset fast means packing the
inputs of several instances into one forward pass. These functions do it with the adapters'
own pieces: :meth:`EncodedAdapter.logits` already takes one instance per row (collated and
right-padded, padding hidden from the model), and gradient methods get right-padded input
embeddings, of which only each row's own positions reach the model. Any other adapter (a black
box, a custom adapter) is run one instance at a time: the same numbers, fewer rows per pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import singledispatch
from typing import TypeVar

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from rationalizer.explain.adapters import (
    ClassifierAdapter,
    EncodedAdapter,
    HFClassifierAdapter,
    Instance,
    RationalizerAdapter,
)

Rows = TypeVar("Rows", np.ndarray, torch.Tensor)


def row_probabilities(
    model: ClassifierAdapter,
    instances: Sequence[Instance],
    keep: Sequence[np.ndarray],
    batch_size: int,
) -> np.ndarray:
    """Class probabilities (N, C): row ``i`` is ``instances[i]`` with only the words
    ``keep[i]`` (0/1 per word) left. An :class:`EncodedAdapter` runs ``batch_size`` rows per
    forward pass whatever instance they belong to; other adapters run each instance's rows
    together (through their own ``probabilities``)."""
    if not isinstance(model, EncodedAdapter):
        return by_instance(
            instances,
            lambda instance, rows: model.probabilities(instance, np.stack([keep[r] for r in rows])),
            np.concatenate,
        )

    @torch.no_grad()
    def run(start: int) -> np.ndarray:
        rows = slice(start, start + batch_size)
        logits = model.logits(instances[rows], keep[rows])
        return torch.softmax(logits.float(), -1).cpu().numpy()

    return np.concatenate([run(start) for start in range(0, len(instances), batch_size)])


def padded_embeddings(
    model: ClassifierAdapter, instances: Sequence[Instance]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and baseline embeddings (B, L, D) of ``instances``, right-padded with zeros to
    the longest; row ``b`` holds ``len(instances[b].encoding)`` real positions."""
    inputs = [model.embeddings(instance)[0] for instance in instances]
    baselines = [model.baseline_embeddings(instance)[0] for instance in instances]
    return pad_sequence(inputs, batch_first=True), pad_sequence(baselines, batch_first=True)


@singledispatch
def padded_logits(
    model: ClassifierAdapter, instances: Sequence[Instance], embeddings: torch.Tensor
) -> torch.Tensor:
    """Logits (N, C) with ``embeddings[i]`` (right-padded, as from :func:`padded_embeddings`)
    as the input embeddings of ``instances[i]``; differentiable. Adapters without a packed
    path run the rows of each instance through their ``logits_from_embeddings``."""
    return by_instance(
        instances,
        lambda instance, rows: model.logits_from_embeddings(
            instance, embeddings[rows, : len(instance.encoding)]
        ),
        torch.cat,
    )


@padded_logits.register
def _(
    model: RationalizerAdapter, instances: Sequence[Instance], embeddings: torch.Tensor
) -> torch.Tensor:
    # The predictor's embedding layer outputs the given rows, cut to the longest of them (only
    # padding goes), and the model runs on its own padded batch of the instances.
    length = max(len(instance.encoding) for instance in instances)
    with model._embedding_output(embeddings[:, :length]):
        return model.logits(instances, everything(instances))


@padded_logits.register
def _(
    model: HFClassifierAdapter, instances: Sequence[Instance], embeddings: torch.Tensor
) -> torch.Tensor:
    inputs = model.model_inputs(instances, everything(instances))
    length = inputs.pop("input_ids").shape[1]
    return model.model(inputs_embeds=embeddings[:, :length], **inputs).logits


def everything(instances: Sequence[Instance]) -> list[np.ndarray]:
    """Keep vectors that keep every word of each instance."""
    return [np.ones(instance.num_words, dtype=bool) for instance in instances]


def by_instance(
    instances: Sequence[Instance],
    run: Callable[[Instance, list[int]], Rows],
    concatenate: Callable[[list[Rows]], Rows],
) -> Rows:
    """``run(instance, rows)`` for each distinct instance and the rows that are its, put back
    in row order."""
    groups: dict[int, list[int]] = {}
    for row, instance in enumerate(instances):
        groups.setdefault(id(instance), []).append(row)
    order = np.argsort(np.concatenate([rows for rows in groups.values()]), kind="stable")
    parts = [run(instances[rows[0]], rows) for rows in groups.values()]
    return concatenate(parts)[order]
