"""Classifiers to explain, one of each adapter kind, all trained on real data by the tests.

* ``movies_run``: a run directory of a tiny FR BiGRU rationalizer trained briefly on movies;
  ``rationalizer_adapter`` explains its predictor.
* ``hatexplain_classifier_dir``: MiniLM fine-tuned briefly on HateXplain with ``finetune``
  (a Hugging Face folder); ``hf_adapter`` loads it with ``[MASK]`` masking.
* ``callable_adapter``: a scikit-learn bag-of-words logistic regression on HateXplain behind a
  plain function of word lists.

The trained models are built once per test session, even with pytest-xdist (see
``tests/tiny_runs.py``). Session adapters are shared: tests that change a model (fine-tuning)
load their own copy from the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from tests.tiny_runs import built_once, spread

from rationalizer.data import Dataset, load
from rationalizer.data.pretrained import minilm_path
from rationalizer.explain.adapters import (
    CallableAdapter,
    HFClassifierAdapter,
    RationalizerAdapter,
)
from rationalizer.explain.finetune import finetune

#: positions of the fine-tuned HateXplain classifier (posts are short; 64 keeps training cheap)
HATEXPLAIN_MAX_LENGTH = 64


@pytest.fixture(scope="session")
def spread_split() -> Callable[[str, str, int], Dataset]:
    """``spread_split(name, split, size)``: ``size`` examples spread evenly over a split."""
    return lambda name, split, size: spread(load(name, split), size)


# ---------------------------------------------------------------------------------------------
# Our rationalizer


@pytest.fixture(scope="session")
def movies_run(tiny_run) -> Path:
    """Run directory of a tiny FR BiGRU rationalizer (64 movie reviews, max_length 128)."""
    return tiny_run(
        dataset="movies",
        method="fr",
        max_train_examples=64,
        max_length=128,
        lr=0.01,
        validation_size=8,
    )


@pytest.fixture(scope="session")
def rationalizer_adapter(movies_run) -> RationalizerAdapter:
    """The predictor of ``movies_run`` (shared: do not train it)."""
    return RationalizerAdapter.load(movies_run)


# ---------------------------------------------------------------------------------------------
# A Hugging Face classifier


def _finetune_hatexplain_classifier(folder: Path) -> None:
    train = load("hatexplain", "train")
    torch.manual_seed(0)
    adapter = HFClassifierAdapter.from_pretrained(
        minilm_path(), labels=train.labels, max_length=HATEXPLAIN_MAX_LENGTH
    )
    finetune(
        adapter, train, epochs=1, max_examples=256, batch_size=8, lr=3e-4, seed=0, out_dir=folder
    )


@pytest.fixture(scope="session")
def hatexplain_classifier_dir(tmp_path_factory) -> Path:
    """A Hugging Face folder: MiniLM fine-tuned on 256 HateXplain posts (one epoch)."""
    return built_once(tmp_path_factory, "hatexplain-minilm", _finetune_hatexplain_classifier)


@pytest.fixture(scope="session")
def hf_adapter(hatexplain_classifier_dir) -> HFClassifierAdapter:
    """``hatexplain_classifier_dir`` with [MASK] masking (shared: do not train it)."""
    return HFClassifierAdapter.from_pretrained(
        hatexplain_classifier_dir, max_length=HATEXPLAIN_MAX_LENGTH
    )


# ---------------------------------------------------------------------------------------------
# A black box


@pytest.fixture(scope="session")
def callable_adapter() -> CallableAdapter:
    """A bag-of-words logistic regression on 2,000 HateXplain posts, behind a function of
    word lists (its own lowercasing is the black box's business)."""
    train = spread(load("hatexplain", "train"), 2000)
    pipeline = make_pipeline(
        CountVectorizer(analyzer=_lowercase_words), LogisticRegression(max_iter=1000)
    )
    pipeline.fit([ex.document.tokens for ex in train], [ex.label for ex in train])
    labels = tuple(str(label) for label in pipeline.classes_)

    def bag_of_words_classifier(word_lists: Sequence[Sequence[str]]) -> np.ndarray:
        return pipeline.predict_proba(word_lists)

    return CallableAdapter(bag_of_words_classifier, labels)


def _lowercase_words(words: Sequence[str]) -> list[str]:
    return [word.lower() for word in words]
