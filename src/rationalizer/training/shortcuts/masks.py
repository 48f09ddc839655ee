"""Shortcut word masks: the words an unsupervised rationalizer selects outside the gold rationale.

SSR (see the method page) trains a rationalizer without rationale supervision, runs it on the
annotated examples D_s and calls every selected word outside the gold rationale a *shortcut*
word of that example. :func:`shortcut_masks` computes those masks from predicted word masks;
the other modules of the package pair examples with their masks through
:func:`annotated_with_masks`, so every mask is checked against its example the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from rationalizer.data.example import Example
from rationalizer.errors import RationalizerError


def document_tokens(example: Example) -> tuple[str, ...]:
    """The words of the example's only document; discovery indexes masks by these positions."""
    if len(example.documents) != 1:
        raise RationalizerError(
            f"example {example.id!r} has {len(example.documents)} documents; shortcut "
            "discovery works on single-document examples only"
        )
    return example.document.tokens


def _word_mask(example: Example, values: object, what: str) -> np.ndarray:
    """``values`` as a 0/1 int8 mask over the example's words, or a clear error."""
    length = len(document_tokens(example))
    mask = np.asarray(values)
    if mask.ndim != 1 or mask.shape[0] != length:
        raise RationalizerError(
            f"example {example.id!r}: {what} has shape {mask.shape}, expected ({length},) — one "
            "value per document word"
        )
    if mask.size and not np.isin(mask, (0, 1)).all():
        raise RationalizerError(f"example {example.id!r}: {what} must hold only 0 and 1")
    return mask.astype(np.int8)


def annotated_with_masks(
    examples: Iterable[Example], masks: Mapping[str, object], what: str
) -> list[tuple[Example, np.ndarray]]:
    """The annotated examples paired with their validated mask; every one must have a mask.

    Unannotated examples are skipped (they have no gold rationale, so no shortcut mask); ids in
    ``masks`` that name no example are ignored, so one mapping can serve several subsets.
    """
    pairs = []
    missing = []
    for example in examples:
        if not example.is_annotated:
            continue
        if example.id not in masks:
            missing.append(example.id)
            continue
        pairs.append((example, _word_mask(example, masks[example.id], what)))
    if missing:
        raise RationalizerError(
            f"{len(missing)} annotated example(s) have no {what}, e.g. {missing[0]!r}"
        )
    return pairs


def shortcut_masks(
    examples: Sequence[Example], predicted: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Shortcut word mask ``predicted & ~gold`` (int8) of every annotated example, by id.

    ``examples`` is the annotated set to discover on (D_s; unannotated examples are skipped);
    ``predicted`` maps example id → 0/1 word mask selected by a rationalizer trained without
    rationale supervision. An annotated example with an empty gold rationale (a non-toxic
    HateXplain post) has every selected word as a shortcut word.
    """
    return {
        example.id: (mask & (1 - example.rationale_mask())).astype(np.int8)
        for example, mask in annotated_with_masks(examples, predicted, "predicted mask")
    }


def filter_word_types(
    examples: Sequence[Example],
    masks: Mapping[str, object],
    threshold: tuple[str, float],
    rule: Callable[[list[Example]], Callable[[str], bool]],
) -> tuple[dict[str, np.ndarray], int]:
    """The shortcut ``masks`` of the annotated ``examples`` with only the words whose lower-cased
    type passes a word filter, by example id, and how many marked words the filter dropped.

    ``threshold`` is the filter's setting as (name, value): a value below 0 is an error and 0
    keeps every candidate. Otherwise ``rule`` builds the filter's predicate from the annotated
    examples, so each filter states only what it measures over them.
    """
    name, value = threshold
    if value < 0:
        raise RationalizerError(f"{name} must be at least 0, got {value}")
    pairs = annotated_with_masks(examples, masks, "shortcut mask")
    if value == 0:
        return {example.id: mask for example, mask in pairs}, 0
    keep = rule([example for example, _ in pairs])
    kept: dict[str, np.ndarray] = {}
    dropped = 0
    for example, mask in pairs:
        accepted = np.fromiter(
            (keep(word.lower()) for word in document_tokens(example)), dtype=np.int8
        )
        kept[example.id] = (mask & accepted).astype(np.int8)
        dropped += int(mask.sum()) - int(kept[example.id].sum())
    return kept, dropped
