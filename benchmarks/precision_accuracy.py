"""Does bfloat16 autocast cost accuracy? The same MiniLM run trained in fp32 and in bf16.

``benchmarks/precision.py`` shows that bf16 autocast makes a MiniLM training step about twice as
fast on a CPU with bfloat16 units; ``precision = "auto"`` makes it the default for transformers
only if the models it trains are as accurate. This script trains one seeded MiniLM run per
precision with everything else equal (HateXplain, a seeded subset of the training posts) and
compares their **validation** scores and wall time. The test split is not read.

Usage (from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets)::

    python -m benchmarks.precision_accuracy --threads 1
    python -m benchmarks.precision_accuracy --method semi --train-examples 1000 --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
from rich.console import Console

from benchmarks.common import RESULTS_DIR, module_command

# The sibling benchmark whose speed numbers this one completes; it states its runs alike.
from benchmarks.precision import header_lines, run_facts
from rationalizer.files import read_json
from rationalizer.training.config import TrainConfig
from rationalizer.training.run import train_run
from rationalizer.training.trainer import SUMMARY_FILE

RESULTS_JSON = RESULTS_DIR / "precision_accuracy.json"
RESULTS_MD = RESULTS_DIR / "precision_accuracy.md"
PRECISIONS = ("fp32", "bf16")
#: Validation scores compared (summary.json, best epoch).
SCORES = ("accuracy", "macro_f1", "token_f1", "selection_rate")


def run_config(args: argparse.Namespace, precision: str, seed: int) -> TrainConfig:
    return TrainConfig(
        dataset=args.dataset,
        method=args.method,
        encoder="minilm",
        precision=precision,
        epochs=args.epochs,
        max_train_examples=args.train_examples,
        labeled_fraction=0.25,
        select_by="accuracy",
        seed=seed,
    )


def train_and_score(config: TrainConfig, console: Console) -> dict:
    """Train one run in a temporary folder; its validation scores and wall time."""
    with TemporaryDirectory() as folder:
        started = time.perf_counter()
        train_run(config, Path(folder) / "run", console)
        seconds = time.perf_counter() - started
        summary = read_json(Path(folder) / "run" / SUMMARY_FILE, "summary")
    validation = summary["validation"]
    return {
        "precision": config.precision,
        "seed": config.seed,
        "validation": {name: validation[name] for name in SCORES if name in validation},
        "train_examples_per_second": summary["examples_per_second"],
        "wall_seconds": seconds,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", default="hatexplain")
    parser.add_argument(
        "--method", default="full-text", help="training method (default: full-text)"
    )
    parser.add_argument("--train-examples", type=int, default=2000, help="seeded training subset")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", default="0", help="comma-separated (default: 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    # Precisions alternate within each seed, so a change in the machine's load falls on both.
    rows = [
        train_and_score(run_config(args, precision, seed), console)
        for seed in seeds
        for precision in PRECISIONS
    ]
    record = {
        "rows": rows,
        "settings": {
            key: getattr(args, key) for key in ("dataset", "method", "train_examples", "epochs")
        },
    } | run_facts(Path(__file__), argv, args.threads)
    RESULTS_JSON.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    RESULTS_MD.write_text(render(record), encoding="utf-8")
    return 0


def render(record: dict) -> str:
    s = record["settings"]
    lines = [
        *header_lines("bfloat16 autocast against float32: accuracy of the trained model", record),
        "The machine may have been shared with other jobs: compare the wall times of one run "
        "with each other, not across runs.",
        "",
        f"MiniLM, `{s['method']}` on {s['dataset']}: a seeded subset of {s['train_examples']} "
        f"training examples, {s['epochs']} epoch(s), every other setting the package default; "
        "scores on the **validation** split (summary.json, best epoch).",
        "",
        "| seed | precision | " + " | ".join(f"val {name}" for name in SCORES) + " | train ex/s "
        "| wall s |",
        "|---|---|" + "---|" * (len(SCORES) + 2),
    ]
    for row in record["rows"]:
        scores = [
            f"{row['validation'][name]:.3f}" if name in row["validation"] else "—"
            for name in SCORES
        ]
        lines.append(
            f"| {row['seed']} | {row['precision']} | " + " | ".join(scores) + " | "
            f"{row['train_examples_per_second']:.2f} | {row['wall_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
