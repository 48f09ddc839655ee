"""The training commands: train → predict → evaluate, the method list, and their user errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main
from tests.cli.cli_helpers import invoke

from rationalizer.cli import app
from rationalizer.data import load, read_results
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.methods import available_methods


@pytest.mark.slow
def test_train_predict_evaluate_round_trip(tmp_path, tiny_config):
    run = tmp_path / "run"
    # flags override the file: method fr instead of semi, two epochs instead of one
    out = invoke(
        "train", "--config", str(tiny_config), "--method", "fr", "--epochs", "2", "--seed", "3",
        "--out", str(run),
    )  # fmt: skip
    assert "best epoch" in out and f"run saved in {run}" in out
    settings = load_checkpoint(run).train_config
    assert (settings.method, settings.epochs, settings.seed) == ("fr", 2, 3)
    assert (settings.max_train_examples, settings.max_length) == (48, 64)  # from the file
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]

    predictions = tmp_path / "validation.jsonl"
    out = invoke("predict", "--run", str(run), "--split", "validation", "--out", str(predictions))
    validation = load("synthetic", "validation")
    assert f"wrote {len(validation)} predictions for synthetic/validation" in out
    records = read_results(predictions, validation)  # every record checked against the split
    assert len(records) == len(validation)

    scores_path = tmp_path / "scores.json"
    invoke(
        "evaluate", "-d", "synthetic", "-s", "validation", "-p", str(predictions),
        "--json", str(scores_path),
    )  # fmt: skip
    scores = json.loads(scores_path.read_text(encoding="utf-8"))
    assert 0.0 <= scores["token_prf"]["instance_micro"]["f1"] <= 1.0
    classification = scores["classification_scores"]
    for key in ("accuracy", "comprehensiveness", "sufficiency", "comprehensiveness_aopc"):
        assert classification[key] is not None, key


@pytest.mark.slow
def test_selection_and_shortcut_flags_reach_the_run(tmp_path, tiny_config):
    run = tmp_path / "topk"
    invoke("train", "--config", str(tiny_config), "-m", "fr", "--selection", "topk", "-o", str(run))
    checkpoint = load_checkpoint(run)
    assert checkpoint.train_config.selection == "topk"
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert checkpoint.model_config["selection"] == "topk"
    assert checkpoint.model_config["selection_rate"] == summary["selection_rate_target"]

    strict = ["--config", str(tiny_config), "-m", "ssr-unif", "--shortcut-min-skew", "50"]
    result = run_cli("train", *strict, "--out", str(tmp_path / "strict"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "shortcut discovery found no shortcut word" in result.stderr
    assert "lower shortcut_min_skew" in result.stderr
    assert not (tmp_path / "strict" / "summary.json").exists()
    allowed = tmp_path / "allowed"
    out = invoke(
        "train", *strict, "--allow-no-shortcuts", "--shortcut-max-evidence-ratio", "2",
        "--out", str(allowed),
    )  # fmt: skip
    # `semi` is FR with supervision, whose shared encoder SSR keeps: not semi-supervised RNP
    assert "trains like `semi` (semi-supervised FR)" in " ".join(out.split())
    assert "RNP" not in out
    settings = load_checkpoint(allowed).train_config
    assert (settings.shortcut_min_skew, settings.allow_no_shortcuts) == (50.0, True)
    assert settings.shortcut_max_evidence_ratio == 2.0


@pytest.mark.slow
def test_model_flags_reach_the_run(tmp_path, tiny_config):
    run = tmp_path / "model-flags"
    invoke(
        "train", "--config", str(tiny_config), "-m", "fr", "--max-length", "32",
        "--fixed-embeddings", "--no-query-attention", "--precision", "bf16", "--device", "cpu",
        "-o", str(run),
    )  # fmt: skip
    checkpoint = load_checkpoint(run)
    settings = checkpoint.train_config
    assert (settings.max_length, settings.train_embeddings, settings.query_attention) == (
        32,
        False,
        False,
    )
    assert (settings.precision, settings.device) == ("bf16", "cpu")
    assert checkpoint.model_config["freeze_embeddings"] is True
    assert checkpoint.model_config["query_attention"] is False


def test_list_methods_needs_no_run_directory():
    out = invoke("train", "--list-methods")
    for name, description in available_methods().items():
        assert name in out
        assert description.split()[0] in out


def test_train_help_states_each_default_as_the_configuration_has_it(capsys):
    command = typer.main.get_command(app).commands["train"]
    command.get_help(command.make_context("train", ["--help"], resilient_parsing=True))
    # the method list fills its placeholder, however the help wraps it inside its panel
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert " | ".join(available_methods()) in text
    checked = []
    for option in command.params:
        assert "{" not in (option.help or ""), option.name  # every placeholder filled in
        field = TrainConfig.model_fields.get(option.name)
        if field is None or field.default is None or (option.is_flag and not option.secondary_opts):
            continue  # not a setting, no fixed default, or a flag that is off unless given
        stated = option.help.rpartition("Default: ")[2].removesuffix(".")
        if option.secondary_opts:
            assert stated == (option.opts[0] if field.default else option.secondary_opts[0])
        else:
            assert type(field.default)(stated) == field.default, option.name
        checked.append(option.name)
    assert {"labeled_fraction", "epochs", "batch_size", "shortcut_min_skew"} <= set(checked)


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rationalizer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--method", "lasso", "--out", "run"],
            "invalid setting 'method': 'lasso' is not a training method; choose one of: rnp: ",
        ),
        (
            ["train", "--labeled-fraction", "1.5", "--out", "run"],
            "invalid setting 'labeled_fraction': Input should be less than or equal to 1",
        ),
        (
            ["train", "--config", "tiny.toml", "--encoder", "no-such-model", "--out", "run"],
            "model folder no-such-model does not exist",
        ),
        (
            ["predict", "--run", "corrupt", "--out", "predictions.jsonl"],
            "corrupt/config.json, line 1: not valid JSON",
        ),
        (
            ["train", "--selection", "best", "--out", "run"],
            "invalid setting 'selection': Input should be 'threshold' or 'topk'",
        ),
        (
            ["train", "--config", "tiny.toml", "--word-vectors", "vectors.txt", "--out", "run"],
            "vectors.txt, line 2, field 'value 2 of 'film'': not a number: 'x'",
        ),
    ],
    ids=[
        "unknown-method",
        "fraction-above-1",
        "unknown-encoder-folder",
        "corrupt-checkpoint",
        "unknown-selection",
        "malformed-word-vectors",
    ],
)
def test_bad_inputs_are_one_clear_line_and_exit_code_2(tmp_path, tiny_config, args, message):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text('{"format": "rationalizer.run", "labels": [', "utf-8")
    (tmp_path / "vectors.txt").write_text("the 1 2\nfilm 1 x\n", "utf-8")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
