"""Running the command line in-process, shared by the CLI tests."""

from __future__ import annotations

from typer.testing import CliRunner

from rationalizer.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    """Run ``rationalizer ARGS`` (wide terminal), check it succeeded, return its output."""
    result = runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output
