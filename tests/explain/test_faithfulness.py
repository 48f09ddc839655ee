"""Faithfulness on token ids against hand computations, and ERASER results for whole datasets."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from rich.console import Console

from rationalizer.data import Dataset
from rationalizer.data.results import read_results
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.explain import Explainer, get_explainer
from rationalizer.explain.adapters import ClassifierAdapter, Instance
from rationalizer.explain.faithfulness import (
    explain_dataset,
    measure,
    measure_all,
    measure_explanation,
)
from rationalizer.metrics import evaluate

THRESHOLDS = (0.1, 0.5)


class LeaveOneOut(Explainer):
    """Each word's score is the drop of the target's probability when it alone is removed.

    Its ``name`` is set after the class is made, so the test method stays out of the registry.
    """

    description = "probability drop when a word alone is removed (tests only)"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.explained: list[str] = []

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        self.explained.append(" ".join(instance.words))
        keep = np.ones((instance.num_words + 1, instance.num_words), dtype=np.int8)
        keep[1:][np.diag_indices(instance.num_words)] = 0
        probabilities = model.probabilities(instance, keep)[:, target]
        return probabilities[0] - probabilities[1:]


LeaveOneOut.name = "leave-one-out"


@pytest.fixture(scope="module")
def posts(spread_split) -> Dataset:
    return spread_split("hatexplain", "validation", 6)


@pytest.fixture(scope="module")
def reviews(spread_split) -> Dataset:
    return spread_split("movies", "validation", 2)


# ---------------------------------------------------------------------------------------------
# One input


def hf_probabilities_by_hand(adapter, query: str, words, removed_words) -> np.ndarray:
    """The HF model's probabilities with the subwords of ``removed_words`` set to [MASK],
    encoded straight by the tokenizer."""
    tokenizer = adapter.encoder.tokenizer
    encoded = tokenizer(query.split(), list(words), is_split_into_words=True, return_tensors="pt")
    document = np.array(encoded.sequence_ids()) == 1
    word_ids = np.array([-1 if w is None else w for w in encoded.word_ids()])
    hidden = document & np.isin(word_ids, list(removed_words))
    encoded["input_ids"][0, torch.from_numpy(hidden)] = tokenizer.mask_token_id
    with torch.no_grad():
        return torch.softmax(adapter.model(**encoded).logits, -1)[0].numpy()


def test_comprehensiveness_and_sufficiency_by_hand(hf_adapter, posts):
    example = posts[5]
    words = example.document.tokens
    instance = hf_adapter.prepare(words, example.query)
    rationale = np.zeros(len(words), dtype=np.int8)
    rationale[[1, 3, 4]] = 1
    scores = measure(hf_adapter, instance, rationale, target="toxic")
    everything = set(range(len(words)))
    full = hf_probabilities_by_hand(hf_adapter, example.query, words, set())
    without = hf_probabilities_by_hand(hf_adapter, example.query, words, {1, 3, 4})
    alone = hf_probabilities_by_hand(hf_adapter, example.query, words, everything - {1, 3, 4})
    assert scores.target == 1
    assert scores.comprehensiveness == pytest.approx(full[1] - without[1], abs=1e-5)
    assert scores.sufficiency == pytest.approx(full[1] - alone[1], abs=1e-5)
    np.testing.assert_allclose(scores.full, full, atol=1e-5)


def test_aopc_by_hand(callable_adapter, posts):
    example = posts[0]
    instance = callable_adapter.prepare(example.document.tokens)
    count = instance.num_words
    scores = np.arange(count, 0, -1, dtype=float)  # earlier words score higher
    result = measure(callable_adapter, instance, np.zeros(count), scores, thresholds=THRESHOLDS)
    fn = callable_adapter.fn
    full = fn([list(instance.words)])[0]
    target = int(full.argmax())
    expected_comp, expected_suff = [], []
    for fraction in THRESHOLDS:
        top = int(np.ceil(fraction * count))
        removed, alone = fn([list(instance.words[top:]), list(instance.words[:top])])
        expected_comp.append(full[target] - removed[target])
        expected_suff.append(full[target] - alone[target])
    assert result.aopc_comprehensiveness == pytest.approx(np.mean(expected_comp))
    assert result.aopc_sufficiency == pytest.approx(np.mean(expected_suff))
    # the empty rationale removes nothing and keeps nothing
    assert result.comprehensiveness == pytest.approx(0.0)
    assert result.sufficiency == pytest.approx(full[target] - fn([[]])[0][target])


def test_measure_matches_the_rationalizers_own_faithfulness(rationalizer_adapter, reviews):
    """predict_dataset masks the top selector-scored words on the model's own ids; measuring
    the same scores through the adapter gives the same probabilities."""
    rationalizer = rationalizer_adapter.rationalizer
    records = rationalizer.predict_dataset(reviews, aopc_thresholds=THRESHOLDS)
    predictions = rationalizer.predict(
        [example.document.tokens for example in reviews], [example.query for example in reviews]
    )
    for example, record, prediction in zip(reviews, records, predictions, strict=True):
        instance = rationalizer_adapter.prepare(example.document.tokens, example.query)
        assert instance.encoding.truncated_words > 0
        result = measure(
            rationalizer_adapter,
            instance,
            prediction_mask(prediction),
            prediction.scores,
            thresholds=THRESHOLDS,
        )
        labels = rationalizer.labels
        for k, scored in enumerate(record.thresholded_scores):
            comp = scored.comprehensiveness_classification_scores
            suff = scored.sufficiency_classification_scores
            np.testing.assert_allclose(result.without_top[k], [comp[x] for x in labels], atol=1e-6)
            np.testing.assert_allclose(result.top_only[k], [suff[x] for x in labels], atol=1e-6)
        comp = record.comprehensiveness_classification_scores
        np.testing.assert_allclose(result.without_rationale, [comp[x] for x in labels], atol=1e-6)


def prediction_mask(prediction) -> np.ndarray:
    mask = np.zeros(len(prediction.words), dtype=np.int8)
    for span in prediction.rationale:
        mask[span.start : span.end] = 1
    return mask


def test_measure_checks_its_inputs(callable_adapter):
    instance = callable_adapter.prepare("a b c")
    with pytest.raises(RationalizerError, match="rationale"):
        measure(callable_adapter, instance, [1, 0])
    with pytest.raises(RationalizerError, match="AOPC thresholds"):
        measure(callable_adapter, instance, [1, 0, 0], [1, 2, 3], thresholds=(0.0, 0.5))
    without_scores = measure(callable_adapter, instance, [1, 0, 0])
    with pytest.raises(RationalizerError, match="no AOPC"):
        _ = without_scores.aopc_comprehensiveness


def test_measure_explanation_uses_its_target(callable_adapter, posts):
    example = posts[1]
    [explanation] = LeaveOneOut(rule="top-k:2").attribute(
        callable_adapter, [list(example.document.tokens)], target=0
    )
    result = measure_explanation(callable_adapter, explanation, thresholds=THRESHOLDS)
    instance = callable_adapter.prepare(example.document.tokens)
    direct = measure(
        callable_adapter,
        instance,
        explanation.rationale_mask,
        explanation.scores,
        target=0,
        thresholds=THRESHOLDS,
    )
    assert result.target == 0
    assert result.comprehensiveness == pytest.approx(direct.comprehensiveness)
    assert result.aopc_sufficiency == pytest.approx(direct.aopc_sufficiency)


# ---------------------------------------------------------------------------------------------
# Whole datasets


@pytest.mark.parametrize("adapter_name", ["callable_adapter", "hf_adapter"])
def test_explain_dataset_is_scored_by_evaluate(adapter_name, request, posts):
    """The records' faithfulness, as evaluate reports it, is what measure finds per input."""
    adapter = request.getfixturevalue(adapter_name)
    records = explain_dataset(LeaveOneOut(), adapter, posts, aopc_thresholds=THRESHOLDS)
    assert [r.annotation_id for r in records] == [ex.id for ex in posts]
    report = evaluate(posts, records, aopc_thresholds=THRESHOLDS)
    assert "token_prf" in report and "token_soft_metrics" in report
    measured = []
    for record, example in zip(records, posts, strict=True):
        rationale = record.rationales[0]
        assert len(rationale.soft_rationale_predictions) == len(example.document)
        instance = adapter.prepare(example.document.tokens, example.query)
        mask = np.zeros(instance.num_words, dtype=np.int8)
        for span in rationale.hard_rationale_predictions:
            mask[span.start_token : span.end_token] = 1
        result = measure(
            adapter, instance, mask, rationale.soft_rationale_predictions, thresholds=THRESHOLDS
        )
        assert adapter.labels[result.target] == record.classification
        measured.append(result)
    section = report["classification_scores"]
    for name in ("comprehensiveness", "sufficiency"):
        expected = np.mean([getattr(result, name) for result in measured])
        assert section[name] == pytest.approx(expected, abs=1e-6)
        expected_aopc = np.mean([getattr(result, f"aopc_{name}") for result in measured])
        assert section[f"{name}_aopc"] == pytest.approx(expected_aopc, abs=1e-6)


