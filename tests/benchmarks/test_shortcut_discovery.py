"""benchmarks/shortcut_discovery.py: discovery on synthetic data scored under both rankings."""

from __future__ import annotations

import json
import statistics

import pytest
from tests.benchmarks.helpers import OLD_CODE

from benchmarks import seeded, shortcut_discovery
from rationalizer._environment import benchmark_provenance, code_text
from rationalizer.provenance import code_provenance
from rationalizer.training.shortcuts import RANKINGS, ShortcutReport

TINY_TOML = """\
max_train_examples = 48
max_length = 64
hidden_size = 16
batch_size = 16
epochs = 1
"""


@pytest.mark.slow  # trains a tiny discovery run per seed
def test_discovery_is_scored_under_both_rankings_and_reused(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML, encoding="utf-8")
    out_dir, cache_dir = tmp_path / "results", tmp_path / "cache"
    argv = ["--seeds", "0,1", "--config", str(config), "--out-dir", str(out_dir)]
    assert shortcut_discovery.main([*argv, "--cache-dir", str(cache_dir)]) == 0
    report = json.loads((out_dir / "shortcut_discovery.json").read_text(encoding="utf-8"))
    assert report["command"].startswith("python -m benchmarks.shortcut_discovery --seeds 0,1")
    assert [run["seed"] for run in report["runs"]] == [0, 1]
    for run in report["runs"]:
        rankings = run["rankings"]
        assert set(rankings) == set(RANKINGS)
        assert {name: rankings[name]["rank_by"] for name in RANKINGS} == {
            name: name for name in RANKINGS
        }
        # the masks are the same, only the phrase order differs
        for name in ("token_precision", "token_recall", "token_f1", "discovered_words"):
            assert rankings["count"][name] == rankings["skew"][name]
        written = ShortcutReport.load(cache_dir / f"seed{run['seed']}" / "shortcuts.json")
        assert written.shortcut_words == rankings["count"]["discovered_words"]
    for rank_by in RANKINGS:
        values = [run["rankings"][rank_by]["phrase_recall"] for run in report["runs"]]
        assert report["summary"][rank_by]["phrase_recall"] == {
            "mean": pytest.approx(statistics.fmean(values)),
            "std": pytest.approx(statistics.stdev(values)),
        }
    markdown = (out_dir / "shortcut_discovery.md").read_text(encoding="utf-8")
    assert markdown.count("| count | ") == 2 and markdown.count("| skew | ") == 2
    assert "| **skew** | mean |" in markdown

    assert report["provenance"] == benchmark_provenance(shortcut_discovery.SCRIPT, seeded.MODULE)
    assert all(run["trained_by"] == code_provenance() for run in report["runs"])
    assert f"Code: {code_text(report['provenance'])}." in markdown
    assert "trained by other code" not in markdown

    capsys.readouterr()
    assert shortcut_discovery.main([*argv, "--cache-dir", str(cache_dir)]) == 0
    assert capsys.readouterr().err.count("reusing the unsupervised run") == 2
    again = json.loads((out_dir / "shortcut_discovery.json").read_text(encoding="utf-8"))
    assert [run["rankings"] for run in again["runs"]] == [run["rankings"] for run in report["runs"]]

    # a cached run the old code trained is refused, or reused and named on request
    summary_path = cache_dir / "seed1" / "shortcut-discovery" / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary_path.write_text(json.dumps(summary | {"provenance": OLD_CODE}), encoding="utf-8")
    assert shortcut_discovery.main([*argv, "--cache-dir", str(cache_dir)]) == 1
    assert "trained by other code" in " ".join(capsys.readouterr().err.split())
    assert shortcut_discovery.main([*argv, "--cache-dir", str(cache_dir), "--reuse-stale"]) == 0
    markdown = (out_dir / "shortcut_discovery.md").read_text(encoding="utf-8")
    assert "- seed 1: commit 1234567, rationalizer 0.0.9" in markdown


def test_bad_seeds_are_a_clear_error(tmp_path, capsys):
    assert shortcut_discovery.main(["--seeds", "0,x", "--out-dir", str(tmp_path)]) == 2
    assert "--seeds must be integers" in capsys.readouterr().err
