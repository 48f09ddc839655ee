"""Fine-tuning through adapters: plain and with word dropout, for our runs and HF classifiers."""

from __future__ import annotations

import numpy as np
import pytest

from rationalizer.data import Dataset
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters import (
    EncodedAdapter,
    HFClassifierAdapter,
    RationalizerAdapter,
    load_adapter,
)
from rationalizer.explain.finetune import finetune


@pytest.fixture(scope="module")
def reviews(spread_split) -> Dataset:
    return spread_split("movies", "train", 32)


@pytest.fixture(scope="module")
def posts(spread_split) -> Dataset:
    return spread_split("hatexplain", "train", 8)


def mean_loss(adapter: EncodedAdapter, dataset: Dataset) -> float:
    """Cross-entropy of the gold labels on the full inputs."""
    losses = []
    for example in dataset:
        instance = adapter.prepare(example.document.tokens, example.query)
        probabilities = adapter.probabilities(instance, np.ones((1, instance.num_words)))[0]
        losses.append(-np.log(probabilities[adapter.label_index(example.label)]))
    return float(np.mean(losses))


def first_probabilities(adapter: EncodedAdapter, dataset: Dataset) -> np.ndarray:
    example = dataset[0]
    instance = adapter.prepare(example.document.tokens, example.query)
    return adapter.probabilities(instance, np.ones((1, instance.num_words)))


def test_finetuning_lowers_the_loss(movies_run, reviews):
    adapter = RationalizerAdapter.load(movies_run)
    before = mean_loss(adapter, reviews)
    result = finetune(adapter, reviews, epochs=3, lr=0.01, batch_size=8)
    assert mean_loss(adapter, reviews) < before
    assert result.steps == 12 and result.examples == 32 and len(result.epoch_losses) == 3
    assert not adapter.module.training  # left ready to explain


def test_word_dropout_removes_words_at_its_rate(movies_run, reviews):
    adapter = RationalizerAdapter.load(movies_run)
    kept_shares = []
    logits = adapter.logits

    def spy(instances, keep):
        kept_shares.extend(float(np.mean(row)) for row in keep)
        return logits(instances, keep)

    adapter.logits = spy
    finetune(adapter, reviews, word_dropout=0.3, batch_size=8, seed=1)
    assert len(kept_shares) == 32
    assert np.mean(kept_shares) == pytest.approx(0.7, abs=0.05)


def test_word_dropout_finetuning_of_our_run_saves_a_run(movies_run, reviews, tmp_path):
    adapter = RationalizerAdapter.load(movies_run)
    result = finetune(
        adapter, reviews, word_dropout=0.5, batch_size=16, max_examples=16, out_dir=tmp_path
    )
    assert result.examples == 16 and result.out_dir == tmp_path
    reloaded = load_adapter(tmp_path)
    assert isinstance(reloaded, RationalizerAdapter)
    np.testing.assert_allclose(
        first_probabilities(reloaded, reviews), first_probabilities(adapter, reviews), atol=1e-6
    )
    assert not np.allclose(
        first_probabilities(reloaded, reviews),
        first_probabilities(RationalizerAdapter.load(movies_run), reviews),
    )


def test_word_dropout_finetuning_of_a_hf_classifier(hatexplain_classifier_dir, posts, tmp_path):
    adapter = HFClassifierAdapter.from_pretrained(
        hatexplain_classifier_dir, max_length=64, masking="delete"
    )
    result = finetune(adapter, posts, word_dropout=0.5, batch_size=8, out_dir=tmp_path)
    assert result.steps == 1 and np.isfinite(result.epoch_losses[0])
    reloaded = load_adapter(f"hf:{tmp_path}", max_length=64, masking="delete")
    np.testing.assert_allclose(
        first_probabilities(reloaded, posts), first_probabilities(adapter, posts), atol=1e-5
    )
    assert (tmp_path / "model.safetensors").is_file()


def test_black_boxes_and_foreign_labels_are_refused(callable_adapter, movies_run, posts):
    with pytest.raises(RationalizerError, match="cannot be fine-tuned"):
        finetune(callable_adapter, posts)
    with pytest.raises(RationalizerError, match=r"labels \['non-toxic', 'toxic'\]"):
        finetune(RationalizerAdapter.load(movies_run), posts)
    with pytest.raises(RationalizerError, match="word_dropout"):
        finetune(RationalizerAdapter.load(movies_run), posts, word_dropout=1.0)
