"""What each reported number means: name, range and direction of every metric, by key.

:func:`flatten` turns an :func:`~rationalizer.metrics.evaluate` report into ``{key: value}``
with dotted keys; :func:`describe` gives the :class:`MetricInfo` of such a key. Keys follow the
report's nesting, with two conventions for list entries:

* ``@threshold`` names the threshold of an IOU or AOPC entry:
  ``iou_scores@0.5.macro.f1``, ``classification_scores.comprehensiveness_aopc_points@0.2``;
* rationale metrics restricted to examples with a gold rationale carry the prefix
  ``annotated_only.``, e.g. ``annotated_only.token_prf.instance_macro.f1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from rationalizer.errors import UnknownNameError

ANNOTATED_ONLY = "annotated_only"


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric, for tables and for choosing a model by the right direction.

    ``higher_is_better`` is None for diagnostics without a preferred direction (e.g. how many
    tokens a rationale selects). Bounds may be infinite.
    """

    key: str
    name: str
    lower: float
    upper: float
    higher_is_better: bool | None
    description: str


def _registry() -> dict[str, MetricInfo]:
    """Every metric key pattern; ``{threshold}`` and ``{label}`` stand for parts of real keys."""
    entries: list[MetricInfo] = []

    def add(key: str, name: str, lower: float, upper: float, better: bool | None, text: str):
        entries.append(MetricInfo(key, name, lower, upper, better, text))

    stat_names = {"p": "precision", "r": "recall", "f1": "F1"}
    pooling = {
        "instance_micro": "pooled over all instances (annotation id, document)",
        "instance_macro": "averaged over instances with gold or predicted units; the macro F1 is "
        "the mean of per-instance F1 values",
    }
    units = {"token_prf": ("Token", "tokens"), "rationale_prf": ("Span", "exactly matching spans")}
    for section, (unit, unit_text) in units.items():
        for average, average_text in pooling.items():
            for stat, stat_name in stat_names.items():
                add(
                    f"{section}.{average}.{stat}",
                    f"{unit} {stat_name} ({average.removeprefix('instance_')})",
                    0.0,
                    1.0,
                    True,
                    f"Hard rationale {stat_name} of {unit_text}, {average_text} (ERASER).",
                )
    for average, average_text in (
        ("micro", "pooled over all spans"),
        ("macro", "averaged over instances; the macro F1 is the F1 of macro P and macro R"),
    ):
        for stat, stat_name in stat_names.items():
            # A gold span matched by two predicted halves counts twice (ERASER), so recall and
            # F1 can exceed 1.
            upper = 1.0 if stat == "p" else math.inf
            add(
                f"iou_scores@{{threshold}}.{average}.{stat}",
                f"IOU {stat_name} ({average}) at {{threshold}}",
                0.0,
                upper,
                True,
                f"Partial-match {stat_name}: a predicted span counts when its intersection over "
                f"union with a gold span reaches {{threshold}}; {average_text} (ERASER).",
            )
    add(
        "token_soft_metrics.auprc",
        "Token AUPRC",
        0.0,
        1.0,
        True,
        "Area under the precision-recall curve of token scores, averaged over documents; a "
        "document without gold tokens scores 0.5 (scikit-learn's convention, ERASER).",
    )
    add(
        "token_soft_metrics.average_precision",
        "Token average precision",
        0.0,
        1.0,
        True,
        "Average precision of token scores, averaged over documents with both gold and "
        "non-gold tokens (ERASER).",
    )
    add(
        "token_soft_metrics.roc_auc_score",
        "Token ROC AUC",
        0.0,
        1.0,
        True,
        "ROC AUC of token scores, averaged over documents with both gold and non-gold tokens "
        "(ERASER).",
    )
    for average, average_text in (("micro", "pooled over all tokens"), ("macro", "per document")):
        add(
            f"selection_rate.{average}",
            f"Selection rate ({average})",
            0.0,
            1.0,
            None,
            f"Fraction of tokens predicted as rationale, {average_text}; compare with the density "
            "of the gold rationales.",
        )
    add(
        "classification_scores.accuracy",
        "Accuracy",
        0.0,
        1.0,
        True,
        "Fraction of examples whose predicted label is the gold label.",
    )
    add(
        "classification_scores.prf.accuracy",
        "Accuracy (report)",
        0.0,
        1.0,
        True,
        "Accuracy as listed in scikit-learn's classification report.",
    )
    report_stats = {"precision": "Precision", "recall": "Recall", "f1-score": "F1"}
    for group, group_text in (
        ("macro avg", "unweighted mean over labels"),
        ("weighted avg", "mean over labels weighted by gold support"),
        ("{label}", "for label {label}"),
    ):
        title = "label {label}" if group == "{label}" else group
        for stat, stat_name in report_stats.items():
            add(
                f"classification_scores.prf.{group}.{stat}",
                f"{stat_name} ({title})",
                0.0,
                1.0,
                True,
                f"Classification {stat_name.lower()}, {group_text}.",
            )
        add(
            f"classification_scores.prf.{group}.support",
            f"Support ({title})",
            0.0,
            math.inf,
            None,
            f"Number of gold examples counted, {group_text}.",
        )
    for kind, better, perturbation, wish in (
        ("comprehensiveness", True, "with the rationale removed", "drop"),
        ("sufficiency", False, "on the rationale alone", "stay"),
    ):
        title = kind.capitalize()
        add(
            f"classification_scores.{kind}",
            title,
            -1.0,
            1.0,
            better,
            f"Mean drop of the predicted class's probability {perturbation}; faithful "
            f"rationales make it {wish} (ERASER).",
        )
        add(
            f"classification_scores.{kind}_entropy",
            f"{title} entropy change",
            -math.inf,
            math.inf,
            None,
            f"Mean entropy of the full-input class distribution minus that {perturbation} "
            "(natural log; ERASER diagnostic).",
        )
        add(
            f"classification_scores.{kind}_kl",
            f"{title} KL",
            0.0,
            math.inf,
            better,
            f"Mean KL divergence of the class distribution {perturbation} from the full-input "
            "one (natural log; ERASER diagnostic).",
        )
        add(
            f"classification_scores.{kind}_aopc",
            f"{title} AOPC",
            -1.0,
            1.0,
            better,
            f"{title} averaged over the AOPC thresholds (fractions of top-scored tokens).",
        )
        add(
            f"classification_scores.{kind}_aopc_points@{{threshold}}",
            f"{title} at {{threshold}} of tokens",
            -1.0,
            1.0,
            better,
            f"{title} when the top {{threshold}} fraction of tokens by score is the rationale.",
        )
    return {info.key: info for info in entries}


