"""Our reproduction of Table 1 of the SSR paper (Yue et al., ICLR 2024) on CPU: BiGRU and MiniLM.

For movies, hatexplain and fever, 25% of the training examples keep their human rationale and every
method trains with seeds 0, 1 and 2: unsupervised RNP, FR, semi-supervised RNP, SSR_unif and
SSR_virt (each without augmentation and with the augmentation that scored best on the validation
split for seed 0), the fully supervised model (100% rationales) as the upper reference for
rationales, and the same encoder reading the full text (``full-text``, no selector) as the upper
reference for accuracy. Every run is scored on the test split with ERASER's metrics (the predictor
reads only the selected rationale). Cheap references come next to each table: a bag-of-words
logistic regression on the full text, random selection at the gold rationale density and the words
with the largest regression weights. A separate measurement times one training epoch with the GRU
and with the MiniLM encoder. Every dataset has a table with the BiGRU; HateXplain has a second one
with MiniLM fine-tuned (:data:`ENCODER_DATASETS`), under ``hatexplain/minilm/``.

Run from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets::

    python -m benchmarks.ssr_table                    # everything (hours); resumable
    python -m benchmarks.ssr_table --datasets movies --seeds 0 --methods rnp --max-minutes 15
    python -m benchmarks.ssr_table --encoders minilm --seeds 0 --methods full-text,semi
    python -m benchmarks.ssr_table --report-only      # rebuild the tables from finished cells

Each finished cell (dataset × method/augmentation × seed) keeps its run directory under
``benchmarks/.cache/ssr_table/`` (not committed) and its metrics as a small JSON file under
``benchmarks/results/ssr_table_cells/`` (committed); a cell whose JSON exists with the same
settings and was made by the same code (the package's code digest and this script's, see
:func:`is_current`) is skipped, so the benchmark can be run in sittings (``--max-minutes``). A
cell made by other code is *stale*: it runs again unless ``--reuse-stale`` is given. The report,
``benchmarks/results/ssr_table.{json,md}``, always covers the whole protocol, marks the stale
cells and lists the cells still missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Literal

import numpy as np
import scipy.sparse
import torch
from pydantic import ValidationError
from rich.console import Console
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from benchmarks.common import command_line, module_command, read_json, write_json
from rationalizer._environment import (
    STALE_MARK,
    benchmark_provenance,
    code_text,
    machine_info,
    same_code,
    trained_by,
)
from rationalizer.data import Dataset, load, mask_to_spans
from rationalizer.data.results import DocumentRationale, ResultRecord, TokenSpan, write_results
from rationalizer.errors import RationalizerError
from rationalizer.files import read_json as read_file
from rationalizer.metrics import classification_metrics, evaluate, flatten
from rationalizer.metrics.ranking import top_fraction_words
from rationalizer.outputs import OutputLockedError, writing
from rationalizer.provenance import describe
from rationalizer.training.checkpoint import RESUME_FILE, load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.discovery import (
    DISCOVERY_DIR,
    DISCOVERY_METHOD,
    discover_shortcuts,
)
from rationalizer.training.inference import Rationalizer
from rationalizer.training.methods import available_methods, shortcut_methods
from rationalizer.training.run import train_run
from rationalizer.training.shortcuts import REPORT_JSON as SHORTCUTS_JSON
from rationalizer.training.shortcuts import ShortcutReport
from rationalizer.training.trainer import SUMMARY_FILE, Trainer, limit_examples

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
# Relative to the repository root (the script changes into it), so that the settings stored in
# run directories and cell files do not depend on where the checkout lives.
CACHE_DIR = Path("benchmarks/.cache/ssr_table")
RESULTS_DIR = Path("benchmarks/results")
CELLS_DIR = RESULTS_DIR / "ssr_table_cells"
REPORT_JSON = RESULTS_DIR / "ssr_table.json"
REPORT_MD = RESULTS_DIR / "ssr_table.md"
#: Held while the report is rebuilt from the cells (one writer at a time).
REPORT_LOCK = "report.lock"
WALL_FILE = "benchmark-wall.json"
PREDICTIONS_FILE = "test-predictions.jsonl"

DATASETS = ("movies", "hatexplain", "fever")
SEEDS = (0, 1, 2)
#: Every registered method: those that train on discovered shortcuts share their seed's
#: discovery run and have their augmentation searched; the others are baselines.
SSR_METHODS = shortcut_methods()
BASELINES = tuple(m for m in available_methods() if m not in SSR_METHODS)
METHODS = BASELINES + SSR_METHODS
THROUGHPUT = "throughput"
AUGMENTATIONS = ("random", "semantic", "mixed")
#: The augmentation of each SSR method is chosen on this seed's validation scores ...
SEARCH_SEED = 0
#: ... by this metric of summary.json's validation section (token F1 of the rationale).
SEARCH_METRIC = "token_f1"

#: Fixed for every run; sized so that one run takes about ten minutes on two CPU cores.
#: Model selection (best epoch, early stopping) uses validation accuracy for every method, so
#: the unsupervised methods never see a validation rationale, and the discovery run of a seed
#: is the FR cell's run with top-k selection (:func:`discovery_run_dir`).
COMMON_SETTINGS: dict[str, Any] = {
    "epochs": 8,
    "patience": 3,
    "select_by": "accuracy",
    "labeled_fraction": 0.25,
}
#: Only the compute budget differs between datasets: FEVER's 97,957 training claims would take
#: hours per run on a CPU, so its runs train on a seeded subset.
DATASET_SETTINGS: dict[str, dict[str, Any]] = {
    "movies": {},
    "hatexplain": {},
    "fever": {"max_train_examples": 5000},
}

#: The encoders of the table and the datasets each one runs on. MiniLM (a 6-layer BERT) costs about
#: ten times the BiGRU per example on a CPU, so it runs on HateXplain's short posts only.
ENCODER_DATASETS: dict[str, tuple[str, ...]] = {
    "gru": DATASETS,
    "minilm": ("hatexplain",),
}
ENCODERS = tuple(ENCODER_DATASETS)
ENCODER_LABELS = {"gru": "BiGRU over GloVe", "minilm": "MiniLM (all-MiniLM-L6-v2, fine-tuned)"}
#: Settings of an encoder's cells beyond COMMON_SETTINGS: a pretrained transformer is fine-tuned
#: for a few epochs, as usual, and keeps its other defaults (learning rate, bf16 where faster).
ENCODER_SETTINGS: dict[str, dict[str, Any]] = {
    "gru": {},
    "minilm": {"epochs": 3},
}

#: Throughput measurement: one epoch of semi-supervised training on movies per encoder.
THROUGHPUT_RUNS: dict[str, dict[str, Any]] = {
    "gru": {"max_train_examples": 200},
    "minilm": {"max_train_examples": 32},
}
THROUGHPUT_SETTINGS: dict[str, Any] = {
    "dataset": "movies",
    "method": "semi",
    "max_length": 512,
    "epochs": 1,
    "batch_size": 8,
    "seed": 0,
}

#: Inverse regularisation strengths tried for the bag-of-words reference (chosen on validation).
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
TOP_WORDS_FRACTION = 0.1
REFERENCE_SEED = 0

#: The targets of the issue (test split, mean of the seeds): SSR's token-F1 gain over
#: semi-supervised RNP; the rationalizers' largest accuracy gap to the full-text model of the same
#: encoder; and, per dataset, a floor on accuracy and token F1 and whether accuracy must reach the
#: bag-of-words reference.
TOKEN_F1_GAIN = 0.02
ACCURACY_GAP = 0.02
MIN_ACCURACY = {"movies": 0.90}
MIN_TOKEN_F1 = {"movies": 0.37, "fever": 0.42}
BEAT_BAG_OF_WORDS = ("fever",)
#: The rows the targets apply to: semi-supervised RNP and SSR.
TARGET_ROWS = ("semi", "ssr-unif", "ssr-unif+best", "ssr-virt", "ssr-virt+best")


@dataclass(frozen=True)
class Metric:
    header: str
    key: str  # key in the flattened evaluate() report
    rationale: bool  # read from the annotated-only section when the report has one
    unit: Literal["fraction", "minutes", "rate"] = "fraction"


#: Table columns, in order. Rationale metrics come from evaluate's ``annotated_only`` section
#: when the test split mixes examples with and without a rationale (HateXplain: toxic posts).
TEST_METRICS: dict[str, Metric] = {
    "accuracy": Metric("acc", "classification_scores.accuracy", False),
    "weighted_f1": Metric("F1 w", "classification_scores.prf.weighted avg.f1-score", False),
    "macro_f1": Metric("F1 m", "classification_scores.prf.macro avg.f1-score", False),
    "token_precision": Metric("tok P", "token_prf.instance_micro.p", True),
    "token_recall": Metric("tok R", "token_prf.instance_micro.r", True),
    "token_f1": Metric("tok F1", "token_prf.instance_micro.f1", True),
    "iou_f1": Metric("IOU F1", "iou_scores@0.5.micro.f1", True),
    "selection_rate": Metric("sel", "selection_rate.micro", True),
    "comprehensiveness": Metric("comp", "classification_scores.comprehensiveness", False),
    "sufficiency": Metric("suff", "classification_scores.sufficiency", False),
    "comprehensiveness_aopc": Metric(
        "AOPC comp", "classification_scores.comprehensiveness_aopc", False
    ),
    "sufficiency_aopc": Metric("AOPC suff", "classification_scores.sufficiency_aopc", False),
}
COST_METRICS: dict[str, Metric] = {
    "wall_minutes": Metric("wall min", "", False, "minutes"),
    "examples_per_second": Metric("train ex/s", "", False, "rate"),
}
ANNOTATED_ONLY_PREFIX = "annotated_only."


# ------------------------------------------------------------------------------------ cells
@dataclass(frozen=True)
class Cell:
    """One training run of the table: dataset × method (with augmentation) × seed."""

    dataset: str
    method: str
    seed: int
    augment: str = "none"
    encoder: str = "gru"

    @property
    def name(self) -> str:
        return self.method if self.augment == "none" else f"{self.method}+{self.augment}"

    @property
    def table(self) -> str:
        return table_key(self.dataset, self.encoder)

    def run_dir(self, cache_dir: Path) -> Path:
        return cache_dir / self.table / self.name / f"seed{self.seed}"

    def record_path(self, cells_dir: Path) -> Path:
        return cells_dir / self.table / self.name / f"seed{self.seed}.json"

    def __str__(self) -> str:
        return f"{self.table}/{self.name}/seed{self.seed}"


def table_key(dataset: str, encoder: str) -> str:
    """A table's name and folder: the dataset for the BiGRU (the main table), else
    ``dataset/encoder``."""
    return dataset if encoder == "gru" else f"{dataset}/{encoder}"


def tables(datasets: Sequence[str], encoders: Sequence[str]) -> list[tuple[str, str]]:
    """The (dataset, encoder) tables among these, in encoder then dataset order."""
    return [(d, e) for e in encoders for d in ENCODER_DATASETS[e] if d in datasets]


def discovery_run_dir(dataset: str, seed: int, cache_dir: Path, encoder: str = "gru") -> Path:
    """The unsupervised run that discovers a seed's shortcuts, shared by its SSR cells: the FR
    cell's settings with top-k selection, so a run of its own, not the FR cell."""
    return cache_dir / table_key(dataset, encoder) / DISCOVERY_DIR / f"seed{seed}"


