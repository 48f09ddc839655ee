"""Our metrics against a plain transcription of the definitions in ERASER's metrics script.

The reference below works like ERASER's script: on JSON dicts, with Python sets of
``(annotation id, docid, start, end)`` tuples, one scikit-learn call per document and one scipy
call per record. It is slow and obviously faithful to the definitions; the package's numpy code
must give the same numbers on random inputs (multi-document examples, alternative evidence
groups, overlapping and zero-length spans, tied scores, single-class documents).
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict

import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    classification_report,
    precision_recall_curve,
    roc_auc_score,
)

from rationalizer.data.example import Dataset, Document, Evidence, Example, Span, mask_to_spans
from rationalizer.data.results import DocumentRationale, ResultRecord, ThresholdedScores, TokenSpan
from rationalizer.metrics import evaluate, iou_scores, rationale_prf, token_prf

# --- the reference ---------------------------------------------------------------------------


def f1(p: float, r: float) -> float:
    return 0 if p == 0 or r == 0 else 2 * p * r / (p + r)


def reference_prf(truth: set[tuple], pred: set[tuple]) -> dict:
    """Micro and macro P/R/F1 of units ``(key, ...)``; ERASER's score_hard_rationale_predictions."""
    hit = len(truth & pred)
    micro_p = hit / len(pred) if pred else 0.0
    micro_r = hit / len(truth) if truth else 0.0
    by_key_t, by_key_p = defaultdict(set), defaultdict(set)
    for unit in truth:
        by_key_t[unit[0]].add(unit)
    for unit in pred:
        by_key_p[unit[0]].add(unit)
    per = []
    for key in set(by_key_t) | set(by_key_p):
        t, p = by_key_t[key], by_key_p[key]
        ip = len(t & p) / len(p) if p else 0
        ir = len(t & p) / len(t) if t else 0
        per.append((ip, ir, f1(ip, ir)))
    means = [sum(x[i] for x in per) / len(per) if per else 0.0 for i in range(3)]
    return {
        "instance_micro": {"p": micro_p, "r": micro_r, "f1": f1(micro_p, micro_r)},
        "instance_macro": dict(zip(("p", "r", "f1"), means, strict=True)),
    }


def reference_iou(truth: set[tuple], pred: set[tuple], threshold: float) -> dict:
    """ERASER's partial_match_score on span units ``(key, start, end)``."""
    by_key_t, by_key_p = defaultdict(set), defaultdict(set)
    for key, s, e in truth:
        by_key_t[key].add((s, e))
    for key, s, e in pred:
        by_key_p[key].add((s, e))
    tps = defaultdict(int)
    for key, preds in by_key_p.items():
        for ps, pe in preds:
            best = 0.0
            for ts, te in by_key_t.get(key, ()):
                a, b = set(range(ps, pe)), set(range(ts, te))
                best = max(best, len(a & b) / len(a | b) if a | b else 0)
            tps[key] += best >= threshold
    n_truth = {k: len(v) for k, v in by_key_t.items()}
    n_pred = {k: len(v) for k, v in by_key_p.items()}
    tp = sum(tps.values())
    micro_r = tp / sum(n_truth.values()) if n_truth else 0
    micro_p = tp / sum(n_pred.values()) if n_pred else 0
    rs = [tps[k] / n for k, n in n_truth.items()]
    ps = [tps[k] / n for k, n in n_pred.items()]
    macro_r = sum(rs) / len(rs) if rs else 0
    macro_p = sum(ps) / len(ps) if ps else 0
    return {
        "threshold": threshold,
        "micro": {"p": micro_p, "r": micro_r, "f1": f1(micro_p, micro_r)},
        "macro": {"p": macro_p, "r": macro_r, "f1": f1(macro_p, macro_r)},
    }


