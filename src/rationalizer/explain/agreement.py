"""Where explainers disagree: rank correlation and top-k overlap of their word scores.

Different methods often explain one prediction differently (Krishna et al. 2022, "The
disagreement problem in explainable machine learning"). :func:`agreement` compares every pair
of methods on each example both explain and summarises over the examples:

* ``kendall``: Kendall's tau-b of the two methods' word scores (tau-b accounts for ties, which
  are common: truncated words score 0 for every method, greedy gives every unchosen word 0);
* ``spearman``: Spearman's rho (tied words share their average rank);
* ``top-k``: ``|top-k of A ∩ top-k of B| / k``, with ``k`` a count of words or a fraction of
  each example's words. Words tied at the k-th score share the places left evenly (the expected
  overlap when each method's ties are broken at random), so the value never depends on word
  order. A method's overlap with itself is therefore below 1 where ties decide its top k: greedy,
  which scores every unchosen word 0, has a top k that is mostly chance.

Comparisons are at the word level, as every explanation here is (one score per word, whatever
the model's tokenization); score vectors of different lengths, such as subword scores beside
word scores, are an error naming the example. A method whose scores on an example are all equal
ranks nothing there, so neither measure is defined for that example (nor is top-k when every
word is in the top k): such examples are counted and left out of that pair's mean, never
counted as 0.

    from rationalizer.explain import agreement, explain
    runs = {m: explain(model, texts, method=m) for m in ("lime", "integrated-gradients")}
    result = agreement(runs, k=0.1)          # or {"lime": "lime.jsonl", ...}: results files
    result["kendall"].mean                   # methods × methods, NaN where never defined
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from scipy.stats import kendalltau, spearmanr

from rationalizer.data.results import ResultRecord, iter_results
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError
from rationalizer.explain.base import Explanation
from rationalizer.metrics.info import MetricInfo

AgreementMetric = Literal["kendall", "spearman", "top-k"]

#: What each agreement metric means; every one is higher when the two methods agree more.
AGREEMENT_METRICS: Mapping[str, MetricInfo] = MappingProxyType(
    {
        "kendall": MetricInfo(
            "agreement.kendall",
            "Kendall tau-b",
            -1.0,
            1.0,
            True,
            "Rank correlation of two methods' word scores, ties accounted for (tau-b): 1 same "
            "order, 0 unrelated, −1 reversed; mean over the examples where both rank words.",
        ),
        "spearman": MetricInfo(
            "agreement.spearman",
            "Spearman rho",
            -1.0,
            1.0,
            True,
            "Correlation of the ranks of two methods' word scores (ties share their average "
            "rank); mean over the examples where both rank words.",
        ),
        "top-k": MetricInfo(
            "agreement.top_k",
            "Top-k overlap",
            0.0,
            1.0,
            True,
            "Share of one method's k highest-scoring words that are also among the other's "
            "(ties at the k-th score share the places left); mean over the examples.",
        ),
    }
)
DEFAULT_METRICS: tuple[AgreementMetric, ...] = ("kendall", "top-k")
#: the top 10% of each example's words
DEFAULT_K = 0.1

#: one method's explanations: in memory, as results records, or a results file
Explained = Sequence[Explanation] | Sequence[ResultRecord] | str | Path
#: ``{example key: (words or None, scores)}`` of one method
_MethodScores = dict[str, tuple[tuple[str, ...] | None, Any]]


@dataclass(frozen=True)
class AgreementMatrix:
    """One metric between every pair of methods, rows and columns in ``methods`` order.

    ``mean`` and ``std`` (standard deviation) are over the examples where the metric is
    defined for that pair, ``defined`` counts them; where it is defined on none the mean is NaN.
    """

    info: MetricInfo
    methods: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    defined: np.ndarray

    def value(self, first: str, second: str) -> float:
        """The mean agreement of two methods."""
        return float(self.mean[self.methods.index(first), self.methods.index(second)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; an undefined mean or spread is ``None``."""

        def rows(matrix: np.ndarray) -> list[list[float | None]]:
            return [[None if math.isnan(v) else float(v) for v in row] for row in matrix]

        return {
            "name": self.info.name,
            "lower": self.info.lower,
            "upper": self.info.upper,
            "higher_is_better": self.info.higher_is_better,
            "mean": rows(self.mean),
            "std": rows(self.std),
            "defined": self.defined.tolist(),
        }


