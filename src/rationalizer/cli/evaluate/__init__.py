"""``rationalizer evaluate``: score an ERASER results file against a dataset split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rationalizer.cli._common import DataDirOption, LabelMapOption, console, labels_matched
from rationalizer.data import load
from rationalizer.data.labels import result_labels
from rationalizer.data.results import iter_results, validate_results
from rationalizer.files import write_json
from rationalizer.metrics import describe, evaluate, flatten

DEFAULT_AOPC = "0.01,0.05,0.1,0.2,0.5"


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated numbers, got {text!r}", param_hint=option
        ) from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise typer.BadParameter(f"expected numbers in [0, 1], got {text!r}", param_hint=option)
    return values


def evaluate_command(
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Dataset the predictions are for.")
    ],
    predictions: Annotated[
        Path,
        typer.Option("--predictions", "-p", help="ERASER results jsonl (one record per example)."),
    ],
    split: Annotated[
        str, typer.Option("--split", "-s", help="train, validation (val) or test.")
    ] = "test",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every score as JSON (ERASER key names).")
    ] = None,
    iou_thresholds: Annotated[
        str, typer.Option(help="Comma-separated IOU thresholds for partial span matches.")
    ] = "0.5",
    aopc_thresholds: Annotated[
        str, typer.Option(help="Comma-separated token fractions for AOPC, as in the results file.")
    ] = DEFAULT_AOPC,
    subset: Annotated[
        bool,
        typer.Option(
            "--subset/--no-subset",
            help="Score only the examples present in the file (ERASER requires all of the split).",
        ),
    ] = False,
    label_map: LabelMapOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Score predicted rationales and classifications exactly as the ERASER benchmark does.

    Prints every metric the file's contents allow: token and span precision/recall/F1 and
    IOU F1 (hard rationales), AUPRC / average precision / ROC AUC (soft scores), accuracy and
    F1 (classifications), comprehensiveness, sufficiency and AOPC (faithfulness).

    Example: [bold]rationalizer evaluate -d hatexplain -s test -p preds.jsonl --json scores.json[/]

    Predictions in other labels than the dataset's: [bold]rationalizer evaluate -d movies -p
    preds.jsonl --label-map neg=NEG,pos=POS[/]
    """
    # checked against the split once its labels are the file's
    numbered = list(iter_results(predictions))
    records = [record for _, record in numbered]
    split_data = labels_matched(
        load(dataset, split, data_dir), result_labels(records), label_map, of="the results"
    )
    validate_results(numbered, split_data, path=predictions)
    report = evaluate(
        split_data,
        records,
        iou_thresholds=_floats(iou_thresholds, "--iou-thresholds"),
        aopc_thresholds=_floats(aopc_thresholds, "--aopc-thresholds"),
        subset=subset,
        check=False,  # validate_results above checked every record, with line numbers
    )
    console.print(
        _report_table(f"{dataset}/{split_data.split}: {len(records):,} predictions", report)
    )
    if json_out is not None:
        write_json(json_out, "evaluation", report)
        console.print(f"wrote {json_out}", soft_wrap=True)


def _report_table(title: str, report: dict) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("key", style="dim")
    table.add_column("value", justify="right")
    table.add_column("range", justify="center")
    table.add_column("better", justify="center")
    for key, value in flatten(report).items():
        info = describe(key)
        better = "↑" if info.higher_is_better else ("↓" if info.higher_is_better is False else "")
        table.add_row(info.name, key, f"{value:.4f}", f"[{info.lower:g}, {info.upper:g}]", better)
    return table