def reference_report(
    annotations: list[dict], results: list[dict], doc_lengths: dict[str, int], aopc_at: list
) -> dict:
    """ERASER's main(): every section, from annotation and results dicts."""
    truth = {
        (a["annotation_id"], ev["docid"], ev["start_token"], ev["end_token"])
        for a in annotations
        for group in a["evidences"]
        for ev in group
    }
    pred = {
        (r["annotation_id"], rat["docid"], p["start_token"], p["end_token"])
        for r in results
        for rat in r["rationales"]
        for p in rat.get("hard_rationale_predictions", [])
    }

    def keyed(units):
        return {((a, d), s, e) for a, d, s, e in units}

    def tokens(units):
        return {((a, d), t) for a, d, s, e in units for t in range(s, e)}

    report = {
        "iou_scores": [reference_iou(keyed(truth), keyed(pred), 0.5)],
        "rationale_prf": reference_prf(keyed(truth), keyed(pred)),
        "token_prf": reference_prf(tokens(truth), tokens(pred)),
    }

    gold_vectors = {}
    for a, d, s, e in truth:
        vector = gold_vectors.setdefault((a, d), [False] * doc_lengths[d])
        for t in range(s, e):
            vector[t] = True
    aucs, aps, rocs = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in results:
            for rat in r["rationales"]:
                y = [int(x) for x in gold_vectors.get((r["annotation_id"], rat["docid"]), [])]
                y = y or [0] * doc_lengths[rat["docid"]]
                scores = rat["soft_rationale_predictions"]
                precision, recall, _ = precision_recall_curve(y, scores)
                aucs.append(auc(recall, precision))
                if 0 < sum(y) < len(y):
                    aps.append(average_precision_score(y, scores))
                    rocs.append(roc_auc_score(y, scores))
    report["token_soft_metrics"] = {
        "auprc": np.average(aucs),
        "average_precision": np.average(aps),
        "roc_auc_score": np.average(rocs),
    }

    labels = sorted({a["classification"] for a in annotations})
    by_id = {r["annotation_id"]: r for r in results}
    y_true = [labels.index(a["classification"]) for a in annotations]
    y_pred = [labels.index(by_id[a["annotation_id"]]["classification"]) for a in annotations]
    section = {
        "accuracy": accuracy_score(y_true, y_pred),
        "prf": classification_report(y_true, y_pred, output_dict=True, target_names=labels),
    }
    for kind in ("comprehensiveness", "sufficiency"):
        field = f"{kind}_classification_scores"
        drops, entropies, kls = [], [], []
        for r in results:
            full, perturbed, kls_ = r["classification_scores"], r[field], r["classification"]
            drops.append(full[kls_] - perturbed[kls_])
            entropies.append(entropy(list(full.values())) - entropy(list(perturbed.values())))
            keys = list(full)
            kls.append(entropy([perturbed[k] for k in keys], [full[k] for k in keys]))
        section[kind] = np.average(drops)
        section[f"{kind}_entropy"] = np.average(entropies)
        section[f"{kind}_kl"] = np.average(kls)
        deltas = []
        for r in results:
            beta_0 = r["classification_scores"][r["classification"]]
            ordered = sorted(r["thresholded_scores"], key=lambda x: x["threshold"])
            deltas.append(
                [
                    beta_0 - x[field][r["classification"]]
                    for x in ordered
                    if x["threshold"] in aopc_at
                ]
            )
        section[f"{kind}_aopc"] = np.average(deltas)
        section[f"{kind}_aopc_points"] = np.average(deltas, axis=0).tolist()
    section["aopc_thresholds"] = aopc_at
    report["classification_scores"] = section
    return report


# --- random inputs ---------------------------------------------------------------------------

LABELS = ("a", "b")
THRESHOLDS = [0.5, 0.1, 0.2]


