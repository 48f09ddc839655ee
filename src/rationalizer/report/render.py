"""From loaded inputs to one self-contained HTML page: the view model and its Jinja2 template.

The page has no external reference at all: CSS, JS, charts (SVG) and data are inline, and its
Content-Security-Policy forbids the browser to fetch anything, so it opens the same from a
disk, an e-mail attachment or a web server, with no network. Every text from the inputs goes
through Jinja's autoescaping, the JSON of the example browser is embedded with ``<``, ``>``,
``&`` and ``'`` escaped, and the browser's JS escapes words before it shows them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from rationalizer import __version__
from rationalizer.highlight import stylesheet
from rationalizer.metrics import describe, flatten
from rationalizer.metrics.info import ANNOTATED_ONLY
from rationalizer.provenance import describe as describe_code
from rationalizer.report import charts
from rationalizer.report.examples import browser_data
from rationalizer.report.inputs import (
    BenchmarkInput,
    MethodScores,
    ModelBenchmark,
    ReportInputs,
    ResultsInput,
    RunInput,
    ShortcutsInput,
)

if TYPE_CHECKING:
    from rationalizer.training.shortcuts import ShortcutReport

DEFAULT_TITLE = "rationalizer report"
_SECTION_TITLES = {
    "classification": "Classification",
    "faithfulness": "Faithfulness",
    "token_prf": "Hard rationale: tokens",
    "rationale_prf": "Hard rationale: exact spans",
    "iou_scores": "Hard rationale: partial span matches (IOU)",
    "selection_rate": "Rationale length",
    "token_soft_metrics": "Soft rationale scores",
}


@dataclass(frozen=True)
class Table:
    """A plain table of already formatted cells; the first column names the row."""

    headers: list[str]
    rows: list[list[str]]


#: The numbers a reader looks for first, shown above the full table in this order: the
#: pooled ("micro") rationale scores, as the benchmarks report them.
HEADLINE_KEYS = (
    "classification_scores.accuracy",
    "token_prf.instance_micro.f1",
    "iou_scores@0.5.micro.f1",
    "classification_scores.comprehensiveness",
    "classification_scores.sufficiency",
    "selection_rate.micro",
)
#: A metric's direction (``MetricInfo.higher_is_better``) as an arrow and in words.
_DIRECTIONS = {
    True: ("↑", "higher is better"),
    False: ("↓", "lower is better"),
    None: ("", "no better direction"),
}


@dataclass(frozen=True)
class MetricRow:
    key: str
    name: str
    description: str
    bounds: str
    better: str
    direction: str
    values: list[str]
    best: int | None  # column holding the best value, when there are several to compare


@dataclass(frozen=True)
class MetricGroup:
    title: str
    rows: list[MetricRow]


@dataclass(frozen=True)
class ModelView:
    name: str
    model: ModelBenchmark
    chart: Markup | None
    table: Table


@dataclass(frozen=True)
class BenchmarkView:
    name: str
    about: Table
    models: list[ModelView]
    greedy: Table | None


@dataclass(frozen=True)
class ShortcutsView:
    name: str
    report: ShortcutReport
    chart: Markup | None
    about: Table


@dataclass(frozen=True)
class AgreementView:
    """How alike the soft scores of several results files rank the words of their shared
    examples (:func:`~rationalizer.explain.agreement`)."""

    chart: Markup
    methods: list[str]
    examples: int


@dataclass(frozen=True)
class ReportView:
    """Everything the template shows."""

    title: str
    version: str
    inputs: list[tuple[str, str, str]]  # (kind, name, path)
    coverage: list[str]
    metric_columns: list[str]
    metric_groups: list[MetricGroup]
    headline: list[MetricRow]
    runs_summary: Table | None
    runs: list[tuple[RunInput, Table, Table]]  # run, its epochs, its settings
    charts: dict[str, Markup]
    shortcuts: list[ShortcutsView]
    benchmarks: list[BenchmarkView]
    browser: dict | None
    agreement: AgreementView | None = None


def render_report(inputs: ReportInputs, *, title: str | None = None) -> str:
    """The HTML page of ``inputs``."""
    environment = Environment(
        loader=PackageLoader("rationalizer.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "ensure_ascii": False}
    environment.filters["number"] = _cell
    template = environment.get_template("report.html.j2")
    static = resources.files("rationalizer.report") / "templates"
    return template.render(
        view=report_view(inputs, title=title),
        style=Markup((static / "report.css").read_text(encoding="utf-8") + stylesheet()),
        script=Markup((static / "report.js").read_text(encoding="utf-8")),
    )


def write_report(inputs: ReportInputs, out: str | Path, *, title: str | None = None) -> Path:
    """Render ``inputs`` into the HTML file ``out`` (its folder is created)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(inputs, title=title), encoding="utf-8")
    return out


