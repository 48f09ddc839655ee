"""The report's charts, drawn by matplotlib as inline SVG.

Why matplotlib and not a JavaScript chart library: nothing has to be vendored into every report
(a chart library is a large minified bundle to keep updated and licence-checked, and a CDN
would break the no-network rule), the charts are static vector pictures that scale, print and
work offline, and the text in them stays text (``svg.fonttype: none``), escaped by the SVG
writer. The report's one interactive part, the example browser, is plain JS over embedded
JSON. Colours come from the Okabe–Ito palette, which stays distinct under the common forms of
colour blindness, and every series also differs by marker, line style or hatch.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import precision_recall_curve

from rationalizer.report.inputs import ModelBenchmark, ResultsInput, RunInput

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.typing import RcKeyType

    from rationalizer.explain.agreement import Agreement
    from rationalizer.training.shortcuts import ShortcutReport

#: Okabe & Ito (2008), in the order series take them (yellow last: faint on white).
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Heat maps: cividis is perceptually uniform and reads the same under the common forms of
#: colour blindness (and in grey); undefined cells are light grey, marked "n/a".
HEATMAP = matplotlib.colormaps["cividis"].with_extremes(bad="#dddddd")
HATCHES = ("", "///", "...", "xxx", "\\\\\\", "++", "ooo", "---")
#: Points kept of a precision–recall curve (a pooled curve has one per distinct score).
CURVE_POINTS = 400
#: Shortcut phrases shown in the bar chart (the table below it lists all), and the characters
#: of a phrase shown as its label there.
TOP_PHRASES = 20
LABEL_CHARACTERS = 40

_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "hatch.linewidth": 0.6,
}
_TRAINING_PANELS = {
    "loss": "Loss",
    "accuracy": "Accuracy",
    "token_f1": "Token F1 (micro)",
    "selection_rate": "Selection rate",
}
_EXPLAINER_PANELS = {
    "Plausibility (higher is better)": ("token_f1", "auprc"),
    "Faithfulness": (
        "comprehensiveness",
        "aopc_comprehensiveness",
        "sufficiency",
        "aopc_sufficiency",
    ),
    "Cost": ("seconds_per_example",),
}


def colour(index: int) -> str:
    return OKABE_ITO[index % len(OKABE_ITO)]


def literal(text: str) -> str:
    """Data text as matplotlib shows it verbatim: no mathtext from ``$``, and a legend does not
    hide a label because it starts with ``_``."""
    text = text.replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def _shortened(text: str) -> str:
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def to_svg(figure: Figure, key: str) -> Markup:
    """The figure as an ``<svg>`` element to inline in HTML.

    ``key`` salts the ids matplotlib gives clip paths, so that several charts in one page never
    share an id, and keeps the output byte-identical from run to run.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": key, "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return Markup(text[text.index("<svg") :])


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def training_curves(runs: Sequence[RunInput]) -> Markup | None:
    """Loss, accuracy, token F1 and selection rate per epoch; train dashed, validation solid,
    a star on the selected epoch, the selection-rate target dotted."""
    runs = [run for run in runs if run.epochs]
    panels = [
        (key, title)
        for key, title in _TRAINING_PANELS.items()
        if any(key in e.train or key in e.validation for run in runs for e in run.epochs)
    ]
    if not panels:
        return None
    columns = min(2, len(panels))
    rows = math.ceil(len(panels) / columns)
    with matplotlib.rc_context(_STYLE):
        figure = _figure(9.0, 2.8 * rows + 0.6)
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, (key, title) in zip(axes, panels, strict=False):
            for index, run in enumerate(runs):
                _plot_run_metric(ax, run, key, index)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        handles: dict[str, Artist] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        figure.legend(
            handles.values(), handles.keys(), loc="outside lower center", ncols=min(4, len(handles))
        )
    return to_svg(figure, "training-curves")


def _plot_run_metric(ax: Axes, run: RunInput, key: str, index: int) -> None:
    best_epoch = (run.summary or {}).get("best_epoch")
    for split, style in (("train", "--"), ("validation", "-")):
        points = [
            (e.epoch, getattr(e, split)[key])
            for e in run.epochs
            if _finite(getattr(e, split).get(key))
        ]
        if not points:
            continue
        epochs, values = zip(*points, strict=True)
        ax.plot(
            epochs,
            values,
            style,
            marker=MARKERS[index % len(MARKERS)],
            markersize=4,
            color=colour(index),
            label=literal(f"{run.name} · {split}"),
        )
        if split == "validation" and best_epoch is not None and best_epoch in epochs:
            ax.plot(
                [best_epoch],
                [values[epochs.index(best_epoch)]],
                "*",
                markersize=13,
                color=colour(index),
                markeredgecolor="black",
                label="selected epoch",
            )
    target = (run.summary or {}).get("selection_rate_target")
    if key == "selection_rate" and _finite(target):
        ax.axhline(target, linestyle=":", color=colour(index), label="selection-rate target")