@dataclass(frozen=True)
class Agreement:
    """Pairwise agreement of ``methods`` over ``examples`` (the examples every method
    explains), one :class:`AgreementMatrix` per metric; ``k`` as given (count or fraction)."""

    methods: tuple[str, ...]
    examples: tuple[str, ...]
    k: float
    matrices: Mapping[str, AgreementMatrix]

    def __getitem__(self, metric: str) -> AgreementMatrix:
        try:
            return self.matrices[metric]
        except KeyError:
            raise UnknownNameError("agreement metric", metric, tuple(self.matrices)) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "examples": len(self.examples),
            "k": self.k,
            "metrics": {name: matrix.to_dict() for name, matrix in self.matrices.items()},
        }


def agreement(
    explanations: Mapping[str, Explained],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    k: float = DEFAULT_K,
) -> Agreement:
    """Agreement of every pair of methods on the examples they all explain.

    ``explanations`` maps a method's name to its explanations: :class:`Explanation` objects
    (the same inputs in the same order for every method), results records, or the path of a
    results file (``rationalizer explain --dataset``'s output; records are matched by
    annotation id and document). ``metrics`` are keys of :data:`AGREEMENT_METRICS`; ``k`` is a
    whole number of words (≥ 1) or, below 1, a fraction of each example's words (rounded up).
    """
    for metric in metrics:
        if metric not in AGREEMENT_METRICS:
            raise UnknownNameError("agreement metric", metric, tuple(AGREEMENT_METRICS))
    if not (k > 0 and (k < 1 or float(k).is_integer())):
        raise RationalizerError(f"top-k: k must be a whole number ≥ 1 or a fraction < 1, got {k}")
    if len(explanations) < 2:
        raise RationalizerError(f"agreement needs two methods or more, got {len(explanations)}")
    methods = tuple(explanations)
    scores = [_word_scores(name, given) for name, given in explanations.items()]
    _check_same_inputs(methods, explanations)
    shared = [key for key in scores[0] if all(key in other for other in scores[1:])]
    if not shared:
        raise RationalizerError(f"{', '.join(methods)} explain no example in common")
    values: dict[tuple[str, int, int], list[float]] = {}
    for key in shared:
        vectors = _checked_vectors(key, methods, [by_key[key] for by_key in scores])
        for metric in metrics:
            for i in range(len(methods)):
                for j in range(i, len(methods)):
                    value = _pair_value(metric, vectors[i], vectors[j], k)
                    if value is not None:
                        values.setdefault((metric, i, j), []).append(value)
    return Agreement(
        methods=methods,
        examples=tuple(shared),
        k=k,
        matrices={metric: _matrix(metric, methods, values) for metric in metrics},
    )


def _word_scores(name: str, given: Explained) -> _MethodScores:
    """The scores of one method, in its order."""
    if isinstance(given, str | Path):
        return _record_scores(name, iter_results(given), Path(given))
    items = list(given)
    explanations = [item for item in items if isinstance(item, Explanation)]
    if len(explanations) == len(items):
        return {f"input {i}": (e.words, e.scores) for i, e in enumerate(explanations)}
    records = [item for item in items if isinstance(item, ResultRecord)]
    if len(records) == len(items):
        return _record_scores(name, enumerate(records), None)
    raise RationalizerError(
        f"method {name}: give Explanation objects, results records or a results file"
    )