def report_view(inputs: ReportInputs, *, title: str | None = None) -> ReportView:
    """What the page shows, computed: tables, charts and the example browser's data."""
    phrases = [p.phrase for s in inputs.shortcuts for p in s.report.phrases]
    groups = metric_groups([r.scores for r in inputs.results])
    figures = {
        "training": charts.training_curves(inputs.runs),
        "precision_recall": charts.precision_recall(inputs.results),
        "selection": charts.selection_vs_f1(inputs.results, inputs.runs),
    }
    return ReportView(
        title=title or DEFAULT_TITLE,
        version=__version__,
        inputs=_input_list(inputs),
        coverage=[_coverage(r) for r in inputs.results],
        metric_columns=[r.name for r in inputs.results],
        metric_groups=groups,
        headline=headline(groups),
        runs_summary=_runs_summary(inputs.runs),
        runs=[(run, _epochs_table(run), _settings_table(run)) for run in inputs.runs],
        charts={key: svg for key, svg in figures.items() if svg is not None},
        shortcuts=[_shortcuts_view(s, i) for i, s in enumerate(inputs.shortcuts)],
        benchmarks=[_benchmark_view(b, i) for i, b in enumerate(inputs.benchmarks)],
        browser=browser_data(inputs.results, phrases) if inputs.results else None,
        agreement=_agreement_view(inputs.results),
    )


def metric_groups(reports: Sequence[Mapping[str, Any]]) -> list[MetricGroup]:
    """Every metric of the :func:`~rationalizer.metrics.evaluate` reports, one column per
    report, grouped by section: classification, faithfulness, hard and soft rationales, then
    the same on the examples with a gold rationale (when some have none)."""
    flat = [flatten(report) for report in reports]
    keys = list(dict.fromkeys(key for f in flat for key in f))
    groups: dict[tuple[bool, int, str], list[MetricRow]] = {}
    for key in keys:
        info = describe(key)
        values = [f.get(key) for f in flat]
        groups.setdefault(_section(key), []).append(
            MetricRow(
                key=key,
                name=info.name,
                description=info.description,
                bounds=f"[{_bound(info.lower)}, {_bound(info.upper)}]",
                better=_DIRECTIONS[info.higher_is_better][0],
                direction=_DIRECTIONS[info.higher_is_better][1],
                values=[_cell(v, integer=key.endswith(".support")) for v in values],
                best=_best(values, info.higher_is_better),
            )
        )
    return [MetricGroup(_section_title(section), groups[section]) for section in sorted(groups)]


def headline(groups: Sequence[MetricGroup]) -> list[MetricRow]:
    """The rows of :data:`HEADLINE_KEYS` that the reports have, in that order."""
    rows = {row.key: row for group in groups for row in group.rows}
    return [rows[key] for key in HEADLINE_KEYS if key in rows]


def _section(key: str) -> tuple[bool, int, str]:
    """Sort key of a metric's section: all examples first, then in :data:`_SECTION_TITLES`
    order (unknown sections last, by name)."""
    base = key.removeprefix(f"{ANNOTATED_ONLY}.")
    section = re.split(r"[.@]", base, maxsplit=1)[0]
    if section == "classification_scores":
        is_classification = base.startswith("classification_scores.accuracy") or ".prf." in base
        section = "classification" if is_classification else "faithfulness"
    order = list(_SECTION_TITLES)
    return base != key, order.index(section) if section in order else len(order), section


