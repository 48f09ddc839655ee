"""benchmarks/posthoc_shortcuts.py: the rule chosen on validation, recovery on test beside
random top words, and the provenance of the cached classifiers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.benchmarks.helpers import OLD_CODE

from benchmarks import posthoc_shortcuts, seeded
from rationalizer._environment import benchmark_provenance, code_text
from rationalizer.explain import RationaleRule
from rationalizer.provenance import code_provenance

TINY = {
    "dataset": "synthetic",
    "method": "full-text",
    "max_train_examples": 48,
    "max_length": 64,
    "hidden_size": 16,
    "batch_size": 16,
    "epochs": 1,
}


@pytest.fixture()
def benchmark(monkeypatch):
    monkeypatch.setattr(posthoc_shortcuts, "CLASSIFIER", TINY)
    monkeypatch.setattr(posthoc_shortcuts, "EXPLAINERS", ("gradient-x-input",))
    rules = (RationaleRule("top-k", 1), RationaleRule("fraction", 0.05))
    monkeypatch.setattr(posthoc_shortcuts, "RULES", rules)
    return posthoc_shortcuts


@pytest.mark.slow  # trains a tiny classifier per seed
def test_the_rule_is_chosen_on_validation_and_measured_on_test(benchmark, tmp_path, capsys):
    out_dir, cache_dir = tmp_path / "results", tmp_path / "cache"
    argv = [
        "--seeds", "0,1", "--tune-examples", "20", "--test-examples", "30",
        "--out-dir", str(out_dir), "--cache-dir", str(cache_dir),
    ]  # fmt: skip
    assert benchmark.main(argv) == 0
    report = json.loads((out_dir / "posthoc_shortcuts.json").read_text(encoding="utf-8"))
    assert report["command"].startswith("python -m benchmarks.posthoc_shortcuts --seeds 0,1")
    assert set(report["tuning"]) == {"top-k:1", "fraction:0.05"}
    assert report["chosen_rule"] == benchmark.choose_rule(report["tuning"])
    assert (report["default_rule"], report["test_examples"]) == ("top-k:3", 30)
    cells = report["measured"]["gradient-x-input"]
    assert set(cells) == {"0", "1"}
    for cell in cells.values():
        assert set(cell["settings"]) == {"default", "by skew", "skew filter 1"}
        for setting in cell["settings"].values():
            for who in ("explainer", "random"):
                assert 0 <= setting[who]["found_at_depth"] <= 4
    found = [cell["settings"]["default"]["explainer"]["found_at_depth"] for cell in cells.values()]
    spread = report["summary"]["gradient-x-input"]["default"]["explainer"]
    assert (spread["mean"], spread["min"], spread["max"]) == (
        pytest.approx(np.mean(found)),
        min(found),
        max(found),
    )
    markdown = (out_dir / "posthoc_shortcuts.md").read_text(encoding="utf-8")
    assert f"Chosen: `{report['chosen_rule']}`" in markdown
    assert "| gradient-x-input | 0 | " in markdown and "| gradient-x-input | 1 | " in markdown
    assert report["provenance"] == benchmark_provenance(benchmark.SCRIPT, seeded.MODULE)
    assert all(info["trained_by"] == code_provenance() for info in report["classifiers"].values())
    assert f"Code: {code_text(report['provenance'])}." in markdown

    # the cached classifiers are reused; one the old code trained is refused unless asked for
    assert benchmark.main(argv) == 0
    again = json.loads((out_dir / "posthoc_shortcuts.json").read_text(encoding="utf-8"))
    assert _without_seconds(again["measured"]) == _without_seconds(report["measured"])
    assert all(info["train_seconds"] is None for info in again["classifiers"].values())
    summary_path = cache_dir / "seed1" / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary_path.write_text(json.dumps(summary | {"provenance": OLD_CODE}), encoding="utf-8")
    capsys.readouterr()
    assert benchmark.main(argv) == 1
    assert "trained by other code" in " ".join(capsys.readouterr().err.split())
    assert benchmark.main([*argv, "--reuse-stale"]) == 0
    markdown = (out_dir / "posthoc_shortcuts.md").read_text(encoding="utf-8")
    assert "- seed 1: commit 1234567, rationalizer 0.0.9" in markdown


def test_random_top_words_keep_the_count_of_each_example(benchmark):
    selected = {"a": np.array([1, 0, 1, 0, 0], np.int8), "b": np.array([0, 0, 1], np.int8)}
    control = benchmark.random_like(selected, seed=3)
    assert {k: int(v.sum()) for k, v in control.items()} == {"a": 2, "b": 1}
    assert all(control[k].shape == selected[k].shape for k in selected)


def _without_seconds(measured: dict) -> dict:
    """The measured results without their wall-clock times, which differ from run to run."""
    return {
        method: {
            seed: {k: v for k, v in cell.items() if k != "seconds"}
            for seed, cell in by_seed.items()
        }
        for method, by_seed in measured.items()
    }
