"""Why SSR is (or is not) ahead of semi-supervised RNP: a validation-only ablation of its settings.

Each variant is the Table-1 cell of an SSR method (``benchmarks/ssr_table.py``: same data,
model, epochs, seed, augmentation and discovery run) with one setting changed:

* ``λ = 0``: the shortcut terms switched off, so only the augmentation and the supervision of
  the annotated examples remain; the gap between this row and the table's row is what the
  shortcut loss itself contributes;
* ``λ = 0.01`` and ``λ = 1``: ten times less and more weight on the shortcut terms;
* the predictor reading the selected or the gold rationale (not the full text) on annotated
  examples (the method page asks which of the three is best on validation);
* 12 epochs instead of the table's 8 (movies), 10 (hatexplain) or 6 (fever): whether the
  table's epoch budget, sized for about 10 minutes a run, leaves the model underfitted. A longer
  schedule helps semi-supervised RNP as much as SSR, so this variant also trains semi with 12
  epochs (its own row) and SSR is compared with semi under the same budget;
* selector supervision half-balanced: rationale words weigh ((1 − k)/k)^0.5 instead of
  (1 − k)/k in the selector's cross-entropy (``balance_supervision`` γ = 0.5). Full balance
  makes the selector pick about twice the gold density; this asks whether less balance buys
  precision and token F1. Semi is trained alike (its own row);
* the evidence filter (``shortcut_max_evidence_ratio``): candidate shortcut words whose type
  annotators mark as rationale at least 2 or 3 times as often as the average word are dropped
  as evidence elsewhere (``mess``, ``enjoyable`` on movies; slurs on HateXplain). Its row
  without the filter (0, the table's setting) is trained again by the code of now, so that the
  filter is compared with its absence under the same code.

``--variants`` runs only some of them, named by the settings they change (e.g. ``epochs=12``).

Only validation numbers (the selected epoch's ``summary.json``) are read and reported; the test
split is never loaded. Semi-supervised RNP's validation numbers at the table's settings come
from the table's cells.
Each finished variant is stored in ``benchmarks/results/ssr_sweep_cells`` and skipped when the
script runs again, unless it was made by other code (the package, this script or the table's
changed since: a stale variant runs again, or with ``--reuse-stale`` is reused and marked); the
table's SSR cells and discovery runs of the same dataset and seed must exist.

Usage (from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets)::

    python -m benchmarks.ssr_sweep --dataset movies --method ssr-unif --seeds 0 --threads 1
    python -m benchmarks.ssr_sweep --dataset fever --variants epochs=12,annotated_task_input=gold
    python -m benchmarks.ssr_sweep --report-only
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape

from benchmarks import ssr_table as table
from benchmarks.common import command_line, module_command, read_json
from rationalizer._environment import benchmark_provenance, code_text
from rationalizer.errors import RationalizerError
from rationalizer.files import read_json as read_file
from rationalizer.training.config import TrainConfig
from rationalizer.training.run import train_run
from rationalizer.training.trainer import SUMMARY_FILE

SCRIPT = Path(__file__).resolve()
CACHE_DIR = table.CACHE_DIR.parent / "ssr_sweep"
CELLS_DIR = table.RESULTS_DIR / "ssr_sweep_cells"
REPORT_JSON = table.RESULTS_DIR / "ssr_sweep.json"
REPORT_MD = table.RESULTS_DIR / "ssr_sweep.md"

#: Variant name → the settings it changes in the table's cell. The table's own cell (no
#: change) is read from the table, not trained again.
TABLE_VARIANT = "table settings (λ = 0.1)"
VARIANTS: dict[str, dict[str, Any]] = {
    TABLE_VARIANT: {},
    "λ = 0 (no shortcut terms)": {"shortcut_weight": 0.0},
    "λ = 1": {"shortcut_weight": 1.0},
    "λ = 0.01": {"shortcut_weight": 0.01},
    "predictor reads the selected rationale on annotated examples": {
        "annotated_task_input": "selected"
    },
    "predictor reads the gold rationale on annotated examples": {"annotated_task_input": "gold"},
    "12 epochs": {"epochs": 12},
    "half-balanced selector supervision (γ = 0.5)": {"balance_supervision": 0.5},
    "no evidence filter (table settings, trained again)": {"shortcut_max_evidence_ratio": 0.0},
    "evidence filter at 3 × the rationale density": {"shortcut_max_evidence_ratio": 3.0},
    "evidence filter at 2 × the rationale density": {"shortcut_max_evidence_ratio": 2.0},
}
#: Variants that are also trained as semi-supervised RNP, and the name of that row: they
#: change what both methods share (budget, selector supervision), so SSR's row is only
#: comparable with semi's under the same change.
SEMI_COUNTERPARTS = {
    "12 epochs": "semi-supervised RNP, 12 epochs",
    "half-balanced selector supervision (γ = 0.5)": "semi-supervised RNP, γ = 0.5",
}
#: Validation metrics reported, from summary.json's ``validation`` section.
METRICS = {
    "accuracy": "acc",
    "token_f1": "tok F1",
    "token_precision": "tok P",
    "token_recall": "tok R",
    "selection_rate": "sel",
}


def variant_slug(name: str) -> str:
    """Folder name of a variant: the settings it changes, so renaming or reordering variants
    keeps their runs."""
    return ",".join(f"{key}={value}" for key, value in VARIANTS[name].items())


@dataclass(frozen=True)
class Variant:
    """One run of the sweep: a table cell with some settings changed."""

    base: table.Cell
    name: str

    @property
    def slug(self) -> str:
        return variant_slug(self.name)

    def config(self, table_cache: Path) -> TrainConfig:
        base = table.cell_config(self.base, table_cache)
        change = VARIANTS[self.name]
        if "epochs" in change and base.shortcut_run is not None:
            # discovery keeps using the table's unsupervised run
            change = {"discovery_epochs": base.discovery_epochs or base.epochs} | change
        # validated, unlike model_copy(update=...), so a misspelt setting fails here
        return TrainConfig.model_validate(base.model_dump() | change)

    def run_dir(self, cache_dir: Path) -> Path:
        return cache_dir / self.base.dataset / self.base.name / self.slug / f"seed{self.base.seed}"

    def record_path(self, cells_dir: Path) -> Path:
        base = self.base
        return cells_dir / base.dataset / base.name / self.slug / f"seed{base.seed}.json"

    @property
    def key(self) -> str:
        """``dataset/cell/slug/seedK``, as its record is stored."""
        return f"{self.base.dataset}/{self.base.name}/{self.slug}/seed{self.base.seed}"

    def __str__(self) -> str:
        return f"{self.base} [{self.name}]"

    @property
    def console_label(self) -> str:
        """:meth:`__str__` for rich, whose markup would take ``[half-balanced ...]`` for a
        style tag and print nothing of it."""
        return escape(str(self))


def provenance() -> dict:
    """The code that makes this script's records now: the package, this script and the
    table's (whose settings and helpers it uses)."""
    return benchmark_provenance(SCRIPT, table.SCRIPT)


