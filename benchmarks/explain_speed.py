"""Examples per second of every post-hoc explainer: one model input per forward pass against
batched, on movies and HateXplain test examples.

The same examples are explained by the same explainer settings in three ways, one after the
other in one run, so the machine's load is shared alike:

* ``one input per pass`` (``batch_size=1``): every model input (a gradient, a path point, a
  noisy or perturbed copy, a candidate subset) runs in a forward pass of its own, one example
  after another. This is the unbatched path, still reachable with ``--batch-size 1``;
* ``per example`` (``batch_size=64``, one example per ``attribute`` call): Captum packs one
  example's model inputs 64 to a pass (``internal_batch_size``, ``perturbations_per_eval``),
  examples one after another, as ``explain --dataset`` ran before examples were batched;
* ``batched`` (``batch_size=64``, all examples in one ``attribute`` call): examples are also
  packed together, sorted by length, as ``explain --dataset`` runs now.

Each example's batched explanation is compared with its one-input-per-pass one (the largest
score difference is reported): batching must not change any explanation.

The models are BiGRU classifiers. On movies, the semi-supervised rationalizer that
``benchmarks/explainers.py`` trains (its predictor, explained on whole reviews), when its cache
holds it, or any run given with ``--movies-run``; otherwise, as on HateXplain, a full-text
BiGRU (``rationalizer.train``, method ``full-text``) trained here on a seeded subset of the
training split and cached under ``benchmarks/.cache/explain_speed/`` (a folder trained with
other settings is refused). Run from the repository root with ``RATIONALIZER_DATA`` pointing
at the datasets::

    HF_HUB_OFFLINE=1 python -m benchmarks.explain_speed                 # about 15 minutes
    python -m benchmarks.explain_speed --methods occlusion lime --movies-examples 4

It writes ``explain_speed.json`` and ``explain_speed.md`` to ``--out-dir`` (default
``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from threadpoolctl import threadpool_limits

import rationalizer
from benchmarks.common import (
    command_line,
    cpu_snapshot,
    load_sentence,
    machine_and_code_lines,
    module_command,
    other_busy_cpus,
    write_json,
)
from rationalizer._environment import benchmark_provenance, machine_info
from rationalizer.data import Dataset, load
from rationalizer.errors import RationalizerError
from rationalizer.explain import Explanation, RationalizerAdapter, get_explainer, list_explainers
from rationalizer.explain.adapters import Instance

SCRIPT = Path(__file__).resolve()
CACHE_DIR = Path("benchmarks/.cache/explain_speed")
RESULTS_DIR = Path("benchmarks/results")
SETTINGS_FILE = "benchmark-settings.json"

#: The classifiers explained: a BiGRU reading the whole text (no selector), trained briefly on
#: a seeded subset; their accuracy does not matter here, their size and input lengths do.
TRAINING: dict[str, dict[str, Any]] = {
    "movies": {"max_length": 512, "max_train_examples": 400},
    "hatexplain": {"max_length": 128, "max_train_examples": 2000},
}
COMMON_TRAINING: dict[str, Any] = {
    "method": "full-text",
    "encoder": "gru",
    "hidden_size": 100,
    "epochs": 2,
    "batch_size": 32,
}
#: the movies rationalizer benchmarks/explainers.py trains, used when it is there
EXPLAINERS_MOVIES_RUN = Path("benchmarks/.cache/explainers/models/movies-gru")
#: what the results say about the model explained
MODEL_FIELDS = ("method", "hidden_size", "max_length", "epochs", "max_train_examples")
#: the batch size of the batched modes (the explainers' default)
BATCH_SIZE = 64
#: (mode, batch size, whether all examples go to one attribute call)
MODES: tuple[tuple[str, int, bool], ...] = (
    ("one input per pass", 1, True),
    ("per example", BATCH_SIZE, False),
    ("batched", BATCH_SIZE, True),
)


def trained_model(
    dataset: str, seed: int, console: Console, run: Path | None = None
) -> RationalizerAdapter:
    """The classifier of ``dataset``: the run directory ``run`` if given, else the cached one
    trained here (first trained if missing)."""
    if run is not None:
        return RationalizerAdapter.load(run)
    settings = COMMON_TRAINING | TRAINING[dataset] | {"dataset": dataset, "seed": seed}
    folder = CACHE_DIR / f"{dataset}-gru-seed{seed}"
    marker = folder / SETTINGS_FILE
    if marker.is_file():
        if json.loads(marker.read_text(encoding="utf-8")) != settings:
            raise RationalizerError(
                f"{folder} was trained with other settings than this benchmark's; delete it"
            )
    else:
        rationalizer.train(folder, console, **settings)
        write_json(marker, settings)
    return RationalizerAdapter.load(folder)


def sample(dataset: Dataset, count: int, seed: int) -> Dataset:
    """A seeded random sample of ``count`` examples, in dataset order."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(dataset), count, replace=False))
    return replace(dataset, examples=tuple(dataset.examples[i] for i in chosen))


