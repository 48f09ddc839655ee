"""``evaluate`` on small HateXplain-like and FEVER-like splits, every value computed by hand."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rationalizer.data.example import Dataset, Document, Evidence, Example, Span
from rationalizer.data.results import DocumentRationale, ResultRecord, ThresholdedScores, TokenSpan
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.metrics import MissingPredictionsError, describe, evaluate, flatten


def doc(docid: str, length: int, sentence_starts: tuple[int, ...] = ()) -> Document:
    return Document(docid, tuple(f"t{i}" for i in range(length)), sentence_starts)


def group(docid: str, *pairs: tuple[int, int]) -> tuple[Evidence, ...]:
    return tuple(Evidence(docid, Span(a, b)) for a, b in pairs)


def rationale(docid: str, hard=None, soft=None) -> DocumentRationale:
    return DocumentRationale(
        docid,
        hard_rationale_predictions=None
        if hard is None
        else tuple(TokenSpan(a, b) for a, b in hard),
        soft_rationale_predictions=None if soft is None else tuple(soft),
    )


def h(*p: float) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


def kl(p: tuple[float, ...], q: tuple[float, ...]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


# --- HateXplain-like: two toxic posts with rationales, one non-toxic post without -------------

HATE = Dataset(
    "hate-like",
    "test",
    (
        Example("h1", (doc("h1", 5),), "toxic", evidence=(group("h1", (1, 3), (4, 5)),)),
        Example("h2", (doc("h2", 4),), "toxic", evidence=(group("h2", (0, 2)),)),
        Example("h3", (doc("h3", 3),), "non-toxic", evidence=((),)),
    ),
    ("non-toxic", "toxic"),
)
HATE_RECORDS = [
    ResultRecord(
        "h1",
        (rationale("h1", [(1, 3)], [0.1, 0.9, 0.8, 0.2, 0.3]),),
        "toxic",
        {"toxic": 0.9, "non-toxic": 0.1},
    ),
    ResultRecord(
        "h2",
        (rationale("h2", [(1, 2)], [0.6, 0.4, 0.4, 0.1]),),
        "non-toxic",
        {"toxic": 0.4, "non-toxic": 0.6},
    ),
    ResultRecord(
        "h3",
        (rationale("h3", [(0, 1)], [0.5, 0.2, 0.2]),),
        "non-toxic",
        {"toxic": 0.2, "non-toxic": 0.8},
    ),
]


def test_hatexplain_like_report():
    report = evaluate(HATE, HATE_RECORDS)
    expected = {
        # Tokens: h1 gold {1,2,4} pred {1,2}: p 1, r 2/3, f1 0.8; h2 gold {0,1} pred {1}:
        # p 1, r 1/2, f1 2/3; h3 no gold, pred {0}: 0, 0, 0.
        # Micro: 3 hits / 4 predicted, / 5 gold -> p 3/4, r 3/5, f1 2/3.
        "token_prf": {
            "instance_micro": {"p": 0.75, "r": 0.6, "f1": 2 / 3},
            "instance_macro": {"p": 2 / 3, "r": (2 / 3 + 1 / 2) / 3, "f1": (0.8 + 2 / 3) / 3},
        },
        # Spans: h1 (1,3) matches, (4,5) missed: p 1, r 1/2, f1 2/3; h2 (1,2) vs (0,2): no
        # exact match; h3: prediction without gold. Micro: 1 hit, 3 predicted, 3 gold.
        "rationale_prf": {
            "instance_micro": {"p": 1 / 3, "r": 1 / 3, "f1": 1 / 3},
            "instance_macro": {"p": 1 / 3, "r": 1 / 6, "f1": 2 / 9},
        },
        # IOU: h1 (1,3) = 1; h2 (1,2) vs (0,2) = 1/2, a match at 0.5; h3: 0.
        # Micro: 2 TPs of 3 predicted and 3 gold spans. Macro r over gold instances:
        # (1/2 + 1/1) / 2 = 3/4; macro p over predicted instances: (1 + 1 + 0) / 3 = 2/3;
        # macro F1 = F1(2/3, 3/4) = 2 * 1/2 / (17/12) = 12/17.
        "iou_scores": [
            {
                "threshold": 0.5,
                "micro": {"p": 2 / 3, "r": 2 / 3, "f1": 2 / 3},
                "macro": {"p": 2 / 3, "r": 0.75, "f1": 12 / 17},
            }
        ],
        # 4 of 12 tokens selected; per post 2/5, 1/4, 1/3 -> mean 59/180.
        "selection_rate": {"micro": 1 / 3, "macro": 59 / 180},
        # Soft: h1 ranks gold first (all 1.0). h2 = gold [1,1,0,0], scores [.6,.4,.4,.1] with a
        # tie: points (p 1, r 1/2), (2/3, 1), (1/2, 1) -> AUPRC 1/2 + 5/12 = 11/12,
        # AP 1/2 + 1/3 = 5/6, ROC AUC (3 wins + 1/2 tie) / 4 = 7/8. h3 has no gold: AUPRC 1/2,
        # left out of AP and ROC AUC.
        "token_soft_metrics": {
            "auprc": (1 + 11 / 12 + 0.5) / 3,
            "average_precision": (1 + 5 / 6) / 2,
            "roc_auc_score": (1 + 7 / 8) / 2,
        },
        "annotated_only": {
            # h1 and h2 only: 3 hits / 3 predicted, / 5 gold.
            "token_prf": {
                "instance_micro": {"p": 1.0, "r": 0.6, "f1": 0.75},
                "instance_macro": {"p": 1.0, "r": 7 / 12, "f1": (0.8 + 2 / 3) / 2},
            },
            "rationale_prf": {
                "instance_micro": {"p": 0.5, "r": 1 / 3, "f1": 0.4},
                "instance_macro": {"p": 0.5, "r": 0.25, "f1": 1 / 3},
            },
            "iou_scores": [
                {
                    "threshold": 0.5,
                    "micro": {"p": 1.0, "r": 2 / 3, "f1": 0.8},
                    "macro": {"p": 1.0, "r": 0.75, "f1": 6 / 7},
                }
            ],
            "selection_rate": {"micro": 1 / 3, "macro": (2 / 5 + 1 / 4) / 2},
            "token_soft_metrics": {
                "auprc": (1 + 11 / 12) / 2,
                "average_precision": (1 + 5 / 6) / 2,
                "roc_auc_score": (1 + 7 / 8) / 2,
            },
        },
        # Gold (toxic, toxic, non-toxic), predicted (toxic, non-toxic, non-toxic).
        "classification_scores": {
            "accuracy": 2 / 3,
            "prf": {
                "toxic": {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2},
                "non-toxic": {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1},
                "accuracy": 2 / 3,
                "macro avg": {"precision": 0.75, "recall": 0.75, "f1-score": 2 / 3, "support": 3},
                "weighted avg": {
                    "precision": 5 / 6,
                    "recall": 2 / 3,
                    "f1-score": 2 / 3,
                    "support": 3,
                },
            },
            **dict.fromkeys(
                (
                    "comprehensiveness",
                    "sufficiency",
                    "comprehensiveness_entropy",
                    "comprehensiveness_kl",
                    "sufficiency_entropy",
                    "sufficiency_kl",
                    "aopc_thresholds",
                    "comprehensiveness_aopc",
                    "comprehensiveness_aopc_points",
                    "sufficiency_aopc",
                    "sufficiency_aopc_points",
                )
            ),
        },
    }
    assert_nested_close(report, expected)
    json.dumps(report, allow_nan=False)  # plain JSON


# --- FEVER-like: alternative evidence groups, everything including faithfulness --------------

FEVER = Dataset(
    "fever-like",
    "test",
    (
        Example(
            "f1",
            (doc("d1", 10, (0, 4, 7)),),
            "SUPPORTS",
            query="claim one",
            # Two alternative groups that share the sentence (0,4): union of tokens {0..6},
            # gold spans {(0,4), (4,7)}.
            evidence=(group("d1", (0, 4)), group("d1", (0, 4), (4, 7))),
        ),
        Example(
            "f2",
            (doc("d2", 6, (0, 3)),),
            "REFUTES",
            query="claim two",
            evidence=(group("d2", (3, 6)),),
        ),
    ),
    ("SUPPORTS", "REFUTES"),
)


def fever_records() -> list[ResultRecord]:
    def at(threshold, comp, suff):
        return ThresholdedScores(
            threshold,
            {"SUPPORTS": comp, "REFUTES": 1 - comp},
            {"SUPPORTS": suff, "REFUTES": 1 - suff},
        )

    return [
        ResultRecord(
            "f1",
            (rationale("d1", [(0, 4)], [0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.1, 0.1, 0.2]),),
            "SUPPORTS",
            {"SUPPORTS": 0.9, "REFUTES": 0.1},
            {"SUPPORTS": 0.3, "REFUTES": 0.7},
            {"SUPPORTS": 0.8, "REFUTES": 0.2},
            # Unsorted, with a threshold (0.2) that is not asked for and must be ignored.
            (at(0.5, 0.2, 0.85), at(0.2, 0.0, 0.0), at(0.1, 0.6, 0.7)),
        ),
        ResultRecord(
            "f2",
            (rationale("d2", [(0, 3)], [0.1, 0.5, 0.3, 0.4, 0.2, 0.6]),),
            "SUPPORTS",
            {"SUPPORTS": 0.6, "REFUTES": 0.4},
            {"SUPPORTS": 0.5, "REFUTES": 0.5},
            {"SUPPORTS": 0.6, "REFUTES": 0.4},
            (at(0.1, 0.55, 0.5), at(0.5, 0.4, 0.6), at(0.2, 0.0, 0.0)),
        ),
    ]


def test_fever_like_report():
    report = evaluate(FEVER, fever_records(), aopc_thresholds=(0.5, 0.1))
    expected = {
        # f1: gold {0..6} (7), pred {0..3}: p 1, r 4/7, f1 8/11; f2: gold {3,4,5}, pred {0,1,2}:
        # 0, 0, 0. Micro: 4 hits / 7 predicted, / 10 gold -> f1 = 2 (4/7)(2/5) / (34/35) = 8/17.
        "token_prf": {
            "instance_micro": {"p": 4 / 7, "r": 0.4, "f1": 8 / 17},
            "instance_macro": {"p": 0.5, "r": 2 / 7, "f1": 4 / 11},
        },
        # f1: (0,4) of {(0,4), (4,7)}: p 1, r 1/2; f2: miss. Micro 1 hit, 2 predicted, 3 gold.
        "rationale_prf": {
            "instance_micro": {"p": 0.5, "r": 1 / 3, "f1": 0.4},
            "instance_macro": {"p": 0.5, "r": 0.25, "f1": 1 / 3},
        },
        # IOU: f1 (0,4) = 1; f2 (0,3) vs (3,6) = 0. Macro r (1/2 + 0)/2, p (1 + 0)/2,
        # F1(1/2, 1/4) = 1/3.
        "iou_scores": [
            {
                "threshold": 0.5,
                "micro": {"p": 0.5, "r": 1 / 3, "f1": 0.4},
                "macro": {"p": 0.5, "r": 0.25, "f1": 1 / 3},
            }
        ],
        "selection_rate": {"micro": 7 / 16, "macro": (4 / 10 + 3 / 6) / 2},
        # f1 separates gold (scores >= 0.5) from the rest (<= 0.2): 1, 1, 1.
        # f2 gold [0,0,0,1,1,1], scores [.1,.5,.3,.4,.2,.6]; ranked: .6 T, .5 F, .4 T, .3 F,
        # .2 T, .1 F. Points (p, r): (1, 1/3), (1/2, 1/3), (2/3, 2/3), (1/2, 2/3), (3/5, 1),
        # (1/2, 1). AUPRC = 1/3 + 1/3 (1/2 + 2/3)/2 + 1/3 (1/2 + 3/5)/2 = 32/45;
        # AP = 1/3 + 2/9 + 1/5 = 34/45; ROC AUC = (3 + 2 + 1) / 9 = 2/3.
        "token_soft_metrics": {
            "auprc": (1 + 32 / 45) / 2,
            "average_precision": (1 + 34 / 45) / 2,
            "roc_auc_score": (1 + 2 / 3) / 2,
        },
        "classification_scores": {
            # Gold (SUPPORTS, REFUTES), both predicted SUPPORTS.
            "accuracy": 0.5,
            "prf": {
                "SUPPORTS": {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1},
                "REFUTES": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1},
                "accuracy": 0.5,
                "macro avg": {"precision": 0.25, "recall": 0.5, "f1-score": 1 / 3, "support": 2},
                "weighted avg": {
                    "precision": 0.25,
                    "recall": 0.5,
                    "f1-score": 1 / 3,
                    "support": 2,
                },
            },
            # Predicted class SUPPORTS: (0.9 - 0.3 + 0.6 - 0.5) / 2 and (0.9 - 0.8 + 0.6 - 0.6) / 2.
            "comprehensiveness": 0.35,
            "sufficiency": 0.05,
            "comprehensiveness_entropy": (h(0.9, 0.1) - h(0.3, 0.7) + h(0.6, 0.4) - h(0.5, 0.5))
            / 2,
            "comprehensiveness_kl": (kl((0.3, 0.7), (0.9, 0.1)) + kl((0.5, 0.5), (0.6, 0.4))) / 2,
            "sufficiency_entropy": (h(0.9, 0.1) - h(0.8, 0.2) + h(0.6, 0.4) - h(0.6, 0.4)) / 2,
            "sufficiency_kl": (kl((0.8, 0.2), (0.9, 0.1)) + kl((0.6, 0.4), (0.6, 0.4))) / 2,
            # Thresholds sorted. Comprehensiveness deltas: f1 0.9-0.6, 0.9-0.2; f2 0.6-0.55,
            # 0.6-0.4. Sufficiency deltas: f1 0.9-0.7, 0.9-0.85; f2 0.6-0.5, 0.6-0.6.
            "aopc_thresholds": [0.1, 0.5],
            "comprehensiveness_aopc": (0.3 + 0.7 + 0.05 + 0.2) / 4,
            "comprehensiveness_aopc_points": [(0.3 + 0.05) / 2, (0.7 + 0.2) / 2],
            "sufficiency_aopc": (0.2 + 0.05 + 0.1 + 0.0) / 4,
            "sufficiency_aopc_points": [(0.2 + 0.1) / 2, (0.05 + 0.0) / 2],
        },
    }
    assert_nested_close(report, expected)
    assert ANNOTATED not in report  # every example has a gold rationale
    # Every number of a full report has metadata.
    assert all(describe(key).key == key for key in flatten(report))


ANNOTATED = "annotated_only"


def assert_nested_close(got, expected, path="report"):
    """Same keys everywhere and numbers equal to 1e-12."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), path
        assert set(got) == set(expected), f"{path}: keys {sorted(got)} != {sorted(expected)}"
        for key, value in expected.items():
            assert_nested_close(got[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_nested_close(g, e, f"{path}[{i}]")
    elif expected is None:
        assert got is None, path
    else:
        assert got == pytest.approx(expected, abs=1e-12), path


# --- which sections, and errors ----------------------------------------------------------------


def test_sections_follow_the_fields_present_in_any_record():
    # Only the second record carries hard predictions (the first lists none): ERASER, looking
    # at the first record only, would skip hard metrics; we compute them.
    records = [
        ResultRecord("h1", (rationale("h1"),)),
        ResultRecord("h2", (rationale("h2", [(0, 2)]),)),
        ResultRecord("h3", ()),
    ]
    report = evaluate(HATE, records)
    assert set(report) == {
        "iou_scores",
        "rationale_prf",
        "token_prf",
        "selection_rate",
        "annotated_only",
    }
    # Gold tokens: h1 3, h2 2; predicted: h2's two, both right -> micro p 1, r 2/5.
    assert report["token_prf"]["instance_micro"] == pytest.approx({"p": 1.0, "r": 0.4, "f1": 4 / 7})


def test_empty_hard_predictions_score_zero_rather_than_being_skipped():
    records = [ResultRecord(ex.id, (rationale(ex.id, []),)) for ex in HATE]
    report = evaluate(HATE, records)
    assert report["token_prf"]["instance_micro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}
    assert report["selection_rate"] == {"micro": 0.0, "macro": 0.0}


def test_no_annotated_only_when_no_example_has_a_rationale():
    data = Dataset("plain", "test", (Example("x", (doc("x", 3),), "a", evidence=((),)),), ("a",))
    report = evaluate(data, [ResultRecord("x", (rationale("x", [(0, 1)]),))])
    assert "annotated_only" not in report
    assert report["token_prf"]["instance_macro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_missing_records_are_an_error_listing_ten_ids():
    examples = tuple(Example(f"e{i:02d}", (doc(f"e{i:02d}", 2),), "a") for i in range(13))
    data = Dataset("many", "test", examples, ("a",))
    with pytest.raises(MissingPredictionsError) as info:
        evaluate(data, [ResultRecord("e00", (), "a", {"a": 1.0})])
    message = str(info.value)
    assert "12 of 13 examples of many/test have no prediction" in message
    assert "'e10'" in message and "'e11'" not in message and "and 2 more" in message
    assert info.value.missing == tuple(f"e{i:02d}" for i in range(1, 13))


def test_subset_restricts_the_truth_to_predicted_examples():
    # Only h2 predicted: gold tokens {0,1}, predicted {1} -> p 1, r 1/2 (h1's gold is ignored).
    report = evaluate(HATE, [HATE_RECORDS[1]], subset=True)
    assert report["token_prf"]["instance_micro"] == pytest.approx({"p": 1.0, "r": 0.5, "f1": 2 / 3})
    assert report["classification_scores"]["accuracy"] == 0.0
    # Gold toxic, predicted non-toxic: both labels occur and are reported.
    prf = report["classification_scores"]["prf"]
    assert set(prf) == {"toxic", "non-toxic", "accuracy", "macro avg", "weighted avg"}
    assert prf["toxic"]["support"] == 1 and prf["non-toxic"]["support"] == 0


def test_records_are_validated_against_the_dataset():
    with pytest.raises(DataFormatError, match="not in hate-like/test"):
        evaluate(HATE, [*HATE_RECORDS, ResultRecord("nope", ())])
    with pytest.raises(RationalizerError, match="no results records"):
        evaluate(HATE, [])


def test_soft_scores_for_some_listed_documents_only_are_rejected():
    two_docs = Dataset(
        "pairs",
        "test",
        (Example("p", (doc("p1", 2), doc("p2", 2)), "a", evidence=(group("p1", (0, 1)),)),),
        ("a",),
    )
    bad = ResultRecord("p", (rationale("p1", soft=[0.1, 0.2]), rationale("p2", [(0, 1)])))
    with pytest.raises(
        DataFormatError, match="soft scores given for some documents but not for 'p2'"
    ):
        evaluate(two_docs, [bad])
    # A document that is not listed at all is simply not scored (ERASER pairs listed ones).
    fine = ResultRecord("p", (rationale("p1", soft=[0.9, 0.2]),))
    assert evaluate(two_docs, [fine])["token_soft_metrics"]["auprc"] == 1.0


def test_perturbed_scores_must_name_the_same_labels():
    records = fever_records()
    records[1] = replace(records[1], comprehensiveness_classification_scores={"SUPPORTS": 0.5})
    with pytest.raises(
        DataFormatError, match="gives scores for \\['SUPPORTS'\\] but classification_scores"
    ):
        evaluate(FEVER, records, aopc_thresholds=(0.1, 0.5))


def test_aopc_thresholds_must_be_in_the_results():
    with pytest.raises(RationalizerError, match=r"AOPC thresholds \[0.01\] are not in the results"):
        evaluate(FEVER, fever_records(), aopc_thresholds=(0.01, 0.1))
    # None takes every threshold the results carry: 0.1, 0.2, 0.5.
    report = evaluate(FEVER, fever_records(), aopc_thresholds=None)
    assert report["classification_scores"]["aopc_thresholds"] == [0.1, 0.2, 0.5]
    # At 0.2 the perturbed scores are 0 for the predicted class: deltas 0.9 and 0.6.
    assert report["classification_scores"]["comprehensiveness_aopc_points"][1] == pytest.approx(
        0.75
    )
