"""Classifiers to explain, one of each adapter kind, all trained on real data by the tests.

* ``movies_run``: a run directory of a tiny FR BiGRU rationalizer trained briefly on movies;
  ``rationalizer_adapter`` explains its predictor.
* ``hatexplain_classifier_dir``: MiniLM fine-tuned briefly on HateXplain with ``finetune``
  (a Hugging Face folder); ``hf_adapter`` loads it with ``[MASK]`` masking.
* ``callable_adapter``: a scikit-learn bag-of-words logistic regression on HateXplain behind a
  plain function of word lists.

The trained models are built once per test session, even with pytest-xdist: the first worker
builds each into a folder shared by the session's workers while holding a file lock, the
others wait and reuse it. Session adapters are shared: tests that change a model (fine-tuning)
load their own copy from the folder.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from filelock import FileLock
from rich.console import Console
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from rationalizer.data import Dataset, load
from rationalizer.data.pretrained import minilm_path
from rationalizer.explain.adapters import (
    CallableAdapter,
    HFClassifierAdapter,
    RationalizerAdapter,
)
from rationalizer.explain.finetune import finetune
from rationalizer.training.config import TrainConfig
from rationalizer.training.trainer import Trainer, limit_examples

#: positions of the fine-tuned HateXplain classifier (posts are short; 64 keeps training cheap)
HATEXPLAIN_MAX_LENGTH = 64
DONE_MARKER = ".built"


def spread(dataset: Dataset, size: int) -> Dataset:
    """``size`` examples evenly spread over the split (sorted splits then cover every label)."""
    return replace(dataset, examples=dataset.examples[:: max(len(dataset) // size, 1)][:size])


@pytest.fixture(scope="session")
def spread_split() -> Callable[[str, str, int], Dataset]:
    """``spread_split(name, split, size)``: ``size`` examples spread evenly over a split."""
    return lambda name, split, size: spread(load(name, split), size)


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``build`` fills, built by one process of the test session.

    Under pytest-xdist every worker has its own base temporary folder inside one folder per
    session; that parent is shared, and a file lock lets exactly one worker build.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (folder / DONE_MARKER).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            (folder / DONE_MARKER).touch()
    return folder


# ---------------------------------------------------------------------------------------------
# Our rationalizer


def _train_movies_run(folder: Path) -> None:
    config = TrainConfig(
        dataset="movies",
        method="fr",
        max_train_examples=64,
        max_length=128,
        hidden_size=16,
        epochs=1,
        batch_size=16,
        lr=0.01,
    )
    train = limit_examples(load("movies", "train"), config)
    validation = spread(load("movies", "validation"), 8)
    console = Console(file=io.StringIO())
    Trainer(config, folder, train=train, validation=validation, console=console).fit()


@pytest.fixture(scope="session")
def movies_run(tmp_path_factory) -> Path:
    """Run directory of a tiny FR BiGRU rationalizer (64 movie reviews, max_length 128)."""
    return built_once(tmp_path_factory, "movies-run", _train_movies_run)


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