def cell_config(cell: Cell, cache_dir: Path) -> TrainConfig:
    """The fixed settings of a cell; SSR cells share their seed's discovery run."""
    settings = table_settings(cell.dataset, cell.encoder)
    settings |= {
        "dataset": cell.dataset,
        "method": cell.method,
        "augment": cell.augment,
        "seed": cell.seed,
    }
    if cell.method == "supervised":
        settings["labeled_fraction"] = 1.0
    if cell.method in SSR_METHODS:
        settings["shortcut_run"] = discovery_run_dir(
            cell.dataset, cell.seed, cache_dir, cell.encoder
        )
    return TrainConfig(**settings)


def table_settings(dataset: str, encoder: str) -> dict[str, Any]:
    """The settings every cell of a table shares."""
    return (
        COMMON_SETTINGS
        | DATASET_SETTINGS[dataset]
        | ENCODER_SETTINGS[encoder]
        | {"encoder": encoder}
    )


def config_json(config: TrainConfig) -> dict:
    return config.model_dump(mode="json")


#: done: stored with these settings by the code of now (or stale, reused on request); stale:
#: stored with these settings by other code; changed: stored with other settings.
CellState = Literal["done", "stale", "changed", "missing"]


def write_record(path: Path, data: Any) -> None:
    """Write a cell's record or a report with sorted keys, as every committed record is."""
    write_json(path, data, sort_keys=True)


def same_settings(stored: Mapping[str, Any], config: TrainConfig) -> bool:
    """Whether stored settings are ``config``'s; a setting added to TrainConfig since then
    counts at its default, so new options do not invalidate finished cells."""
    try:
        return TrainConfig.model_validate(stored) == config
    except ValidationError:
        return False


def provenance() -> dict:
    """The code that makes this script's records now: the package and this script."""
    return benchmark_provenance(SCRIPT)


def is_current(record: Mapping, current: Mapping | None = None) -> bool:
    """Whether a record, and every run it was made from, was made by the code of now
    (``current``, by default this script's); a record without provenance is not."""
    current = current or provenance()
    runs = (record.get("trained_by") or {}).values()
    return same_code(record.get("provenance"), current) and all(
        same_code(run, current) for run in runs
    )


def stale_entry(record: Mapping) -> dict:
    """What the report says about a stale record: its code and when it was finished."""
    return {"made_by": made_by(record), "finished": record.get("finished")}


def made_by(record: Mapping) -> str:
    """The code that made a record, for people; the runs it reused when their code differs."""
    own = record.get("provenance")
    runs = [
        f"{name} trained by {describe(run)}"
        for name, run in (record.get("trained_by") or {}).items()
        if own and not same_code(run, own)
    ]
    return "; ".join([describe(own), *runs])


def stored_record(cell: Cell, config: TrainConfig, cells_dir: Path) -> dict | None:
    """The cell's stored record if it was produced with these settings, by any code."""
    record = read_json(cell.record_path(cells_dir))
    if record is None or not same_settings(record["config"], config):
        return None
    return record


def finished_record(
    cell: Cell, config: TrainConfig, cells_dir: Path, *, stale_ok: bool = False
) -> dict | None:
    """The cell's stored record if it was produced with these settings by the code of now
    (by any code with ``stale_ok``)."""
    record = stored_record(cell, config, cells_dir)
    if record is None or not (stale_ok or is_current(record)):
        return None
    return record


def cell_state(
    cell: Cell, config: TrainConfig, cells_dir: Path, *, reuse_stale: bool = False
) -> CellState:
    record = stored_record(cell, config, cells_dir)
    if record is None:
        return "changed" if cell.record_path(cells_dir).is_file() else "missing"
    return "done" if reuse_stale or is_current(record) else "stale"


def choose_augmentation(scores: Mapping[str, float | None]) -> str | None:
    """The augmentation with the best validation score; None until every one has a score.

    Ties go to the first in :data:`AUGMENTATIONS` order.
    """
    if any(scores.get(augment) is None for augment in AUGMENTATIONS):
        return None
    return max(AUGMENTATIONS, key=lambda augment: scores[augment])


def search_records(
    dataset: str,
    method: str,
    cells_dir: Path,
    cache_dir: Path,
    *,
    encoder: str = "gru",
    stale_ok: bool = False,
) -> dict[str, dict | None]:
    """The finished search cell of each augmentation of an SSR method (None where missing)."""
    records = {}
    for augment in AUGMENTATIONS:
        cell = Cell(dataset, method, SEARCH_SEED, augment, encoder)
        records[augment] = finished_record(
            cell, cell_config(cell, cache_dir), cells_dir, stale_ok=stale_ok
        )
    return records


