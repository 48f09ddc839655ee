"""A dataset's labels read as a model's: by a given map, or where they differ only in case.

A run trained on ``movies-zaidan`` (``neg``, ``pos``) can then predict on ``movies``
(``NEG``, ``POS``), and a results file written with one dataset's labels be scored against the
other. A map goes from the model's label to the dataset's (``neg=NEG``), as the command-line
option ``--label-map neg=NEG,pos=POS`` writes it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

from rationalizer.data.example import Dataset
from rationalizer.data.results import ResultRecord
from rationalizer.errors import RationalizerError

#: model label → dataset label
LabelMap = Mapping[str, str]


class LabelsMatchedWarning(UserWarning):
    """A dataset's labels were read as a model's that differ from them only in case."""


def parse_label_map(text: str, option: str = "--label-map") -> dict[str, str]:
    """``"neg=NEG,pos=POS"`` as ``{"neg": "NEG", "pos": "POS"}``; errors name ``option``."""
    mapping: dict[str, str] = {}
    for item in text.split(","):
        model, sep, data = (part.strip() for part in item.partition("="))
        if not sep or not model or not data:
            raise RationalizerError(
                f"{option} {text!r}: write MODEL=DATASET pairs separated by commas, "
                "e.g. neg=NEG,pos=POS"
            )
        if model in mapping:
            raise RationalizerError(f"{option} {text!r}: {model!r} is mapped twice")
        mapping[model] = data
    return mapping


def match_labels(
    dataset: Dataset,
    labels: Sequence[str],
    label_map: LabelMap | None = None,
    *,
    option: str = "label_map",
    of: str = "the model",
) -> tuple[Dataset, str | None]:
    """``dataset`` with its labels replaced by the model's ``labels`` (``of`` names the model in
    messages), and a note when some were matched by ignoring case (None when nothing was).

    A dataset label is the model label ``label_map`` maps to it, else the same label, else the
    one model label equal to it ignoring case. Any other label fails as a label the model does
    not know, naming the first example that has it and ``option``.
    """
    labels = tuple(labels)
    if not label_map and set(labels) <= set(dataset.labels):
        # nothing to map (a results file may not use every label); a label the model lacks
        # fails where the model meets it, as it always has
        return dataset, None
    given = dict(label_map or {})
    for model, data in given.items():
        if model not in labels:
            raise RationalizerError(
                f"{option}: {model!r} is not a label of {of} {labels}; write MODEL=DATASET"
            )
        if data not in dataset.labels:
            raise RationalizerError(
                f"{option}: {data!r} is not a label of {dataset.name} {dataset.labels}"
            )
    to_model: dict[str, str] = {}
    for model, data in given.items():
        if data in to_model:
            raise RationalizerError(
                f"{option}: {to_model[data]!r} and {model!r} both map to {data!r}; map each "
                "dataset label to one model label"
            )
        to_model[data] = model
    folded: dict[str, list[str]] = {}
    for label in labels:
        folded.setdefault(label.casefold(), []).append(label)
    by_case: dict[str, str] = {}
    for label in dataset.labels:
        if label in to_model:
            continue
        if label in labels:
            to_model[label] = label
        elif len(folded.get(label.casefold(), [])) == 1:
            to_model[label] = by_case[label] = folded[label.casefold()][0]
    for data, model in to_model.items():
        others = [other for other, same in to_model.items() if same == model and other != data]
        if others:
            raise RationalizerError(
                f"{option}: the dataset's labels {data!r} and {others[0]!r} would both be "
                f"{model!r} of {of}"
            )
    for example in dataset:
        if example.label not in to_model:
            raise RationalizerError(
                f"example {example.id!r} has label {example.label!r}, not one of {labels}; "
                f"map the dataset's labels {dataset.labels} onto those of {of} with {option} "
                "(MODEL=DATASET)"
            )
    if all(data == model for data, model in to_model.items()):
        return dataset, None
    relabeled = replace(
        dataset,
        examples=tuple(replace(ex, label=to_model[ex.label]) for ex in dataset),
        labels=labels,
    )
    note = None
    if by_case:
        pairs = ", ".join(f"{data} as {model}" for data, model in by_case.items())
        note = (
            f"the labels of {dataset.name} differ from those of {of} only in case: read "
            f"{pairs} ({option} sets another mapping)"
        )
    return relabeled, note


def relabel(
    dataset: Dataset,
    labels: Sequence[str],
    label_map: LabelMap | None = None,
    of: str = "the model",
) -> Dataset:
    """:func:`match_labels` for the Python API: its note becomes a
    :class:`LabelsMatchedWarning`."""
    relabeled, note = match_labels(dataset, labels, label_map, of=of)
    if note is not None:
        warnings.warn(note, LabelsMatchedWarning, stacklevel=3)
    return relabeled


def result_labels(records: Sequence[ResultRecord]) -> tuple[str, ...]:
    """The labels a results file uses: its class scores' and predicted labels, in order of
    first appearance."""
    found: dict[str, None] = {}
    for record in records:
        found.update(dict.fromkeys(record.classification_scores or {}))
        if record.classification is not None:
            found[record.classification] = None
    return tuple(found)
