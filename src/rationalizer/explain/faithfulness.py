"""Faithfulness of explanations, measured on token ids, and ERASER results for whole datasets.

ERASER's comprehensiveness is ``p(target | full) − p(target | rationale removed)`` (higher is
better), sufficiency ``p(target | full) − p(target | rationale only)`` (lower is better), and
AOPC averages both over the top fraction of words by soft score at several thresholds. Every
perturbed input is built by the adapter on the model's own token ids (its ``masking``), never by
decoding and re-tokenizing text, so the model sees exactly the words kept and nothing else.

:func:`explain_dataset` writes the result as ERASER results records, which
:func:`rationalizer.metrics.evaluate` (and ``rationalizer evaluate``) score; given a jsonl
path it appends the records as they are done and, run again, skips the examples already written.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rationalizer.data import Dataset, Example
from rationalizer.data.labels import LabelMap, relabel
from rationalizer.data.results import (
    ResultRecord,
    iter_results,
    validate_results,
)
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
from rationalizer.explain.base import Explainer, Explanation
from rationalizer.metrics.evaluate import DEFAULT_AOPC_THRESHOLDS
from rationalizer.metrics.ranking import top_fraction_words


@dataclass(frozen=True)
class Faithfulness:
    """Class probabilities of one input, full and perturbed, and the ERASER scores from them.

    ``without_top[k]`` / ``top_only[k]``: the top ``thresholds[k]`` fraction of words by soft
    score removed / kept alone. ``target`` is the class index the scores are for.
    """

    target: int
    full: np.ndarray
    without_rationale: np.ndarray
    rationale_only: np.ndarray
    thresholds: tuple[float, ...] = ()
    without_top: np.ndarray | None = None
    top_only: np.ndarray | None = None

    @property
    def comprehensiveness(self) -> float:
        return float(self.full[self.target] - self.without_rationale[self.target])

    @property
    def sufficiency(self) -> float:
        return float(self.full[self.target] - self.rationale_only[self.target])

    @property
    def aopc_comprehensiveness(self) -> float:
        """Mean comprehensiveness of the top fraction of words over the thresholds."""
        return self._aopc(self.without_top)

    @property
    def aopc_sufficiency(self) -> float:
        """Mean sufficiency of the top fraction of words over the thresholds."""
        return self._aopc(self.top_only)

    def thresholded(self) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """``(threshold, without top words, top words only)`` at each measured threshold."""
        if self.without_top is None or self.top_only is None:
            return []
        return list(zip(self.thresholds, self.without_top, self.top_only, strict=True))

    def _aopc(self, perturbed: np.ndarray | None) -> float:
        if perturbed is None or not self.thresholds:
            raise RationalizerError("no AOPC thresholds were measured (give soft scores)")
        return float(np.mean(self.full[self.target] - perturbed[:, self.target]))


def measure(
    adapter: ClassifierAdapter,
    instance: Instance,
    rationale: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None = None,
    *,
    target: int | str | None = None,
    thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
) -> Faithfulness:
    """Probabilities of ``instance`` full, without the ``rationale`` (0/1 per word) and with it
    alone, and, given soft ``scores``, without / with only the top fraction of words at each
    AOPC threshold; all in one batched call of the adapter. ``target`` defaults to the class
    predicted on the full input."""
    [result] = measure_all(
        adapter, [instance], [rationale], [scores], [target], thresholds=thresholds
    )
    return result


def measure_all(
    adapter: ClassifierAdapter,
    instances: Sequence[Instance],
    rationales: Sequence[Sequence[int] | np.ndarray],
    scores: Sequence[Sequence[float] | np.ndarray | None],
    targets: Sequence[int | str | None],
    *,
    thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
    batch_size: int | None = None,
) -> list[Faithfulness]:
    """:func:`measure` of each instance (with its rationale, scores and target), the perturbed
    inputs of all of them packed ``batch_size`` (default: the adapter's) per forward pass."""
    keeps = [
        _perturbations(instance, rationale, values, thresholds)
        for instance, rationale, values in zip(instances, rationales, scores, strict=True)
    ]
    rows = [instance for instance, keep in zip(instances, keeps, strict=True) for _ in keep]
    probabilities = adapter.probabilities_batch(
        rows, [row for keep in keeps for row in keep], batch_size
    )
    ends = np.cumsum([len(keep) for keep in keeps])
    return [
        _faithfulness(adapter, part, target, thresholds if values is not None else ())
        for part, target, values in zip(
            np.split(probabilities, ends[:-1]), targets, scores, strict=True
        )
    ]


def _perturbations(
    instance: Instance,
    rationale: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None,
    thresholds: Sequence[float],
) -> np.ndarray:
    """The keep vectors :func:`measure` runs: full, without and with only the rationale, then
    without and with only the top words at each threshold (given scores)."""
    kept = np.asarray(rationale) != 0
    if kept.shape != (instance.num_words,):
        raise RationalizerError(
            f"a rationale of {kept.shape} for an input of {instance.num_words} words"
        )
    tops = [] if scores is None else _top_words(instance, scores, thresholds)
    full = np.ones(instance.num_words, dtype=bool)
    return np.stack([full, ~kept, kept, *(~top for top in tops), *tops]).astype(np.int8)


def _top_words(
    instance: Instance, scores: Sequence[float] | np.ndarray, thresholds: Sequence[float]
) -> list[np.ndarray]:
    """The top words by score at each threshold, counted among the words the model sees, as
    :meth:`~rationalizer.training.inference.Rationalizer.predict_dataset` counts them, so the
    scores of a rationalizer and of a post-hoc method on it are comparable. Unlike a
    :class:`~rationalizer.explain.RationaleRule`, words are taken whatever the sign of their
    score, as ERASER's AOPC does."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (instance.num_words,):
        raise RationalizerError(f"{scores.shape} scores for {instance.num_words} words")
    return [
        top_fraction_words(scores, t, instance.seen_words) for t in _checked_thresholds(thresholds)
    ]


def _faithfulness(
    adapter: ClassifierAdapter,
    probabilities: np.ndarray,
    target: int | str | None,
    thresholds: Sequence[float],
) -> Faithfulness:
    """The :class:`Faithfulness` of one instance from the probabilities of its
    :func:`_perturbations`."""
    thresholds = _checked_thresholds(thresholds) if thresholds else ()
    count = len(thresholds)
    index = int(probabilities[0].argmax()) if target is None else adapter.label_index(target)
    return Faithfulness(
        target=index,
        full=probabilities[0],
        without_rationale=probabilities[1],
        rationale_only=probabilities[2],
        thresholds=thresholds,
        without_top=probabilities[3 : 3 + count] if count else None,
        top_only=probabilities[3 + count :] if count else None,
    )


def measure_explanation(
    adapter: ClassifierAdapter,
    explanation: Explanation,
    instance: Instance | None = None,
    *,
    thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
) -> Faithfulness:
    """:func:`measure` of an explanation's hard rationale and scores, for the class it
    explains. ``instance`` is the input it explained (prepared again from its words if None)."""
    if instance is None:
        instance = adapter.prepare(explanation.words, explanation.query)
    return measure(
        adapter,
        instance,
        explanation.rationale_mask,
        explanation.scores,
        target=explanation.target,
        thresholds=thresholds,
    )


def _checked_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(t) for t in thresholds)
    if not values or any(not 0 < t <= 1 for t in values) or len(set(values)) != len(values):
        raise RationalizerError(
            f"AOPC thresholds must be distinct fractions in (0, 1], got {list(thresholds)}"
        )
    return tuple(sorted(values))


# ---------------------------------------------------------------------------------------------
# Whole datasets


def explain_examples(
    explainer: Explainer,
    adapter: ClassifierAdapter,
    examples: Sequence[Example],
    thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
) -> list[ResultRecord]:
    """The ERASER record of ``explainer`` on each example: the explanation of the predicted
    class (hard spans and soft scores) with its faithfulness probabilities. The examples are
    explained together (:meth:`Explainer.attribute`) and their faithfulness inputs packed
    ``batch_size`` (the explainer's) per forward pass."""
    instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in examples]
    explanations = explainer.attribute(adapter, instances)
    for example, explanation in zip(examples, explanations, strict=True):
        if not np.isfinite(explanation.scores).all():
            raise RationalizerError(
                f"{explainer.name} gave NaN or infinite scores for example {example.id!r}"
            )
    measured = measure_all(
        adapter,
        instances,
        [explanation.rationale_mask for explanation in explanations],
        [explanation.scores for explanation in explanations],
        [explanation.target for explanation in explanations],
        thresholds=thresholds,
        batch_size=explainer.options.batch_size,
    )
    return [
        ResultRecord.single_document(
            example.id,
            example.document.docid,
            ((span.start, span.end) for span in explanation.rationale),
            explanation.scores,
            adapter.labels,
            faithfulness.full,
            faithfulness.without_rationale,
            faithfulness.rationale_only,
            faithfulness.thresholded(),
        )
        for example, explanation, faithfulness in zip(examples, explanations, measured, strict=True)
    ]


def explain_dataset(
    explainer: Explainer,
    adapter: ClassifierAdapter,
    dataset: Dataset,
    *,
    aopc_thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
    progress: bool = False,
    resume_path: str | Path | None = None,
    console: Console | None = None,
    label_map: LabelMap | None = None,
) -> list[ResultRecord]:
    """ERASER results records (dataset order) of ``explainer`` on every example of ``dataset``.

    Each example's predicted class is explained; the record holds the hard rationale, the
    soft scores and the faithfulness probabilities (see :func:`explain_examples`). Examples are
    explained ``batch_size`` (the explainer's option) at a time, in dataset order, their model
    inputs packed into shared forward passes. With ``resume_path`` (a jsonl file), the records
    of each such chunk are appended as soon as it is done, and the chunks already in the file
    are not explained again (one an interruption cut short is explained whole and its missing
    records appended, so the resumed file equals an uninterrupted run's). ``progress`` shows a
    progress bar on ``console`` (default: standard error). ``label_map`` (``{"neg": "NEG"}``:
    model label → dataset label) reads a dataset whose labels differ from the model's; labels
    that differ only in case are matched with a
    :class:`~rationalizer.data.labels.LabelsMatchedWarning`.
    """
    dataset = relabel(dataset, adapter.labels, label_map)
    thresholds = _checked_thresholds(aopc_thresholds)
    done = {} if resume_path is None else _written_records(Path(resume_path), dataset, thresholds)
    size = explainer.options.batch_size
    # A chunk partly written before an interruption is explained whole again, so that every
    # example shares its forward passes with the same others as in an uninterrupted run.
    chunks = [dataset.examples[start : start + size] for start in range(0, len(dataset), size)]
    todo = [chunk for chunk in chunks if any(example.id not in done for example in chunk)]
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with ExitStack() as stack:
        output = (
            None
            if resume_path is None
            else stack.enter_context(Path(resume_path).open("a", encoding="utf-8"))
        )
        bar = stack.enter_context(
            Progress(*columns, console=console or Console(stderr=True), disable=not progress)
        )
        task = bar.add_task(
            f"{explainer.name} on {dataset.name}/{dataset.split}",
            total=len(dataset),
            completed=len(done),
        )
        for chunk in todo:
            records = explain_examples(explainer, adapter, chunk, thresholds)
            new = [pair for pair in zip(chunk, records, strict=True) if pair[0].id not in done]
            for example, record in new:
                done[example.id] = record
                if output is not None:
                    output.write(record.to_json() + "\n")
            if output is not None:
                output.flush()
            bar.advance(task, len(new))
    return [done[example.id] for example in dataset]


def _written_records(
    path: Path, dataset: Dataset, thresholds: tuple[float, ...]
) -> dict[str, ResultRecord]:
    """The records an earlier (maybe interrupted) run wrote to ``path``, checked against the
    dataset and the thresholds. A last line cut short by the interruption is removed."""
    if not path.is_file():
        return {}
    with path.open("rb+") as handle:
        content = handle.read()
        if content and not content.endswith(b"\n"):
            handle.truncate(content.rfind(b"\n") + 1)
    if not path.read_text(encoding="utf-8").strip():
        return {}
    numbered = list(iter_results(path))
    validate_results(numbered, dataset, path=path)
    for line, record in numbered:
        written = sorted(t.threshold for t in record.thresholded_scores or ())
        if tuple(written) != thresholds:
            raise DataFormatError(
                path,
                f"written with AOPC thresholds {written}, not {list(thresholds)}; resume with "
                "the same thresholds or write to a new file",
                line=line,
                field="thresholded_scores",
            )
    return {record.annotation_id: record for _, record in numbered}