def search_scores(records: Mapping[str, dict | None]) -> dict[str, float | None]:
    """Validation score of each augmentation's search cell (None where it is missing)."""
    return {
        augment: None if record is None else record["validation"][SEARCH_METRIC]
        for augment, record in records.items()
    }


def planned_cells(
    dataset: str,
    seeds: Sequence[int],
    methods: Sequence[str],
    best_augment: Callable[[str, str], str | None],
    encoder: str = "gru",
) -> Iterator[Cell]:
    """The cells to run for a dataset, in order; lazy, because the augmentation of the later
    seeds is known only once the search cells (seed :data:`SEARCH_SEED`) have finished.

    SSR comes with the FR cell of its seed (the unsupervised baseline its discovery run is
    built on) and the search seed's cells, so both are planned whenever an SSR method is asked
    for; the discovery run itself is trained by the seed's first SSR cell.
    """
    ssr = [m for m in SSR_METHODS if m in methods]
    baselines = [m for m in BASELINES if m in methods or (m == DISCOVERY_METHOD and ssr)]
    for seed in sorted(set(seeds) | ({SEARCH_SEED} if ssr else set())):
        requested = seed in seeds
        for method in baselines:
            if requested or method == DISCOVERY_METHOD:
                yield Cell(dataset, method, seed, encoder=encoder)
        for method in ssr:
            if requested:
                yield Cell(dataset, method, seed, encoder=encoder)
            if seed == SEARCH_SEED:
                for augment in AUGMENTATIONS:
                    yield Cell(dataset, method, seed, augment, encoder)
            elif requested and (best := best_augment(dataset, method)) is not None:
                yield Cell(dataset, method, seed, best, encoder)


