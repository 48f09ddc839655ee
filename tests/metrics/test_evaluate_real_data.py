"""``evaluate`` on the real HateXplain and FEVER test splits; expected values from the data README.

Two kinds of predictions whose scores follow from the README's counts and densities:
the gold rationale itself (and the gold label), and "every token is rationale".
HateXplain's loader uses the official split, i.e. ``data/test_split3.jsonl``: 1,924 posts,
1,142 toxic and 782 non-toxic; rationale density over all posts 0.228, over toxic posts
0.379 micro / 0.392 macro. FEVER test: 6,111 claims (3,033 SUPPORTS, 3,078 REFUTES), every one
with a rationale; density 0.155 micro / 0.234 macro. The README rounds densities to 3 decimals.
"""

from __future__ import annotations

import pytest

from rationalizer.data import load
from rationalizer.data.example import Dataset, Example
from rationalizer.data.results import DocumentRationale, ResultRecord, TokenSpan
from rationalizer.metrics import evaluate

ROUNDED = 5e-4


@pytest.fixture(scope="module")
def hatexplain(data_dir) -> Dataset:
    return load("hatexplain", "test", data_dir)


@pytest.fixture(scope="module")
def fever(data_dir) -> Dataset:
    return load("fever", "test", data_dir)


def gold_record(example: Example, labels: tuple[str, ...]) -> ResultRecord:
    """The gold rationale as prediction: its evidence spans (deduplicated), its mask as scores."""
    rationales = []
    for doc in example.documents:
        spans = sorted(
            {ev.span for group in example.evidence or () for ev in group if ev.docid == doc.docid}
        )
        rationales.append(
            DocumentRationale(
                doc.docid,
                hard_rationale_predictions=tuple(TokenSpan(s.start, s.end) for s in spans),
                soft_rationale_predictions=tuple(example.rationale_mask(doc.docid).astype(float)),
            )
        )
    scores = {label: float(label == example.label) for label in labels}
    return ResultRecord(example.id, tuple(rationales), example.label, scores)


def everything_record(example: Example) -> ResultRecord:
    return ResultRecord(
        example.id,
        tuple(DocumentRationale(d.docid, (TokenSpan(0, len(d)),)) for d in example.documents),
    )


def perfect(section: dict) -> bool:
    return all(
        value == pytest.approx(1.0) for averages in section.values() for value in averages.values()
    )


def test_hatexplain_gold_predictions(hatexplain):
    assert len(hatexplain) == 1924
    report = evaluate(hatexplain, [gold_record(ex, hatexplain.labels) for ex in hatexplain])
    for scope in (report, report["annotated_only"]):
        assert perfect(scope["token_prf"]) and perfect(scope["rationale_prf"])
        assert scope["iou_scores"][0]["micro"] == pytest.approx({"p": 1.0, "r": 1.0, "f1": 1.0})
    # Non-toxic posts have no gold token: AUPRC 1/2 each (and no AP / ROC AUC); toxic ones 1.
    soft = report["token_soft_metrics"]
    assert soft["auprc"] == pytest.approx((1142 * 1.0 + 782 * 0.5) / 1924)
    assert soft["average_precision"] == pytest.approx(1.0)
    assert soft["roc_auc_score"] == pytest.approx(1.0)
    assert report["annotated_only"]["token_soft_metrics"]["auprc"] == pytest.approx(1.0)
    assert report["selection_rate"]["micro"] == pytest.approx(0.228, abs=ROUNDED)
    assert report["annotated_only"]["selection_rate"] == pytest.approx(
        {"micro": 0.379, "macro": 0.392}, abs=ROUNDED
    )
    classes = report["classification_scores"]
    assert classes["accuracy"] == 1.0
    assert classes["prf"]["toxic"]["support"] == 1142
    assert classes["prf"]["non-toxic"]["support"] == 782


def test_hatexplain_selecting_every_token(hatexplain):
    report = evaluate(hatexplain, [everything_record(ex) for ex in hatexplain])
    # Precision is the gold density, recall 1.
    assert report["token_prf"]["instance_micro"]["p"] == pytest.approx(0.228, abs=ROUNDED)
    assert report["token_prf"]["instance_micro"]["r"] == 1.0
    annotated = report["annotated_only"]["token_prf"]
    assert annotated["instance_micro"]["p"] == pytest.approx(0.379, abs=ROUNDED)
    assert annotated["instance_macro"]["p"] == pytest.approx(0.392, abs=ROUNDED)
    # Over all posts the macro average also counts non-toxic posts, at precision 0.
    assert report["token_prf"]["instance_macro"]["p"] == pytest.approx(
        0.392 * 1142 / 1924, abs=ROUNDED
    )
    assert "classification_scores" not in report and "token_soft_metrics" not in report


def test_fever_gold_predictions(fever):
    assert len(fever) == 6111
    report = evaluate(fever, [gold_record(ex, fever.labels) for ex in fever])
    assert perfect(report["token_prf"]) and perfect(report["rationale_prf"])
    assert report["token_soft_metrics"] == pytest.approx(
        {"auprc": 1.0, "average_precision": 1.0, "roc_auc_score": 1.0}
    )
    assert report["selection_rate"] == pytest.approx({"micro": 0.155, "macro": 0.234}, abs=ROUNDED)
    assert "annotated_only" not in report  # every claim has a rationale
    prf = report["classification_scores"]["prf"]
    assert (prf["SUPPORTS"]["support"], prf["REFUTES"]["support"]) == (3033, 3078)


def test_fever_selecting_every_token(fever):
    report = evaluate(fever, [everything_record(ex) for ex in fever])
    assert report["token_prf"]["instance_micro"]["p"] == pytest.approx(0.155, abs=ROUNDED)
    assert report["token_prf"]["instance_macro"]["p"] == pytest.approx(0.234, abs=ROUNDED)
    assert report["token_prf"]["instance_macro"]["r"] == 1.0
    assert report["selection_rate"] == {"micro": 1.0, "macro": 1.0}
