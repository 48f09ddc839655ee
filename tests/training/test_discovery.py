"""Shortcut discovery end to end: the unsupervised run, the report, its reuse and its scores."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from rich.console import Console

from rationalizer.data import load, spans_to_mask
from rationalizer.data.synthetic import PLANTED_SHORTCUTS
from rationalizer.errors import RationalizerError
from rationalizer.provenance import code_provenance
from rationalizer.training.api import Rationalizer
from rationalizer.training.batching import choose_annotated
from rationalizer.training.config import GRU_LEARNING_RATE, TrainConfig
from rationalizer.training.discovery import (
    DISCOVERY_METHOD,
    discover_shortcuts,
    unsupervised_config,
)
from rationalizer.training.shortcuts import READING_DEPTH, ShortcutReport
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
    # the report names the code and the settings of the run that discovered the shortcuts
    stored = json.loads((out / "shortcuts.json").read_text(encoding="utf-8"))
    assert stored["provenance"] == code_provenance()
    assert stored["effective_config"] == unsupervised_config(SMALL).model_dump(mode="json") | {
        "lr": GRU_LEARNING_RATE
    }
    assert stored["overrides"] == [
        {
            "setting": "lr",
            "requested": None,
            "used": GRU_LEARNING_RATE,
            "reason": "not set: the gru default",
        }
    ]
    assert (out / "shortcuts.md").read_text(encoding="utf-8").startswith("# Shortcut report")
    scores = json.loads((out / "shortcut-discovery-scores.json").read_text(encoding="utf-8"))
    assert scores == found.scores
    assert scores["k"] == 4 and set(scores["planted"]) == {
        "at the odeon",
        "on a tuesday",
        "with my cousin",
        "at the rialto",
    }


def test_a_discovery_run_that_selects_nothing_is_reported(discovered, monkeypatch, tmp_path):
    out, _, _ = discovered
    reuse = SMALL.model_copy(update={"shortcut_run": out / "shortcut-discovery"})
    predict = Rationalizer.predict

    def select_nothing(self, *args, **kwargs):
        return [dataclasses.replace(p, rationale=()) for p in predict(self, *args, **kwargs)]

    monkeypatch.setattr(Rationalizer, "predict", select_nothing)
    console, output = quiet()
    found = discover_shortcuts(reuse, tmp_path, console)
    assert found.report.selected_words == 0
    assert not any(mask.any() for mask in found.masks.values())
    text = " ".join(output.getvalue().split())
    assert "selects no words on the annotated examples" in text
    assert "discovery_epochs" in text


def test_discovery_epochs_set_the_unsupervised_run_only() -> None:
    longer = SMALL.model_copy(update={"discovery_epochs": 5})
    assert unsupervised_config(longer).epochs == 5
    assert unsupervised_config(SMALL).epochs == SMALL.epochs == 1
    # SSR runs that differ only in their discovery length still train the same SSR model,
    # but they must not share a discovery run
    assert unsupervised_config(longer) != unsupervised_config(SMALL)
    assert unsupervised_config(longer).discovery_epochs is None


def test_settings_the_unsupervised_run_never_reads_do_not_split_discovery() -> None:
    changes = {"shortcut_weight": 1.0, "supervision_weight": 2.0, "balance_supervision": 0.5}
    for name, value in changes.items():
        other = SMALL.model_copy(update={name: value})
        assert unsupervised_config(other) == unsupervised_config(SMALL), name


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


#: Big enough to learn the task, small enough to train in 15–30 s on one CPU thread: 1000
#: examples, 4 epochs, 32 GRU units. A higher learning rate, straight-through masks (evaluation's
#: argmax selects what training selected) and a firmer pull towards a 10% selection rate keep
#: this short run from selecting nothing or everything. Across seeds 0–7 it ranked "odeon" and
#: "rialto" within the report's top 7 every time, with their planted labels; "tuesday" once;
#: "with my cousin" (which the default 10-epoch run does find) never.
RECOVERY = TrainConfig(
    dataset="synthetic",
    method="ssr-unif",
    max_train_examples=1000,
    epochs=4,
    hidden_size=32,
    lr=5e-3,
    straight_through=True,
    sparsity_weight=0.05,
    selection_rate=0.1,
)


@pytest.mark.slow
def test_the_shortcut_report_recovers_planted_shortcuts(tmp_path):
    console, _ = quiet()
    found = discover_shortcuts(RECOVERY, tmp_path, console)
    scores = found.scores
    words = sum(
        len(ex.document)
        for ex in limit_examples(load("synthetic", "train"), RECOVERY)
        if ex.id in found.masks
    )
    # A selection blind to content finds planted words at their density (about 2%).
    assert scores["token_precision"] >= 4 * scores["planted_words"] / words
    recovered = {
        phrase: found.report.phrases[details["rank"] - 1]
        for phrase, details in scores["planted"].items()
        if details["rank"] is not None and details["rank"] <= READING_DEPTH
    }
    assert len(recovered) >= 2, scores["planted"]
    assert scores["phrase_recall_at_depth"] == len(recovered) / len(PLANTED_SHORTCUTS)
    for phrase, row in recovered.items():
        # the report's row is the matching phrase, and it leans to the planted label
        assert row.phrase == scores["planted"][phrase]["matched"]
        assert row.skew_label == PLANTED_SHORTCUTS[phrase], row