# ------------------------------------------------------------------------------- running
class Deadline:
    """No new cell starts once ``minutes`` have passed since construction (None: never)."""

    def __init__(self, minutes: float | None, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.end = None if minutes is None else clock() + 60.0 * minutes

    def passed(self) -> bool:
        return self.end is not None and self.clock() >= self.end


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        for name in ("ran", "skipped", "failed", "not_started"):
            getattr(self, name).extend(getattr(other, name))


def run_cells(
    cells: Iterable[Cell],
    *,
    configure: Callable[[Cell], TrainConfig],
    run: Callable[[Cell, TrainConfig], None],
    cells_dir: Path,
    deadline: Deadline,
    console: Console,
    reuse_stale: bool = False,
) -> Outcome:
    """Run every cell that has no finished record (made by the code of now, unless
    ``reuse_stale``), until the deadline; a failing cell is reported and the others still
    run, so a long sitting is not lost to one error."""
    outcome = Outcome()
    for cell in cells:
        config = configure(cell)
        state = cell_state(cell, config, cells_dir, reuse_stale=reuse_stale)
        if state == "done":
            outcome.skipped.append(str(cell))
            continue
        if deadline.passed():
            outcome.not_started.append(str(cell))
            continue
        if state == "changed":
            console.print(f"[yellow]{cell}: settings changed since its record; running again")
        elif state == "stale":
            record = read_json(cell.record_path(cells_dir)) or {}
            console.print(
                f"[yellow]{cell}: its record was made by other code ({made_by(record)}); "
                "running again"
            )
        console.rule(str(cell))
        try:
            run(cell, config)
        except Exception:
            console.print_exception(max_frames=5)
            outcome.failed.append(str(cell))
        else:
            outcome.ran.append(str(cell))
    return outcome


def check_same_run(run_dir: Path, config: TrainConfig) -> None:
    """A cached run directory must hold a run of these settings (else it must be deleted)."""
    if (run_dir / "config.json").is_file():
        stored = load_checkpoint(run_dir, with_resume=False).train_config
        if stored != config:
            raise RationalizerError(
                f"{run_dir} holds a run with other settings than this cell now uses; "
                "delete that folder to train the cell again"
            )


def cell_runs(config: TrainConfig, run_dir: Path) -> dict[str, Path]:
    """The run directories a record is made from: its own, and an SSR cell's discovery run."""
    runs = {"run": run_dir}
    if config.shortcut_run is not None:
        runs["discovery"] = config.shortcut_run
    return runs


def check_runs(runs: Mapping[str, Path], config: TrainConfig, reuse_stale: bool) -> None:
    """Refuse a cached run of other settings, and a finished run trained by other code unless
    ``reuse_stale`` (the record made from it is then stale)."""
    check_same_run(runs["run"], config)
    for run_dir in runs.values():
        trained_by(run_dir, reuse_stale)


def made_from(runs: Mapping[str, Path], summary: Mapping) -> dict:
    """What a record says about its runs: the code that trained them, and the settings the
    run used, with those the code changed at run time (λ off without shortcuts, say)."""
    return {
        "trained_by": {
            name: trained_by(run_dir, reuse_stale=True) for name, run_dir in runs.items()
        },
        "effective_config": summary.get("effective_config"),
        "overrides": summary.get("overrides"),
    }


def run_cell(
    cell: Cell,
    config: TrainConfig,
    *,
    cache_dir: Path,
    cells_dir: Path,
    console: Console,
    command: str,
    reuse_stale: bool = False,
) -> dict:
    """Train the cell (unless its run directory holds a finished run), score it on the test
    split and store its record."""
    run_dir = cell.run_dir(cache_dir)
    runs = cell_runs(config, run_dir)
    check_runs(runs, config, reuse_stale)
    if (run_dir / SUMMARY_FILE).is_file():
        wall = read_json(run_dir / WALL_FILE) or {"train_seconds": None, "resumed": None}
        console.print(f"{cell}: reusing the finished run in {run_dir}")
    else:
        resumed = (run_dir / RESUME_FILE).is_file()
        started = time.perf_counter()
        train_run(config, run_dir, console)
        wall = {"train_seconds": time.perf_counter() - started, "resumed": resumed}
        write_record(run_dir / WALL_FILE, wall)
    started = time.perf_counter()
    test = load(cell.dataset, "test")
    predictions = Rationalizer.load(run_dir).predict_dataset(test)
    report = evaluate(test, predictions)
    test_seconds = time.perf_counter() - started
    write_results(run_dir / PREDICTIONS_FILE, predictions)
    summary = read_file(run_dir / SUMMARY_FILE, "summary")
    train_seconds = wall["train_seconds"]
    record = {
        "cell": {
            "dataset": cell.dataset,
            "method": cell.method,
            "augment": cell.augment,
            "seed": cell.seed,
        },
        "config": config_json(config),
        "report": flatten(report),
        "validation": summary["validation"],
        "training": {
            key: summary[key]
            for key in (
                "best_epoch",
                "epochs_run",
                "seconds",
                "examples_per_second",
                "annotated_examples",
                "training_examples",
                "selection_rate_target",
                "truncation",
                "parameters",
            )
        },
        "wall_seconds": {
            "train": train_seconds,
            "test": test_seconds,
            "total": None if train_seconds is None else train_seconds + test_seconds,
            "resumed": wall["resumed"],
        },
        "machine": machine(),
        "command": command,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": provenance(),
        **made_from(runs, summary),
    }
    if (discovery := discovery_summary(run_dir)) is not None:
        record["discovery"] = discovery
    write_record(cell.record_path(cells_dir), record)
    total = record["wall_seconds"]["total"]
    console.print(
        f"{cell}: test accuracy {record['report']['classification_scores.accuracy']:.3f}, "
        f"wall {'?' if total is None else f'{total / 60:.1f} min'}"
    )
    return record


#: Discovered phrases listed per seed in the report.
DISCOVERY_TOP_PHRASES = 5


def discovery_summary(run_dir: Path) -> dict | None:
    """What shortcut discovery found for an SSR run (None for other runs)."""
    path = run_dir / SHORTCUTS_JSON
    if not path.is_file():
        return None
    report = ShortcutReport.load(path)
    return {
        "annotated_examples": report.annotated_examples,
        "examples_with_shortcuts": report.examples_with_shortcuts,
        "selected_words": report.selected_words,
        "shortcut_words": report.shortcut_words,
        "top_phrases": [p.phrase for p in report.phrases[:DISCOVERY_TOP_PHRASES]],
    }


def seed_discoveries(
    dataset: str, seeds: Sequence[int], cells_dir: Path, cache_dir: Path, encoder: str = "gru"
) -> dict[int, dict]:
    """Each seed's discovery, from its SSR_unif cell (every SSR cell of a seed shares it),
    stale or not."""
    found = {}
    for seed in seeds:
        cell = Cell(dataset, SSR_METHODS[0], seed, encoder=encoder)
        record = finished_record(cell, cell_config(cell, cache_dir), cells_dir, stale_ok=True)
        if record is not None and record.get("discovery") is not None:
            found[seed] = record["discovery"]
    return found


def record_missing_discoveries(
    dataset: str,
    seeds: Sequence[int],
    *,
    cache_dir: Path,
    cells_dir: Path,
    console: Console,
    encoder: str = "gru",
    discover: Callable[[TrainConfig, Path, Console], object] = discover_shortcuts,
) -> list[int]:
    """Add the discovery summary to finished SSR_unif records that lack it (written before
    discovery was recorded, or trained where the cache is gone); returns the seeds filled in.

    Discovery depends only on the seed's discovery run and the annotated examples, so running
    it again (training that run again where its folder is gone) yields what the SSR run used.
    """
    filled = []
    for seed in seeds:
        cell = Cell(dataset, SSR_METHODS[0], seed, encoder=encoder)
        config = cell_config(cell, cache_dir)
        record = finished_record(cell, config, cells_dir)
        if record is None or record.get("discovery") is not None:
            continue
        out = cache_dir / cell.table / "discovery" / f"seed{seed}"
        console.rule(f"{cell}: shortcut discovery for its record")
        discover(config, out, console)
        record["discovery"] = discovery_summary(out)
        write_record(cell.record_path(cells_dir), record)
        filled.append(seed)
    return filled


def machine() -> dict:
    return machine_info() | {"torch_threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------- references
def gold_density(dataset: Dataset) -> float:
    """Share of rationale words among the words of the examples that have a rationale."""
    annotated = dataset.annotated()
    return sum(int(ex.rationale_mask().sum()) for ex in annotated) / sum(
        len(ex.document) for ex in annotated
    )


class BagOfWords:
    """Binary bag-of-words features: document words, plus claim/question words when given."""

    def __init__(self, train: Dataset) -> None:
        self.documents = _vectorizer()
        self.documents.fit(_documents(train))
        self.queries = None
        if any(ex.query for ex in train):
            self.queries = _vectorizer().fit(_queries(train))

    def features(self, dataset: Dataset) -> scipy.sparse.csr_matrix:
        parts = [self.documents.transform(_documents(dataset))]
        if self.queries is not None:
            parts.append(self.queries.transform(_queries(dataset)))
        return scipy.sparse.hstack(parts).tocsr()

    def word_scores(
        self, model: LogisticRegression, words: Sequence[str], label: str
    ) -> np.ndarray:
        """Each document word's regression weight towards ``label`` (0 for unseen words)."""
        coefficients = model.coef_[:, : len(self.documents.vocabulary_)]
        if len(model.classes_) == 2:  # one row: weights towards classes_[1]
            coefficients = np.vstack([-coefficients[0], coefficients[0]])
        row = coefficients[list(model.classes_).index(label)]
        vocabulary = self.documents.vocabulary_
        return np.array([row[vocabulary[w]] if w in vocabulary else 0.0 for w in words])


def _vectorizer() -> CountVectorizer:
    # The datasets are already tokenised: split on whitespace, keep case and punctuation.
    return CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, binary=True)


def _documents(dataset: Dataset) -> list[str]:
    return [" ".join(ex.document.tokens) for ex in dataset]


def _queries(dataset: Dataset) -> list[str]:
    return [ex.query or "" for ex in dataset]


def rationale_records(
    test: Dataset,
    masks: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    probabilities: np.ndarray | None = None,
) -> list[ResultRecord]:
    """ERASER records of word masks (and optionally predicted labels with class scores)."""
    records = []
    for i, (ex, mask) in enumerate(zip(test, masks, strict=True)):
        spans = tuple(TokenSpan(s.start, s.end) for s in mask_to_spans(mask))
        records.append(
            ResultRecord(
                annotation_id=ex.id,
                rationales=(DocumentRationale(ex.document.docid, spans),),
                classification=None if labels is None else labels[i],
                classification_scores=None
                if probabilities is None
                else dict(zip(test.labels, map(float, probabilities[i]), strict=True)),
            )
        )
    return records


def reference_settings(dataset: str, cache_dir: Path) -> dict:
    config = cell_config(Cell(dataset, "rnp", REFERENCE_SEED), cache_dir)
    return {
        "max_train_examples": config.max_train_examples,
        "C_grid": list(C_GRID),
        "seed": REFERENCE_SEED,
        "top_words_fraction": TOP_WORDS_FRACTION,
    }


def compute_references(dataset: str, cache_dir: Path) -> dict:
    """Full-text bag-of-words logistic regression (C chosen on validation accuracy), random
    selection at the gold density of the training split, and the top words by its weights."""
    started = time.perf_counter()
    config = cell_config(Cell(dataset, "rnp", REFERENCE_SEED), cache_dir)
    train = limit_examples(load(dataset, "train"), config)
    validation, test = load(dataset, "validation"), load(dataset, "test")
    features = BagOfWords(train)
    x_train, x_val, x_test = (features.features(d) for d in (train, validation, test))
    y_train = [ex.label for ex in train]
    candidates = []
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=5000).fit(x_train, y_train)
        val_accuracy = float(np.mean(model.predict(x_val) == [ex.label for ex in validation]))
        candidates.append((val_accuracy, -C_GRID.index(c), c, model))
    val_accuracy, _, best_c, model = max(candidates, key=lambda t: t[:2])
    order = [list(model.classes_).index(label) for label in test.labels]
    probabilities = model.predict_proba(x_test)[:, order]
    predicted = [test.labels[i] for i in probabilities.argmax(1)]
    scores = classification_metrics([ex.label for ex in test], predicted, test.labels)

    def top_words(fraction: float) -> dict:
        masks = [
            top_fraction_words(features.word_scores(model, ex.document.tokens, label), fraction)
            for ex, label in zip(test, predicted, strict=True)
        ]
        return {"fraction": fraction, "test": test_metrics(_scored(test, masks))}

    density = gold_density(train)
    rng = np.random.default_rng(REFERENCE_SEED)
    random_masks = [rng.random(len(ex.document)) < density for ex in test]
    return {
        "settings": reference_settings(dataset, cache_dir),
        "train_examples": len(train),
        "gold_density_train": density,
        "bag_of_words": {
            "C": best_c,
            "validation_accuracy": val_accuracy,
            "validation_accuracy_by_C": {str(c): acc for acc, _, c, _ in candidates},
            "test": {
                "accuracy": scores["accuracy"],
                "weighted_f1": scores["prf"]["weighted avg"]["f1-score"],
                "macro_f1": scores["prf"]["macro avg"]["f1-score"],
            },
        },
        "random_selection": {
            "rate": density,
            "test": test_metrics(_scored(test, random_masks)),
        },
        "top_words": top_words(TOP_WORDS_FRACTION),
        "top_words_at_gold_density": top_words(density),
        "seconds": time.perf_counter() - started,
        "machine": machine(),
        "provenance": provenance(),
    }


def _scored(test: Dataset, masks: Sequence[np.ndarray]) -> dict[str, float]:
    return flatten(evaluate(test, rationale_records(test, masks)))


def references_path(cells_dir: Path, dataset: str) -> Path:
    return cells_dir / dataset / "references.json"


def ensure_references(
    dataset: str, cells_dir: Path, cache_dir: Path, console: Console, reuse_stale: bool = False
) -> None:
    """Compute the references unless they are stored with these settings by the code of now
    (by any code with ``reuse_stale``)."""
    path = references_path(cells_dir, dataset)
    stored = read_json(path)
    if (
        stored is not None
        and stored["settings"] == reference_settings(dataset, cache_dir)
        and (reuse_stale or is_current(stored))
    ):
        return
    console.print(f"{dataset}: computing the bag-of-words references")
    write_record(path, compute_references(dataset, cache_dir))


