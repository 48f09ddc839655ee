"""Does training run on a GPU, and how fast? A transformer cell and a BiGRU cell, timed.

Two semi-supervised rationalizers (``method = "semi"``, a quarter of the human rationales), as
Table 1 trains them but on a short budget: MiniLM (``encoder = "minilm"``, fine-tuned) on
HateXplain, Table 1's transformer cell, and the BiGRU over GloVe on ERASER's movie reviews.
Each is trained from scratch, then predicts its test split; the script prints and records
training and prediction throughput (examples per second, wall time included) and the test
accuracy and rationale token F1 (HateXplain: over its toxic, annotated posts). The results go
to ``benchmarks/results/gpu_check.{json,md}`` with the commit, the machine and the device.

The same code runs on any device; ``--quick`` shrinks every size so that a CPU checks the script
in seconds (the test suite does). Usage (from the repository root)::

    python -m benchmarks.gpu_check                          # cuda, the default budget
    python -m benchmarks.gpu_check --device cpu --quick     # a few examples, any machine
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmarks.common import RESULTS_DIR, command_line, module_command
from rationalizer._environment import benchmark_provenance, code_text, machine_info
from rationalizer.data import load
from rationalizer.distributed import resolve_device
from rationalizer.files import read_json
from rationalizer.metrics import evaluate, flatten
from rationalizer.training.config import TrainConfig
from rationalizer.training.inference import Rationalizer
from rationalizer.training.run import train_run
from rationalizer.training.trainer import SUMMARY_FILE

NAME = "gpu_check"

#: The two cells: Table 1's settings (method semi, a quarter of the rationales, model selection
#: on validation accuracy) with a short budget of epochs and training examples.
CELLS: dict[str, dict[str, Any]] = {
    "minilm-hatexplain": {"dataset": "hatexplain", "encoder": "minilm", "epochs": 2},
    "gru-movies": {"dataset": "movies", "encoder": "gru", "epochs": 2},
}
COMMON: dict[str, Any] = {"method": "semi", "labeled_fraction": 0.25, "select_by": "accuracy"}
#: The default budget: at most this many training examples per cell (None: all of them).
BUDGET: dict[str, int | None] = {"minilm-hatexplain": 4000, "gru-movies": None}
#: --quick: a handful of short examples, a tiny BiGRU and part of the test split.
QUICK: dict[str, Any] = {"max_train_examples": 16, "max_length": 64, "hidden_size": 16}
QUICK_TEST_EXAMPLES = 24


def cell_config(name: str, args: argparse.Namespace) -> TrainConfig:
    """The settings of one cell for the command line's device, precision and size."""
    settings = COMMON | CELLS[name] | {"device": args.device, "seed": args.seed}
    settings["max_train_examples"] = BUDGET[name]
    if args.precision:
        settings["precision"] = args.precision
    if args.batch_size:
        settings["batch_size"] = args.batch_size
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.quick:
        settings |= QUICK | {"epochs": 1}
    return TrainConfig(**settings)


def test_metric(report: dict[str, float], key: str) -> float | None:
    """``key`` of the flattened report, over the annotated examples where the split has both."""
    return report.get(f"annotated_only.{key}", report.get(key))


