"""Time ``rationalizer.metrics.evaluate`` on 10,000 synthetic predictions.

The target: scoring 10,000 documents of about 250 tokens with hard and soft rationales and
classification scores takes under 5 seconds on 2 CPU cores. Two cases are timed: without the
faithfulness fields (comprehensiveness, sufficiency, AOPC scores) and with everything.

Run from the repository root::

    python -m benchmarks.evaluate_speed

It writes ``benchmarks/results/evaluate_speed.json`` and ``.md`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from benchmarks.common import RESULTS_DIR, command_line, machine_and_code_lines, module_command
from rationalizer._environment import benchmark_provenance, machine_info
from rationalizer.data.example import Dataset, Document, Evidence, Example, Span, mask_to_spans
from rationalizer.data.results import (
    DocumentRationale,
    ResultRecord,
    ThresholdedScores,
    TokenSpan,
    validate_results,
)
from rationalizer.metrics import DEFAULT_AOPC_THRESHOLDS, evaluate, flatten

LABELS = ("negative", "positive")
VOCABULARY = tuple(f"w{i}" for i in range(1000))
TARGET_SECONDS = 5.0
SCRIPT = Path(__file__).resolve()


def make_dataset(n_examples: int, rng: np.random.Generator) -> Dataset:
    """Documents of 200–300 tokens; 20% without a gold rationale, the rest with 1–2 groups."""
    examples = []
    for i in range(n_examples):
        length = int(rng.integers(200, 301))
        doc = Document(f"doc{i}", tuple(VOCABULARY[j] for j in rng.integers(0, 1000, length)))
        if rng.random() < 0.2:
            evidence: tuple = ((),)
        else:
            evidence = tuple(
                tuple(_random_evidence(doc, rng) for _ in range(rng.integers(1, 5)))
                for _ in range(rng.integers(1, 3))
            )
        examples.append(Example(f"ex{i}", (doc,), LABELS[i % 2], evidence=evidence))
    return Dataset("synthetic-benchmark", "test", tuple(examples), LABELS)


def _random_evidence(doc: Document, rng: np.random.Generator) -> Evidence:
    width = int(rng.integers(3, 21))
    start = int(rng.integers(0, len(doc) - width))
    return Evidence(doc.docid, Span(start, start + width))


def make_records(dataset: Dataset, rng: np.random.Generator) -> list[ResultRecord]:
    """Records with every field: smoothed noisy scores, their top 20% as hard spans."""
    records = []
    window = np.ones(5) / 5
    for example in dataset:
        doc = example.document
        noisy = 0.5 * example.rationale_mask() + rng.random(len(doc))
        soft = np.round(np.convolve(noisy, window, mode="same"), 4)
        spans = mask_to_spans(soft > np.quantile(soft, 0.8))
        rationale = DocumentRationale(
            doc.docid,
            hard_rationale_predictions=tuple(TokenSpan(s.start, s.end) for s in spans),
            soft_rationale_predictions=tuple(soft.tolist()),
        )
        full = _distribution(rng)
        records.append(
            ResultRecord(
                annotation_id=example.id,
                rationales=(rationale,),
                classification=max(full, key=full.__getitem__),
                classification_scores=full,
                comprehensiveness_classification_scores=_distribution(rng),
                sufficiency_classification_scores=_distribution(rng),
                thresholded_scores=tuple(
                    ThresholdedScores(t, _distribution(rng), _distribution(rng))
                    for t in DEFAULT_AOPC_THRESHOLDS
                ),
            )
        )
    return records


def _distribution(rng: np.random.Generator) -> dict[str, float]:
    p = float(rng.random())
    return {LABELS[0]: 1.0 - p, LABELS[1]: p}


def without_faithfulness(record: ResultRecord) -> ResultRecord:
    return replace(
        record,
        comprehensiveness_classification_scores=None,
        sufficiency_classification_scores=None,
        thresholded_scores=None,
    )


def timings(run: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def sklearn_milliseconds_per_document(
    dataset: Dataset, records: list[ResultRecord], sample: int = 300
) -> float:
    """What ERASER's approach costs: the three scikit-learn calls per document, in ms."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # documents without gold tokens warn
        for example, record in zip(dataset.examples[:sample], records[:sample], strict=True):
            truth = example.rationale_mask().astype(int)
            scores = record.rationales[0].soft_rationale_predictions
            precision, recall, _ = precision_recall_curve(truth, scores)
            auc(recall, precision)
            if 0 < truth.sum() < truth.size:
                average_precision_score(truth, scores)
                roc_auc_score(truth, scores)
    return (time.perf_counter() - start) / sample * 1000


def machine() -> dict:
    return machine_info()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.splitlines()[0]
    )
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    dataset = make_dataset(args.examples, rng)
    records = make_records(dataset, rng)
    cases = {
        "without_faithfulness": [without_faithfulness(r) for r in records],
        "everything": records,
    }
    tokens = sum(len(ex.document) for ex in dataset)
    result: dict = {
        "command": command_line(SCRIPT),
        "seed": args.seed,
        "examples": args.examples,
        "tokens": tokens,
        "repeats": args.repeats,
        "target_seconds": TARGET_SECONDS,
        "provenance": benchmark_provenance(SCRIPT),
        "machine": machine(),
        "cases": {},
    }
    for name, case_records in cases.items():
        report = evaluate(dataset, case_records)
        seconds = timings(
            lambda case_records=case_records: evaluate(dataset, case_records), args.repeats
        )
        result["cases"][name] = {
            "best_seconds": min(seconds),
            "median_seconds": statistics.median(seconds),
            "all_seconds": seconds,
            "metrics_reported": len(flatten(report)),
        }
        print(f"{name}: best {min(seconds):.3f} s, median {statistics.median(seconds):.3f} s")

    numbered = list(enumerate(records, start=1))
    validation = timings(lambda: validate_results(numbered, dataset), args.repeats)
    result["validate_results_median_seconds"] = statistics.median(validation)
    result["sklearn_ms_per_document"] = sklearn_milliseconds_per_document(dataset, records)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "evaluate_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS_DIR / "evaluate_speed.md").write_text(_markdown(result))


def _markdown(result: dict) -> str:
    lines = [
        "# `evaluate` speed",
        "",
        f"Command: `{result['command']}` (seed {result['seed']}).",
        "",
        f"{result['examples']:,} synthetic single-document examples, {result['tokens']:,} tokens "
        "in all (200–300 per document); every record has hard spans, soft token scores and "
        "class scores; a fifth of the documents have no gold rationale, so the rationale "
        "metrics are also computed on the annotated ones (`annotated_only`). Target: under "
        f"{result['target_seconds']:g} s on 2 cores. Best and median of {result['repeats']} runs.",
        "",
        "| case | best (s) | median (s) | metrics reported |",
        "|---|---|---|---|",
    ]
    for name, case in result["cases"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {case['best_seconds']:.3f} | "
            f"{case['median_seconds']:.3f} | {case['metrics_reported']} |"
        )
    ms = result["sklearn_ms_per_document"]
    lines += [
        "",
        "Both include checking the records against the dataset (`validate_results`), "
        f"median {result['validate_results_median_seconds']:.3f} s for all records.",
        "",
        f"For comparison, ERASER's per-document scikit-learn calls (AUPRC, average precision, "
        f"ROC AUC) take {ms:.2f} ms per document here, about "
        f"{ms * result['examples'] / 1000:.0f} s for the soft metrics of "
        f"{result['examples']:,} documents alone; `evaluate` computes the same curves for all "
        "documents at once with numpy.",
        "",
        *machine_and_code_lines(result, ("numpy", "scipy", "scikit-learn")),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
