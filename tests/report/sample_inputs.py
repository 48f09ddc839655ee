"""Sample report inputs: deterministic pseudo-predictions for real datasets, shaped like a
mediocre model's output, and an explainer benchmark output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rationalizer.data import Dataset, mask_to_spans
from rationalizer.data.results import ResultRecord, parse_record

#: An explainers.json as the explainer benchmark writes it, with a field the report does not
#: know (``deletions``), which it must show anyway.
BENCHMARK = {
    "command": "python benchmarks/explainers.py",
    "seeds": [0],
    "machine": {"cpu_count": 2, "python": "3.11"},
    "models": {
        "movies-bigru": {
            "dataset": "movies",
            "split": "test",
            "examples": 50,
            "methods": {
                "gradient": {
                    "token_f1": 0.21,
                    "auprc": 0.25,
                    "comprehensiveness": 0.10,
                    "sufficiency": 0.05,
                    "aopc_comprehensiveness": 0.08,
                    "aopc_sufficiency": 0.06,
                    "seconds_per_example": 0.01,
                    "deletions": 17,
                },
                "occlusion": {
                    "token_f1": 0.18,
                    "auprc": 0.22,
                    "comprehensiveness": 0.15,
                    "sufficiency": 0.02,
                    "aopc_comprehensiveness": 0.12,
                    "aopc_sufficiency": 0.03,
                    "seconds_per_example": 0.9,
                },
            },
        }
    },
    "greedy": {"movies-bigru": {"mean_rationale_words": 12.5}},
}


#: A word's soft score is ``GOLD_BONUS × gold + uniform(0, NOISE)``; above ``CUT`` it is selected:
#: most gold words and a few others, so token F1 varies from example to example.
GOLD_BONUS, NOISE, CUT = 0.45, 0.6, 0.55


def pseudo_lines(dataset: Dataset, *, seed: int = 0) -> Iterator[str]:
    """One ERASER results line per example: soft and hard rationales, and class probabilities
    where the gold label gets uniform(0.3, 1) (so about 70% of two-label predictions are right).
    Written as plain JSON, which is much faster than building records for 2,000 reviews."""
    rng = np.random.default_rng(seed)
    uniform = {label: 1 / len(dataset.labels) for label in dataset.labels}
    for example in dataset:
        rationales = []
        for doc in example.documents:
            soft = np.round(
                GOLD_BONUS * example.rationale_mask(doc.docid) + NOISE * rng.random(len(doc)), 3
            )
            hard = [{"start_token": s.start, "end_token": s.end} for s in mask_to_spans(soft > CUT)]
            rationales.append(
                {
                    "docid": doc.docid,
                    "hard_rationale_predictions": hard,
                    "soft_rationale_predictions": soft.tolist(),
                }
            )
        gold_probability = float(rng.uniform(0.3, 1.0))
        others = [label for label in dataset.labels if label != example.label]
        scores = {example.label: gold_probability} | {
            label: (1 - gold_probability) / len(others) for label in others
        }
        record = {
            "annotation_id": example.id,
            "rationales": rationales,
            "classification": max(scores, key=scores.get),
            "classification_scores": scores,
            "comprehensiveness_classification_scores": uniform,
            "sufficiency_classification_scores": scores,
        }
        yield json.dumps(record, ensure_ascii=False)


def pseudo_records(dataset: Dataset, *, seed: int = 0) -> list[ResultRecord]:
    """:func:`pseudo_lines` as records."""
    return [parse_record(line) for line in pseudo_lines(dataset, seed=seed)]


def write_pseudo_results(path: Path, dataset: Dataset, *, seed: int = 0) -> Path:
    """:func:`pseudo_lines` as a results jsonl file."""
    lines = "".join(line + "\n" for line in pseudo_lines(dataset, seed=seed))
    path.write_text(lines, encoding="utf-8")
    return path
