"""What a report shows, read from disk: each input is recognised by its content, not its name.

Four kinds of input are understood:

* a **run directory** of ``rationalizer train`` (``config.json`` of format
  ``rationalizer.run``, with ``metrics.jsonl``, ``summary.json`` and, for SSR runs, its
  ``shortcuts.json``);
* an ERASER **results** jsonl (a record with an ``annotation_id`` per line), scored against the
  dataset it was predicted on;
* a **shortcut report** (``shortcuts.json`` of ``rationalizer shortcuts`` or of an SSR run);
* an **explainer benchmark** output (``benchmarks/results/explainers.json``: a ``models``
  object with each model's ``methods``).

Anything else is a :class:`~rationalizer.errors.DataFormatError` naming the file and the kinds
that were expected. The training modules are imported only when a run or a shortcut report is
read: they load torch, which a report of results files alone does not need.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from rationalizer.data import Dataset, ResultRecord, load, read_results
from rationalizer.data._json import field_path, parse_json
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.files import declared_kind, file_kind, format_name, read_json, validated
from rationalizer.metrics.evaluate import evaluate  # metrics.evaluate also names the module

if TYPE_CHECKING:
    from rationalizer.training.shortcuts import ShortcutReport

InputKind = Literal["run", "results", "shortcuts", "benchmark"]
EXPECTED_KINDS = (
    "a run directory of `rationalizer train`, an ERASER results jsonl, a shortcut report "
    "(shortcuts.json) or an explainer benchmark output (explainers.json)"
)


@dataclass(frozen=True)
class EpochMetrics:
    """One line of a run's ``metrics.jsonl``: the epoch's training and validation averages."""

    __pydantic_config__ = ConfigDict(extra="ignore")
    epoch: int
    train: dict[str, float | None]
    validation: dict[str, float | None]
    best: bool = False


@dataclass(frozen=True)
class _RunConfig:
    """The parts of a run's ``config.json`` a report reads."""

    __pydantic_config__ = ConfigDict(extra="ignore")
    labels: tuple[str, ...]
    train_config: dict[str, Any]


class _Tolerant(BaseModel):
    """Benchmark outputs may gain fields; a report shows the ones it knows and keeps the rest."""

    model_config = ConfigDict(extra="allow")


class MethodScores(_Tolerant):
    """One explainer's scores on one model; every metric is optional."""

    token_f1: float | None = None
    auprc: float | None = None
    comprehensiveness: float | None = None
    sufficiency: float | None = None
    aopc_comprehensiveness: float | None = None
    aopc_sufficiency: float | None = None
    seconds_per_example: float | None = None


class ModelBenchmark(_Tolerant):
    """The explainers compared on one model."""

    dataset: str
    split: str
    examples: int
    methods: dict[str, MethodScores]


class ExplainerBenchmark(_Tolerant):
    """``benchmarks/results/explainers.json``: explainers compared on several models."""

    command: str = ""
    seeds: list[int] = []
    machine: dict[str, Any] = {}
    models: dict[str, ModelBenchmark]
    greedy: dict[str, Any] | None = None


_EPOCH = TypeAdapter(EpochMetrics)
_RUN_CONFIG = TypeAdapter(_RunConfig)
_VALIDATION = TypeAdapter(dict[str, float | None])
_BENCHMARK = TypeAdapter(ExplainerBenchmark)


@dataclass(frozen=True)
class RunInput:
    """A run directory: its settings, per-epoch metrics, summary and shortcut report."""

    path: Path
    name: str
    labels: tuple[str, ...]
    train_config: dict[str, Any]
    epochs: tuple[EpochMetrics, ...]
    summary: dict[str, Any] | None
    shortcuts: ShortcutsInput | None

    @property
    def dataset(self) -> str | None:
        return self.train_config.get("dataset")

    @property
    def validation(self) -> dict[str, float | None]:
        """Validation metrics of the selected epoch (empty for a run that has not finished)."""
        return {} if self.summary is None else self.summary.get("validation", {})


@dataclass(frozen=True)
class ResultsInput:
    """A results file, checked against its dataset and scored by :func:`evaluate`."""

    path: Path
    name: str
    dataset: Dataset
    records: tuple[ResultRecord, ...]
    scores: dict


@dataclass(frozen=True)
class ShortcutsInput:
    path: Path
    name: str
    report: ShortcutReport


@dataclass(frozen=True)
class BenchmarkInput:
    path: Path
    name: str
    benchmark: ExplainerBenchmark


@dataclass(frozen=True)
class ReportInputs:
    """Everything one report shows; ``shortcuts`` includes the shortcut reports of the runs."""

    runs: tuple[RunInput, ...] = ()
    results: tuple[ResultsInput, ...] = ()
    shortcuts: tuple[ShortcutsInput, ...] = ()
    benchmarks: tuple[BenchmarkInput, ...] = ()


def detect_input(path: str | Path) -> InputKind:
    """The kind of ``path``, from its content; a clear error when it is none of the four."""
    path = Path(path)
    if path.is_dir():
        from rationalizer.training.checkpoint import CONFIG_FILE

        if file_kind(path / CONFIG_FILE) == "run":
            return "run"
        raise DataFormatError(
            path,
            f"a directory must be a run directory of `rationalizer train` ({CONFIG_FILE} with "
            f'"format": "{format_name("run")}")',
        )
    if not path.is_file():
        raise DataFormatError(path, f"no such file or directory; expected {EXPECTED_KINDS}")
    text = _read_text(path)
    if not text.strip():
        raise DataFormatError(path, f"file is empty; expected {EXPECTED_KINDS}")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        kind = _json_kind(whole)
        if kind is not None:
            return kind
    elif whole is None:
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        try:
            first = json.loads(first_line)
        except json.JSONDecodeError:
            first = None
        if isinstance(first, dict) and "annotation_id" in first:
            return "results"
    raise DataFormatError(path, f"not a report input; expected {EXPECTED_KINDS}")


