"""How well shortcut discovery recovers the shortcuts planted in the synthetic dataset.

For each seed, ``rationalizer shortcuts`` is run on ``synthetic`` with its default settings
(the unsupervised FR rationalizer, 25% annotated training examples): the run is trained once
and cached under ``benchmarks/.cache/shortcut_discovery/`` (not committed); a cached run trained
by other code is refused unless ``--reuse-stale`` is given (the report then names its code). Its
shortcut masks
are scored against the planted phrases with :func:`rationalizer.training.shortcuts.
discovery_scores` under both rankings of the report:

* token precision / recall / F1 of the shortcut words against the planted words (the masks do
  not depend on the ranking);
* phrase precision and recall within the top k phrases (k = the number of planted phrases) and
  recall within the top 20 rows (what a reader of the report sees first).

Run from the repository root, with ``RATIONALIZER_DATA`` set (the synthetic dataset needs no
files; the variable is only read for the other datasets)::

    python -m benchmarks.shortcut_discovery --seeds 0,1,2,3 --threads 1

It writes ``shortcut_discovery.json`` and ``shortcut_discovery.md`` to ``--out-dir`` (default
``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from benchmarks.common import CACHE_ROOT
from benchmarks.seeded import (
    footer_lines,
    run_facts,
    seeded_parser,
    seeds_and_threads,
    write_report,
)
from rationalizer._environment import trained_by
from rationalizer.data import load
from rationalizer.data.synthetic import PLANTED_SHORTCUTS
from rationalizer.errors import RationalizerError
from rationalizer.training.batching import choose_annotated
from rationalizer.training.config import TrainConfig
from rationalizer.training.discovery import DISCOVERY_DIR, discover_shortcuts
from rationalizer.training.shortcuts import RANKINGS, discovery_scores
from rationalizer.training.trainer import limit_examples

SCRIPT = Path(__file__).resolve()
CACHE_DIR = CACHE_ROOT / "shortcut_discovery"
#: The scores compared across rankings, in table order.
SCORES = (
    "token_precision",
    "token_recall",
    "token_f1",
    "phrase_precision",
    "phrase_recall",
    "phrase_recall_at_depth",
)


def discover(
    base: TrainConfig, seed: int, cache_dir: Path, console: Console, reuse_stale: bool = False
) -> dict:
    """Discovery for one seed, scored under every ranking, with its wall time and the code
    that trained its unsupervised run (a cached run of other code only with ``reuse_stale``)."""
    config = base.with_overrides(seed=seed)
    out = cache_dir / f"seed{seed}"
    trained_by(out / DISCOVERY_DIR, reuse_stale)
    started = time.perf_counter()
    found = discover_shortcuts(config, out, console)
    seconds = time.perf_counter() - started
    train = limit_examples(load(config.dataset, "train", config.data_dir), config)
    annotated_ids = choose_annotated(train, config.labeled_fraction, config.seed)
    annotated = [example for example in train if example.id in annotated_ids]
    planted = dict(PLANTED_SHORTCUTS)
    return {
        "seed": seed,
        "seconds": round(seconds, 1),
        "trained_by": trained_by(out / DISCOVERY_DIR, reuse_stale=True),
        "rankings": {
            rank_by: discovery_scores(annotated, found.masks, planted, rank_by=rank_by)
            for rank_by in RANKINGS
        },
    }


def summary(runs: Sequence[Mapping]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and sample standard deviation of every score, per ranking, over the seeds."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    for rank_by in RANKINGS:
        result[rank_by] = {}
        for name in SCORES:
            values = [run["rankings"][rank_by][name] for run in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            result[rank_by][name] = {"mean": statistics.fmean(values), "std": spread}
    return result


def render(report: Mapping) -> str:
    """The report as markdown: per-seed rows for each ranking, then the mean over the seeds."""
    seeds = ", ".join(str(run["seed"]) for run in report["runs"])
    depth = report["runs"][0]["rankings"]["count"]["depth"]
    k = report["runs"][0]["rankings"]["count"]["k"]
    lines = [
        "# Shortcut discovery on the synthetic dataset",
        "",
        f"Command: `{report['command']}` ({report['finished']}). Seeds {seeds}.",
        "",
        "Discovery runs `rationalizer shortcuts` with its default settings "
        f"({report['settings']}). The shortcut words of each annotated training example are "
        "scored against its planted shortcut words (token P/R/F1, the same under both "
        f"rankings); *top-{k} P/R*: phrase precision and recall within the top {k} report rows "
        f"(k = {k} planted phrases); *top-{depth} R*: planted phrases matched within the top "
        f"{depth} rows. A discovered phrase matches a planted one when it is the phrase or a "
        "contiguous part of it with a content word, ignoring punctuation at its ends.",
        "",
        f"| ranking | seed | tok P | tok R | tok F1 | top-{k} P | top-{k} R | top-{depth} R "
        "| ranks of the planted phrases | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for rank_by in RANKINGS:
        for run in report["runs"]:
            scores = run["rankings"][rank_by]
            ranks = ", ".join(
                f"{phrase}: {detail['rank'] if detail['rank'] is not None else '—'}"
                for phrase, detail in scores["planted"].items()
            )
            values = " | ".join(f"{scores[name]:.3f}" for name in SCORES)
            lines.append(f"| {rank_by} | {run['seed']} | {values} | {ranks} | {run['seconds']} |")
        mean = report["summary"][rank_by]
        values = " | ".join(
            f"{mean[name]['mean']:.3f} ± {mean[name]['std']:.3f}" for name in SCORES
        )
        lines.append(f"| **{rank_by}** | mean | {values} | | |")
    trained = {run["seed"]: run["trained_by"] for run in report["runs"]}
    return "\n".join(lines + footer_lines(report, trained, "Unsupervised runs"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = seeded_parser(SCRIPT, "0,1,2,3", CACHE_DIR, "unsupervised runs")
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML or JSON training settings instead of the defaults (dataset synthetic).",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    seeds = seeds_and_threads(args, console)
    if seeds is None:
        return 2
    try:
        base = TrainConfig.from_file(args.config) if args.config else TrainConfig()
        base = base.with_overrides(dataset="synthetic", method="ssr-unif")
        runs = [discover(base, seed, args.cache_dir, console, args.reuse_stale) for seed in seeds]
    except RationalizerError as err:
        console.print(f"[red]error:[/red] {err}")
        return 1
    settings = {
        name: getattr(base, name)
        for name in ("encoder", "labeled_fraction", "epochs", "max_train_examples", "hidden_size")
    }
    report = run_facts(SCRIPT, argv) | {
        "settings": ", ".join(f"{name}={value}" for name, value in settings.items()),
        "runs": runs,
        "summary": summary(runs),
    }
    write_report(args.out_dir, "shortcut_discovery", report, render, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
