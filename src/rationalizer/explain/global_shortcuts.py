"""Shortcut discovery for any classifier: a post-hoc explainer's top words, across a split.

SSR's discovery (:mod:`rationalizer.training.discovery`) trains an unsupervised rationalizer
and reads shortcuts off what it selects. A classifier that is already trained (one of our runs
or a Hugging Face model) can be asked directly: explain its prediction on every annotated
example of a split, take each explanation's top words (its hard rationale under
:data:`DISCOVERY_RULE`, or the rule given), and call every top word outside the human
rationale a *shortcut* word of that example. Aggregated over the split, ranked by count or by
label skew, this is a dataset-level view of what the model leans on, written as the same
:class:`~rationalizer.training.shortcuts.ShortcutReport` as SSR's discovery.

Unlike SSR's discovery the label-skew filter is off by default (``min_skew`` 0) and the
default ranking is by count: both the filter and the skew ranking read the *data* (which words
lean to a label anywhere outside the rationales), so with them even random top words "find"
planted shortcuts of ``synthetic`` (3–4 of 4 in the top 20 with the filter, 0–2 by skew); by
count without the filter they find none, and only what the model relies on rises
(``benchmarks/posthoc_shortcuts.py`` measures both against random top words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from rationalizer.data import Dataset, Example
from rationalizer.data.labels import LabelMap, relabel
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter
from rationalizer.explain.base import Explainer, Explanation, RationaleRule, get_explainer
from rationalizer.training.discovery import Discovery, shortcuts_of_selections
from rationalizer.training.shortcuts import RankBy

#: The top words of an explanation when the caller gives no rule: its 3 highest-scoring words
#: (only words scoring above 0). Chosen on the validation split of ``synthetic`` by
#: ``benchmarks/posthoc_shortcuts.py``, among top-k 1/3/5/10 and top fractions 2–20%, by the
#: planted phrases recovered in the report's top 20 (top-k 3, 5, 10 and 5% found all four;
#: top-k 3 ranked them highest). Fewer words leave phrases out; more let frequent words that
#: the model leans on a little in every review ("the", ".") outrank them.
DISCOVERY_RULE = RationaleRule("top-k", 3)
#: The explainer used when the caller names none: it needs gradients, is about 25 times faster
#: than occlusion, and found as many planted phrases on ``synthetic``'s validation split.
DISCOVERY_METHOD = "gradient-x-input"


def discovery_explainer(
    method: str = DISCOVERY_METHOD, rule: RationaleRule | str | None = None, **options: Any
) -> Explainer:
    """The explainer ``method`` with ``options``, its top words chosen by ``rule`` (default
    :data:`DISCOVERY_RULE`; a method that picks its rationale itself, like greedy, ignores it)."""
    return get_explainer(method)(rule=rule or DISCOVERY_RULE, **options)


def explain_annotated(
    explainer: Explainer,
    adapter: ClassifierAdapter,
    examples: Sequence[Example],
    *,
    progress: bool = False,
    console: Console | None = None,
) -> list[Explanation]:
    """The explanation of the model's prediction on each example, ``batch_size`` examples (the
    explainer's option) explained together, with a progress bar on ``console`` if
    ``progress``."""
    size = explainer.options.batch_size
    explanations: list[Explanation] = []
    with Progress(console=console or Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(f"{explainer.name}: top words", total=len(examples))
        for start in range(0, len(examples), size):
            chunk = examples[start : start + size]
            instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in chunk]
            explanations += explainer.attribute(adapter, instances)
            bar.advance(task, len(chunk))
    return explanations


def top_word_masks(
    examples: Sequence[Example], explanations: Sequence[Explanation]
) -> dict[str, np.ndarray]:
    """Each explanation's hard rationale (0/1 word mask) by the id of the example it explains;
    the explanations must be of the examples' words, in order."""
    if len(examples) != len(explanations):
        raise RationalizerError(
            f"{len(explanations)} explanations for {len(examples)} examples: give one each"
        )
    masks = {}
    for example, explanation in zip(examples, explanations, strict=True):
        if explanation.words != example.document.tokens:
            raise RationalizerError(
                f"example {example.id!r}: its explanation is of other words "
                f"({len(explanation.words)} words, the example has {len(example.document)})"
            )
        masks[example.id] = explanation.rationale_mask
    return masks


def annotated_examples(dataset: Dataset) -> list[Example]:
    """The examples of ``dataset`` with a human rationale, or an error saying there are none."""
    annotated = [example for example in dataset if example.is_annotated]
    if not annotated:
        raise RationalizerError(
            f"{dataset.name}/{dataset.split} has no example with a human rationale: shortcut "
            "discovery needs them to tell shortcut words from evidence"
        )
    return annotated


def discover_with_explainer(
    explainer: Explainer,
    adapter: ClassifierAdapter,
    dataset: Dataset,
    *,
    min_skew: float = 0.0,
    max_evidence_ratio: float = 0.0,
    rank_by: RankBy = "count",
    label_map: LabelMap | None = None,
    progress: bool = False,
    console: Console | None = None,
) -> Discovery:
    """Shortcut words of ``adapter``'s model on the annotated examples of ``dataset``: the top
    words of ``explainer`` (see :func:`discovery_explainer`) outside the human rationale, kept
    when their word type leans to a label by ``min_skew`` (0: every one) and is not evidence
    elsewhere by ``max_evidence_ratio`` (0: no such filter), reported as by SSR's
    discovery (:func:`~rationalizer.training.discovery.shortcuts_of_selections`), with scores
    against the planted shortcuts on ``synthetic``. ``label_map`` reads a dataset whose labels
    differ from the model's (as in :func:`~rationalizer.explain.explain_dataset`)."""
    dataset = relabel(dataset, adapter.labels, label_map)
    annotated = annotated_examples(dataset)
    explanations = explain_annotated(
        explainer, adapter, annotated, progress=progress, console=console
    )
    return shortcuts_of_selections(
        annotated,
        top_word_masks(annotated, explanations),
        dataset.labels,
        dataset.name,
        min_skew=min_skew,
        max_evidence_ratio=max_evidence_ratio,
        rank_by=rank_by,
    )
