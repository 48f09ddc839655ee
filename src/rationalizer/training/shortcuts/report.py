"""The shortcut report: its dataclasses, JSON file format and markdown/terminal renderings.

A :class:`ShortcutReport` holds the shortcut phrases and words of a dataset with their label
distribution, label skew and example contexts (built by
:func:`~rationalizer.training.shortcuts.aggregation.build_report`). It is saved in the file
envelope of :mod:`rationalizer.files` (kind ``shortcut-report``) and :meth:`ShortcutReport.load`
validates it field by field; it renders as markdown, a rich table, or HTML in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

from pydantic import ConfigDict, TypeAdapter
from rich.table import Table
from rich.text import Text

from rationalizer.errors import DataFormatError
from rationalizer.files import read_json, validated, write_json

#: The files a shortcut discovery writes: the report as JSON and as markdown and, where the
#: dataset has planted shortcuts, the discovery's scores against them.
REPORT_JSON = "shortcuts.json"
REPORT_MD = "shortcuts.md"
SCORES_JSON = "shortcut-discovery-scores.json"
#: What made a report, saved beside its fields for people (older reports lack them).
MADE_BY_FIELDS = ("provenance", "effective_config", "overrides")
#: How a report orders its phrases: ``count`` — examples where the phrase is a shortcut, most
#: first; ``skew`` — the smoothed label log-odds ratio (:func:`label_log_odds`), largest first.
RankBy = Literal["count", "skew"]
RANKINGS: tuple[str, ...] = get_args(RankBy)
#: What each ranking means, for reports and help texts.
RANKING_TITLES = {
    "count": "most frequent first",
    "skew": "most label-skewed first (smoothed log-odds ratio)",
}
_STRICT = ConfigDict(strict=True, extra="forbid")


@dataclass(frozen=True)
class Context:
    """One occurrence of a shortcut phrase with the words around it."""

    __pydantic_config__ = _STRICT
    example_id: str
    label: str
    start: int
    left: str
    phrase: str
    right: str

    def text(self, open_mark: str = "[", close_mark: str = "]") -> str:
        """The context as one line, the phrase between the marks."""
        marked = f"{open_mark}{self.phrase}{close_mark}"
        return " ".join(part for part in (self.left, marked, self.right) if part)


@dataclass(frozen=True)
class PhraseStats:
    """How often a shortcut phrase (or word) occurs and which label it leans to.

    ``count`` is the number of examples where it is a shortcut (the ranking key),
    ``occurrences`` the number of times, ``label_counts`` the labels of those ``count`` examples.
    ``skew_label`` is the label with the largest ``log_odds`` (see :func:`label_log_odds`),
    ``skew_share`` that label's share of the ``count`` examples. ``evidence_rate`` is the share
    of the phrase's words, wherever it occurs in the annotated examples (as a shortcut or not),
    that lie inside a human rationale: far above the report's ``rationale_density``, annotators
    count the phrase as evidence elsewhere, and it may be evidence the rationales missed rather
    than a shortcut (None in reports written before it was counted).
    """

    __pydantic_config__ = _STRICT
    phrase: str
    count: int
    occurrences: int
    label_counts: dict[str, int]
    skew_label: str
    skew_share: float
    log_odds: float
    contexts: tuple[Context, ...] = ()
    evidence_rate: float | None = None


@dataclass(frozen=True)
class ShortcutReport:
    """Shortcut phrases and words of a dataset, ranked as ``rank_by`` says (see :data:`RankBy`).

    ``label_counts`` holds the labels of all ``annotated_examples`` (the prior of the skew
    score); ``selected_words`` is None when the report was built without the predicted masks.
    ``distinct_phrases``/``distinct_unigrams`` count everything found before the ``min_count``
    and ``top`` cuts. ``filtered_words`` candidate shortcut words (selected outside the gold
    rationale) were dropped by the label-skew filter at ``min_skew`` (:func:`skew_filter`; 0:
    no filter), and ``evidence_filtered_words`` by the evidence filter at ``max_evidence_ratio``
    (:func:`evidence_filter`; 0: no filter), before the report counted the ``shortcut_words``
    left. ``rationale_density`` is the
    share of the annotated examples' words inside their human rationales, the baseline of each
    phrase's ``evidence_rate`` (None in reports written before it was counted).
    """

    __pydantic_config__ = _STRICT
    labels: tuple[str, ...]
    label_counts: dict[str, int]
    annotated_examples: int
    examples_with_shortcuts: int
    shortcut_words: int
    selected_words: int | None
    distinct_phrases: int
    distinct_unigrams: int
    top: int | None
    min_count: int
    window: int
    rank_by: RankBy = "count"
    min_skew: float = 0.0
    filtered_words: int = 0
    max_evidence_ratio: float = 0.0
    evidence_filtered_words: int = 0
    rationale_density: float | None = None
    phrases: tuple[PhraseStats, ...] = ()
    unigrams: tuple[PhraseStats, ...] = ()

    @property
    def mean_shortcut_words(self) -> float:
        """Shortcut words per annotated example."""
        return self.shortcut_words / self.annotated_examples if self.annotated_examples else 0.0

    @property
    def candidate_words(self) -> int:
        """Words selected outside the gold rationale, before the label-skew and evidence
        filters."""
        return self.shortcut_words + self.filtered_words + self.evidence_filtered_words

    @property
    def ranking_title(self) -> str:
        """How the phrases are ordered, in words."""
        return RANKING_TITLES[self.rank_by]

    @property
    def shortcut_rate(self) -> float | None:
        """Share of the selected words that are shortcut words; None without predictions (or
        selections)."""
        if not self.selected_words:
            return None
        return self.shortcut_words / self.selected_words

    def _repr_html_(self) -> str:
        from rationalizer.report.notebook import shortcuts_html

        return shortcuts_html(self)

    def save_json(self, path: str | Path, made_by: Mapping[str, Any] | None = None) -> Path:
        """Save the report for :meth:`load`; ``made_by`` adds the :data:`MADE_BY_FIELDS` of
        the run that discovered the shortcuts (:meth:`load` reads past them)."""
        unknown = set(made_by or {}) - set(MADE_BY_FIELDS)
        if unknown:
            raise ValueError(f"made_by takes only {MADE_BY_FIELDS}, not {sorted(unknown)}")
        return write_json(path, "shortcut-report", asdict(self) | dict(made_by or {}))

    @classmethod
    def load(cls, path: str | Path) -> ShortcutReport:
        """Read a report written by :meth:`save_json`; errors name the file and the field."""
        path = Path(path)
        payload = read_json(path, "shortcut-report")
        for name in MADE_BY_FIELDS:
            payload.pop(name, None)
        report = validated(_REPORT_ADAPTER, payload, path)
        _check_consistent(report, path)
        return report

    def to_markdown(self) -> str:
        """A readable summary: headline numbers, phrase and word tables, then the contexts."""
        prior = " · ".join(f"{_md(label)} {self.label_counts[label]}" for label in self.labels)
        rate = "n/a" if self.shortcut_rate is None else f"{self.shortcut_rate:.3f}"
        with_shortcuts = (
            self.examples_with_shortcuts / self.annotated_examples
            if self.annotated_examples
            else 0.0
        )
        lines = [
            "# Shortcut report",
            "",
            "| | |",
            "|---|---|",
            f"| annotated examples | {self.annotated_examples} |",
            f"| examples with ≥1 shortcut word | {self.examples_with_shortcuts} "
            f"({with_shortcuts:.1%}) |",
            f"| mean shortcut words per example | {self.mean_shortcut_words:.2f} |",
            f"| shortcut rate (shortcut words / selected words) | {rate} |",
            f"| candidates dropped by the label-skew filter (min skew {self.min_skew:g}) | "
            f"{self.filtered_words} of {self.candidate_words} |",
            f"| candidates dropped as evidence elsewhere (max evidence ratio "
            f"{self.max_evidence_ratio:g}) | {self.evidence_filtered_words} of "
            f"{self.candidate_words} |",
            f"| labels of the annotated examples | {prior} |",
            f"| words inside human rationales | {_percent(self.rationale_density)} |",
            f"| ranking | {self.ranking_title} |",
            "",
            "*count*: examples where the phrase is a shortcut; *skew*: the label most "
            "over-represented among them vs the label prior, its share, and the add-one smoothed "
            "log-odds ratio (0 = no skew); *in rationales*: share of the phrase's words inside "
            "a human rationale wherever it occurs in the annotated examples. Far above the words "
            "inside human rationales overall, annotators count the phrase as evidence elsewhere.",
            "",
        ]
        for title, rows in (("Shortcut phrases", self.phrases), ("Shortcut words", self.unigrams)):
            lines += [f"## {title}", "", *_markdown_table(rows, self.labels), ""]
        lines += ["## Contexts", ""]
        for rank, stats in enumerate(self.phrases, start=1):
            lines += [f"### {rank}. {_md(stats.phrase)}", ""]
            lines += [
                f"- `{context.example_id}` ({_md(context.label)}): {_md_context(context)}"
                for context in stats.contexts
            ]
            lines.append("")
        return "\n".join(lines)

    def rich_table(self, limit: int | None = 20, *, unigrams: bool = False) -> Table:
        """The top ``limit`` phrases (or words) as a rich table for the terminal."""
        rows = self.unigrams if unigrams else self.phrases
        table = Table(title="Shortcut words" if unigrams else "Shortcut phrases")
        for name, justify in (
            ("#", "right"),
            ("phrase", "left"),
            ("count", "right"),
            ("skew label", "left"),
            ("share", "right"),
            ("in rationales", "right"),
            ("example", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for rank, stats in enumerate(rows[:limit], start=1):
            example = Text()
            if stats.contexts:
                context = stats.contexts[0]
                example = Text.assemble(
                    f"{context.left} " if context.left else "",
                    (context.phrase, "bold red"),
                    f" {context.right}" if context.right else "",
                )
            table.add_row(
                str(rank),
                stats.phrase,
                str(stats.count),
                stats.skew_label,
                f"{stats.skew_share:.0%}",
                _percent(stats.evidence_rate),
                example,
            )
        return table


_REPORT_ADAPTER = TypeAdapter(ShortcutReport)


def _check_consistent(report: ShortcutReport, path: Path) -> None:
    """Meaning checks that types alone cannot express; the first problem names its field."""
    labels = set(report.labels)

    def fail(where: str, message: str) -> NoReturn:
        raise DataFormatError(path, message, field=where)

    if set(report.label_counts) != labels:
        fail("label_counts", f"must have one entry per label {list(report.labels)}")
    if sum(report.label_counts.values()) != report.annotated_examples:
        fail("label_counts", "must add up to annotated_examples")
    if not 0 <= report.examples_with_shortcuts <= report.annotated_examples:
        fail("examples_with_shortcuts", "must lie between 0 and annotated_examples")
    if report.selected_words is not None and report.selected_words < report.candidate_words:
        fail(
            "selected_words",
            "must be at least shortcut_words + filtered_words + evidence_filtered_words",
        )
    for setting, dropped in (
        ("min_skew", "filtered_words"),
        ("max_evidence_ratio", "evidence_filtered_words"),
    ):
        if getattr(report, setting) < 0 or getattr(report, dropped) < 0:
            fail(setting if getattr(report, setting) < 0 else dropped, "must be at least 0")
        if getattr(report, setting) == 0 and getattr(report, dropped):
            fail(dropped, f"must be 0 without a filter ({setting} 0)")
    if not _is_share(report.rationale_density):
        fail("rationale_density", "must lie between 0 and 1")
    for kind in ("phrases", "unigrams"):
        for i, stats in enumerate(getattr(report, kind)):
            where = f"{kind}[{i}]"
            if not set(stats.label_counts) <= labels:
                fail(f"{where}.label_counts", f"names a label outside {list(report.labels)}")
            if sum(stats.label_counts.values()) != stats.count:
                fail(f"{where}.label_counts", "must add up to count")
            if not 1 <= stats.count <= stats.occurrences:
                fail(f"{where}.count", "must be at least 1 and at most occurrences")
            if stats.skew_label not in labels:
                fail(f"{where}.skew_label", f"must be one of {list(report.labels)}")
            if not _is_share(stats.evidence_rate):
                fail(f"{where}.evidence_rate", "must lie between 0 and 1")
            for j, context in enumerate(stats.contexts):
                if context.label not in labels:
                    fail(f"{where}.contexts[{j}].label", f"must be one of {list(report.labels)}")


def _is_share(value: float | None) -> bool:
    return value is None or 0 <= value <= 1


def _percent(share: float | None) -> str:
    """A share as a whole percentage, ``n/a`` where an older report lacks it."""
    return "n/a" if share is None else f"{share:.0%}"


_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|#"})


def _md(text: str) -> str:
    """Escape characters that markdown would read as formatting (data text is arbitrary)."""
    return text.translate(_MARKDOWN_SPECIAL)


def _md_context(context: Context) -> str:
    parts = (_md(context.left), f"**{_md(context.phrase)}**", _md(context.right))
    return " ".join(part for part in parts if part)


def _markdown_table(rows: Sequence[PhraseStats], labels: Sequence[str]) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = [
        "| # | phrase | count | occurrences | skew label | share | log-odds | in rationales "
        "| labels |",
        "|---:|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for rank, stats in enumerate(rows, start=1):
        by_label = ", ".join(f"{_md(label)} {stats.label_counts[label]}" for label in labels)
        lines.append(
            f"| {rank} | {_md(stats.phrase)} | {stats.count} | {stats.occurrences} | "
            f"{_md(stats.skew_label)} | {stats.skew_share:.0%} | {stats.log_odds:+.2f} | "
            f"{_percent(stats.evidence_rate)} | {by_label} |"
        )
    return lines
