"""The ``rationalizer`` command line: one sub-package per subcommand."""

from __future__ import annotations

import sys

import typer

from rationalizer.allocator import keep_freed_memory
from rationalizer.cli._common import console_err, reflow_help
from rationalizer.cli.data import app as data_app
from rationalizer.cli.evaluate import evaluate_command
from rationalizer.cli.explain import explain_command
from rationalizer.cli.predict import predict_command
from rationalizer.cli.report import report_command
from rationalizer.cli.serve import serve_command
from rationalizer.cli.shortcuts import shortcuts_command
from rationalizer.cli.train import TrainCommand, train_command
from rationalizer.errors import RationalizerError

app = typer.Typer(
    name="rationalizer",
    help=(
        "Make text classifiers explain themselves faithfully.\n\n"
        "Train self-explaining classifiers whose predictor reads only the rationale (train, "
        "predict), find the shortcuts a model leans on (shortcuts), load datasets with human "
        "rationales (data), explain any classifier post hoc (explain), score any model's "
        "rationales with ERASER-compatible plausibility and faithfulness metrics (evaluate), "
        "and look at them in a standalone HTML report (report) or a local web app (serve)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
app.command("train", cls=TrainCommand)(train_command)
app.command("predict")(predict_command)
app.command("shortcuts")(shortcuts_command)
app.command("evaluate")(evaluate_command)
app.command("explain")(explain_command)
app.command("report")(report_command)
app.command("serve")(serve_command)
for _app in (app, data_app):
    reflow_help(_app)


def main() -> None:
    """Console-script entry point: user errors become one red line and exit status 2."""
    keep_freed_memory()  # every command that runs a model allocates the same buffers each batch
    try:
        app()
    except RationalizerError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
