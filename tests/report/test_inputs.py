"""Report inputs: recognised by content, read completely, bad ones refused naming the file."""

from __future__ import annotations

import json
import shutil

import pytest
from tests.report.sample_inputs import BENCHMARK

from rationalizer.errors import DataFormatError
from rationalizer.report import detect_input, load_inputs


def test_every_kind_is_recognised_by_content_not_name(
    ssr_run, results_file, planted_shortcuts_file, benchmark_file, tmp_path
):
    renamed = {}
    for name, source in {
        "results.txt": results_file,
        "report.data": planted_shortcuts_file,
        "scores.json": benchmark_file,
    }.items():
        renamed[name] = shutil.copy(source, tmp_path / name)
    assert detect_input(ssr_run) == "run"
    assert detect_input(renamed["results.txt"]) == "results"
    assert detect_input(renamed["report.data"]) == "shortcuts"
    assert detect_input(renamed["scores.json"]) == "benchmark"


def test_a_results_file_of_one_record_is_results(results_file, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(results_file.read_text().splitlines()[0] + "\n")
    assert detect_input(one) == "results"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "file is empty"),
        ("just some words\n", "not a report input"),
        ("[1, 2, 3]\n", "not a report input"),
        ('{"format": "something-else"}\n', "not a report input"),
        ('{"id": 1}\n{"id": 2}\n', "not a report input"),
    ],
)
def test_an_unknown_file_is_refused_naming_it_and_the_expected_kinds(tmp_path, content, reason):
    path = tmp_path / "input.json"
    path.write_text(content)
    with pytest.raises(DataFormatError) as error:
        detect_input(path)
    message = str(error.value)
    assert str(path) in message and reason in message
    assert "run directory" in message and "results jsonl" in message


def test_a_missing_path_or_plain_directory_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="no such file or directory") as error:
        detect_input(tmp_path / "nowhere.jsonl")
    assert "nowhere.jsonl" in str(error.value)
    with pytest.raises(DataFormatError, match="run directory of `rationalizer train`"):
        detect_input(tmp_path)


def test_a_run_directory_is_read_with_epochs_summary_and_shortcuts(ssr_run):
    inputs = load_inputs([ssr_run])
    [run] = inputs.runs
    logged = [json.loads(line) for line in (ssr_run / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((ssr_run / "summary.json").read_text())
    assert [e.epoch for e in run.epochs] == [line["epoch"] for line in logged]
    assert run.epochs[-1].validation == logged[-1]["validation"]
    assert run.summary["best_epoch"] == summary["best_epoch"]
    assert run.dataset == "synthetic" and run.labels == ("neg", "pos")
    # the run's own shortcut report comes along, once even when also given by path
    assert [s.name for s in inputs.shortcuts] == [f"{ssr_run.name}/shortcuts.json"]
    again = load_inputs([ssr_run, ssr_run / "shortcuts.json"])
    assert len(again.shortcuts) == 1


def test_a_corrupt_epoch_line_names_file_and_line(ssr_run, tmp_path):
    run = shutil.copytree(ssr_run, tmp_path / "run", ignore=shutil.ignore_patterns("*.safetensors"))
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"epoch": "three"}\n')
    lines = len((run / "metrics.jsonl").read_text().splitlines())
    with pytest.raises(DataFormatError) as error:
        load_inputs([run])
    assert error.value.path == str(run / "metrics.jsonl") and error.value.line == lines


def test_results_are_scored_against_the_runs_dataset_by_default(ssr_run, results_file):
    inputs = load_inputs([ssr_run, results_file])
    [results] = inputs.results
    assert (results.dataset.name, results.dataset.split) == ("synthetic", "test")
    assert len(results.records) == len(results.dataset)


def test_results_without_a_dataset_ask_for_one(results_file):
    with pytest.raises(DataFormatError, match="--dataset") as error:
        load_inputs([results_file])
    assert str(results_file) in str(error.value)


def test_results_that_do_not_fit_the_dataset_name_file_line_and_field(results_file, tmp_path):
    lines = results_file.read_text().splitlines()
    record = json.loads(lines[2])
    record["annotation_id"] = "no-such-review"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]) + "\n")
    with pytest.raises(DataFormatError) as error:
        load_inputs([bad], dataset="synthetic", split="test")
    assert (error.value.path, error.value.line, error.value.field) == (
        str(bad),
        3,
        "annotation_id",
    )


def test_a_benchmark_without_methods_names_the_field(tmp_path):
    broken = json.loads(json.dumps(BENCHMARK))
    del broken["models"]["movies-bigru"]["methods"]
    path = tmp_path / "explainers.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(DataFormatError) as error:
        load_inputs([path])
    assert error.value.path == str(path) and error.value.field == "models.movies-bigru.methods"


def test_a_benchmark_keeps_fields_the_report_does_not_know(benchmark_file):
    [item] = load_inputs([benchmark_file]).benchmarks
    gradient = item.benchmark.models["movies-bigru"].methods["gradient"]
    assert gradient.token_f1 == 0.21 and gradient.model_extra == {"deletions": 17}