def explain(
    adapter: RationalizerAdapter, instances: list[Instance], method: str, size: int, together: bool
) -> tuple[list[Explanation], float]:
    """The explanations of ``instances`` and the seconds they took."""
    explainer = get_explainer(method)(batch_size=size)
    started = time.perf_counter()
    if together:
        explanations = explainer.attribute(adapter, instances)
    else:
        explanations = [explainer.attribute(adapter, instance)[0] for instance in instances]
    return explanations, time.perf_counter() - started


def measure_method(
    adapter: RationalizerAdapter, instances: list[Instance], method: str
) -> dict[str, Any]:
    """Each mode's time and examples per second, and how far batching moved any score."""
    explain(adapter, instances[:1], method, BATCH_SIZE, True)  # warm-up, not timed
    result: dict[str, Any] = {"modes": {}}
    outputs = {}
    for mode, size, together in MODES:
        outputs[mode], seconds = explain(adapter, instances, method, size, together)
        result["modes"][mode] = {
            "batch_size": size,
            "seconds": seconds,
            "examples_per_second": len(instances) / seconds,
        }
    baseline, batched = outputs["one input per pass"], outputs["batched"]
    result["max_score_difference"] = max(
        float(np.max(np.abs(np.subtract(a.scores, b.scores))))
        for a, b in zip(baseline, batched, strict=True)
    )
    result["same_rationales"] = all(
        a.rationale == b.rationale for a, b in zip(baseline, batched, strict=True)
    )
    seconds = {mode: timing["seconds"] for mode, timing in result["modes"].items()}
    result["speedup_over_one_input_per_pass"] = seconds["one input per pass"] / seconds["batched"]
    result["speedup_over_per_example"] = seconds["per example"] / seconds["batched"]
    return result