def precision_recall(results: Sequence[ResultsInput]) -> Markup | None:
    """Precision–recall curves of the soft scores, pooled over every scored token, with the
    gold rationale density as the chance level."""
    curves = []
    for item in results:
        if "token_soft_metrics" not in item.scores:
            continue
        truth, scores = _pooled_soft_scores(item)
        precision, recall, _ = precision_recall_curve(truth, scores)
        keep = _thinned(recall)
        auprc = item.scores["token_soft_metrics"]["auprc"]
        curves.append((item.name, recall[keep], precision[keep], auprc, truth.mean()))
    if not curves:
        return None
    with matplotlib.rc_context(_STYLE):
        figure = _figure(5.6, 4.2)
        ax = figure.subplots()
        for index, (name, recall, precision, auprc, density) in enumerate(curves):
            ax.plot(
                recall,
                precision,
                color=colour(index),
                linestyle=("-", "--", "-.", ":")[index % 4],
                label=literal(f"{name} (AUPRC {auprc:.3f})"),
            )
            ax.axhline(density, color=colour(index), linewidth=0.8, linestyle=":")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall (gold rationale tokens found)")
        ax.set_ylabel("precision")
        ax.set_title("Soft rationale scores: precision–recall")
        ax.legend(loc="upper right")
    return to_svg(figure, "precision-recall")


def _pooled_soft_scores(item: ResultsInput) -> tuple[np.ndarray, np.ndarray]:
    """Gold mask and soft score of every token of every document that has soft scores."""
    examples = item.dataset.by_id()
    truths, scores = [], []
    for record in item.records:
        example = examples[record.annotation_id]
        for rationale in record.rationales:
            if rationale.soft_rationale_predictions is not None:
                truths.append(example.rationale_mask(rationale.docid))
                scores.append(np.asarray(rationale.soft_rationale_predictions))
    return np.concatenate(truths).astype(bool), np.concatenate(scores)


def _thinned(recall: np.ndarray) -> np.ndarray:
    """Indices of at most ~2 × CURVE_POINTS curve points: evenly spaced in score rank and in
    recall (which decreases along the curve), so both steep and flat parts keep their shape."""
    by_rank = np.linspace(0, recall.size - 1, CURVE_POINTS).astype(int)
    by_recall = np.searchsorted(-recall, -np.linspace(1, 0, CURVE_POINTS))
    return np.unique(np.clip(np.concatenate([by_rank, by_recall]), 0, recall.size - 1))


def selection_vs_f1(results: Sequence[ResultsInput], runs: Sequence[RunInput]) -> Markup | None:
    """Selection rate against token F1 (both micro): one point per results file (circles) and
    per run's selected validation epoch (squares); the gold density dotted."""
    points = [
        (r.name, "o", r.scores["selection_rate"]["micro"], r.scores["token_prf"]["instance_micro"])
        for r in results
        if "token_prf" in r.scores
    ]
    points = [(name, marker, x, prf["f1"]) for name, marker, x, prf in points]
    points += [
        (
            f"{run.name} (validation)",
            "s",
            run.validation["selection_rate"],
            run.validation["token_f1"],
        )
        for run in runs
        if _finite(run.validation.get("selection_rate")) and _finite(run.validation.get("token_f1"))
    ]
    if not points:
        return None
    with matplotlib.rc_context(_STYLE):
        figure = _figure(5.6, 4.2)
        ax = figure.subplots()
        for index, (name, marker, x, y) in enumerate(points):
            ax.plot([x], [y], marker, markersize=8, color=colour(index), label=literal(name))
        if results:
            ax.axvline(_gold_density(results), color="black", linestyle=":", label="gold density")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("selection rate (share of words selected)")
        ax.set_ylabel("token F1 against the gold rationale")
        ax.set_title("Selection rate vs token F1")
        ax.legend(loc="best")
    return to_svg(figure, "selection-vs-f1")


def _gold_density(results: Sequence[ResultsInput]) -> float:
    """Share of the words of the examples with a record that the gold rationale marks."""
    scored = {record.annotation_id for item in results for record in item.records}
    masks = [
        example.rationale_mask(doc.docid)
        for example in results[0].dataset
        if example.id in scored
        for doc in example.documents
    ]
    return float(np.concatenate(masks).mean())


