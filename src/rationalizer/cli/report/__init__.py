"""``rationalizer report``: one self-contained HTML page of runs, results and shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import DataDirOption, console


def report_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, results jsonl files, shortcut reports (shortcuts.json) and "
            "explainer benchmark outputs (explainers.json), in any mix.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", help="Dataset the results files are for (default: the run's own)."
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", "-s", help="Split the results files are for.")
    ] = "test",
    title: Annotated[str | None, typer.Option("--title", "-t", help="Page title.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write one HTML file that shows everything about a model's rationales, with no network.

    The kind of each input is recognised from its content. Results files are scored against
    the dataset split (every ERASER metric, in tables, with a precision–recall curve of the
    soft scores) and shown in an example browser: predicted, gold and shortcut words
    highlighted, with filters, search and paging. Run directories add training curves and
    their shortcut report; several results files add a selection rate vs token F1 plot; an
    explainer benchmark adds a comparison of the explainers.

    Example: [bold]rationalizer report runs/ssr preds.jsonl -o report.html[/]
    """
    from rationalizer.report import load_inputs, write_report  # here: `--help` stays fast

    loaded = load_inputs(inputs, dataset=dataset, split=split, data_dir=data_dir)
    path = write_report(loaded, out, title=title)
    size = path.stat().st_size / 1e6
    console.print(f"wrote {path} ({size:.1f} MB)", soft_wrap=True)