def run_dataset(
    name: str, count: int, methods: list[str], seed: int, console: Console, run: Path | None
) -> dict[str, Any]:
    adapter = trained_model(name, seed, console, run)
    config = adapter.rationalizer.config
    test = sample(load(name, "test"), count, seed)
    instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in test]
    record: dict[str, Any] = {
        "examples": len(instances),
        "mean_words_seen": float(np.mean([instance.seen_words for instance in instances])),
        "mean_positions": float(np.mean([len(instance.encoding) for instance in instances])),
        "model": {
            "run": str(run) if run else "trained here",
            **{key: getattr(config, key) for key in MODEL_FIELDS},
        },
        "methods": {},
    }
    for method in methods:
        started = time.perf_counter()
        record["methods"][method] = measure_method(adapter, instances, method)
        speedup = record["methods"][method]["speedup_over_one_input_per_pass"]
        console.print(
            f"{name} {method}: {speedup:.1f}× over one input per pass "
            f"({time.perf_counter() - started:.0f} s)"
        )
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.splitlines()[0]
    )
    parser.add_argument("--methods", nargs="+", default=list(list_explainers()))
    parser.add_argument(
        "--movies-run",
        type=Path,
        default=EXPLAINERS_MOVIES_RUN if EXPLAINERS_MOVIES_RUN.is_dir() else None,
        help="a movies run directory to explain (default: explainers.py's, if cached)",
    )
    parser.add_argument("--movies-examples", type=int, default=6)
    parser.add_argument("--hatexplain-examples", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0, help="training and sampling seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    warnings.simplefilter("ignore")  # Captum's and greedy's notes would flood the output
    torch.set_num_threads(args.threads)
    sizes = {"movies": args.movies_examples, "hatexplain": args.hatexplain_examples}
    runs = {"movies": args.movies_run, "hatexplain": None}
    started = time.perf_counter()
    before = cpu_snapshot()
    with threadpool_limits(args.threads):
        datasets = {
            name: run_dataset(name, count, args.methods, args.seed, console, runs[name])
            for name, count in sizes.items()
        }
    other_cpus = other_busy_cpus(before, cpu_snapshot())
    result = {
        "command": command_line(SCRIPT, argv),
        "seed": args.seed,
        "threads": args.threads,
        "seconds": time.perf_counter() - started,
        "other_busy_cpus": other_cpus,
        "machine": machine_info(),
        "provenance": benchmark_provenance(SCRIPT),
        "datasets": datasets,
    }
    write_json(args.out_dir / "explain_speed.json", result)
    (args.out_dir / "explain_speed.md").write_text(markdown(result), encoding="utf-8")


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Explainer speed: one input per forward pass against batched",
        "",
        f"Command: `{result['command']}` (seed {result['seed']}: training and the sample of "
        f"test examples; {result['threads']} CPU thread; {result['seconds'] / 60:.1f} minutes in "
        "all).",
        "",
        "Examples per second of each explainer with its default settings, explaining a BiGRU "
        "full-text classifier's prediction, in three modes run one after the other in the same "
        "run: **one input per pass** (`batch_size=1`: every model input in a forward pass of "
        "its own), **per example** (`batch_size=64`, one example per `attribute` call: Captum "
        "packs one example's inputs, as `explain --dataset` did before) and **batched** "
        "(`batch_size=64`, every example in one `attribute` call, as `explain --dataset` runs "
        "now). *Max diff* is the largest difference between an example's batched and "
        "one-input-per-pass scores; *same* says whether every hard rationale is the same.",
        "",
        f"{load_sentence(result.get('other_busy_cpus'), result['machine']['usable_cpus'])} The "
        "modes of one method ran back to back, so compare them with each other.",
        "",
    ]
    for name, record in result["datasets"].items():
        lines += [
            f"## {name}",
            "",
            f"{record['examples']} test examples, {record['mean_words_seen']:.0f} words "
            f"({record['mean_positions']:.0f} positions) on average; model: "
            f"{record['model']['method']} BiGRU ({record['model']['run']}), "
            f"{record['model']['hidden_size']} units per direction, max length "
            f"{record['model']['max_length']}, {record['model']['epochs']} epochs on "
            f"{record['model']['max_train_examples'] or 'all'} training examples.",
            "",
            "| method | one input per pass (ex/s) | per example (ex/s) | batched (ex/s) | "
            "batched vs one input per pass | batched vs per example | max diff | same |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for method, measured in record["methods"].items():
            rates = [timing["examples_per_second"] for timing in measured["modes"].values()]
            lines.append(
                f"| {method} | "
                + " | ".join(f"{rate:.2f}" for rate in rates)
                + f" | {measured['speedup_over_one_input_per_pass']:.1f}× | "
                f"{measured['speedup_over_per_example']:.1f}× | "
                f"{measured['max_score_difference']:.1e} | "
                f"{'yes' if measured['same_rationales'] else 'no'} |"
            )
        lines.append("")
    lines += machine_and_code_lines(result, ("torch",))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