def _record_scores(
    name: str, numbered: Iterable[tuple[int, ResultRecord]], path: Path | None
) -> _MethodScores:
    """Soft scores of each document of each record; ``numbered`` yields (line or index,
    record). A document is keyed by its annotation id (with its docid when there are several)."""
    found: _MethodScores = {}
    for number, record in numbered:
        for d, rationale in enumerate(record.rationales):
            if rationale.soft_rationale_predictions is None:
                field = f"rationales[{d}].soft_rationale_predictions"
                where = f"method {name}, example {record.annotation_id!r}"
                if path is not None:
                    raise DataFormatError(
                        path, f"{where}: no soft scores", line=number, field=field
                    )
                raise RationalizerError(f"{where}: no soft scores ({field})")
            key = record.annotation_id
            if len(record.rationales) > 1:
                key = f"{key}/{rationale.docid}"
            found[key] = (None, rationale.soft_rationale_predictions)
    return found


def _check_same_inputs(methods: Sequence[str], explanations: Mapping[str, Explained]) -> None:
    """Explanations in memory are matched by position, so every method must explain as many
    inputs."""
    counts = {
        name: len(given)
        for name, given in explanations.items()
        if not isinstance(given, str | Path) and given and isinstance(given[0], Explanation)
    }
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise RationalizerError(f"explanations of different inputs: inputs explained: {listed}")


def _checked_vectors(key: str, methods: Sequence[str], given: Sequence) -> list[np.ndarray]:
    """The methods' scores of one example as float arrays, after checking they score the same
    words and are finite."""
    vectors = [np.asarray(scores, dtype=np.float64) for _, scores in given]
    for name, (words, _), vector in zip(methods, given, vectors, strict=True):
        if len(vector) != len(vectors[0]):
            raise RationalizerError(
                f"example {key}: {methods[0]} has {len(vectors[0])} scores, {name} "
                f"{len(vector)}; agreement compares one score per word (pool subword scores "
                "into their words first)"
            )
        if words is not None and words != given[0][0]:
            raise RationalizerError(f"example {key}: {methods[0]} and {name} explain other words")
        if not np.isfinite(vector).all():
            raise RationalizerError(f"example {key}: {name}'s scores contain NaN or infinity")
    return vectors


def _pair_value(metric: str, a: np.ndarray, b: np.ndarray, k: float) -> float | None:
    """The metric on one example, or None where it is undefined."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    if metric == "kendall":
        return float(kendalltau(a, b).statistic)
    if metric == "spearman":
        return float(spearmanr(a, b).statistic)
    count = top_count(k, len(a))
    if count >= len(a):
        return None
    return float(top_k_weights(a, count) @ top_k_weights(b, count)) / count


def top_count(k: float, words: int) -> int:
    """``k`` as a number of words: a whole ``k`` ≥ 1 itself, a fraction ``k`` < 1 of ``words``
    rounded up (at least 1)."""
    return int(k) if k >= 1 else max(1, math.ceil(k * words))


def top_k_weights(scores: np.ndarray, count: int) -> np.ndarray:
    """Each word's chance to be among the ``count`` highest scores when ties at the
    ``count``-th score are broken at random: 1 above it, the places left shared evenly by the
    words at it, 0 below."""
    boundary = np.sort(scores)[::-1][count - 1]
    above = scores > boundary
    tied = scores == boundary
    weights = above.astype(np.float64)
    weights[tied] = (count - above.sum()) / tied.sum()
    return weights


def _matrix(
    metric: str, methods: Sequence[str], values: Mapping[tuple[str, int, int], list[float]]
) -> AgreementMatrix:
    size = len(methods)
    mean = np.full((size, size), np.nan)
    std = np.full((size, size), np.nan)
    defined = np.zeros((size, size), dtype=np.int64)
    for i in range(size):
        for j in range(i, size):
            found = values.get((metric, i, j), [])
            defined[i, j] = defined[j, i] = len(found)
            if found:
                mean[i, j] = mean[j, i] = np.mean(found)
                std[i, j] = std[j, i] = np.std(found)
    for array in (mean, std, defined):
        array.flags.writeable = False
    return AgreementMatrix(AGREEMENT_METRICS[metric], tuple(methods), mean, std, defined)
