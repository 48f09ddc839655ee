"""``rationalizer shortcuts``: settings from a file and flags, the report, its scores and reuse."""

from __future__ import annotations

import json

import pytest
from tests.cli.cli_helpers import invoke, runner

from rationalizer.cli import app
from rationalizer.errors import RationalizerError
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.shortcuts import ShortcutReport


@pytest.mark.slow
def test_shortcuts_writes_the_report_and_scores_planted_shortcuts(tmp_path, tiny_config):
    out_dir = tmp_path / "found"
    # a run this short finds too few words for the default label-skew filter: keep every one
    keep_all = ("--min-skew", "0")
    out = invoke(
        "shortcuts", "--config", str(tiny_config), "--seed", "2", *keep_all, "--out", str(out_dir)
    )
    settings = load_checkpoint(out_dir / "shortcut-discovery").train_config
    assert (settings.method, settings.seed) == ("fr", 2)  # the flag overrides the file
    assert ShortcutReport.load(out_dir / "shortcuts.json").min_skew == 0.0
    assert "label-skew filter" not in out
    assert (settings.max_train_examples, settings.hidden_size) == (48, 16)  # from the file
    assert "Shortcut phrases" in out
    scores = json.loads((out_dir / "shortcut-discovery-scores.json").read_text(encoding="utf-8"))
    assert (
        f"token precision {scores['token_precision']:.3f}, recall {scores['token_recall']:.3f}; "
        f"planted phrases found in the top 4 {scores['phrase_recall']:.2f}, in the top 20 "
        f"{scores['phrase_recall_at_depth']:.2f}"
    ) in out
    assert f"report: {out_dir / 'shortcuts.md'}" in out

    again_dir = tmp_path / "again"
    reused = str(out_dir / "shortcut-discovery")
    again = invoke(
        "shortcuts", "--config", str(tiny_config), "--seed", "2", *keep_all, "--reuse", reused,
        "--out", str(again_dir),
    )  # fmt: skip
    assert not (again_dir / "shortcut-discovery").exists()
    assert ShortcutReport.load(again_dir / "shortcuts.json") == ShortcutReport.load(
        out_dir / "shortcuts.json"
    )
    assert again.splitlines()[-3:] == [
        *out.splitlines()[-3:-1],
        f"report: {again_dir / 'shortcuts.md'} and {again_dir / 'shortcuts.json'}",
    ]


def test_shortcuts_without_annotated_examples_is_a_clear_error(tmp_path, tiny_config):
    with pytest.raises(RationalizerError, match="labeled_fraction must be above 0"):
        runner.invoke(
            app,
            ["shortcuts", "--config", str(tiny_config), "--labeled-fraction", "0", "--out", "x"],
            catch_exceptions=False,
        )


@pytest.mark.slow
def test_rank_by_skew_reorders_a_reused_discovery(tmp_path, tiny_config):
    by_count_dir, by_skew_dir = tmp_path / "count", tmp_path / "skew"
    first = invoke("shortcuts", "--config", str(tiny_config), "--out", str(by_count_dir))
    reused = str(by_count_dir / "shortcut-discovery")
    invoke(
        "shortcuts", "--config", str(tiny_config), "--reuse", reused, "--rank-by", "skew",
        "--out", str(by_skew_dir),
    )  # fmt: skip
    by_count = ShortcutReport.load(by_count_dir / "shortcuts.json")
    by_skew = ShortcutReport.load(by_skew_dir / "shortcuts.json")
    # the default label-skew filter ran, and the command said what it kept
    assert by_count.min_skew == by_skew.min_skew == 1.0 and by_count.filtered_words > 0
    assert (
        f"label-skew filter (min skew 1): kept {by_count.shortcut_words} of "
        f"{by_count.candidate_words} words"
    ) in " ".join(first.split())
    assert (by_count.rank_by, by_skew.rank_by) == ("count", "skew")
    odds = [stats.log_odds for stats in by_skew.phrases]
    assert odds == sorted(odds, reverse=True)
    assert by_skew.distinct_phrases == by_count.distinct_phrases
    scores = json.loads((by_skew_dir / "shortcut-discovery-scores.json").read_text("utf-8"))
    assert scores["rank_by"] == "skew"

    evidence_dir = tmp_path / "evidence"
    said = invoke(
        "shortcuts", "--config", str(tiny_config), "--reuse", reused, "--max-evidence-ratio", "2",
        "--out", str(evidence_dir),
    )  # fmt: skip
    filtered = ShortcutReport.load(evidence_dir / "shortcuts.json")
    assert filtered.max_evidence_ratio == 2.0 and by_count.max_evidence_ratio == 0.0
    assert filtered.shortcut_words + filtered.evidence_filtered_words == by_count.shortcut_words
    assert (
        f"evidence filter (max evidence ratio 2): dropped {filtered.evidence_filtered_words} words"
    ) in " ".join(said.split())


def test_an_unknown_ranking_is_refused_before_training(tmp_path, tiny_config):
    out_dir = tmp_path / "never"
    result = runner.invoke(
        app,
        ["shortcuts", "--config", str(tiny_config), "--rank-by", "often", "--out", str(out_dir)],
    )
    assert result.exit_code == 2
    assert "'often' is not one of count, skew" in result.output
    assert not out_dir.exists()


@pytest.mark.slow
def test_shortcuts_of_a_trained_classifier_with_an_explainer(tmp_path, tiny_config):
    run_dir, out_dir = tmp_path / "classifier", tmp_path / "found"
    invoke("train", "--config", str(tiny_config), "--method", "full-text", "--out", str(run_dir))
    out = invoke(
        "shortcuts", "--model", str(run_dir), "--dataset", "synthetic", "--split", "validation",
        "--limit", "30", "--method", "occlusion", "--batch-size", "8", "--out", str(out_dir),
    )  # fmt: skip
    report = ShortcutReport.load(out_dir / "shortcuts.json")
    assert (report.annotated_examples, report.min_skew, report.rank_by) == (30, 0.0, "count")
    assert report.selected_words is not None and report.selected_words >= report.shortcut_words
    made_by = json.loads((out_dir / "shortcuts.json").read_text(encoding="utf-8"))
    config = made_by["effective_config"]
    assert (config["explainer"], config["split"], config["examples"]) == (
        "occlusion",
        "validation",
        30,
    )
    assert config["explainer_settings"]["rule"] == "top-k:3"
    assert config["explainer_settings"]["batch_size"] == 8
    assert made_by["provenance"]["code_digest"]
    assert "# Shortcut report" in (out_dir / "shortcuts.md").read_text(encoding="utf-8")
    scores = json.loads((out_dir / "shortcut-discovery-scores.json").read_text(encoding="utf-8"))
    assert f"in the top 20 {scores['phrase_recall_at_depth']:.2f}" in out
    assert "label-skew filter" not in out  # off unless --min-skew is given
    page = tmp_path / "report.html"
    invoke("report", str(out_dir / "shortcuts.json"), "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert '<section id="shortcuts">' in html and 'class="shortcut-report"' in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "runs/x", "--epochs", "3"), "--epochs is for discovery by an unsupervised"),
        (("--model", "runs/x", "--reuse", "runs/y"), "--reuse is for discovery by an unsupervised"),
        (("--method", "occlusion"), "--method is for --model"),
        (("--option", "n_steps=4"), "--option is for --model"),
        (("--label-map", "neg=NEG"), "--label-map is for --model"),
    ],
)
def test_options_of_the_other_discovery_are_refused(args, message):
    with pytest.raises(RationalizerError, match=message):
        runner.invoke(app, ["shortcuts", *args, "--out", "x"], catch_exceptions=False)
