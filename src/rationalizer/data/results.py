"""ERASER results jsonl: one prediction record per line, read and written with full validation.

The field names are exactly those of the ERASER benchmark's results files, so files written
here are scored by ERASER's own script and files written for ERASER are scored by
``rationalizer evaluate``. Reading validates every field (types via pydantic, then meaning
against the dataset) and reports the first problem with file, line and field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, TypeAdapter

from rationalizer.data._json import numbered_lines, parse_json
from rationalizer.data.example import Dataset, Span
from rationalizer.errors import DataFormatError

_STRICT = ConfigDict(strict=True, extra="forbid")
# One probability per label, as models hand them out (arrays) or as written by hand (lists).
Probabilities = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class TokenSpan:
    """A predicted hard rationale span, ``[start_token, end_token)`` in word positions."""

    __pydantic_config__ = _STRICT
    start_token: int
    end_token: int

    def to_span(self) -> Span:
        return Span(self.start_token, self.end_token)


@dataclass(frozen=True)
class DocumentRationale:
    """Predicted rationale for one document of an example."""

    __pydantic_config__ = _STRICT
    docid: str
    hard_rationale_predictions: tuple[TokenSpan, ...] | None = None
    soft_rationale_predictions: tuple[float, ...] | None = None
    soft_sentence_predictions: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ThresholdedScores:
    """Class scores with the top ``threshold`` fraction of tokens removed / kept (for AOPC)."""

    __pydantic_config__ = _STRICT
    threshold: float
    comprehensiveness_classification_scores: dict[str, float]
    sufficiency_classification_scores: dict[str, float]


@dataclass(frozen=True)
class ResultRecord:
    """One line of an ERASER results file."""

    __pydantic_config__ = _STRICT
    annotation_id: str
    rationales: tuple[DocumentRationale, ...] = ()
    classification: str | None = None
    classification_scores: dict[str, float] | None = None
    comprehensiveness_classification_scores: dict[str, float] | None = None
    sufficiency_classification_scores: dict[str, float] | None = None
    thresholded_scores: tuple[ThresholdedScores, ...] | None = None
    tokens_to_flip: int | None = None

    def to_json(self) -> str:
        """Compact JSON with absent optional fields left out, as ERASER expects."""
        return json.dumps(_drop_none(asdict(self)), ensure_ascii=False)

    @classmethod
    def single_document(
        cls,
        annotation_id: str,
        docid: str,
        rationale: Iterable[tuple[int, int]],
        soft_scores: Sequence[float] | np.ndarray,
        labels: Sequence[str],
        full: Probabilities,
        without_rationale: Probabilities,
        rationale_only: Probabilities,
        thresholded: Iterable[tuple[float, Probabilities, Probabilities]],
    ) -> ResultRecord:
        """The complete record of a one-document prediction from probability vectors in
        ``labels`` order: the predicted label, the hard ``(start, end)`` word spans and the
        soft scores, and the probabilities on the full input, with the rationale removed, with
        only the rationale, and with the top words removed / kept at each AOPC threshold."""

        def distribution(probabilities: Probabilities) -> dict[str, float]:
            return dict(zip(labels, map(float, probabilities), strict=True))

        scores = distribution(full)
        return cls(
            annotation_id=annotation_id,
            rationales=(
                DocumentRationale(
                    docid=docid,
                    hard_rationale_predictions=tuple(TokenSpan(s, e) for s, e in rationale),
                    soft_rationale_predictions=tuple(float(x) for x in soft_scores),
                ),
            ),
            classification=max(scores, key=scores.__getitem__),
            classification_scores=scores,
            comprehensiveness_classification_scores=distribution(without_rationale),
            sufficiency_classification_scores=distribution(rationale_only),
            # No thresholds is no AOPC field, not an empty one (which no reader accepts).
            thresholded_scores=tuple(
                ThresholdedScores(t, distribution(removed), distribution(kept))
                for t, removed, kept in thresholded
            )
            or None,
        )


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


_RECORD = TypeAdapter(ResultRecord)


def parse_record(
    line: str, *, path: str | Path | None = None, line_number: int | None = None
) -> ResultRecord:
    """Parse and type-check one results line (no dataset checks)."""
    return parse_json(_RECORD, line, path, line=line_number)


def iter_results(path: str | Path) -> Iterator[tuple[int, ResultRecord]]:
    """Yield ``(line_number, record)`` for every non-blank line of a results file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such results file")
    for number, line in numbered_lines(path):
        yield number, parse_record(line, path=path, line_number=number)


