"""``rationalizer report``: writes the page, says where, refuses bad input naming the file."""

from __future__ import annotations

import pytest
from tests.report.sample_inputs import write_pseudo_results
from typer.testing import CliRunner

from rationalizer.cli import app
from rationalizer.data import load
from rationalizer.errors import DataFormatError

runner = CliRunner()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-cli")
    return write_pseudo_results(folder / "preds.jsonl", load("synthetic", "test"))


def test_report_writes_one_html_file_and_says_where(results, tmp_path):
    out = tmp_path / "site" / "report.html"
    args = [
        "report",
        str(results),
        "-d",
        "synthetic",
        "-s",
        "test",
        "-o",
        str(out),
        "-t",
        "Synthetic",
    ]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    html = out.read_text(encoding="utf-8")
    assert "<title>Synthetic</title>" in html and 'id="report-data"' in html


def test_a_bad_input_is_a_user_error_naming_the_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a report input\n")
    result = runner.invoke(app, ["report", str(notes), "-o", str(tmp_path / "r.html")])
    assert isinstance(result.exception, DataFormatError)
    assert str(notes) in str(result.exception)
    assert not (tmp_path / "r.html").exists()


def test_help_describes_the_inputs():
    result = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "explainer benchmark" in result.output and "--dataset" in result.output
