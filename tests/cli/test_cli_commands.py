"""The command line: data list / stats and evaluate, including their error messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.cli.cli_helpers import invoke

from rationalizer.data import load, write_results
from rationalizer.data.results import DocumentRationale, ResultRecord, TokenSpan
from rationalizer.files import read_json


def test_data_list_shows_every_dataset_and_presence(tmp_path):
    (tmp_path / "fever-eraser").mkdir()  # placed by hand: present, not downloaded
    out = invoke("data", "list", "--data-dir", str(tmp_path))
    for name in ("movies", "hatexplain", "fever", "synthetic", "eraser:PATH", "jsonl:PATH"):
        assert name in out
    assert "present" in out and "built in" in out and "missing" in out


@pytest.mark.parametrize("name", ["movies", "hatexplain", "fever", "synthetic"])
def test_data_stats_every_dataset(name, tmp_path):
    out_json = tmp_path / "stats.json"
    out = invoke("data", "stats", name, "--max-length", "128", "--json", str(out_json))
    stats = read_json(out_json, "data-stats")["splits"]
    assert [s["split"] for s in stats] == ["train", "validation", "test"]
    assert all(s["dataset"] == name and s["examples"] > 0 for s in stats)
    assert "truncated" in out and all(s["truncation"]["max_length"] == 128 for s in stats)


def test_evaluate_prints_and_writes_eraser_keys(tmp_path):
    test = load("hatexplain", "test")
    records = []
    for ex in test:
        gold = ex.rationale_spans()
        records.append(
            ResultRecord(
                annotation_id=ex.id,
                rationales=(
                    DocumentRationale(
                        ex.document.docid, tuple(TokenSpan(s.start, s.end) for s in gold)
                    ),
                ),
                classification=ex.label,
                classification_scores={ex.label: 1.0},
            )
        )
    preds = tmp_path / "gold.jsonl"
    write_results(preds, records)
    scores_path = tmp_path / "scores.json"
    out = invoke(
        "evaluate", "-d", "hatexplain", "-s", "test", "-p", str(preds), "--json", str(scores_path)
    )
    scores = read_json(scores_path, "evaluation")
    # the gold rationale and gold labels score perfectly on every measure that applies
    assert scores["token_prf"]["instance_micro"]["f1"] == 1.0
    assert scores["annotated_only"]["token_prf"]["instance_macro"]["f1"] == 1.0
    assert scores["iou_scores"][0]["micro"]["f1"] == 1.0
    assert scores["classification_scores"]["accuracy"] == 1.0
    assert "Token F1" in out or "token" in out.lower()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rationalizer", *args], capture_output=True, text=True, timeout=120
    )


def test_user_errors_are_one_clear_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"annotation_id": "x"\n')
    result = run_cli("evaluate", "-d", "synthetic", "-s", "test", "-p", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}, line 1" in result.stderr and "not valid JSON" in result.stderr

    unknown = run_cli("data", "stats", "imdb")
    assert unknown.returncode == 2 and "unknown dataset 'imdb'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_missing_dataset_says_where_it_looked(tmp_path):
    result = run_cli("data", "stats", "movies", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path / "movies-eraser") in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr
