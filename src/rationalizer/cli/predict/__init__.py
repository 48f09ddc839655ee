"""``rationalizer predict``: run a trained rationalizer on a split, write ERASER results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rationalizer.cli._common import (
    DataDirOption,
    DeviceOption,
    LabelMapOption,
    PrecisionOption,
    console,
    evaluate_hint,
    labels_matched,
    process_console,
)
from rationalizer.data import Dataset, load

if TYPE_CHECKING:
    from rationalizer.training.inference import Rationalizer


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
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    label_map: LabelMapOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Predict labels and rationales, with faithfulness scores, as an ERASER results file.

    Each record has the hard rationale (the words the predictor read), the selector's soft
    scores, class probabilities, the probabilities with the rationale removed
    (comprehensiveness) and with only the rationale kept (sufficiency), and the same at the
    AOPC thresholds — all computed by running the model on token ids. Score the file with
    `rationalizer evaluate`.

    Predictions are appended to OUT.part-0-of-1 as they are done and moved into OUT, in the
    split's order, at the end: rerun an interrupted command to continue where it stopped. A
    second command writing the same OUT meanwhile is refused (lock file OUT.lock).

    Example: [bold]rationalizer predict -r runs/ssr -s test -o preds.jsonl[/]

    On a dataset whose labels differ from the run's: [bold]rationalizer predict -r runs/ssr -d
    eraser:data/movies -o preds.jsonl --label-map neg=NEG,pos=POS[/]

    On N processes: [bold]torchrun --standalone --nproc-per-node N -m rationalizer predict -r
    runs/ssr -s test -o preds.jsonl[/]. Each process writes its share of the batches to
    OUT.part-RANK-of-N (rerun the command to resume an interrupted one); rank 0 then merges
    them into OUT, the file one process writes.
    """
    # Imported here: `--help` need not load torch.
    from rationalizer import distributed
    from rationalizer.training.inference import Rationalizer
    from rationalizer.training.precision import checked_precision

    with distributed.session(device) as context, distributed.output_lock(out):
        distributed.resolve_device(device)  # an error that names --device
        checked = None if precision is None else checked_precision(precision)
        model = Rationalizer.load(run, device=device, precision=checked)
        name = dataset or model.config.dataset
        data = labels_matched(
            load(name, split, data_dir or model.config.data_dir), model.labels, label_map
        )
        predict_resumable(model, data, batch_size, out)
    if not context.is_main:
        return
    console.print(
        f"wrote {len(data):,} predictions for {name}/{data.split} to {out}", soft_wrap=True
    )
    console.print(evaluate_hint(name, data.split, out, label_map), soft_wrap=True)


def predict_resumable(model: Rationalizer, data: Dataset, batch_size: int, out: Path) -> None:
    """This process's share of the prediction batches (all of them for one process) appended
    to its part file, skipping the examples an interrupted run already wrote there; rank 0
    merges the parts into ``out``. A batch is always predicted whole, so a resumed run computes
    each example exactly as an uninterrupted one."""
    from rationalizer import distributed

    part = distributed.part_path(out)
    done = distributed.written_ids(part)
    if done:
        process_console().print(f"resuming: {len(done):,} predictions already in {part}")
    batches = [
        batch
        for batch in distributed.shard(model.prediction_batches(data, batch_size))
        if any(data[i].id not in done for i in batch)
    ]
    with part.open("a", encoding="utf-8") as handle:
        for records in model.iter_dataset_records(data, batches):
            handle.writelines(r.to_json() + "\n" for r in records if r.annotation_id not in done)
            handle.flush()
    distributed.barrier("writing the part files")
    if distributed.is_main():
        distributed.merge_parts(out, [example.id for example in data])