# ----------------------------------------------------------------------------- throughput
def throughput_config(encoder: str) -> TrainConfig:
    return TrainConfig(**THROUGHPUT_SETTINGS, encoder=encoder, **THROUGHPUT_RUNS[encoder])


def throughput_path(cells_dir: Path, encoder: str) -> Path:
    return cells_dir / THROUGHPUT / f"{encoder}.json"


def measure_throughput(encoder: str, cells_dir: Path, console: Console, command: str) -> None:
    """One timed training epoch; validation is a single example so the rate is training's."""
    config = throughput_config(encoder)
    train = limit_examples(load(config.dataset, "train"), config)
    validation = load(config.dataset, "validation")
    one = replace(validation, examples=validation.examples[:1])
    with TemporaryDirectory() as run_dir:
        result = Trainer(config, run_dir, train=train, validation=one, console=console).fit()
    write_record(
        throughput_path(cells_dir, encoder),
        {
            "config": config_json(config),
            "examples": len(train),
            "seconds": result.seconds,
            "examples_per_second": result.examples_per_second,
            "machine": machine(),
            "command": command,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "provenance": provenance(),
        },
    )
    console.print(f"throughput {encoder}: {result.examples_per_second:.2f} examples/s")


# -------------------------------------------------------------------------------- report
def test_metrics(flat: Mapping[str, float]) -> dict[str, float]:
    """The table's test metrics from a flattened evaluate() report (those it has)."""
    prefix = ANNOTATED_ONLY_PREFIX if any(k.startswith(ANNOTATED_ONLY_PREFIX) for k in flat) else ""
    values = {}
    for name, metric in TEST_METRICS.items():
        key = prefix + metric.key if metric.rationale else metric.key
        if key in flat:
            values[name] = flat[key]
    return values


def cell_metrics(record: Mapping) -> dict[str, float]:
    """Test metrics plus the cost of the run. The wall time is left out where it is unknown
    (a run trained outside this script) or partial (a run resumed in a later sitting)."""
    values = test_metrics(record["report"])
    wall = record["wall_seconds"]
    if wall["total"] is not None and not wall["resumed"]:
        values["wall_minutes"] = wall["total"] / 60
    values["examples_per_second"] = record["training"]["examples_per_second"]
    return values


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float | None  # sample standard deviation (n − 1); None for a single value
    n: int


def summarize(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Summary(statistics.fmean(values), std, len(values))


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    method: str
    augment: str | None  # None: the best augmentation is not decided yet


# How the paper's table names each method; a method registered later is listed by its name.
ROW_LABELS = {
    "rnp": "RNP (unsupervised)",
    "fr": "FR (unsupervised)",
    "semi": "semi-supervised RNP",
    "ssr-unif": "SSR_unif",
    "ssr-virt": "SSR_virt",
    "supervised": "supervised (100% rationales)",
    "full-text": "full text (no selection: the accuracy ceiling)",
}
# The references close the table, after the methods measured against them.
REFERENCE_METHODS = ("supervised", "full-text")


def table_rows(best: Mapping[str, str | None]) -> list[Row]:
    """Rows of a dataset's table, one per registered method (and per SSR method one more with
    its best augmentation); ``best`` maps each SSR method to its chosen augmentation."""
    order = [m for m in METHODS if m not in REFERENCE_METHODS]
    order += [m for m in REFERENCE_METHODS if m in METHODS]
    rows = []
    for method in order:
        label = ROW_LABELS.get(method, method)
        rows.append(Row(method, label, method, "none"))
        if method in SSR_METHODS:
            augment = best.get(method)
            title = f"{label} + {augment or 'best augmentation'}"
            rows.append(Row(f"{method}+best", title, method, augment))
    return rows


def switched(record: Mapping) -> list[dict]:
    """The settings the code replaced at run time (defaults it filled in are not listed)."""
    return [o for o in record.get("overrides") or [] if o["requested"] is not None]


def dataset_report(
    dataset: str, seeds: Sequence[int], cells_dir: Path, cache_dir: Path, encoder: str = "gru"
) -> dict:
    """Rows (mean ± std over the finished seeds), augmentation search, references, targets.

    Cells made by other code are included and named (``stale``, ``stale_seeds``), as are the
    settings the code switched at run time (``switched``).
    """
    stale: dict[str, dict] = {}  # cell → stale_entry

    def note(cell: Cell, record: Mapping) -> bool:
        """Whether the record is stale, noting it if so."""
        if is_current(record):
            return False
        stale[str(cell)] = stale_entry(record)
        return True

    search_cells = {
        m: search_records(dataset, m, cells_dir, cache_dir, encoder=encoder, stale_ok=True)
        for m in SSR_METHODS
    }
    search = {m: search_scores(found) for m, found in search_cells.items()}
    best = {m: choose_augmentation(search[m]) for m in SSR_METHODS}
    stale_search = {
        m: [
            a
            for a, r in found.items()
            if r is not None and note(Cell(dataset, m, SEARCH_SEED, a, encoder), r)
        ]
        for m, found in search_cells.items()
    }
    rows: dict[str, dict] = {}
    missing: list[str] = []
    for row in table_rows(best):
        if row.augment is None:
            absent = [a for a in AUGMENTATIONS if search[row.method][a] is None]
            missing.append(
                f"{table_key(dataset, encoder)}/{row.key}: augmentation not chosen yet "
                "(search cells missing: "
                + ", ".join(f"{row.method}+{a}/seed{SEARCH_SEED}" for a in absent)
                + ")"
            )
            rows[row.key] = {
                "label": row.label,
                "cell": None,
                "seeds": [],
                "stale_seeds": [],
                "switched": [],
                "metrics": {},
            }
            continue
        records = {}
        for seed in seeds:
            cell = Cell(dataset, row.method, seed, row.augment, encoder)
            record = finished_record(cell, cell_config(cell, cache_dir), cells_dir, stale_ok=True)
            if record is None:
                missing.append(str(cell))
            else:
                records[seed] = record
        names = list(TEST_METRICS) + list(COST_METRICS)
        values_by_seed = [cell_metrics(record) for record in records.values()]
        metrics = {}
        for name in names:
            values = [r[name] for r in values_by_seed if name in r]
            summary = summarize(values)
            if summary is not None:
                metrics[name] = vars(summary) | {"values": values}
        rows[row.key] = {
            "label": row.label,
            "cell": Cell(dataset, row.method, 0, row.augment, encoder).name,
            "seeds": sorted(records),
            "stale_seeds": [
                seed
                for seed, record in records.items()
                if note(Cell(dataset, row.method, seed, row.augment, encoder), record)
            ],
            "switched": [
                {"seed": seed} | override
                for seed, record in records.items()
                for override in switched(record)
            ],
            "metrics": metrics,
        }
    references = read_json(references_path(cells_dir, dataset))
    if references is not None and not is_current(references):
        stale[f"{dataset}/references"] = stale_entry(references)
    return {
        "dataset": dataset,
        "encoder": encoder,
        "settings": table_settings(dataset, encoder),
        "rows": rows,
        "augmentation_search": {
            m: {
                "validation_" + SEARCH_METRIC: search[m],
                "chosen": best[m],
                "stale": stale_search[m],
            }
            for m in SSR_METHODS
        },
        "references": references,
        "references_stale": f"{dataset}/references" in stale,
        "targets": evaluate_targets(dataset, rows, references, len(seeds)),
        "discovery": seed_discoveries(dataset, seeds, cells_dir, cache_dir, encoder),
        "missing": missing,
        "stale": stale,
    }


def evaluate_targets(
    dataset: str, rows: Mapping[str, Mapping], references: Mapping | None, seeds: int
) -> list[dict]:
    """The issue's targets for semi and each SSR row; 'pending' until every seed of both sides
    is in."""

    def mean(row: str, metric: str) -> float | None:
        entry = rows[row]["metrics"].get(metric)
        return entry["mean"] if entry and entry["n"] == seeds else None

    def minus(ours: float | None, reference: float | None) -> float | None:
        return None if ours is None or reference is None else ours - reference

    bow = references["bag_of_words"]["test"]["accuracy"] if references else None
    full_text = mean("full-text", "accuracy")
    targets = []
    for key in TARGET_ROWS:
        label = rows[key]["label"]
        accuracy, token_f1 = mean(key, "accuracy"), mean(key, "token_f1")
        if key != "semi":
            targets.append(
                _target(
                    f"{label}: test token F1 ≥ semi-supervised RNP + {TOKEN_F1_GAIN:.2f}",
                    key,
                    minus(token_f1, mean("semi", "token_f1")),
                    -TOKEN_F1_GAIN,
                )
            )
        targets.append(
            _target(
                f"{label}: test accuracy ≥ full-text accuracy (same encoder) − {ACCURACY_GAP:.2f}",
                key,
                minus(accuracy, full_text),
                ACCURACY_GAP,
            )
        )
        if dataset in MIN_ACCURACY:
            floor = MIN_ACCURACY[dataset]
            targets.append(
                _target(f"{label}: test accuracy ≥ {floor:.2f}", key, minus(accuracy, floor), 0.0)
            )
        if dataset in BEAT_BAG_OF_WORDS:
            targets.append(
                _target(
                    f"{label}: test accuracy ≥ bag-of-words full-text accuracy",
                    key,
                    minus(accuracy, bow),
                    0.0,
                )
            )
        if dataset in MIN_TOKEN_F1:
            floor = MIN_TOKEN_F1[dataset]
            targets.append(
                _target(f"{label}: test token F1 ≥ {floor:.2f}", key, minus(token_f1, floor), 0.0)
            )
    return targets


def _target(text: str, row: str, difference: float | None, allowance: float) -> dict:
    """``difference`` (ours − reference) meets the target when ≥ −allowance."""
    if difference is None:
        status = "pending"
    else:
        status = "met" if difference >= -allowance - 1e-12 else "not met"
    return {"target": text, "row": row, "difference": difference, "status": status}


def build_report(cells_dir: Path, cache_dir: Path, command: str) -> dict:
    """The whole protocol's report from the stored records (nothing is trained here)."""
    datasets = {
        table_key(d, e): dataset_report(d, SEEDS, cells_dir, cache_dir, e)
        for d, e in tables(DATASETS, ENCODERS)
    }
    throughput = {}
    for encoder in THROUGHPUT_RUNS:
        stored = read_json(throughput_path(cells_dir, encoder))
        if stored is not None and same_settings(stored["config"], throughput_config(encoder)):
            throughput[encoder] = stored
        else:
            throughput[encoder] = None
    missing = [m for d in datasets.values() for m in d["missing"]]
    missing += [f"throughput/{e}" for e, stored in throughput.items() if stored is None]
    stale = {cell: entry for d in datasets.values() for cell, entry in d["stale"].items()}
    stale |= {
        f"throughput/{e}": stale_entry(stored)
        for e, stored in throughput.items()
        if stored is not None and not is_current(stored)
    }
    records = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(cells_dir.rglob("seed*.json"))
    ]
    records += [stored for stored in throughput.values() if stored is not None]
    return {
        "title": "SSR Table 1 reproduction (BiGRU and MiniLM, CPU)",
        "command": command,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": provenance(),
        "machine": machine(),
        "seeds": list(SEEDS),
        "search": {"seed": SEARCH_SEED, "metric": "validation " + SEARCH_METRIC},
        "common_settings": COMMON_SETTINGS,
        "encoder_settings": ENCODER_SETTINGS,
        "datasets": datasets,
        "throughput": throughput,
        "missing": missing,
        "stale": stale,
        "cell_commands": sorted({r["command"] for r in records}),
        "cell_machines": distinct([r["machine"] for r in records]),
    }


