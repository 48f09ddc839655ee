"""Shortcut discovery end to end: the unsupervised run, the report, its reuse and its scores."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from rationalizer.data import load, spans_to_mask
from rationalizer.errors import RationalizerError
from rationalizer.training.api import Rationalizer
from rationalizer.training.batching import choose_annotated
from rationalizer.training.config import TrainConfig
from rationalizer.training.discovery import (
    DISCOVERY_METHOD,
    discover_shortcuts,
    unsupervised_config,
)
from rationalizer.training.shortcuts import ShortcutReport
from rationalizer.training.trainer import limit_examples

SMALL = TrainConfig(
    dataset="synthetic",
    method="ssr-unif",
    max_train_examples=64,
    max_length=64,
    hidden_size=16,
    epochs=1,
    batch_size=16,
)


def quiet() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=200), output


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    """(output folder, Discovery, console text) of one small discovery on synthetic data."""
    out = tmp_path_factory.mktemp("discovery")
    console, output = quiet()
    return out, discover_shortcuts(SMALL, out, console), output.getvalue()


def test_discovery_trains_the_unsupervised_run_and_writes_the_report(discovered):
    out, found, console_text = discovered
    assert "training the unsupervised rationalizer" in console_text
    run = out / "shortcut-discovery"
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "summary.json"):
        assert (run / name).is_file(), name
    unsupervised = Rationalizer.load(run)
    assert unsupervised.config == unsupervised_config(SMALL)
    assert unsupervised.config.method == DISCOVERY_METHOD == "fr"
    assert ShortcutReport.load(out / "shortcuts.json") == found.report
    assert (out / "shortcuts.md").read_text(encoding="utf-8").startswith("# Shortcut report")
    scores = json.loads((out / "shortcut-discovery-scores.json").read_text(encoding="utf-8"))
    assert scores == found.scores
    assert scores["k"] == 4 and set(scores["planted"]) == {
        "at the odeon",
        "on a tuesday",
        "with my cousin",
        "at the rialto",
    }


def test_shortcuts_are_the_words_the_unsupervised_run_selects_outside_the_gold(discovered):
    out, found, _ = discovered
    train = limit_examples(load("synthetic", "train"), SMALL)
    annotated_ids = choose_annotated(train, SMALL.labeled_fraction, SMALL.seed)
    assert found.masks.keys() == annotated_ids
    # this small run (seed 0) selects most words, gold ones too: both cases are checked below
    assert 0 < found.report.shortcut_words < found.report.selected_words
    assert found.report.annotated_examples == len(annotated_ids) == 16
    annotated = [ex for ex in train if ex.id in annotated_ids]
    predictions = Rationalizer.load(out / "shortcut-discovery").predict(
        [ex.document.tokens for ex in annotated]
    )
    for example, prediction in zip(annotated, predictions, strict=True):
        selected = spans_to_mask(prediction.rationale, len(example.document))
        expected = selected * (1 - example.rationale_mask())
        assert np.array_equal(found.masks[example.id], expected), example.id
    assert found.report.shortcut_words == sum(int(m.sum()) for m in found.masks.values())


def test_a_second_discovery_reuses_the_run(discovered):
    out, found, _ = discovered
    weights = out / "shortcut-discovery" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    console, output = quiet()
    again = discover_shortcuts(SMALL, out, console)
    assert "reusing the unsupervised run" in output.getvalue()
    assert "training" not in output.getvalue()
    assert weights.stat().st_mtime_ns == before
    assert again.masks.keys() == found.masks.keys()
    assert all(np.array_equal(again.masks[i], found.masks[i]) for i in found.masks)


def test_another_run_can_reuse_it_through_shortcut_run(discovered, tmp_path):
    out, found, _ = discovered
    config = SMALL.model_copy(update={"shortcut_run": out / "shortcut-discovery"})
    console, output = quiet()
    again = discover_shortcuts(config, tmp_path, console)
    assert "reusing the unsupervised run" in output.getvalue()
    assert not (tmp_path / "shortcut-discovery").exists()
    assert (tmp_path / "shortcuts.json").is_file()
    assert again.report == found.report


def test_reuse_with_other_settings_is_refused(discovered):
    out, _, _ = discovered
    other = SMALL.model_copy(update={"epochs": 2})
    console, _ = quiet()
    with pytest.raises(RationalizerError, match="other settings"):
        discover_shortcuts(other, out, console)