def base_cell(dataset: str, method: str, seed: int, *, stale_ok: bool = False) -> table.Cell:
    """The table's cell of ``method`` with the augmentation the table chose on validation
    (from search cells made by the code of now, or by any code with ``stale_ok``)."""

    def chosen(stale: bool) -> str | None:
        records = table.search_records(
            dataset, method, table.CELLS_DIR, table.CACHE_DIR, stale_ok=stale
        )
        return table.choose_augmentation(table.search_scores(records))

    augment = chosen(stale_ok)
    if augment is None:
        other_code = not stale_ok and chosen(True) is not None
        raise RationalizerError(
            f"the table's augmentation search for {dataset}/{method} has not finished"
            + (" with the code of now (--reuse-stale uses its stale cells)" if other_code else "")
            + f": run python -m benchmarks.ssr_table --datasets {dataset} --methods {method} "
            "--seeds 0"
        )
    return table.Cell(dataset, method, seed, augment)


def finished_variant(
    variant: Variant, cells_dir: Path, table_cache: Path, *, stale_ok: bool = False
) -> dict | None:
    """The variant's record if it was made with its settings by the code of now (by any code
    with ``stale_ok``)."""
    record = read_json(variant.record_path(cells_dir))
    if record is None or not table.same_settings(record["config"], variant.config(table_cache)):
        return None
    if not (stale_ok or table.is_current(record, provenance())):
        return None
    return record


def run_variant(
    variant: Variant, cache_dir: Path, cells_dir: Path, command: str, reuse_stale: bool = False
) -> dict:
    """Train one variant (resuming an interrupted run) and store its validation record."""
    config = variant.config(table.CACHE_DIR)
    run_dir = variant.run_dir(cache_dir)
    runs = table.cell_runs(config, run_dir)
    table.check_runs(runs, config, reuse_stale)
    started = time.perf_counter()
    resumed = (run_dir / "resume.json").is_file()
    if not (run_dir / SUMMARY_FILE).is_file():
        train_run(config, run_dir, Console(stderr=True))
    summary = read_file(run_dir / SUMMARY_FILE, "summary")
    record = {
        "variant": variant.name,
        "cell": str(variant.base),
        "config": table.config_json(config),
        "validation": summary["validation"],
        "best_epoch": summary["best_epoch"],
        "epochs_run": summary["epochs_run"],
        "wall_seconds": None if resumed else time.perf_counter() - started,
        "machine": table.machine(),
        "command": command,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": provenance(),
        **table.made_from(runs, summary),
    }
    table.write_record(variant.record_path(cells_dir), record)
    return record