def _section_title(section: tuple[bool, int, str]) -> str:
    annotated_only, _, name = section
    title = _SECTION_TITLES.get(name, name)
    return f"{title} (examples with a gold rationale)" if annotated_only else title


def _best(values: Sequence[float | None], higher_is_better: bool | None) -> int | None:
    present = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if higher_is_better is None or len(present) < 2:
        return None
    best_value, best_index = (max if higher_is_better else min)(present)
    return best_index if sum(v == best_value for v, _ in present) == 1 else None


def _bound(value: float) -> str:
    return "∞" if value == math.inf else ("−∞" if value == -math.inf else f"{value:g}")


def _cell(value: Any, *, integer: bool = False) -> str:
    """A value as table text: 4 decimals for fractions, thousands separators for counts."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (integer and isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return " · ".join(f"{key} {_cell(item)}" for key, item in value.items())
    return str(value)


def _scalars(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened to dotted keys (lists and scalars kept as values)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(_scalars(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _side_by_side(names: Sequence[str], mappings: Sequence[Mapping[str, Any]]) -> Table:
    """One row per key of any of ``mappings``, one column per mapping."""
    flat = [_scalars(m) for m in mappings]
    keys = list(dict.fromkeys(key for f in flat for key in f))
    return Table(["", *names], [[key, *(_cell(f.get(key)) for f in flat)] for key in keys])


def _input_list(inputs: ReportInputs) -> list[tuple[str, str, str]]:
    listed = [("run directory", r.name, str(r.path)) for r in inputs.runs]
    listed += [("results", r.name, str(r.path)) for r in inputs.results]
    listed += [("shortcut report", s.name, str(s.path)) for s in inputs.shortcuts]
    listed += [("explainer benchmark", b.name, str(b.path)) for b in inputs.benchmarks]
    return listed


def _coverage(results: ResultsInput) -> str:
    dataset = results.dataset
    return (
        f"{results.name}: {len(results.records):,} of {len(dataset):,} examples of "
        f"{dataset.name}/{dataset.split} predicted"
    )


#: summary.json entries shown in words rather than field by field
_PROVENANCE_KEYS = ("run_dir", "provenance", "effective_config", "overrides")


def _runs_summary(runs: Sequence[RunInput]) -> Table | None:
    if not runs:
        return None
    described = [
        {k: run.train_config.get(k) for k in ("method", "dataset", "encoder", "seed")}
        | {
            k: v
            for k, v in (run.summary or {"status": "not finished"}).items()
            if k not in _PROVENANCE_KEYS
        }
        | _made_by(run.summary or {})
        for run in runs
    ]
    return _side_by_side([run.name for run in runs], described)


def _made_by(summary: Mapping[str, Any]) -> dict[str, str]:
    """The code that trained a run and the settings it changed at run time, in words (a run
    trained before they were recorded shows neither)."""
    made: dict[str, str] = {}
    if "provenance" in summary:
        made["code"] = describe_code(summary["provenance"])
    if summary.get("overrides"):
        made["settings changed at run time"] = "; ".join(
            f"{o['setting']} {_cell(o['requested'])} → {_cell(o['used'])} ({o['reason']})"
            for o in summary["overrides"]
        )
    return made


def _epochs_table(run: RunInput) -> Table:
    train_keys = list(dict.fromkeys(k for e in run.epochs for k in e.train))
    validation_keys = list(dict.fromkeys(k for e in run.epochs for k in e.validation))
    headers = ["epoch", "selected", *(f"train {k}" for k in train_keys)]
    headers += [f"validation {k}" for k in validation_keys]
    rows = [
        [
            str(e.epoch),
            "★" if e.epoch == (run.summary or {}).get("best_epoch") else "",
            *(_cell(e.train.get(k)) for k in train_keys),
            *(_cell(e.validation.get(k)) for k in validation_keys),
        ]
        for e in run.epochs
    ]
    return Table(headers, rows)


def _settings_table(run: RunInput) -> Table:
    return _side_by_side(["value"], [run.train_config | {"labels": list(run.labels)}])


def _shortcuts_view(item: ShortcutsInput, index: int) -> ShortcutsView:
    report = item.report
    examples = report.annotated_examples
    share = report.examples_with_shortcuts / examples if examples else 0.0
    about = {
        "annotated examples": report.annotated_examples,
        "examples with a shortcut word": f"{report.examples_with_shortcuts:,} ({share:.1%})",
        "mean shortcut words per example": f"{report.mean_shortcut_words:.2f}",
        "shortcut rate (shortcut words / selected words)": report.shortcut_rate,
        "candidates dropped by the label-skew filter (min skew)": f"{report.filtered_words:,} "
        f"of {report.candidate_words:,} ({report.min_skew:g})",
        "candidates dropped as evidence elsewhere (max evidence ratio)": (
            f"{report.evidence_filtered_words:,} of {report.candidate_words:,} "
            f"({report.max_evidence_ratio:g})"
        ),
        "labels of the annotated examples": report.label_counts,
        "words inside human rationales": report.rationale_density,
        "ranking": report.ranking_title,
        "distinct phrases / words found": f"{report.distinct_phrases:,} / "
        f"{report.distinct_unigrams:,}",
        "listed: top, at least in (examples), context window (words)": [
            report.top,
            report.min_count,
            report.window,
        ],
    }
    return ShortcutsView(
        name=item.name,
        report=report,
        chart=charts.shortcut_bars(report, f"shortcuts-{index}"),
        about=Table(["", ""], [[key, _cell(value)] for key, value in about.items()]),
    )


def _agreement_view(results: Sequence[ResultsInput]) -> AgreementView | None:
    """The agreement of the results files with soft scores, when two or more of them share
    examples."""
    scored = {
        item.name: item.records
        for item in results
        if any(r.soft_rationale_predictions is not None for x in item.records for r in x.rationales)
    }
    ids = [{record.annotation_id for record in records} for records in scored.values()]
    if len(scored) < 2 or not set.intersection(*ids):
        return None
    # Imported here: rationalizer.explain loads torch, which no other part of a report needs.
    from rationalizer.explain.agreement import agreement

    result = agreement(scored)
    return AgreementView(
        charts.agreement_heatmap(result, "agreement"), list(result.methods), len(result.examples)
    )


def _benchmark_view(item: BenchmarkInput, index: int) -> BenchmarkView:
    benchmark = item.benchmark
    about = {"command": benchmark.command, "seeds": benchmark.seeds, "machine": benchmark.machine}
    about |= benchmark.model_extra or {}
    return BenchmarkView(
        name=item.name,
        about=_side_by_side(["value"], [about]),
        models=[
            ModelView(
                name=name,
                model=model,
                chart=charts.explainer_comparison(model, f"explainers-{index}-{number}"),
                table=_methods_table(model.methods),
            )
            for number, (name, model) in enumerate(benchmark.models.items())
        ],
        greedy=None if benchmark.greedy is None else _side_by_side(["value"], [benchmark.greedy]),
    )


def _methods_table(methods: Mapping[str, MethodScores]) -> Table:
    """Methods as rows; the known metrics first, then any other number a benchmark recorded."""
    scores = {name: s.model_dump() for name, s in methods.items()}
    known = list(MethodScores.model_fields)
    columns = [
        key
        for key in dict.fromkeys(k for s in scores.values() for k in s)
        if key in known or any(isinstance(s.get(key), int | float) for s in scores.values())
    ]
    columns.sort(key=lambda key: known.index(key) if key in known else len(known))
    rows = [[name, *(_cell(s.get(key)) for key in columns)] for name, s in scores.items()]
    return Table(["method", *(key.replace("_", " ") for key in columns)], rows)