def test_explain_dataset_on_our_rationalizer(rationalizer_adapter, reviews, tmp_path):
    path = tmp_path / "movies.jsonl"
    explainer = LeaveOneOut(rule="fraction:0.05")
    explain_dataset(explainer, rationalizer_adapter, reviews, resume_path=path)
    records = read_results(path, reviews)  # validates against the dataset
    assert len(records) == 2 and all(r.thresholded_scores for r in records)
    evaluate(reviews, records)


def test_resume_skips_written_examples(callable_adapter, posts, tmp_path):
    path = tmp_path / "results.jsonl"
    first = replace(posts, examples=posts.examples[:3])
    explain_dataset(LeaveOneOut(), callable_adapter, first, resume_path=path)
    written = path.read_text(encoding="utf-8").splitlines()
    assert len(written) == 3

    explainer = LeaveOneOut(batch_size=3)
    records = explain_dataset(explainer, callable_adapter, posts, resume_path=path)
    assert len(explainer.explained) == 3  # only the chunk not written yet
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == written and len(lines) == 6
    assert [r.annotation_id for r in records] == [ex.id for ex in posts]

    # a run killed mid-write leaves a torn last line: it is dropped, and the chunk of 3 it
    # was in is explained again (with the same others as before) for its 2 missing records
    with path.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(lines[:4]) + "\n" + lines[4][:25])
    explainer = LeaveOneOut(batch_size=3)
    explain_dataset(explainer, callable_adapter, posts, resume_path=path)
    assert len(explainer.explained) == 3
    assert path.read_text(encoding="utf-8").splitlines() == lines