def distinct(items: Sequence[dict]) -> list[dict]:
    seen: list[dict] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


# ------------------------------------------------------------------------------ markdown
def format_summary(entry: Mapping | None, metric: Metric, row_seeds: int) -> str:
    """``mean ± std`` over the row's finished seeds (with n when a seed lacks this metric),
    or ``missing``."""
    if not entry:
        return "missing"
    digits = {"fraction": 3, "minutes": 1, "rate": 1}[metric.unit]
    text = f"{entry['mean']:.{digits}f}"
    if entry["std"] is not None:
        text += f" ± {entry['std']:.{digits}f}"
    if entry["n"] < row_seeds:
        text += f" (n={entry['n']})"
    return text


def group_missing(missing: Sequence[str]) -> list[str]:
    """``dataset/cell/seedK`` entries merged into one line per cell; other entries as they are."""
    seeds: dict[str, list[str]] = {}
    lines: list[str] = []
    for entry in missing:
        head, _, last = entry.rpartition("/seed")
        if head and last.isdigit():
            if head not in seeds:
                seeds[head] = []
                lines.append(head)
            seeds[head].append(last)
        else:
            lines.append(entry)
    return [f"{line}: seeds {', '.join(seeds[line])}" if line in seeds else line for line in lines]


def render_markdown(report: Mapping) -> str:
    seeds = len(report["seeds"])
    lines = [
        f"# {report['title']}",
        "",
        "Reproduction of Table 1 of Yue et al., *Towards Faithful Explanations: Boosting "
        "Rationalization with Shortcuts Discovery* (ICLR 2024) on CPU, with our BiGRU over "
        "GloVe vectors on every dataset and MiniLM (a 6-layer BERT, fine-tuned) on HateXplain, "
        "not the paper's BERT-base: compare methods with each other, not with the paper's "
        "numbers. `benchmarks/README.md` says how to run and resume it.",
        "",
        f"Report built by: `{report['command']}` ({report['generated']}).",
        "",
        f"Code: {code_text(report['provenance'])}."
        + (
            f" Cells marked {STALE_MARK} were made by other code (see [Stale cells](#stale-cells))."
            if report["stale"]
            else ""
        ),
        "",
        "Cells produced by:",
        "",
        *[f"- `{c}`" for c in report["cell_commands"] or ["(no cell finished yet)"]],
        "",
        "Machines that ran the cells:",
        "",
        *[
            f"- {text}"
            for text in dict.fromkeys(
                machine_text(m) for m in report["cell_machines"] or [report["machine"]]
            )
        ],
        "",
        "## Protocol",
        "",
        f"- Seeds {', '.join(map(str, report['seeds']))}; every number in the tables is the "
        "mean ± sample standard deviation (n − 1) over the seeds that have finished (column "
        "`seeds`; no ± with one seed); a row without any finished seed says `missing`.",
        "- 25% of the training examples keep their human rationale (fixed seeded choice); "
        "`supervised` uses all of them. The target selection rate k of the sparsity loss is the "
        "gold rationale density of the annotated training examples.",
        "- Everything is measured on the **test** split with the predictor reading only the "
        "selected rationale. Token P/R/F1 are ERASER's `token_prf.instance_micro`, IOU F1 is "
        "the micro F1 at IOU 0.5, `sel` the share of words selected. On HateXplain the "
        "rationale columns (token P/R/F1, IOU F1, sel) are over the toxic posts only "
        "(evaluate's `annotated_only` section); task and faithfulness columns over all posts.",
        "- `comp`/`suff`: comprehensiveness and sufficiency of the selected rationale; "
        "`AOPC comp`/`AOPC suff`: their averages over the top 1/5/10/20/50% of words by "
        "selector probability. `suff` is 0 for every method by construction, not by "
        "measurement luck: the prediction already reads only the selected rationale, so "
        "keeping only the rationale changes nothing; `AOPC suff` keeps the top words by "
        "selector probability instead, which can differ from the selection.",
        "- `wall min`: wall-clock minutes of the run (training, including data loading and, "
        "for SSR, shortcut discovery with the cached FR run, plus test scoring; left out "
        "for a run resumed in a later sitting, whose time is partial). "
        "`train ex/s`: summary.json's examples per second, over the training loop including "
        "the per-epoch validation pass (augmented copies count as examples).",
        f"- Hyper-parameters are fixed (below); model selection (best epoch, early stopping) "
        f"uses validation accuracy for every method. The augmentation of each SSR method is "
        f"chosen per dataset among {', '.join(AUGMENTATIONS)} by {report['search']['metric']} "
        f"on seed {report['search']['seed']} (ties: first in that order), then run for all "
        "seeds. No choice looks at the test split.",
        "- Authors' loss weights: α = 0.01 (sparsity), β = 0.01 (continuity), λ = 0.1 "
        "(shortcut terms), selector supervision weight 1; the predictor reads the full input "
        "on annotated examples (as the authors); Gumbel-softmax soft samples, τ = 1.",
        "",
        "Fixed settings (all tables): "
        + ", ".join(f"`{k}={v}`" for k, v in report["common_settings"].items())
        + "; AdamW, weight decay 0.01, 10% linear warm-up, gradient clipping 1.0.",
        "",
        "Every other setting is the package default of the commit that made the cell (its "
        "`summary.json` records them all): whole documents for the BiGRU (no length cut; "
        "MiniLM reads its 512 positions), the query attended to where a dataset has one, the "
        "encoder's default learning rate, bf16 autocast for MiniLM where the CPU has bfloat16 "
        "units. The tables differ only in the encoder and in how many epochs and training "
        "examples the CPU budget allows:",
        "",
        "| table | encoder | epochs | training examples |",
        "|---|---|---|---|",
    ]
    for name, data in report["datasets"].items():
        settings = data["settings"]
        cap = settings.get("max_train_examples")
        lines.append(
            f"| {name} | {ENCODER_LABELS[data['encoder']]} | {settings['epochs']} | "
            f"{'all' if cap is None else f'a seeded subset of {cap}'} |"
        )
    for name, data in report["datasets"].items():
        lines += ["", *_dataset_markdown(name, data, seeds)]
    lines += ["", *_throughput_markdown(report["throughput"], report["stale"])]
    lines += ["", "## Missing cells", ""]
    lines += [f"- {m}" for m in group_missing(report["missing"])] or [
        "None: every cell has finished."
    ]
    lines += ["", "## Stale cells", "", *stale_markdown(report["stale"])]
    return "\n".join(lines) + "\n"