SEMI_ROW = "semi-supervised RNP (table settings)"


def semi_cell(base: table.Cell) -> table.Cell:
    return table.Cell(base.dataset, "semi", base.seed)


def runs_of(base: table.Cell, name: str) -> list[Variant]:
    """The runs a variant needs: the SSR cell changed, and semi changed alike if it has a row."""
    runs = [Variant(base, name)]
    if name in SEMI_COUNTERPARTS:
        runs.append(Variant(semi_cell(base), name))
    return runs


def seed_record(row: str, base: table.Cell, cells_dir: Path) -> tuple[str, dict | None, bool]:
    """The cell, record and staleness of one row for one seed, stale or not: read from the
    table for semi and for the table's own SSR settings, from the sweep's records for the
    other variants."""
    if row in (SEMI_ROW, TABLE_VARIANT):
        cell = semi_cell(base) if row == SEMI_ROW else base
        config = table.cell_config(cell, table.CACHE_DIR)
        record = table.finished_record(cell, config, table.CELLS_DIR, stale_ok=True)
        return str(cell), record, record is not None and not table.is_current(record)
    semi_variants = {semi_row: name for name, semi_row in SEMI_COUNTERPARTS.items()}
    if row in semi_variants:
        variant = Variant(semi_cell(base), semi_variants[row])
    else:
        variant = Variant(base, row)
    record = finished_variant(variant, cells_dir, table.CACHE_DIR, stale_ok=True)
    stale = record is not None and not table.is_current(record, provenance())
    return variant.key, record, stale


def row_names() -> list[str]:
    """semi's reference row, then each variant, preceded by its semi counterpart if any."""
    names = [SEMI_ROW]
    for name in VARIANTS:
        if name in SEMI_COUNTERPARTS:
            names.append(SEMI_COUNTERPARTS[name])
        names.append(name)
    return names


def rows(base_cells: Sequence[table.Cell], cells_dir: Path) -> tuple[list[dict], dict]:
    """One row per variant, and semi's reference rows: validation mean ± std over the seeds,
    stale records included and named; and the stale records, by cell."""
    out, stale = [], {}
    for row in row_names():
        found = [(base, *seed_record(row, base, cells_dir)) for base in base_cells]
        finished = [(base, record) for base, _, record, _ in found if record is not None]
        stale |= {cell: table.stale_entry(record) for _, cell, record, old in found if old}
        summaries = {
            key: table.summarize([record["validation"][key] for _, record in finished])
            for key in METRICS
        }
        out.append(
            {
                "variant": row,
                "seeds": f"{len(finished)}/{len(base_cells)}",
                "stale_seeds": [base.seed for base, _, _, old in found if old],
                "switched": [
                    {"seed": base.seed} | override
                    for base, record in finished
                    for override in table.switched(record)
                ],
                "validation": {
                    key: None if summary is None else asdict(summary)
                    for key, summary in summaries.items()
                },
            }
        )
    return out, stale


def render(report: Mapping) -> str:
    lines = [
        "# SSR ablation on the validation split",
        "",
        "Settings of the Table-1 SSR cell changed one at a time (`benchmarks/ssr_sweep.py`); "
        "every number is on the **validation** split at the epoch the run selected by "
        "validation accuracy, mean ± sample std over the finished seeds. The test split is not "
        "read.",
        "",
        f"Report built by: `{report['command']}` ({report['built']}).",
        "",
        f"Code: {code_text(report['provenance'])}. Rows marked {table.STALE_MARK} "
        "hold seeds made by other code (see [Stale cells](#stale-cells)).",
        "",
    ]
    metric = table.Metric("", "", False)
    for section in report["sections"]:
        lines += [
            f"## {section['dataset']}, {section['cell']}, seeds {section['seeds']}",
            "",
            "| variant | seeds | " + " | ".join(METRICS.values()) + " |",
            "|---|---|" + "---|" * len(METRICS),
        ]
        for row in section["rows"]:
            seeds = int(row["seeds"].split("/")[0])
            values = [
                table.format_summary(row["validation"][key], metric, seeds) for key in METRICS
            ]
            mark = f" {table.STALE_MARK}" if row["stale_seeds"] else ""
            lines.append(
                f"| {row['variant']} | {row['seeds']}{mark} | " + " | ".join(values) + " |"
            )
        lines += table.switched_markdown(
            {row["variant"]: row["switched"] for row in section["rows"]}
        )
        lines.append("")
    machines = sorted({table.machine_text(m) for m in report["machines"]})
    lines += ["Machines:", "", *[f"- {m}" for m in machines], ""]
    lines += ["## Stale cells", "", *table.stale_markdown(report["stale"]), ""]
    return "\n".join(lines)


