"""The contract every registered training method keeps, checked for each one the registry lists.

A new method (one class, registered by its ``name``) is tested here without a line added: the
test is parametrized from :func:`rationalizer.training.methods.available_methods` at
collection. Each method trains a tiny run on the synthetic reviews (shared with other tests
wherever the settings are the same).
"""

from __future__ import annotations

import json

import pytest
from tests.tiny_runs import SSR_SETTINGS

from rationalizer import Rationalizer
from rationalizer.training.methods import available_methods, get_method_class
from rationalizer.training.shortcuts import ShortcutReport

TEXTS = ["a truly wonderful and moving film", "dull , boring and far too long", "fine"]


@pytest.mark.parametrize("method", sorted(available_methods()))
def test_the_method_trains_a_run_that_loads_and_predicts(method: str, tiny_run) -> None:
    method_class = get_method_class(method)
    # SSR methods train on discovered shortcuts: keep every candidate, so there are some
    settings = SSR_SETTINGS if method_class.needs_shortcuts else {}
    run = tiny_run(**settings | {"method": method})

    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["effective_config"]["method"] == method
    assert 1 <= summary["best_epoch"] <= summary["epochs_run"]
    assert 0.0 <= summary["validation"]["accuracy"] <= 1.0

    model = Rationalizer.load(run)
    for text, prediction in zip(TEXTS, model.predict(TEXTS), strict=True):
        words = len(text.split())
        assert prediction.label in model.labels
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
        assert len(prediction.scores) == words
        assert all(0 <= span.start < span.end <= words for span in prediction.rationale)
        if not method_class.selects:  # no selector: the predictor reads every word
            assert [(span.start, span.end) for span in prediction.rationale] == [(0, words)]

    if method_class.needs_shortcuts:
        assert ShortcutReport.load(run / "shortcuts.json").phrases, "the report lists no phrase"
        assert (run / "shortcuts.md").is_file()