def stale_markdown(stale: Mapping[str, Mapping]) -> list[str]:
    """The stale cells grouped by the code that made them, with when they were finished."""
    if not stale:
        return ["None: every cell was made by the code of this report."]
    by_code: dict[str, list[str]] = {}
    for cell, entry in stale.items():
        by_code.setdefault(entry["made_by"], []).append(cell)
    lines = [
        f"Made by other code than this report's (marked {STALE_MARK}); `not recorded`: made "
        "before provenance was recorded. The next run of the benchmark runs them again unless "
        "it is given `--reuse-stale`.",
        "",
    ]
    for code, cells in by_code.items():
        dates = sorted(d[:10] for c in cells if (d := stale[c].get("finished")))
        when = f", finished {dates[0]} to {dates[-1]}" if dates else ""
        lines += [f"- Code: {code}{when}", *[f"  - {c}" for c in group_missing(cells)]]
    return lines


def machine_text(m: Mapping) -> str:
    return (
        f"{m['platform']}, {m['cpu_count']} CPUs ({m['usable_cpus']} usable), Python "
        f"{m['python']}, torch {m['torch']} with {m['torch_threads']} thread(s)"
    )


def _dataset_markdown(name: str, data: Mapping, seeds: int) -> list[str]:
    columns = {**TEST_METRICS, **COST_METRICS}
    lines = [
        f"## {name}",
        "",
        f"Encoder: {ENCODER_LABELS[data['encoder']]}.",
        "",
        "| method | seeds | " + " | ".join(m.header for m in columns.values()) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for row in data["rows"].values():
        done = len(row["seeds"])
        cells = [format_summary(row["metrics"].get(k), m, done) for k, m in columns.items()]
        mark = f" {STALE_MARK}" if row["stale_seeds"] else ""
        lines.append(f"| {row['label']} | {done}/{seeds}{mark} | " + " | ".join(cells) + " |")
    if any(row["stale_seeds"] for row in data["rows"].values()):
        lines += [
            "",
            f"{STALE_MARK} some seeds of the row were made by other code "
            "(see [Stale cells](#stale-cells)).",
        ]
    lines += switched_markdown({row["label"]: row["switched"] for row in data["rows"].values()})
    lines += ["", f"Augmentation search (seed {SEARCH_SEED}, validation {SEARCH_METRIC}):", ""]
    lines += ["| method | " + " | ".join(AUGMENTATIONS) + " | chosen |", "|---|---|---|---|---|"]
    for method, search in data["augmentation_search"].items():
        scores = search["validation_" + SEARCH_METRIC]
        shown = [
            "missing"
            if scores[a] is None
            else f"{scores[a]:.3f}" + (STALE_MARK if a in search["stale"] else "")
            for a in AUGMENTATIONS
        ]
        lines.append(f"| {method} | " + " | ".join(shown) + f" | {search['chosen'] or '—'} |")
    stale_discovery = data["rows"][SSR_METHODS[0]]["stale_seeds"]
    lines += ["", *_discovery_markdown(data.get("discovery") or {}, stale_discovery)]
    lines += [
        "",
        *_references_markdown(data["references"], data["references_stale"]),
        *_published_markdown(data["dataset"]),
        "",
        "Targets:",
        "",
    ]
    for target in data["targets"]:
        difference = target["difference"]
        shown = "" if difference is None else f" (difference {difference:+.3f})"
        lines.append(f"- {target['target']}: **{target['status']}**{shown}")
    return lines


def switched_markdown(switched: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """The settings the code switched at run time: one line per switch, naming the rows and
    seeds it happened in (the same switch in every cell is one line, not one per cell)."""
    where: dict[tuple[str, str, str, str], dict[str, list[int]]] = {}
    for label, overrides in switched.items():
        for o in overrides:
            key = (o["setting"], str(o["requested"]), str(o["used"]), o["reason"])
            where.setdefault(key, {}).setdefault(label, []).append(o["seed"])
    lines = []
    for (setting, requested, used, reason), rows in where.items():
        cells = "; ".join(
            f"{label} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))})"
            for label, seeds in rows.items()
        )
        lines.append(f"- `{setting}` {requested} → {used} ({reason}): {cells}")
    return ["", "Settings the code switched at run time:", "", *lines] if lines else []


def _discovery_markdown(discoveries: Mapping, stale_seeds: Sequence[int] = ()) -> list[str]:
    if not discoveries:
        return ["Shortcut discovery: not recorded yet (no finished SSR_unif cell holds it)."]
    lines = [
        "Shortcut discovery (each seed's discovery run, FR with top-k selection, run on the "
        "annotated training examples; "
        "shortcut words are the selected words outside the human rationale):",
        "",
        "| seed | annotated examples | with ≥1 shortcut word | shortcut words per example | "
        "share of selected words | most frequent shortcut phrases |",
        "|---|---|---|---|---|---|",
    ]
    for seed, found in sorted(discoveries.items(), key=lambda item: int(item[0])):
        annotated = found["annotated_examples"]
        selected = found["selected_words"]
        share = f"{found['shortcut_words'] / selected:.2f}" if selected else "— (none selected)"
        phrases = ", ".join(f"`{p}`" for p in found["top_phrases"]) or "—"
        mark = STALE_MARK if int(seed) in stale_seeds else ""
        lines.append(
            f"| {seed}{mark} | {annotated} | {found['examples_with_shortcuts']} | "
            f"{found['shortcut_words'] / annotated:.1f} | {share} | {phrases} |"
        )
    if all(not found["selected_words"] for found in discoveries.values()):
        lines += [
            "",
            "The discovery run selects no words, so there are no shortcuts: SSR's shortcut "
            "terms are zero, augmentation has no positions to change, and every SSR run trains "
            "exactly like semi-supervised RNP.",
        ]
    return lines


#: Published results on the same test split, for comparison (not re-measured here): the table in
#: the README of the RTP code (inas-argumentation/RationalizedTransformerPredictor, EMNLP 2024),
#: whose rationalizers all use a BERT encoder. "acc" there is classification F1.
PUBLISHED: dict[str, list[tuple[str, str, float | None, float | None]]] = {
    "movies": [
        ("Lei et al. two-player rationalizer", "BERT", 0.930, 0.449),
        ("supervised rationalizer", "BERT", 0.980, 0.514),
        ("random selection", "—", None, 0.326),
    ],
}
PUBLISHED_SOURCE = (
    "README of the RTP code (inas-argumentation/RationalizedTransformerPredictor, EMNLP 2024)"
)


def _published_markdown(dataset: str) -> list[str]:
    rows = PUBLISHED.get(dataset)
    if not rows:
        return []
    lines = [
        "",
        f"Published on the same test split (from the {PUBLISHED_SOURCE}; their task column is "
        "classification F1; not re-measured here):",
        "",
        "| system | encoder | task F1 | tok F1 |",
        "|---|---|---|---|",
    ]
    for system, encoder, task, token in rows:
        shown = ["—" if v is None else f"{v:.3f}" for v in (task, token)]
        lines.append(f"| {system} | {encoder} | " + " | ".join(shown) + " |")
    return lines


def _references_markdown(references: Mapping | None, stale: bool = False) -> list[str]:
    if references is None:
        return ["References: missing (computed when the dataset is run)."]
    bow = references["bag_of_words"]
    rate = references["random_selection"]["rate"]
    fraction = references["top_words"]["fraction"]
    mark = f" {STALE_MARK} made by other code" if stale else ""
    lines = [
        f"References{mark} (test split; the regression is trained on the same "
        f"{references['train_examples']} training examples, C chosen on validation accuracy):",
        "",
        "| reference | acc | F1 w | F1 m | tok P | tok R | tok F1 | IOU F1 | sel |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    entries = [
        (
            f"bag-of-words logistic regression, full text (C={bow['C']:g}, "
            f"validation acc {bow['validation_accuracy']:.3f})",
            bow["test"],
        ),
        (
            f"random selection at the training gold density {rate:.3f}",
            references["random_selection"]["test"],
        ),
        (
            f"top {fraction:.0%} words by regression weight towards its prediction",
            references["top_words"]["test"],
        ),
        (
            f"top {rate:.1%} words (gold density) by regression weight",
            references["top_words_at_gold_density"]["test"],
        ),
    ]
    names = (
        "accuracy",
        "weighted_f1",
        "macro_f1",
        "token_precision",
        "token_recall",
        "token_f1",
        "iou_f1",
        "selection_rate",
    )
    for label, values in entries:
        shown = ["—" if n not in values else f"{values[n]:.3f}" for n in names]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    return lines


def _throughput_markdown(
    throughput: Mapping[str, Mapping | None], stale: Mapping[str, str]
) -> list[str]:
    settings = ", ".join(f"`{k}={v}`" for k, v in THROUGHPUT_SETTINGS.items())
    lines = [
        "## Training throughput by encoder",
        "",
        f"One timed training epoch on a seeded subset of the movies reviews ({settings}; "
        "default learning rate of each encoder; validation on a single example so that the "
        "rate is the training loop's).",
        "",
        "| encoder | examples | seconds | examples/s | machine |",
        "|---|---|---|---|---|",
    ]
    for encoder, stored in throughput.items():
        if stored is None:
            lines.append(f"| {encoder} | missing | missing | missing | |")
        else:
            mark = f" {STALE_MARK}" if f"{THROUGHPUT}/{encoder}" in stale else ""
            lines.append(
                f"| {encoder}{mark} | {stored['examples']} | {stored['seconds']:.1f} | "
                f"{stored['examples_per_second']:.2f} | {machine_text(stored['machine'])} |"
            )
    return lines


# ----------------------------------------------------------------------------------- CLI
def _choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}"
            )
        return items

    return parse