def read_results(path: str | Path, dataset: Dataset | None = None) -> list[ResultRecord]:
    """Read a results file; with ``dataset``, also check every record against it."""
    numbered = list(iter_results(path))
    if not numbered:
        raise DataFormatError(path, "results file is empty")
    if dataset is not None:
        validate_results(numbered, dataset, path=path)
    return [record for _, record in numbered]


def write_results(path: str | Path, records: Iterable[ResultRecord]) -> int:
    """Write records as jsonl; returns how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
            count += 1
    return count


def _distribution_problem(
    scores: dict[str, float], labels: set[str], reference: dict[str, float] | None
) -> str | None:
    """What is wrong with a label → probability object, if anything: dataset labels only,
    finite and non-negative, and (for perturbed scores) the same labels as
    ``classification_scores``, which ERASER compares label by label."""
    unknown = set(scores) - labels
    if unknown:
        return f"unknown label(s) {sorted(unknown)}; dataset labels are {sorted(labels)}"
    for name, value in scores.items():
        if not math.isfinite(value) or value < 0:
            return f"score for {name!r} is {value}, expected a probability"
    if reference is not None and scores.keys() != reference.keys():
        return (
            f"gives scores for {sorted(scores)} but classification_scores for {sorted(reference)}"
        )
    return None


def validate_results(
    numbered: Sequence[tuple[int, ResultRecord]],
    dataset: Dataset,
    *,
    path: str | Path | None = None,
) -> None:
    """Check records against the dataset: ids, docids, span ranges, lengths, labels, consistency.

    Mirrors the ERASER script's verification (overlapping spans, lengths, all-or-none optional
    fields, matching AOPC thresholds) and adds the checks it performs only by crashing or not
    at all (unknown ids and labels, mismatched label sets, repeated thresholds).
    """
    examples = dataset.by_id()
    labels = set(dataset.labels)
    seen: dict[str, int] = {}
    first_line, first = numbered[0]
    presence = _presence(first)
    thresholds = _thresholds(first)

    for line, rec in numbered:

        def error(field: str | None, message: str, line: int = line) -> DataFormatError:
            return DataFormatError(path, message, line=line, field=field)

        if rec.annotation_id in seen:
            raise error(
                "annotation_id",
                f"duplicate id {rec.annotation_id!r} (first on line {seen[rec.annotation_id]})",
            )
        seen[rec.annotation_id] = line
        example = examples.get(rec.annotation_id)
        if example is None:
            raise error(
                "annotation_id",
                f"id {rec.annotation_id!r} is not in {dataset.name}/{dataset.split}",
            )
        differing = sorted(k for k, v in _presence(rec).items() if v != presence[k])
        if differing:
            raise error(
                differing[0],
                f"optional field present on some records but not others "
                f"(compare line {first_line})",
            )
        _check_rationales(rec, example, error)
        _check_scores(rec, labels, thresholds, first_line, error)


def _check_rationales(rec: ResultRecord, example, error) -> None:
    docs_seen: set[str] = set()
    soft_given = [r.soft_rationale_predictions is not None for r in rec.rationales]
    if any(soft_given) and not all(soft_given):
        missing = rec.rationales[soft_given.index(False)].docid
        raise error("rationales", f"soft scores given for some documents but not for {missing!r}")
    for i, rat in enumerate(rec.rationales):
        base = f"rationales[{i}]"
        if rat.docid not in example.docids:
            raise error(
                f"{base}.docid",
                f"unknown docid {rat.docid!r}; example {example.id!r} has {list(example.docids)}",
            )
        if rat.docid in docs_seen:
            raise error(f"{base}.docid", f"docid {rat.docid!r} appears twice")
        docs_seen.add(rat.docid)
        length = len(example.doc(rat.docid))
        previous_end = -1
        for j, ts in sorted(
            enumerate(rat.hard_rationale_predictions or ()), key=lambda x: x[1].start_token
        ):
            field = f"{base}.hard_rationale_predictions[{j}]"
            if not 0 <= ts.start_token <= ts.end_token <= length:
                raise error(
                    field,
                    f"span [{ts.start_token}, {ts.end_token}) out of range for document of "
                    f"{length} tokens",
                )
            if ts.start_token < previous_end and ts.end_token > ts.start_token:
                raise error(field, "span overlaps another predicted span")
            if ts.end_token > ts.start_token:  # empty spans overlap nothing, as in ERASER
                previous_end = max(previous_end, ts.end_token)
        soft = rat.soft_rationale_predictions
        if soft is not None:
            if len(soft) != length:
                raise error(
                    f"{base}.soft_rationale_predictions",
                    f"has {len(soft)} scores for a document of {length} tokens",
                )
            if not np.isfinite(np.asarray(soft, dtype=float)).all():
                raise error(f"{base}.soft_rationale_predictions", "contains NaN or infinity")
        sentences = rat.soft_sentence_predictions
        n_sentences = len(example.doc(rat.docid).sentences())
        if sentences is not None and len(sentences) != n_sentences:
            raise error(
                f"{base}.soft_sentence_predictions",
                f"has {len(sentences)} scores for {n_sentences} sentences",
            )


def _check_scores(rec: ResultRecord, labels: set[str], thresholds, first_line: int, error) -> None:
    if (rec.classification is None) != (rec.classification_scores is None):
        raise error(
            "classification_scores",
            "classification and classification_scores must be given together",
        )
    if rec.classification is not None and rec.classification not in labels:
        raise error(
            "classification",
            f"unknown label {rec.classification!r}; dataset labels are {sorted(labels)}",
        )
    named = [
        (name, getattr(rec, name))
        for name in (
            "classification_scores",
            "comprehensiveness_classification_scores",
            "sufficiency_classification_scores",
        )
    ]
    for k, t in enumerate(rec.thresholded_scores or ()):
        if not 0 <= t.threshold <= 1:  # NaN too
            raise error(
                f"thresholded_scores[{k}].threshold",
                f"is {t.threshold}, expected the fraction of words removed, in [0, 1]",
            )
        named += [
            (f"thresholded_scores[{k}].{name}", getattr(t, name))
            for name in (
                "comprehensiveness_classification_scores",
                "sufficiency_classification_scores",
            )
        ]
    for field, scores in named:
        if scores is None:
            continue
        reference = None if field == "classification_scores" else rec.classification_scores
        problem = _distribution_problem(scores, labels, reference)
        if problem is not None:
            raise error(field, problem)
        if rec.classification is not None and rec.classification not in scores:
            raise error(field, f"has no score for the predicted class {rec.classification!r}")
    if rec.thresholded_scores is not None:
        needed = (
            rec.classification,
            rec.comprehensiveness_classification_scores,
            rec.sufficiency_classification_scores,
        )
        if any(x is None for x in needed):
            raise error(
                "thresholded_scores",
                "needs classification, classification_scores, comprehensiveness and "
                "sufficiency scores",
            )
        got = _thresholds(rec)
        if not got:
            raise error(
                "thresholded_scores",
                "is empty: give at least one threshold's scores, or leave the field out",
            )
        if len(set(got)) != len(got):
            raise error("thresholded_scores", f"repeats a threshold: {got}")
        if got != thresholds:
            raise error(
                "thresholded_scores",
                f"thresholds {got} differ from line {first_line}'s {thresholds}",
            )


def _thresholds(rec: ResultRecord) -> list[float] | None:
    if rec.thresholded_scores is None:
        return None
    return sorted(t.threshold for t in rec.thresholded_scores)


def _presence(rec: ResultRecord) -> dict[str, bool]:
    """Which optional fields a record carries; ERASER requires all-or-none across a file."""
    rats = rec.rationales
    return {
        "classification": rec.classification is not None,
        "comprehensiveness_classification_scores": rec.comprehensiveness_classification_scores
        is not None,
        "sufficiency_classification_scores": rec.sufficiency_classification_scores is not None,
        "thresholded_scores": rec.thresholded_scores is not None,
        "rationales.soft_rationale_predictions": any(
            r.soft_rationale_predictions is not None for r in rats
        ),
        "rationales.soft_sentence_predictions": any(
            r.soft_sentence_predictions is not None for r in rats
        ),
    }