def run_cell(name: str, config: TrainConfig, work: Path, test_limit: int | None) -> dict:
    """Train the cell from scratch, predict its test split and measure both."""
    run_dir = work / name
    console = Console(stderr=True)
    started = time.perf_counter()
    result = train_run(config, run_dir, console=console)
    train_wall = time.perf_counter() - started
    test = load(config.dataset, "test", config.data_dir)
    if test_limit is not None:
        test = replace(test, examples=test.examples[:test_limit])
    model = Rationalizer.load(run_dir, device=config.device)
    synchronize(config.device)
    started = time.perf_counter()
    predictions = model.predict_dataset(test, batch_size=config.batch_size)
    synchronize(config.device)
    test_seconds = time.perf_counter() - started
    report = flatten(evaluate(test, predictions))
    summary = read_json(run_dir / SUMMARY_FILE, "summary")
    return {
        "cell": name,
        "dataset": config.dataset,
        "encoder": config.encoder,
        "method": config.method,
        "effective_config": summary["effective_config"],
        "train": {
            "examples": summary["training_examples"],
            "epochs_run": result.epochs_run,
            "examples_per_second": result.examples_per_second,
            "loop_seconds": result.seconds,
            "wall_seconds": train_wall,
            "truncation": summary["truncation"],
        },
        "test": {
            "examples": len(test),
            "seconds": test_seconds,
            "examples_per_second": len(test) / test_seconds if test_seconds > 0 else None,
            "accuracy": test_metric(report, "classification_scores.accuracy"),
            "token_f1": test_metric(report, "token_prf.instance_micro.f1"),
        },
    }


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so that a timing covers it (nothing to wait for on a CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def device_info(device: str) -> dict[str, Any]:
    """What the device is: a GPU's name, memory and CUDA version; a CPU's threads."""
    info: dict[str, Any] = {"device": device, "torch_threads": torch.get_num_threads()}
    if torch.device(device).type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info |= {
            "name": properties.name,
            "memory_gib": round(properties.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
            "bf16": torch.cuda.is_bf16_supported(),
        }
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--device", default="cuda", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--epochs", type=int, help="epochs of every cell (default: 2)")
    parser.add_argument("--batch-size", type=int, help="examples per step (default: 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated cell names")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    resolve_device(args.device)  # an absent GPU fails here, before any data is loaded
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [name.strip() for name in args.cells.split(",") if name.strip()]
    unknown = sorted(set(names) - set(CELLS))
    if unknown:
        parser.error(f"unknown cells {unknown}; known: {', '.join(CELLS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        for name in names:
            test_limit = QUICK_TEST_EXAMPLES if args.quick else None
            row = run_cell(name, cell_config(name, args), Path(work), test_limit)
            print(line(row), flush=True)
            rows.append(row)
    record = {
        "rows": rows,
        "quick": args.quick,
        "device": device_info(args.device),
        "machine": machine_info(),
        "provenance": benchmark_provenance(Path(__file__)),
        "command": command_line(__file__, argv),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{NAME}.json").write_text(
        json.dumps(record, indent=2) + "\n", encoding="utf-8"
    )
    (args.results_dir / f"{NAME}.md").write_text(render(record), encoding="utf-8")
    return 0


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def line(row: dict) -> str:
    """One cell as a printed line."""
    train, test = row["train"], row["test"]
    return (
        f"{row['cell']}: train {train['examples_per_second']:.1f} examples/s "
        f"({train['examples']} examples × {train['epochs_run']} epochs, "
        f"{train['wall_seconds']:.0f} s wall), test {_number(test['examples_per_second'], 1)} "
        f"examples/s, accuracy {_number(test['accuracy'], 3)}, "
        f"token F1 {_number(test['token_f1'], 3)} ({test['examples']} test examples)"
    )


def render(record: dict) -> str:
    device, machine = record["device"], record["machine"]
    what = device.get("name", device["device"])
    if "memory_gib" in device:
        what += f", {device['memory_gib']} GiB, CUDA {device['cuda']}"
    quick = " (--quick sizes: checks the script, measures nothing)" if record["quick"] else ""
    lines = [
        "# GPU check: a transformer cell and a BiGRU cell, trained and timed",
        "",
        f"Command: `{record['command']}` ({record['finished']}). Code: "
        f"{code_text(record['provenance'])}.",
        "",
        f"Device: {what}. Machine: {machine['platform']}, {machine['usable_cpus']} usable CPUs, "
        f"torch {machine['torch']}{quick}.",
        "",
        "Method `semi` (a quarter of the human rationales), trained from scratch. Train "
        "examples/s counts the training loop of every epoch, validation excluded; the wall time "
        "includes data loading, encoding and validation. Test: predicting the test split "
        "(probabilities, rationale, faithfulness scores). HateXplain's token F1 is over its "
        "toxic posts, the annotated ones.",
        "",
        "| cell | precision | train examples | epochs | train ex/s | train wall s | "
        "test ex/s | test accuracy | test token F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        train, test = row["train"], row["test"]
        lines.append(
            f"| {row['cell']} | {row['effective_config']['precision']} | {train['examples']} | "
            f"{train['epochs_run']} | {train['examples_per_second']:.1f} | "
            f"{train['wall_seconds']:.0f} | {_number(test['examples_per_second'], 1)} | "
            f"{_number(test['accuracy'], 3)} | {_number(test['token_f1'], 3)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