def test_resume_refuses_other_thresholds(callable_adapter, posts, tmp_path):
    path = tmp_path / "results.jsonl"
    first = replace(posts, examples=posts.examples[:1])
    explain_dataset(LeaveOneOut(), callable_adapter, first, resume_path=path)
    with pytest.raises(DataFormatError, match="AOPC thresholds"):
        explain_dataset(
            LeaveOneOut(), callable_adapter, posts, resume_path=path, aopc_thresholds=(0.3,)
        )


def test_progress_bar(callable_adapter, posts):
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=120)
    explain_dataset(LeaveOneOut(), callable_adapter, posts, progress=True, console=console)
    assert "leave-one-out on hatexplain/validation" in output.getvalue()
    assert "6/6" in output.getvalue()
    quiet = io.StringIO()
    explain_dataset(
        LeaveOneOut(), callable_adapter, posts, console=Console(file=quiet, force_terminal=True)
    )
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("method", ["gradient-x-input", "occlusion"])
def test_explain_dataset_in_batches_writes_the_records_of_one_at_a_time(
    rationalizer_adapter, spread_split, tmp_path, method
):
    """Examples packed together get the records (explanations and faithfulness) they get one
    at a time, written in dataset order."""
    reviews = spread_split("movies", "validation", 5)
    written = {}
    for size in (1, 3):
        path = tmp_path / f"batch{size}.jsonl"
        explainer = get_explainer(method)(batch_size=size)
        explain_dataset(explainer, rationalizer_adapter, reviews, resume_path=path)
        written[size] = read_results(path, reviews)
    assert [r.annotation_id for r in written[3]] == [example.id for example in reviews]
    for one, batched in zip(written[1], written[3], strict=True):
        [ours], [theirs] = batched.rationales, one.rationales
        assert ours.hard_rationale_predictions == theirs.hard_rationale_predictions
        assert ours.soft_rationale_predictions == pytest.approx(
            theirs.soft_rationale_predictions, rel=1e-4, abs=1e-5
        )
        assert batched.classification == one.classification
        for scores in ("classification_scores", "comprehensiveness_classification_scores"):
            assert getattr(batched, scores) == pytest.approx(getattr(one, scores), abs=1e-5)


def test_measure_all_packs_the_perturbed_inputs_of_several_instances(callable_adapter, posts):
    instances = [callable_adapter.prepare(ex.document.tokens) for ex in posts]
    rationales = [np.arange(instance.num_words) % 2 for instance in instances]
    scores = [np.arange(instance.num_words, dtype=float) for instance in instances]
    together = measure_all(
        callable_adapter, instances, rationales, scores, [None] * len(instances), batch_size=4
    )
    for instance, rationale, values, result in zip(
        instances, rationales, scores, together, strict=True
    ):
        alone = measure(callable_adapter, instance, rationale, values)
        assert result.comprehensiveness == pytest.approx(alone.comprehensiveness)
        assert result.aopc_sufficiency == pytest.approx(alone.aopc_sufficiency)
