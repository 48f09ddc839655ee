"""`rationalizer explain`: listing, one text, a whole split (resumable) and its user errors."""

from __future__ import annotations

import json

import pytest
from tests.cli.cli_helpers import invoke, runner

from rationalizer.cli import app
from rationalizer.data import read_results
from rationalizer.errors import RationalizerError
from rationalizer.explain import list_explainers

TEXT = "a gripping and beautifully acted film , though the ending drags"


def test_list_shows_every_method_with_its_needs():
    out = invoke("explain", "--list")
    for name, cls in list_explainers().items():
        assert name in out
        assert cls.requires in out


def test_one_text_is_printed_with_its_rationale_and_top_words(movies_run):
    out = invoke(
        "explain", "-m", str(movies_run), "-x", "occlusion", "-t", TEXT, "--rationale", "top-k:2"
    )
    assert "occlusion explains" in out
    assert TEXT.split()[0] in out and "top 10 words" in out


def test_json_output_has_one_score_per_word_and_the_chosen_settings(movies_run):
    out = invoke(
        "explain", "-m", str(movies_run), "-x", "integrated-gradients", "-t", TEXT,
        "--option", "n_steps=8", "--rationale", "top-k:3", "--target", "NEG", "--json",
    )  # fmt: skip
    explanation = json.loads(out)
    assert explanation["words"] == TEXT.split()
    assert len(explanation["scores"]) == len(TEXT.split())
    assert explanation["target"] == "NEG"
    assert explanation["settings"]["n_steps"] == 8
    assert explanation["settings"]["rule"] == "top-k:3"
    assert sum(end - start for start, end in explanation["rationale"]) <= 3


def test_a_split_is_written_as_results_and_resumed(hatexplain_classifier_dir, tmp_path):
    out = tmp_path / "occlusion.jsonl"
    model = f"hf:{hatexplain_classifier_dir}"
    args = ["explain", "-m", model, "-x", "occlusion", "-d", "hatexplain", "-o", str(out)]
    first = invoke(*args, "--limit", "3")
    assert "3 explanations of hatexplain/test by occlusion" in first
    records = read_results(out)
    assert len(records) == 3
    assert all(r.comprehensiveness_classification_scores is not None for r in records)
    invoke(*args, "--limit", "5")
    again = read_results(out)
    assert [r.annotation_id for r in again[:3]] == [r.annotation_id for r in records]
    assert again[:3] == records  # the first three were kept, not recomputed
    assert len(again) == 5
    invoke(*args, "--limit", "2", "--no-resume")
    assert len(read_results(out)) == 2


def test_batch_size_sets_the_explainers_batch_size(movies_run):
    out = invoke(
        "explain", "-m", str(movies_run), "-x", "occlusion", "-t", TEXT, "--batch-size", "3",
        "--json",
    )  # fmt: skip
    assert json.loads(out)["settings"]["batch_size"] == 3


def test_help_teaches_the_batch_size():
    out = invoke("explain", "--help")
    assert "--batch-size" in out and "forward pass" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--model"),
        (["-m", "RUN"], "either --text or --dataset"),
        (["-m", "RUN", "-t", "x", "-d", "movies"], "either --text or --dataset"),
        (["-m", "RUN", "-t", "x", "--masking", "pad"], "--masking is for Hugging Face"),
        (["-m", "RUN", "-t", "x", "--option", "steps"], "KEY=VALUE"),
        (["-m", "RUN", "-t", "x", "-x", "nope"], "unknown explainer 'nope'"),
        (["-m", "RUN", "-t", "x", "-x", "lime", "--option", "colour=1"], "lime: colour"),
        (["-m", "RUN", "-t", "x", "--rationale", "best:2"], "unknown rationale rule"),
        (["-m", "RUN", "-d", "movies"], "--out"),
        (["-m", "RUN", "-t", "x", "-o", "f.jsonl"], "--out is for --dataset"),
        (
            ["-m", "RUN", "-t", "x", "--batch-size", "2", "--option", "batch_size=4"],
            "batch size once",
        ),
    ],
)
def test_user_errors_say_what_to_do(args, message, movies_run):
    args = [str(movies_run) if a == "RUN" else a for a in args]
    with pytest.raises(RationalizerError, match=message):
        runner.invoke(app, ["explain", *args], catch_exceptions=False)