def build_report(
    plan: Mapping[tuple[str, str], Sequence[int]], cells_dir: Path, command: str
) -> dict:
    """The report of every (dataset, SSR cell) in ``plan`` over its seeds; records made by
    other code are shown, and named."""
    sections, machines, stale = [], [], {}
    for (dataset, cell_name), seeds in plan.items():
        method, _, augment = cell_name.partition("+")
        base_cells = [table.Cell(dataset, method, seed, augment or "none") for seed in seeds]
        section_rows, section_stale = rows(base_cells, cells_dir)
        stale |= section_stale
        sections.append(
            {
                "dataset": dataset,
                "method": method,
                "cell": cell_name,
                "seeds": ", ".join(map(str, seeds)),
                "rows": section_rows,
            }
        )
        for cell_name in (base_cells[0].name, "semi"):
            for path in sorted((cells_dir / dataset / cell_name).rglob("seed*.json")):
                machines.append(read_json(path)["machine"])
    return {
        "command": command,
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": provenance(),
        "sections": sections,
        "machines": table.distinct(machines),
        "stale": stale,
    }


def stored_plan(cells_dir: Path) -> dict[tuple[str, str], list[int]]:
    """(dataset, SSR cell such as ``ssr-unif+mixed``) → seeds of every stored variant record,
    read from the records alone: a report of stored variants needs no finished table search
    (semi's counterparts are reported in the section of their SSR cell)."""
    plan: dict[tuple[str, str], set[int]] = {}
    for path in cells_dir.glob("*/*/*/seed*.json"):
        dataset, cell_name = path.parts[-4], path.parts[-3]
        if cell_name.split("+")[0] in table.SSR_METHODS:
            plan.setdefault((dataset, cell_name), set()).add(int(path.stem[4:]))
    return {key: sorted(seeds) for key, seeds in sorted(plan.items())}


def variant_names(text: str) -> list[str]:
    """``--variants``: comma-separated slugs (the settings a variant changes) → variant names."""
    by_slug = {variant_slug(name): name for name in VARIANTS if name != TABLE_VARIANT}
    unknown = [slug for slug in text.split(",") if slug not in by_slug]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown variant {', '.join(unknown)}; choose from {', '.join(by_slug)}"
        )
    return [by_slug[slug] for slug in text.split(",")]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", default="movies", choices=table.DATASETS)
    parser.add_argument("--method", default="ssr-unif", choices=table.SSR_METHODS)
    parser.add_argument("--seeds", type=table.seeds_argument, default=[0], help="default: 0")
    parser.add_argument(
        "--variants",
        type=variant_names,
        default=[name for name in VARIANTS if name != TABLE_VARIANT],
        help="comma-separated, named by the settings they change, e.g. "
        "epochs=12,shortcut_weight=0.0 (default: all)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no new run after this many minutes (a running one finishes)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing: rebuild the report"
    )
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse variants, table cells and run directories made by other code instead of "
        "running them again; the report marks them",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(table.ROOT)
    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    command = command_line(SCRIPT, argv)
    try:
        if not args.report_only:
            deadline = table.Deadline(args.max_minutes)
            reuse = args.reuse_stale
            for seed in args.seeds:
                base = base_cell(args.dataset, args.method, seed, stale_ok=reuse)
                for variant in (run for name in args.variants for run in runs_of(base, name)):
                    if finished_variant(variant, CELLS_DIR, table.CACHE_DIR, stale_ok=reuse):
                        continue
                    if deadline.passed():
                        console.print(f"deadline passed: {variant.console_label} not started")
                        continue
                    console.rule(variant.console_label)
                    record = run_variant(variant, CACHE_DIR, CELLS_DIR, command, reuse)
                    scores = record["validation"]
                    console.print(
                        f"{variant.console_label}: validation token F1 "
                        f"{scores['token_f1']:.3f}, accuracy {scores['accuracy']:.3f}"
                    )
        report = build_report(stored_plan(CELLS_DIR), CELLS_DIR, command)
    except RationalizerError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}")
        return 1
    table.write_record(REPORT_JSON, report)
    REPORT_MD.write_text(render(report), encoding="utf-8")
    console.print(f"wrote {REPORT_JSON} and {REPORT_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