def seeds_argument(text: str) -> list[int]:
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds ≥ 0, got {text!r}")
    return seeds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--datasets", type=_choices(DATASETS), default=list(DATASETS), help="default: all"
    )
    parser.add_argument(
        "--encoders",
        type=_choices(ENCODERS),
        default=list(ENCODERS),
        help="default: all (gru on every dataset, minilm on "
        + ", ".join(ENCODER_DATASETS["minilm"])
        + ")",
    )
    parser.add_argument("--seeds", type=seeds_argument, default=list(SEEDS), help="default: 0,1,2")
    parser.add_argument(
        "--methods",
        type=_choices((*METHODS, THROUGHPUT)),
        default=[*METHODS, THROUGHPUT],
        help=f"any of {', '.join(METHODS)} and {THROUGHPUT} (the encoder timing); default: all. "
        "SSR methods bring their seed's FR cell and the augmentation search with them",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no new cell after this many minutes (a running cell finishes)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine more threads are "
        "several times slower)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rebuild ssr_table.json/.md from the stored cells",
    )
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse cells, references and run directories made by other code (the package or "
        "this script changed since) instead of running them again; the report marks them",
    )
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace, console: Console, command: str) -> Outcome:
    deadline = Deadline(args.max_minutes)
    outcome = Outcome()
    if THROUGHPUT in args.methods:
        for encoder in THROUGHPUT_RUNS:
            stored = read_json(throughput_path(CELLS_DIR, encoder))
            label = f"{THROUGHPUT}/{encoder}"
            if (
                stored is not None
                and same_settings(stored["config"], throughput_config(encoder))
                and (args.reuse_stale or is_current(stored))
            ):
                outcome.skipped.append(label)
            elif deadline.passed():
                outcome.not_started.append(label)
            else:
                console.rule(label)
                measure_throughput(encoder, CELLS_DIR, console, command)
                outcome.ran.append(label)
    methods = [m for m in args.methods if m != THROUGHPUT]
    for dataset in args.datasets:
        if not deadline.passed():
            ensure_references(dataset, CELLS_DIR, CACHE_DIR, console, args.reuse_stale)
    for dataset, encoder in tables(args.datasets, args.encoders) if methods else []:
        cells = planned_cells(
            dataset,
            args.seeds,
            methods,
            lambda d, m, e=encoder: choose_augmentation(
                search_scores(
                    search_records(d, m, CELLS_DIR, CACHE_DIR, encoder=e, stale_ok=args.reuse_stale)
                )
            ),
            encoder,
        )
        outcome.merge(
            run_cells(
                cells,
                configure=lambda cell: cell_config(cell, CACHE_DIR),
                run=lambda cell, config: run_cell(
                    cell,
                    config,
                    cache_dir=CACHE_DIR,
                    cells_dir=CELLS_DIR,
                    console=console,
                    command=command,
                    reuse_stale=args.reuse_stale,
                ),
                cells_dir=CELLS_DIR,
                deadline=deadline,
                console=console,
                reuse_stale=args.reuse_stale,
            )
        )
        if SSR_METHODS[0] in methods and not deadline.passed():
            record_missing_discoveries(
                dataset,
                args.seeds,
                cache_dir=CACHE_DIR,
                cells_dir=CELLS_DIR,
                console=console,
                encoder=encoder,
            )
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    command = command_line(SCRIPT, argv)
    outcome = Outcome()
    if not args.report_only:
        outcome = run_benchmark(args, console, command)
    try:
        # Sittings may train side by side (each run directory has its own lock and cell records
        # are written whole); the report, which reads every cell, has one writer at a time.
        with writing(REPORT_JSON, CACHE_DIR / REPORT_LOCK):
            report = build_report(CELLS_DIR, CACHE_DIR, command)
            write_record(REPORT_JSON, report)
            REPORT_MD.write_text(render_markdown(report), encoding="utf-8")
    except OutputLockedError as err:
        console.print(
            f"[red]{err}[/]; this sitting's cells are kept: run --report-only once it is done",
            soft_wrap=True,
        )
        return 2
    console.print(
        f"ran {len(outcome.ran)}, already done {len(outcome.skipped)}, "
        f"failed {len(outcome.failed)}, not started (time limit) {len(outcome.not_started)}; "
        f"{len(report['missing'])} cells missing and {len(report['stale'])} stale in the "
        f"report; wrote {REPORT_MD}"
    )
    for cell in outcome.failed:
        console.print(f"[red]failed:[/] {cell}")
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
