"""Real report inputs: a tiny SSR run on the synthetic data, its predictions on the test split,
a shortcut report of the planted shortcuts and an explainer benchmark output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.sample_inputs import BENCHMARK
from tests.tiny_runs import SSR_SETTINGS

from rationalizer.data import Dataset, Span, load, spans_to_mask, write_results
from rationalizer.training.shortcuts import build_report


@pytest.fixture(scope="session")
def synthetic_test() -> Dataset:
    return load("synthetic", "test")


@pytest.fixture(scope="session")
def ssr_run(tiny_run) -> Path:
    """A real run directory: SSR on 96 synthetic reviews, 2 epochs, with its shortcut report."""
    return tiny_run(**SSR_SETTINGS)


@pytest.fixture(scope="session")
def results_file(ssr_run, synthetic_test, tmp_path_factory) -> Path:
    """The SSR run's predictions on the synthetic test split (rationalizer predict's output)."""
    from rationalizer import Rationalizer

    path = tmp_path_factory.mktemp("predictions") / "predictions.jsonl"
    write_results(path, Rationalizer.load(ssr_run).predict_dataset(synthetic_test))
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