METRICS: Mapping[str, MetricInfo] = MappingProxyType(_registry())

_PLACEHOLDERS = {
    "threshold": r"(?P<threshold>[0-9.eE+-]+)",
    "label": r"(?P<label>.+)",
}
_MATCHERS = [
    (
        re.compile(
            re.sub(
                r"\\\{(\w+)\\\}",
                lambda m: _PLACEHOLDERS[m.group(1)],
                re.escape(key),
            )
        ),
        info,
    )
    for key, info in METRICS.items()
]
_RATIONALE_SECTIONS = ("token_prf", "rationale_prf", "iou_scores", "token_soft_metrics")


def describe(key: str) -> MetricInfo:
    """The metadata of a flattened report key, e.g. ``'iou_scores@0.5.macro.f1'``."""
    base = key.removeprefix(f"{ANNOTATED_ONLY}.")
    annotated = base != key
    if not annotated or base.startswith((*_RATIONALE_SECTIONS, "selection_rate")):
        for pattern, info in _MATCHERS:
            match = pattern.fullmatch(base)
            if match:
                fields = match.groupdict()
                name = info.name.format(**fields)
                description = info.description.format(**fields)
                if annotated:
                    name += ", annotated only"
                    description += " Only examples with a gold rationale."
                return replace(info, key=key, name=name, description=description)
    raise UnknownNameError("metric", key, list(METRICS))


def flatten(report: Mapping[str, Any]) -> dict[str, float]:
    """``{dotted key: value}`` of every number in a report; absent (None) metrics are left out."""
    flat: dict[str, float] = {}
    for section, value in report.items():
        if section == ANNOTATED_ONLY:
            flat.update({f"{ANNOTATED_ONLY}.{k}": v for k, v in flatten(value).items()})
        elif section == "iou_scores":
            for entry in value:
                at = f"iou_scores@{_threshold_text(entry['threshold'])}"
                _walk(at, {k: v for k, v in entry.items() if k != "threshold"}, flat)
        elif section == "classification_scores":
            thresholds = value.get("aopc_thresholds") or ()
            for name, item in value.items():
                if name.endswith("_aopc_points") and item is not None:
                    for threshold, point in zip(thresholds, item, strict=True):
                        flat[f"{section}.{name}@{_threshold_text(threshold)}"] = float(point)
                elif name != "aopc_thresholds":
                    _walk(f"{section}.{name}", item, flat)
        else:
            _walk(section, value, flat)
    return flat


def _walk(prefix: str, value: Any, flat: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            _walk(f"{prefix}.{name}", item, flat)
    elif value is not None:
        flat[prefix] = float(value)


def _threshold_text(threshold: float) -> str:
    return f"{threshold:g}"