def _json_kind(content: dict) -> InputKind | None:
    if "annotation_id" in content:  # a results file of one record
        return "results"
    if "models" in content:
        return "benchmark"
    if declared_kind(content) == "shortcut-report":
        return "shortcuts"
    return None


def load_inputs(
    paths: Sequence[str | Path],
    *,
    dataset: str | Dataset | None = None,
    split: str = "test",
    data_dir: str | Path | None = None,
) -> ReportInputs:
    """Detect and read every input; results files are checked and scored against ``dataset``.

    ``dataset`` is a dataset name (loaded with ``split`` from ``data_dir``) or a loaded
    :class:`Dataset`. Without it, results files are scored against the dataset the given run
    directory was trained on. Inputs with the same file name are told apart by their folder.
    """
    if not paths:
        raise RationalizerError(f"give at least one input: {EXPECTED_KINDS}")
    input_paths = [Path(p) for p in paths]
    kinds = [detect_input(p) for p in input_paths]
    names = dict(zip(input_paths, _display_names(input_paths), strict=True))

    def given(kind: InputKind) -> list[Path]:
        return [p for p, k in zip(input_paths, kinds, strict=True) if k == kind]

    runs = tuple(_load_run(p, names[p]) for p in given("run"))
    results: tuple[ResultsInput, ...] = ()
    if given("results"):
        data = _results_dataset(given("results")[0], dataset, split, data_dir, runs)
        results = tuple(_load_results(p, names[p], data) for p in given("results"))
    shortcuts = tuple(run.shortcuts for run in runs if run.shortcuts)
    of_runs = {s.path.resolve() for s in shortcuts}
    shortcuts += tuple(
        _load_shortcuts(p, names[p]) for p in given("shortcuts") if p.resolve() not in of_runs
    )
    benchmarks = tuple(
        BenchmarkInput(p, names[p], parse_json(_BENCHMARK, _read_text(p), p))
        for p in given("benchmark")
    )
    return ReportInputs(runs, results, shortcuts, benchmarks)


def _results_dataset(
    first: Path,
    dataset: str | Dataset | None,
    split: str,
    data_dir: str | Path | None,
    runs: Sequence[RunInput],
) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if dataset is not None:
        return load(dataset, split, data_dir)
    trained_on = {(run.dataset, run.train_config.get("data_dir")) for run in runs}
    if len(trained_on) == 1:
        (name, run_data_dir), *_ = trained_on
        if name:
            return load(name, split, data_dir or run_data_dir)
    raise DataFormatError(
        first,
        "results need the dataset they were predicted on: pass --dataset NAME (and --split, "
        "default test), or the run directory that made them",
    )


def _load_results(path: Path, name: str, dataset: Dataset) -> ResultsInput:
    records = tuple(read_results(path, dataset))
    # subset: a report shows whatever part of the split a file covers, and says how much.
    scores = evaluate(dataset, records, aopc_thresholds=None, subset=True, check=False)
    return ResultsInput(path, name, dataset, records, scores)


def _load_shortcuts(path: Path, name: str) -> ShortcutsInput:
    from rationalizer.training.shortcuts import ShortcutReport

    return ShortcutsInput(path, name, ShortcutReport.load(path))


def _load_run(path: Path, name: str) -> RunInput:
    from rationalizer.training.checkpoint import CONFIG_FILE
    from rationalizer.training.shortcuts import REPORT_JSON
    from rationalizer.training.trainer import METRICS_FILE, SUMMARY_FILE

    config_path = path / CONFIG_FILE
    config = validated(_RUN_CONFIG, read_json(config_path, "run"), config_path)
    summary_path = path / SUMMARY_FILE
    summary = None
    if summary_path.is_file():
        summary = read_json(summary_path, "summary")
        summary["validation"] = _validated(
            _VALIDATION, summary.get("validation", {}), summary_path, "validation"
        )
    shortcuts_path = path / REPORT_JSON
    return RunInput(
        path=path,
        name=name,
        labels=config.labels,
        train_config=config.train_config,
        epochs=_read_epochs(path / METRICS_FILE),
        summary=summary,
        shortcuts=_load_shortcuts(shortcuts_path, f"{name}/{REPORT_JSON}")
        if shortcuts_path.is_file()
        else None,
    )


def _read_epochs(path: Path) -> tuple[EpochMetrics, ...]:
    """Per-epoch metrics in epoch order; a resumed run may log an epoch twice (last one wins)."""
    if not path.is_file():
        return ()
    by_epoch = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            record = parse_json(_EPOCH, line, path, line=number)
            by_epoch[record.epoch] = record
    return tuple(by_epoch[epoch] for epoch in sorted(by_epoch))


def _validated(adapter: TypeAdapter, value: Any, path: Path, field: str):
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = field_path([field, *first["loc"]])
        raise DataFormatError(path, first["msg"], field=where) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(path, "not a UTF-8 text file") from None
    except OSError as err:
        raise DataFormatError(path, f"cannot read ({err.strerror})") from None


def _display_names(paths: Sequence[Path]) -> list[str]:
    """Short names for the inputs: the file name, with its folder where two names clash."""
    counts = Counter(p.name for p in paths)
    return [p.name if counts[p.name] == 1 else f"{p.parent.name}/{p.name}" for p in paths]
