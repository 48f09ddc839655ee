"""How the default model settings were chosen: validation accuracy of each candidate.

Every default of the BiGRU model that issue "rationalizers worth deploying" asked to choose
(whole documents or a cut at 512 words, fixed or fine-tuned word vectors, attention to the
query) is a *variant*: a set of training settings on top of the defaults. Each variant trains
one method on one dataset and seed with the package's own ``train_run``, and this script reads
back only the **validation** numbers of the selected epoch (``summary.json``) plus the run's
time and training speed; the test split is never loaded, so choosing defaults here cannot look
at test data.

Finished cells are kept in ``benchmarks/.cache/model_defaults`` (runs) and
``benchmarks/results/model_defaults.json`` (records). A record made by other code (the package
or this script changed since) is stale and runs again unless ``--reuse-stale``; the report marks
reused stale records with a dagger.

Usage (from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets)::

    python -m benchmarks.model_defaults --datasets movies --methods full-text \\
        --variants cut512,whole,whole+trainable --seeds 0 --threads 1
    python -m benchmarks.model_defaults --report-only
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmarks.common import CACHE_ROOT, RESULTS_DIR, command_line, module_command
from rationalizer._environment import (
    STALE_MARK,
    benchmark_provenance,
    code_text,
    machine_info,
    same_code,
)
from rationalizer.files import read_json
from rationalizer.training.config import TrainConfig
from rationalizer.training.run import train_run
from rationalizer.training.trainer import SUMMARY_FILE

RESULTS_JSON = RESULTS_DIR / "model_defaults.json"
RESULTS_MD = RESULTS_DIR / "model_defaults.md"
RUNS = CACHE_ROOT / "model_defaults"

#: Candidate settings, by name. Every variant states all the settings it is about, so that a
#: change of a package default does not silently change what a variant means.
VARIANTS: dict[str, dict[str, Any]] = {
    "cut512": {"max_length": 512, "train_embeddings": False, "query_attention": False},
    "whole": {"max_length": None, "train_embeddings": False, "query_attention": False},
    "whole+trainable": {"max_length": None, "train_embeddings": True, "query_attention": False},
    "whole+query": {"max_length": None, "train_embeddings": False, "query_attention": True},
    "whole+trainable+query": {
        "max_length": None,
        "train_embeddings": True,
        "query_attention": True,
    },
    "whole+trainable+query+dropout0.5": {
        "max_length": None,
        "train_embeddings": True,
        "query_attention": True,
        "dropout": 0.5,
    },
}
for _settings in VARIANTS.values():
    _settings.setdefault("dropout", 0.1)  # the dropout every variant before the last was made with
#: Settings shared by every cell: a CPU-sized budget, the same for every dataset.
COMMON: dict[str, Any] = {"epochs": 8, "patience": 3}
#: Datasets too large to train in full for each candidate get a seeded subset (the same one for
#: every variant, so variants are compared on equal data).
SUBSETS: dict[str, int] = {"fever": 5000}


def cell_key(dataset: str, method: str, variant: str, seed: int) -> str:
    return f"{dataset}/{method}/{variant}/seed{seed}"


def cell_config(dataset: str, method: str, variant: str, seed: int) -> TrainConfig:
    return TrainConfig(
        dataset=dataset,
        method=method,
        seed=seed,
        max_train_examples=SUBSETS.get(dataset),
        **COMMON,
        **VARIANTS[variant],
    )


def run_cell(
    dataset: str, method: str, variant: str, seed: int, console: Console
) -> dict[str, Any]:
    """Train one cell (from scratch: a partial run of other code is not resumed) and read back
    its validation numbers."""
    config = cell_config(dataset, method, variant, seed)
    run_dir = RUNS / cell_key(dataset, method, variant, seed)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    train_run(config, run_dir, console=console)
    minutes = (time.perf_counter() - started) / 60
    summary = read_json(run_dir / SUMMARY_FILE, "summary")
    validation = summary["validation"]
    return {
        "dataset": dataset,
        "method": method,
        "variant": variant,
        "seed": seed,
        "settings": VARIANTS[variant] | COMMON | {"max_train_examples": SUBSETS.get(dataset)},
        "validation": {
            key: validation[key]
            for key in ("accuracy", "macro_f1", "token_f1", "selection_rate")
            if key in validation
        },
        "best_epoch": summary["best_epoch"],
        "epochs_run": summary["epochs_run"],
        "truncation": summary["truncation"],
        "parameters": summary["parameters"],
        "train_examples_per_second": summary["examples_per_second"],
        "wall_minutes": minutes,
        "provenance": summary["provenance"] | {"scripts": _scripts()["scripts"]},
        "machine": machine_info() | {"torch_threads": torch.get_num_threads()},
        "command": command_line(__file__),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _scripts() -> dict[str, Any]:
    return benchmark_provenance(Path(__file__))


def load_records() -> dict[str, dict[str, Any]]:
    if not RESULTS_JSON.is_file():
        return {}
    return json.loads(RESULTS_JSON.read_text(encoding="utf-8"))["cells"]


def save(records: dict[str, dict[str, Any]]) -> None:
    current = _scripts()
    RESULTS_JSON.write_text(
        json.dumps({"report_code": current, "cells": records}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    RESULTS_MD.write_text(render(records, current), encoding="utf-8")


def render(records: dict[str, dict[str, Any]], current: dict[str, Any]) -> str:
    lines = [
        "# Choosing the model defaults on validation data",
        "",
        "Made by `benchmarks/model_defaults.py` (its docstring says what a cell is). Validation "
        "split only: the number is the selected epoch's, as `summary.json` records it. Seeds "
        "are named per row; a cell with the mark "
        f"{STALE_MARK} was made by other code than {code_text(current)}.",
        "",
        f"Shared settings: {', '.join(f'`{k}={v}`' for k, v in COMMON.items())}; everything "
        "else at the package defaults of the commit that made the cell. Training subsets: "
        + (", ".join(f"{d} {n} examples (seeded)" for d, n in SUBSETS.items()) or "none")
        + ".",
        "",
        "| dataset | method | variant | seed | val acc | val macro F1 | val token F1 | val sel "
        "| best epoch / run | words cut | wall min | train ex/s | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(records):
        r = records[key]
        v = r["validation"]
        mark = "" if same_code(r["provenance"], current) else f" {STALE_MARK}"
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['variant']}{mark} | {r['seed']} "
            f"| {v['accuracy']:.3f} | {v['macro_f1']:.3f} | {_opt(v, 'token_f1')} "
            f"| {_opt(v, 'selection_rate')} | {r['best_epoch']} / {r['epochs_run']} "
            f"| {r['truncation']} | {r['wall_minutes']:.1f} "
            f"| {r['train_examples_per_second']:.1f} | {r['provenance'].get('commit', '?')[:7]} |"
        )
    machines = sorted(
        {
            f"{r['machine']['platform']}, {r['machine']['usable_cpus']} usable CPUs, torch "
            f"{r['machine']['torch']} with {r['machine']['torch_threads']} thread(s)"
            for r in records.values()
        }
    )
    commands = sorted({r["command"] for r in records.values()})
    lines += ["", "Machines:", "", *(f"- {m}" for m in machines)]
    lines += ["", "Commands:", "", *(f"- `{c}`" for c in commands), ""]
    return "\n".join(lines)


def _opt(values: dict[str, Any], key: str) -> str:
    return f"{values[key]:.3f}" if key in values else "—"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--datasets", default="movies", help="comma-separated dataset names")
    parser.add_argument("--methods", default="full-text", help="comma-separated methods")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--reuse-stale", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    records = load_records()
    if not args.report_only:
        current = _scripts()
        for dataset in args.datasets.split(","):
            for method in args.methods.split(","):
                for variant in args.variants.split(","):
                    if variant not in VARIANTS:
                        parser.error(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
                    for seed in (int(s) for s in args.seeds.split(",")):
                        key = cell_key(dataset, method, variant, seed)
                        old = records.get(key)
                        if old and (args.reuse_stale or same_code(old["provenance"], current)):
                            continue
                        console.rule(key)
                        records[key] = run_cell(dataset, method, variant, seed, console)
                        save(load_records() | {key: records[key]})
    save(load_records() | records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
