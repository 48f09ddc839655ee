"""``rationalizer predict``: run a trained rationalizer on a split, write ERASER results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import DataDirOption, console
from rationalizer.data import load, write_results


def predict_command(
    run: Annotated[
        Path, typer.Option("--run", "-r", help="Run directory made by `rationalizer train`.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results jsonl to write.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Dataset (default: the run's own).")
    ] = None,
    split: Annotated[
        str, typer.Option("--split", "-s", help="train, validation or test.")
    ] = "test",
    batch_size: Annotated[int, typer.Option(help="Examples per forward pass.")] = 32,
    data_dir: DataDirOption = None,
) -> None:
    """Predict labels and rationales, with faithfulness scores, as an ERASER results file.

    Each record has the hard rationale (the words the predictor read), the selector's soft
    scores, class probabilities, the probabilities with the rationale removed
    (comprehensiveness) and with only the rationale kept (sufficiency), and the same at the
    AOPC thresholds — all computed by running the model on token ids. Score the file with
    `rationalizer evaluate`.

    Example: [bold]rationalizer predict -r runs/ssr -s test -o preds.jsonl[/]
    """
    from rationalizer.training.api import Rationalizer  # here: `--help` need not load torch

    model = Rationalizer.load(run)
    name = dataset or model.config.dataset
    data = load(name, split, data_dir or model.config.data_dir)
    records = model.predict_dataset(data, batch_size=batch_size)
    write_results(out, records)
    console.print(
        f"wrote {len(records):,} predictions for {name}/{data.split} to {out}", soft_wrap=True
    )
    console.print(
        f"score them with: rationalizer evaluate -d {name} -s {data.split} -p {out}", soft_wrap=True
    )
