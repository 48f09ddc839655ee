"""Explainer agreement: hand-computed rank correlations and overlaps, undefined cases, inputs in
memory and in results files, real explainers on a known-answer model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau
from tests.explain.known_answer import BagOfWords

from rationalizer.data import Dataset, Document, Example, ResultRecord, write_results
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError
from rationalizer.explain import (
    AGREEMENT_METRICS,
    Explanation,
    agreement,
    explain,
    explain_dataset,
    get_explainer,
)
from rationalizer.explain.agreement import top_k_weights

ALL = ("kendall", "spearman", "top-k")


def explained(*scores: list[float], method: str = "m") -> list[Explanation]:
    """Explanations of inputs of as many words as each score vector has."""
    return [
        Explanation(
            words=tuple(f"w{i}" for i in range(len(s))),
            scores=tuple(float(x) for x in s),
            rationale=(),
            target="pos",
            probabilities={"neg": 0.5, "pos": 0.5},
            method=method,
        )
        for s in scores
    ]


def pair(a: list[float], b: list[float], metric: str, k: float = 2) -> float:
    result = agreement({"a": explained(a), "b": explained(b)}, metrics=[metric], k=k)
    return result[metric].value("a", "b")


# ------------------------------------------------------------------ known by hand
def test_kendall_tau_b_counts_ties_in_either_vector():
    # pairs of positions: 4 concordant, none discordant, (0, 1) tied in b only, (1, 2) tied
    # in a only: tau-b = 4 / sqrt((4 + 1) · (4 + 1))
    assert pair([1, 2, 2, 3], [1, 1, 2, 3], "kendall") == pytest.approx(0.8)
    # one discordant pair of six: (5 − 1) / 6
    assert pair([1, 2, 3, 4], [2, 1, 3, 4], "kendall") == pytest.approx(4 / 6)
    assert pair([1, 2, 3, 4], [4, 3, 2, 1], "kendall") == pytest.approx(-1)


def test_spearman_is_the_correlation_of_the_ranks():
    # ranks 1..4 against 2, 1, 3, 4: 1 − 6 · Σd² / (n (n² − 1)) = 1 − 6 · 2 / 60
    assert pair([1, 2, 3, 4], [2, 1, 3, 4], "spearman") == pytest.approx(0.8)


def test_top_k_overlap_is_the_shared_share_of_the_top_k():
    # top 2: words 0 and 1 against words 2 and 1
    assert pair([5, 4, 3, 2, 1], [1, 4, 5, 3, 2], "top-k", k=2) == pytest.approx(0.5)
    assert pair([5, 4, 3, 2, 1], [1, 4, 5, 3, 2], "top-k", k=3) == pytest.approx(2 / 3)
    # k as a fraction: 0.3 of 5 words rounds up to 2
    assert pair([5, 4, 3, 2, 1], [1, 4, 5, 3, 2], "top-k", k=0.3) == pytest.approx(0.5)


def test_words_tied_at_the_kth_score_share_the_places_left():
    # a's top 2: word 0, then one of words 1 and 2 (each with chance 1/2); b's: words 2 and 3
    assert top_k_weights(np.array([3.0, 2, 2, 0]), 2) == pytest.approx([1, 0.5, 0.5, 0])
    assert pair([3, 2, 2, 0], [0, 0, 1, 2], "top-k", k=2) == pytest.approx(0.5 / 2)
    # the value does not depend on the order of the words
    assert pair([2, 2, 3, 0], [1, 0, 0, 2], "top-k", k=2) == pytest.approx(0.5 / 2)


def test_a_method_with_constant_scores_is_undefined_there_not_zero():
    result = agreement(
        {"a": explained([1, 2, 3], [1, 2, 3]), "b": explained([0, 0, 0], [1, 2, 3])},
        metrics=ALL,
        k=1,
    )
    for metric in ALL:
        matrix = result[metric]
        assert matrix.value("a", "b") == 1.0  # the second example only, not (0 + 1) / 2
        assert matrix.defined.tolist() == [[2, 1], [1, 1]]
    only_constant = agreement({"a": explained([1, 2, 3]), "b": explained([4, 4, 4])}, metrics=ALL)
    for metric in ALL:
        assert np.isnan(only_constant[metric].value("a", "b"))
        assert only_constant[metric].defined[0, 1] == 0
        assert only_constant[metric].to_dict()["mean"][0][1] is None


def test_top_k_covering_every_word_is_undefined():
    assert np.isnan(pair([1, 2, 3], [3, 2, 1], "top-k", k=3))
    assert pair([1, 2, 3], [3, 2, 1], "top-k", k=2) == 0.5


def test_mean_and_spread_are_over_the_examples():
    result = agreement(
        {"a": explained([1, 2, 3], [1, 2, 3]), "b": explained([1, 2, 3], [3, 2, 1])},
        metrics=["kendall"],
    )
    matrix = result["kendall"]
    assert matrix.value("a", "b") == pytest.approx(0.0)
    assert matrix.std[0, 1] == pytest.approx(1.0)
    assert matrix.mean[0, 0] == matrix.mean[1, 1] == 1.0
    assert (matrix.mean == matrix.mean.T).all()
    assert result.examples == ("input 0", "input 1")


def test_metadata_says_what_each_metric_is():
    result = agreement({"a": explained([1, 2]), "b": explained([2, 1])}, metrics=ALL, k=1)
    kendall = result["kendall"].info
    assert (kendall.lower, kendall.upper, kendall.higher_is_better) == (-1.0, 1.0, True)
    assert result["top-k"].info.lower == 0.0
    assert result["spearman"].info is AGREEMENT_METRICS["spearman"]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["methods"] == ["a", "b"] and data["examples"] == 1 and data["k"] == 1
    assert data["metrics"]["kendall"]["name"] == "Kendall tau-b"
    assert data["metrics"]["kendall"]["mean"] == [[1.0, -1.0], [-1.0, 1.0]]


# ------------------------------------------------------------------ bad input
def test_scores_of_different_lengths_are_an_error_naming_the_example():
    with pytest.raises(RationalizerError, match=r"example input 1: a has 3 scores, b 4.*per word"):
        agreement({"a": explained([1, 2], [1, 2, 3]), "b": explained([2, 1], [1, 2, 3, 4])})


def test_explanations_of_other_inputs_are_an_error():
    with pytest.raises(RationalizerError, match=r"different inputs.*a 2, b 1"):
        agreement({"a": explained([1, 2], [1, 2]), "b": explained([2, 1])})
    other_words = Explanation(("x", "y"), (1.0, 2.0), (), "pos", {"pos": 1.0}, "b")
    with pytest.raises(RationalizerError, match=r"example input 0: a and b explain other words"):
        agreement({"a": explained([1, 2]), "b": [other_words]})


@pytest.mark.parametrize("k", [0, -1, 1.5, 2.5])
def test_k_must_be_a_whole_count_or_a_fraction(k):
    with pytest.raises(RationalizerError, match="whole number"):
        agreement({"a": explained([1, 2]), "b": explained([2, 1])}, k=k)


def test_unknown_metrics_and_single_methods_are_errors():
    with pytest.raises(UnknownNameError, match="pearson"):
        agreement({"a": explained([1, 2]), "b": explained([2, 1])}, metrics=["pearson"])
    with pytest.raises(RationalizerError, match="two methods"):
        agreement({"a": explained([1, 2])})
    with pytest.raises(RationalizerError, match="NaN"):
        agreement({"a": explained([1, 2]), "b": explained([np.nan, 1])})


# ------------------------------------------------------------------ results files
def record(example_id: str, scores: list[float]) -> ResultRecord:
    even = [0.5, 0.5]
    return ResultRecord.single_document(
        example_id, example_id, [], scores, ("neg", "pos"), even, even, even, []
    )


def test_results_files_are_matched_by_example_id(tmp_path):
    write_results(tmp_path / "a.jsonl", [record("x", [1, 2, 3]), record("y", [1, 2, 3])])
    # another order, one example more
    write_results(
        tmp_path / "b.jsonl",
        [record("z", [1, 2]), record("y", [3, 2, 1]), record("x", [1, 2, 3])],
    )
    result = agreement({"a": tmp_path / "a.jsonl", "b": str(tmp_path / "b.jsonl")}, k=1)
    assert result.examples == ("x", "y")
    assert result["kendall"].value("a", "b") == pytest.approx(0.0)  # 1 and −1
    assert result["top-k"].value("a", "b") == pytest.approx(0.5)


def test_a_results_file_without_soft_scores_is_an_error_naming_file_line_and_field(tmp_path):
    path = tmp_path / "hard.jsonl"
    hard_only = {"annotation_id": "y", "rationales": [{"docid": "y"}]}
    path.write_text(record("x", [1, 2]).to_json() + "\n" + json.dumps(hard_only) + "\n")
    write_results(tmp_path / "soft.jsonl", [record("x", [1, 2]), record("y", [1, 2])])
    with pytest.raises(DataFormatError) as error:
        agreement({"hard": path, "soft": tmp_path / "soft.jsonl"})
    assert str(error.value).startswith(f"{path}, line 2, field 'rationales[0].soft_rationale_")
    assert "method hard, example 'y': no soft scores" in str(error.value)


def test_results_without_a_shared_example_are_an_error(tmp_path):
    with pytest.raises(RationalizerError, match="no example in common"):
        agreement({"a": [record("x", [1, 2])], "b": [record("y", [1, 2])]})


# ------------------------------------------------------------------ real explainers
WEIGHTS = {"superb": 3.0, "moving": 2.0, "fine": 1.2, "dull": -2.5, "plot": -0.4, "thin": -1.0}
TEXTS = ["a dull plot , fine sets , superb acting and a moving end", "thin plot but superb"]


def test_real_explainers_of_a_known_model_agree_where_they_should():
    """On a linear bag-of-words model, occlusion, KernelSHAP and gradient × input all recover
    each word's weight, so they rank the words alike; the gradient is the same for every word,
    so vanilla gradients rank nothing: undefined, not 0."""
    model = BagOfWords(WEIGHTS)
    methods = ("occlusion", "kernel-shap", "gradient-x-input", "vanilla-gradients")
    runs = {method: explain(model, TEXTS, method=method, target="pos") for method in methods}
    result = agreement(runs, metrics=ALL, k=3)
    assert result.methods == methods
    for metric in ALL:
        matrix = result[metric]
        assert matrix.mean[:3, :3].min() > 0.9
        assert matrix.defined[:3, :3].min() == 2
        assert matrix.defined[3].max() == 0 and np.isnan(matrix.mean[3]).all()
    assert result["top-k"].mean[:3, :3].min() == 1.0
    # the mean is the mean of scipy's tau-b over the two inputs
    expected = np.mean(
        [
            kendalltau(a.scores, b.scores).statistic
            for a, b in zip(runs["occlusion"], runs["kernel-shap"], strict=True)
        ]
    )
    assert result["kendall"].value("occlusion", "kernel-shap") == pytest.approx(expected)


def test_results_files_of_explain_dataset_give_the_agreement_of_the_explanations(tmp_path):
    model = BagOfWords(WEIGHTS)
    examples = tuple(
        Example(f"e{i}", (Document(f"e{i}", tuple(text.split())),), "pos")
        for i, text in enumerate(TEXTS)
    )
    dataset = Dataset("reviews", "test", examples, ("neg", "pos"))
    paths = {}
    for method in ("occlusion", "lime"):
        paths[method] = tmp_path / f"{method}.jsonl"
        explainer = get_explainer(method)(seed=1)
        write_results(paths[method], explain_dataset(explainer, model, dataset))
    from_files = agreement(paths, metrics=ALL)
    in_memory = agreement({m: explain(model, TEXTS, method=m, seed=1) for m in paths}, metrics=ALL)
    assert from_files.examples == ("e0", "e1")
    for metric in ALL:
        assert from_files[metric].mean == pytest.approx(in_memory[metric].mean)
