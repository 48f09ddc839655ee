"""Real report inputs: a tiny SSR run on the synthetic data, its predictions on the test split,
a shortcut report of the planted shortcuts and an explainer benchmark output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from tests.report.sample_inputs import BENCHMARK

from rationalizer.data import Dataset, Span, load, spans_to_mask, write_results
from rationalizer.training.shortcuts import build_report


@pytest.fixture(scope="session")
def synthetic_test() -> Dataset:
    return load("synthetic", "test")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real run directory: SSR on 96 synthetic reviews, 2 epochs, with its shortcut report."""
    from rationalizer.training.run import train

    out = tmp_path_factory.mktemp("report-inputs") / "ssr"
    train(
        out,
        console=Console(file=io.StringIO()),
        dataset="synthetic",
        method="ssr-unif",
        max_train_examples=96,
        hidden_size=16,
        epochs=2,
        batch_size=16,
        max_length=64,
        # every candidate is a shortcut: this short run's report then has phrases to chart
        shortcut_min_skew=0.0,
    )
    return out


@pytest.fixture(scope="session")
def results_file(tiny_run, synthetic_test) -> Path:
    """The tiny run's predictions on the synthetic test split (rationalizer predict's output)."""
    from rationalizer.training.inference import Rationalizer

    path = tiny_run.parent / "predictions.jsonl"
    write_results(path, Rationalizer.load(tiny_run).predict_dataset(synthetic_test))
    return path


@pytest.fixture(scope="session")
def planted_shortcuts_file(tmp_path_factory) -> Path:
    """A shortcut report whose shortcuts are the synthetic data's planted phrases: several
    phrases, each skewed towards its label, ranked by skew (the run's own report by count)."""
    train = load("synthetic", "train")
    masks = {
        ex.id: spans_to_mask((Span(*s) for s in ex.metadata["shortcut_spans"]), len(ex.document))
        for ex in train
    }
    report = build_report(train, masks, train.labels, top=10, rank_by="skew")
    return report.save_json(tmp_path_factory.mktemp("shortcuts") / "planted.json")


@pytest.fixture(scope="session")
def benchmark_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("benchmark") / "explainers.json"
    path.write_text(json.dumps(BENCHMARK), encoding="utf-8")
    return path