def shortcut_bars(report: ShortcutReport, key: str) -> Markup | None:
    """The report's top shortcut phrases (in its ranking), each bar the number of examples
    split by their labels, with the skew label, its share and the log-odds at the bar's end."""
    phrases = report.phrases[:TOP_PHRASES]
    if not phrases:
        return None
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.5, 0.32 * len(phrases) + 1.2)
        ax = figure.subplots()
        rows = np.arange(len(phrases))
        left = np.zeros(len(phrases))
        for index, label in enumerate(report.labels):
            counts = np.array([p.label_counts.get(label, 0) for p in phrases], dtype=float)
            ax.barh(
                rows,
                counts,
                left=left,
                color=colour(index),
                hatch=HATCHES[index % len(HATCHES)],
                edgecolor="white",
                label=literal(_shortened(label)),
            )
            left += counts
        for row, stats in zip(rows, phrases, strict=True):
            skew = f"{_shortened(stats.skew_label)} {stats.skew_share:.0%} · {stats.log_odds:+.2f}"
            note = ax.annotate(
                literal(skew),
                (stats.count, row),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
            # Kept out of the layout (long labels would squeeze the bars to nothing); the saved
            # picture still grows to show it.
            note.set_in_layout(False)
        ax.set_yticks(rows, [literal(_shortened(p.phrase)) for p in phrases])
        ax.invert_yaxis()
        ax.margins(x=0.25)
        ax.set_xlabel("examples where the phrase is a shortcut (bars: their gold labels)")
        ax.set_title("Shortcut phrases: skew label, share, log-odds")
        figure.legend(loc="outside right upper", title="label")
    return to_svg(figure, key)


def explainer_comparison(model: ModelBenchmark, key: str) -> Markup | None:
    """Each method's plausibility, faithfulness and seconds per example, side by side."""
    methods = list(model.methods)
    panels = {
        title: [m for m in metrics if any(_finite(getattr(s, m)) for s in model.methods.values())]
        for title, metrics in _EXPLAINER_PANELS.items()
    }
    panels = {title: metrics for title, metrics in panels.items() if metrics}
    if not methods or not panels:
        return None
    with matplotlib.rc_context(_STYLE):
        figure = _figure(10.0, 0.45 * len(methods) * 2 + 1.4)
        axes = figure.subplots(1, len(panels), sharey=True, squeeze=False).ravel()
        for ax, (title, metrics) in zip(axes, panels.items(), strict=True):
            _grouped_bars(ax, methods, model, metrics)
            ax.set_title(title)
            if metrics == ["seconds_per_example"]:
                ax.set_xscale("log")
                ax.set_xlabel("seconds per example (log)")
            else:
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, fontsize=7)
        axes[0].set_yticks(np.arange(len(methods)), [literal(m) for m in methods])
        axes[0].invert_yaxis()
    return to_svg(figure, key)


def _grouped_bars(ax: Axes, methods: list[str], model: ModelBenchmark, metrics: list[str]) -> None:
    height = 0.8 / len(metrics)
    for index, metric in enumerate(metrics):
        values = [getattr(model.methods[m], metric) for m in methods]
        ax.barh(
            np.arange(len(methods)) - 0.4 + height * (index + 0.5),
            [v if _finite(v) else np.nan for v in values],
            height=height,
            color=colour(index),
            hatch=HATCHES[index % len(HATCHES)],
            edgecolor="white",
            label=metric.replace("_", " "),
        )


def agreement_heatmap(result: Agreement, key: str) -> Markup:
    """One heat map per agreement metric: every pair of methods, each cell the mean over the
    examples with its standard deviation, coloured over the metric's range."""
    methods = [literal(_shortened(method)) for method in result.methods]
    size = len(methods)
    matrices = list(result.matrices.values())
    with matplotlib.rc_context(_STYLE):
        figure = _figure(len(matrices) * (0.8 * size + 1.6), 0.6 * size + 1.8)
        axes = figure.subplots(1, len(matrices), squeeze=False).ravel()
        for ax, matrix in zip(axes, matrices, strict=True):
            image = ax.imshow(
                np.ma.masked_invalid(matrix.mean),
                cmap=HEATMAP,
                vmin=matrix.info.lower,
                vmax=matrix.info.upper,
            )
            for (row, column), value in np.ndenumerate(matrix.mean):
                dark = _finite(value) and image.norm(value) < 0.5
                ax.text(
                    column,
                    row,
                    f"{value:.2f}\n±{matrix.std[row, column]:.2f}" if _finite(value) else "n/a",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
            ax.set_xticks(np.arange(size), methods, rotation=40, ha="right")
            ax.set_yticks(np.arange(size), methods)
            ax.grid(False)
            title = matrix.info.name
            if matrix.info.key == "agreement.top_k":
                title += f" (k: {_k_text(result.k)})"
            ax.set_title(title)
            figure.colorbar(image, ax=ax, shrink=0.8)
    return to_svg(figure, key)


def _k_text(k: float) -> str:
    return f"{k:.0%} of the words" if k < 1 else f"{int(k)} words"