def random_split(seed: int) -> tuple[Dataset, list[ResultRecord]]:
    rng = np.random.default_rng(seed)
    examples, records = [], []
    for i in range(80):
        docs = tuple(
            Document(f"e{i}d{j}", ("w",) * int(rng.integers(1, 25)))
            for j in range(int(rng.integers(1, 3)))
        )
        groups = []
        for _ in range(int(rng.integers(0, 3))):
            group = []
            for _ in range(int(rng.integers(0, 4))):
                d = docs[int(rng.integers(len(docs)))]
                start = int(rng.integers(0, len(d) + 1))
                group.append(Evidence(d.docid, Span(start, int(rng.integers(start, len(d) + 1)))))
            groups.append(tuple(group))
        label = LABELS[i % 2]
        examples.append(Example(f"e{i}", docs, label, evidence=tuple(groups) if groups else None))

        rationales = []
        for d in docs:
            hard = [TokenSpan(s.start, s.end) for s in mask_to_spans(rng.random(len(d)) < 0.3)]
            if rng.random() < 0.2:  # a zero-length span never overlaps the others
                at = int(rng.integers(0, len(d) + 1))
                hard.append(TokenSpan(at, at))
            soft = tuple((rng.integers(0, 4, len(d)) / 3).tolist())
            rationales.append(DocumentRationale(d.docid, tuple(hard), soft))

        def distribution():
            p = float(rng.random())
            return {"a": p, "b": 1 - p} if rng.random() < 0.5 else {"b": 1 - p, "a": p}

        full = distribution()
        order = rng.permutation(len(THRESHOLDS))
        records.append(
            ResultRecord(
                f"e{i}",
                tuple(rationales),
                str(rng.choice(LABELS)),
                full,
                distribution(),
                distribution(),
                tuple(
                    ThresholdedScores(THRESHOLDS[k], distribution(), distribution()) for k in order
                ),
            )
        )
    return Dataset("random", "test", tuple(examples), LABELS), records


def as_annotation(example: Example) -> dict:
    return {
        "annotation_id": example.id,
        "classification": example.label,
        "evidences": [
            [
                {"docid": ev.docid, "start_token": ev.span.start, "end_token": ev.span.end}
                for ev in group
            ]
            for group in example.evidence or ()
        ],
    }


@pytest.mark.parametrize("seed", range(6))
def test_evaluate_equals_the_erasers_definitions(seed):
    dataset, records = random_split(seed)
    expected = reference_report(
        [as_annotation(ex) for ex in dataset],
        [json.loads(r.to_json()) for r in records],
        {d.docid: len(d) for ex in dataset for d in ex.documents},
        aopc_at=[0.1, 0.5],
    )
    got = evaluate(dataset, records, aopc_thresholds=(0.5, 0.1))
    assert set(got) == {*expected, "selection_rate", "annotated_only"}
    for section, value in expected.items():
        assert_close(got[section], value, section)


def assert_close(got, expected, path):
    if isinstance(expected, dict):
        assert set(got) >= set(expected), path
        for key, value in expected.items():
            assert_close(got[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(g, e, f"{path}[{i}]")
    else:
        assert got == pytest.approx(expected, abs=1e-12), path


@pytest.mark.parametrize("seed", range(5))
def test_array_functions_equal_the_set_based_definitions(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, size=60)

    def random_spans(n: int) -> set[tuple[int, int]]:
        out = set()
        for _ in range(int(rng.integers(0, 5))):
            start = int(rng.integers(0, n + 1))
            out.add((start, int(rng.integers(start, min(n, start + 8) + 1))))
        return out

    truth = [random_spans(n) for n in lengths]
    pred = [random_spans(n) for n in lengths]

    def span_units(per_instance):
        return {(k, s, e) for k, spans in enumerate(per_instance) for s, e in spans}

    def token_units(per_instance):
        return {
            (k, t) for k, spans in enumerate(per_instance) for s, e in spans for t in range(s, e)
        }

    def masks(per_instance):
        out = []
        for n, spans in zip(lengths, per_instance, strict=True):
            mask = np.zeros(n, dtype=bool)
            for s, e in spans:
                mask[s:e] = True
            out.append(mask)
        return out

    assert_close(
        token_prf(masks(truth), masks(pred)),
        reference_prf(token_units(truth), token_units(pred)),
        "token_prf",
    )
    assert_close(
        rationale_prf(truth, pred),
        reference_prf(span_units(truth), span_units(pred)),
        "rationale_prf",
    )
    thresholds = (0.0, 0.25, 0.5, 1.0)
    expected = [reference_iou(span_units(truth), span_units(pred), t) for t in thresholds]
    assert_close(iou_scores(truth, pred, thresholds), expected, "iou_scores")
