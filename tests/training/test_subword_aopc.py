"""A subword model's AOPC counts words: the scores a trained rationalizer writes equal those the
explainers' faithfulness path measures on its predictor from the same word scores."""

from __future__ import annotations

import numpy as np
import pytest
from tests.tiny_runs import MINILM_SETTINGS, spread

from rationalizer.data import Dataset, load, spans_to_mask
from rationalizer.explain.adapters import RationalizerAdapter
from rationalizer.explain.faithfulness import measure_all
from rationalizer.metrics.evaluate import DEFAULT_AOPC_THRESHOLDS
from rationalizer.training.inference import Rationalizer


@pytest.fixture(scope="module")
def posts() -> Dataset:
    """12 HateXplain validation posts spread over the split (both labels)."""
    return spread(load("hatexplain", "validation"), 12)


@pytest.fixture(scope="module")
def minilm_model(tiny_run) -> Rationalizer:
    """A tiny semi MiniLM rationalizer reading 32 positions (some posts are truncated), in
    float32 like the adapter, so that both paths run the same arithmetic."""
    run = tiny_run(**MINILM_SETTINGS)
    return Rationalizer.load(run, precision="fp32")


def _as_array(scores: dict[str, float], labels) -> np.ndarray:
    return np.array([scores[label] for label in labels])


@pytest.mark.slow  # trains a (tiny) transformer run
def test_predict_dataset_aopc_equals_the_explainers_faithfulness_on_a_subword_model(
    minilm_model, posts
):
    records = minilm_model.predict_dataset(posts, batch_size=4)
    adapter = RationalizerAdapter(minilm_model)
    instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in posts]
    encodings = [instance.encoding for instance in instances]
    # the test is about subwords (some word has several positions) and truncation
    assert any(np.sum(e.word_ids >= 0) > e.num_words for e in encodings)
    assert any(e.truncated_words > 0 for e in encodings)
    measured = measure_all(
        adapter,
        instances,
        [
            spans_to_mask(
                [span.to_span() for span in r.rationales[0].hard_rationale_predictions],
                len(ex.document),
            )
            for ex, r in zip(posts, records, strict=True)
        ],
        [r.rationales[0].soft_rationale_predictions for r in records],
        [r.classification for r in records],
        thresholds=DEFAULT_AOPC_THRESHOLDS,
    )
    labels = minilm_model.labels
    for record, faithfulness in zip(records, measured, strict=True):
        assert faithfulness.thresholds == DEFAULT_AOPC_THRESHOLDS
        written = sorted(record.thresholded_scores, key=lambda t: t.threshold)
        for scores, without_top, top_only in zip(
            written, faithfulness.without_top, faithfulness.top_only, strict=True
        ):
            removed = _as_array(scores.comprehensiveness_classification_scores, labels)
            kept = _as_array(scores.sufficiency_classification_scores, labels)
            np.testing.assert_allclose(removed, without_top, atol=1e-4)
            np.testing.assert_allclose(kept, top_only, atol=1e-4)
