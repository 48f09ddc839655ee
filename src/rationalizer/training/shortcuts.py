"""Shortcut discovery: what an unsupervised rationalizer selects outside the human rationale.

SSR (see the method page) trains a rationalizer without rationale supervision, runs it on the
annotated examples D_s and calls every selected word outside the gold rationale a *shortcut*
word of that example. :func:`shortcut_masks` computes those masks from predicted word masks.
Not every such word is a shortcut: a rationalizer also selects ".", "the" or a name, which say
nothing about the label. :func:`skew_filter` keeps only the candidates whose word type leans to
a label where it occurs outside the human rationales (:func:`word_label_skew`).

Beyond the paper, :func:`build_report` aggregates the shortcut words of a dataset into a
:class:`ShortcutReport`: shortcut *phrases* (maximal runs of consecutive shortcut words) and
single words, ranked by how many examples they appear in (or by label skew), each with its
label distribution, a label-skew score and example contexts — a practitioner's view of what the
data lets a model cheat with. On the synthetic dataset, whose shortcuts are planted,
:func:`discovery_scores` measures how well discovery recovers them.

Everything is indexed by word position in the example's only document (training uses
single-document examples).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

import numpy as np
from pydantic import ConfigDict, TypeAdapter
from rich.table import Table
from rich.text import Text
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from rationalizer.data._json import parse_json
from rationalizer.data.example import Example, Span, mask_to_spans, spans_to_mask
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.metrics.hard import token_prf
from rationalizer.training.config import SKEW_MIN_COUNT

REPORT_FORMAT = "rationalizer-shortcut-report"
REPORT_VERSION = 3
#: Versions :meth:`ShortcutReport.load` reads; version 1 had no ``rank_by`` (always by count),
#: versions 1 and 2 no label-skew filter (``min_skew`` 0, nothing filtered).
READABLE_VERSIONS = (1, 2, 3)
#: How a report orders its phrases: ``count`` — examples where the phrase is a shortcut, most
#: first; ``skew`` — the smoothed label log-odds ratio (:func:`label_log_odds`), largest first.
RankBy = Literal["count", "skew"]
RANKINGS: tuple[str, ...] = get_args(RankBy)
#: What each ranking means, for reports and help texts.
RANKING_TITLES = {
    "count": "most frequent first",
    "skew": "most label-skewed first (smoothed log-odds ratio)",
}
#: Words of context shown on each side of a shortcut occurrence.
DEFAULT_WINDOW = 5
#: How many top phrases of a report a reader looks at; :func:`discovery_scores` counts the
#: planted phrases found that far down the ranking.
READING_DEPTH = 20

_STRICT = ConfigDict(strict=True, extra="forbid")


def _document_tokens(example: Example) -> tuple[str, ...]:
    if len(example.documents) != 1:
        raise RationalizerError(
            f"example {example.id!r} has {len(example.documents)} documents; shortcut "
            "discovery works on single-document examples only"
        )
    return example.document.tokens


def _word_mask(example: Example, values: object, what: str) -> np.ndarray:
    """``values`` as a 0/1 int8 mask over the example's words, or a clear error."""
    length = len(_document_tokens(example))
    mask = np.asarray(values)
    if mask.ndim != 1 or mask.shape[0] != length:
        raise RationalizerError(
            f"example {example.id!r}: {what} has shape {mask.shape}, expected ({length},) — one "
            "value per document word"
        )
    if mask.size and not np.isin(mask, (0, 1)).all():
        raise RationalizerError(f"example {example.id!r}: {what} must hold only 0 and 1")
    return mask.astype(np.int8)


def _annotated_with_masks(
    examples: Iterable[Example], masks: Mapping[str, object], what: str
) -> list[tuple[Example, np.ndarray]]:
    """The annotated examples paired with their validated mask; every one must have a mask.

    Unannotated examples are skipped (they have no gold rationale, so no shortcut mask); ids in
    ``masks`` that name no example are ignored, so one mapping can serve several subsets.
    """
    pairs = []
    missing = []
    for example in examples:
        if not example.is_annotated:
            continue
        if example.id not in masks:
            missing.append(example.id)
            continue
        pairs.append((example, _word_mask(example, masks[example.id], what)))
    if missing:
        raise RationalizerError(
            f"{len(missing)} annotated example(s) have no {what}, e.g. {missing[0]!r}"
        )
    return pairs


def shortcut_masks(
    examples: Sequence[Example], predicted: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Shortcut word mask ``predicted & ~gold`` (int8) of every annotated example, by id.

    ``examples`` is the annotated set to discover on (D_s; unannotated examples are skipped);
    ``predicted`` maps example id → 0/1 word mask selected by a rationalizer trained without
    rationale supervision. An annotated example with an empty gold rationale (a non-toxic
    HateXplain post) has every selected word as a shortcut word.
    """
    return {
        example.id: (mask & (1 - example.rationale_mask())).astype(np.int8)
        for example, mask in _annotated_with_masks(examples, predicted, "predicted mask")
    }


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
    ``skew_share`` that label's share of the ``count`` examples.
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


def label_log_odds(
    counts: Mapping[str, int], prior_counts: Mapping[str, int], labels: Sequence[str]
) -> dict[str, float]:
    """Smoothed log-odds ratio (nats) of each label where a phrase occurs vs the label prior.

    ``logit(p̂_y) − logit(q_y)`` with add-one (Laplace) smoothing on both sides:
    ``p̂_y = (n_y + 1) / (n + K)`` over the ``n`` examples of the phrase and
    ``q_y = (N_y + 1) / (N + K)`` over all ``N`` examples, for ``K`` labels.

    Why this measure: it is 0 when the phrase's labels follow the prior, so it stays honest on
    imbalanced data (HateXplain) where the raw majority share is not; unlike PMI it keeps growing
    with the amount of evidence, and the smoothing pulls phrases seen in few examples towards 0,
    so a phrase in 40 examples all of one label outranks one seen twice.
    """
    k = len(labels)
    if k < 2:  # one label: nothing to lean towards
        return dict.fromkeys(labels, 0.0)
    n = sum(counts.get(label, 0) for label in labels)
    total = sum(prior_counts.get(label, 0) for label in labels)

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    return {
        label: logit((counts.get(label, 0) + 1) / (n + k))
        - logit((prior_counts.get(label, 0) + 1) / (total + k))
        for label in labels
    }


@dataclass(frozen=True)
class ShortcutReport:
    """Shortcut phrases and words of a dataset, ranked as ``rank_by`` says (see :data:`RankBy`).

    ``label_counts`` holds the labels of all ``annotated_examples`` (the prior of the skew
    score); ``selected_words`` is None when the report was built without the predicted masks.
    ``distinct_phrases``/``distinct_unigrams`` count everything found before the ``min_count``
    and ``top`` cuts. ``filtered_words`` candidate shortcut words (selected outside the gold
    rationale) were dropped by the label-skew filter at ``min_skew`` (:func:`skew_filter`; 0:
    no filter) before the report counted the ``shortcut_words`` left.
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
    phrases: tuple[PhraseStats, ...] = ()
    unigrams: tuple[PhraseStats, ...] = ()

    @property
    def mean_shortcut_words(self) -> float:
        """Shortcut words per annotated example."""
        return self.shortcut_words / self.annotated_examples if self.annotated_examples else 0.0

    @property
    def candidate_words(self) -> int:
        """Words selected outside the gold rationale, before the label-skew filter."""
        return self.shortcut_words + self.filtered_words

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

    def to_json(self, made_by: Mapping[str, Any] | None = None) -> str:
        """The report as JSON, with a format name and version for :meth:`load`; ``made_by``
        adds the ``provenance``, ``effective_config`` and ``overrides`` of the run that
        discovered the shortcuts (:meth:`load` reads past them)."""
        payload = {"format": REPORT_FORMAT, "version": REPORT_VERSION, "report": asdict(self)}
        return json.dumps(payload | dict(made_by or {}), ensure_ascii=False, indent=1)

    def save_json(self, path: str | Path, made_by: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        path.write_text(self.to_json(made_by) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ShortcutReport:
        """Read a report written by :meth:`save_json`; errors name the file and the field."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise DataFormatError(path, f"cannot read shortcut report ({err.strerror})") from None
        header = parse_json(_HEADER_ADAPTER, text, path)
        if header.format != REPORT_FORMAT:
            raise DataFormatError(
                path, f"not a shortcut report (expected {REPORT_FORMAT!r})", field="format"
            )
        if header.version not in READABLE_VERSIONS:
            raise DataFormatError(
                path,
                f"shortcut report version {header.version} is not supported (this version of "
                f"rationalizer reads versions {', '.join(map(str, READABLE_VERSIONS))})",
                field="version",
            )
        report = parse_json(_FILE_ADAPTER, text, path).report
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
            f"| labels of the annotated examples | {prior} |",
            f"| ranking | {self.ranking_title} |",
            "",
            "*count*: examples where the phrase is a shortcut; *skew*: the label most "
            "over-represented among them vs the label prior, its share, and the add-one smoothed "
            "log-odds ratio (0 = no skew).",
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
                example,
            )
        return table


@dataclass(frozen=True)
class _Header:
    __pydantic_config__ = ConfigDict(strict=True, extra="ignore")
    format: str
    version: int


@dataclass(frozen=True)
class _ReportFile:
    __pydantic_config__ = _STRICT
    format: str
    version: int
    report: ShortcutReport
    # what made it, for people (reports written before these were recorded lack them)
    provenance: dict[str, Any] | None = None
    effective_config: dict[str, Any] | None = None
    overrides: list[dict[str, Any]] | None = None


_HEADER_ADAPTER = TypeAdapter(_Header)
_FILE_ADAPTER = TypeAdapter(_ReportFile)


def _check_consistent(report: ShortcutReport, path: Path) -> None:
    """Meaning checks that types alone cannot express; the first problem names its field."""
    labels = set(report.labels)

    def fail(where: str, message: str) -> NoReturn:
        raise DataFormatError(path, message, field=f"report.{where}")

    if set(report.label_counts) != labels:
        fail("label_counts", f"must have one entry per label {list(report.labels)}")
    if sum(report.label_counts.values()) != report.annotated_examples:
        fail("label_counts", "must add up to annotated_examples")
    if not 0 <= report.examples_with_shortcuts <= report.annotated_examples:
        fail("examples_with_shortcuts", "must lie between 0 and annotated_examples")
    if report.selected_words is not None and report.selected_words < report.candidate_words:
        fail("selected_words", "must be at least shortcut_words + filtered_words")
    if report.min_skew < 0 or report.filtered_words < 0:
        fail("min_skew" if report.min_skew < 0 else "filtered_words", "must be at least 0")
    if report.min_skew == 0 and report.filtered_words:
        fail("filtered_words", "must be 0 without a filter (min_skew 0)")
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
            for j, context in enumerate(stats.contexts):
                if context.label not in labels:
                    fail(f"{where}.contexts[{j}].label", f"must be one of {list(report.labels)}")


@dataclass
class _Tally:
    """Running counts of one phrase while the report is built."""

    occurrences: int = 0
    examples: set[str] = field(default_factory=set)
    label_counts: Counter[str] = field(default_factory=Counter)
    contexts: list[Context] = field(default_factory=list)

    def add(self, example: Example, context: Context, max_contexts: int) -> None:
        self.occurrences += 1
        if example.id not in self.examples:
            self.examples.add(example.id)
            self.label_counts[example.label] += 1
            if len(self.contexts) < max_contexts:
                self.contexts.append(context)


def _context(example: Example, tokens: Sequence[str], span: Span, window: int) -> Context:
    return Context(
        example_id=example.id,
        label=example.label,
        start=span.start,
        left=" ".join(tokens[max(0, span.start - window) : span.start]),
        phrase=" ".join(tokens[span.start : span.end]),
        right=" ".join(tokens[span.end : span.end + window]),
    )


def _stats(
    phrase: str, tally: _Tally, labels: Sequence[str], prior: Mapping[str, int]
) -> PhraseStats:
    log_odds = label_log_odds(tally.label_counts, prior, labels)
    skew = max(labels, key=lambda label: log_odds[label])  # first label wins ties
    return PhraseStats(
        phrase=phrase,
        count=len(tally.examples),
        occurrences=tally.occurrences,
        label_counts={label: tally.label_counts[label] for label in labels},
        skew_label=skew,
        skew_share=tally.label_counts[skew] / len(tally.examples),
        log_odds=log_odds[skew],
        contexts=tuple(tally.contexts),
    )


def _ranked(
    tallies: Mapping[str, _Tally],
    labels: Sequence[str],
    prior: Mapping[str, int],
    top: int | None,
    min_count: int,
    rank_by: RankBy,
) -> tuple[PhraseStats, ...]:
    """Tallies with at least ``min_count`` examples, ordered by ``rank_by`` (ties: examples,
    occurrences, then alphabetical), cut to ``top``."""
    kept = [
        _stats(phrase, tally, labels, prior)
        for phrase, tally in tallies.items()
        if len(tally.examples) >= min_count
    ]
    skew_first = rank_by == "skew"
    kept.sort(
        key=lambda s: (-s.log_odds if skew_first else 0.0, -s.count, -s.occurrences, s.phrase)
    )
    return tuple(kept[:top])


def build_report(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    labels: Sequence[str],
    *,
    top: int | None = 50,
    contexts: int = 3,
    min_count: int = 2,
    window: int = DEFAULT_WINDOW,
    predicted: Mapping[str, np.ndarray] | None = None,
    rank_by: RankBy = "count",
    min_skew: float = 0.0,
    filtered_words: int = 0,
) -> ShortcutReport:
    """Aggregate the shortcut masks of the annotated ``examples`` into a :class:`ShortcutReport`.

    A phrase is a maximal run of consecutive shortcut words, lower-cased and joined by spaces;
    every shortcut word also counts as a unigram. Phrases and words found in fewer than
    ``min_count`` examples are left out and only the ``top`` most frequent are kept (None: all).
    Each keeps up to ``contexts`` occurrences (the first ones, from distinct examples) with
    ``window`` words on each side. ``labels`` is the label set in canonical order (ties of the
    skew go to the earlier label). Pass the ``predicted`` masks that the shortcut masks came
    from to get the shortcut rate (shortcut words / selected words).

    ``rank_by="skew"`` orders by label skew instead of frequency: frequent words that a
    rationalizer selects in examples of every label (".", "is") sink, and phrases that give the
    label away rise, while the smoothing still favours phrases seen in many examples.

    ``min_skew`` and ``filtered_words`` record the label-skew filter the ``masks`` went through
    (see :func:`skew_filter`).
    """
    _check_rank_by(rank_by)
    if top is not None and top < 1:
        raise RationalizerError(f"top must be at least 1 (or None for all), got {top}")
    if min_count < 1:
        raise RationalizerError(f"min_count must be at least 1, got {min_count}")
    if contexts < 0 or window < 0:
        raise RationalizerError("contexts and window must be >= 0")
    labels = tuple(labels)
    pairs = _annotated_with_masks(examples, masks, "shortcut mask")
    prior: Counter[str] = Counter()
    phrase_tallies: dict[str, _Tally] = defaultdict(_Tally)
    word_tallies: dict[str, _Tally] = defaultdict(_Tally)
    shortcut_words = examples_with_shortcuts = 0
    for example, mask in pairs:
        if example.label not in labels:
            raise RationalizerError(
                f"example {example.id!r} has label {example.label!r} outside {list(labels)}"
            )
        prior[example.label] += 1
        tokens = example.document.tokens
        spans = mask_to_spans(mask)
        shortcut_words += int(mask.sum())
        examples_with_shortcuts += bool(spans)
        for span in spans:
            phrase_tallies[" ".join(tokens[span.start : span.end]).lower()].add(
                example, _context(example, tokens, span, window), contexts
            )
            for position in span.positions():
                word = Span(position, position + 1)
                word_tallies[tokens[position].lower()].add(
                    example, _context(example, tokens, word, window), contexts
                )
    selected_words = None
    if predicted is not None:
        selected_words = sum(
            int(selected.sum())
            for _, selected in _annotated_with_masks(examples, predicted, "predicted mask")
        )
    return ShortcutReport(
        labels=labels,
        label_counts={label: prior[label] for label in labels},
        annotated_examples=len(pairs),
        examples_with_shortcuts=examples_with_shortcuts,
        shortcut_words=shortcut_words,
        selected_words=selected_words,
        distinct_phrases=len(phrase_tallies),
        distinct_unigrams=len(word_tallies),
        top=top,
        min_count=min_count,
        window=window,
        rank_by=rank_by,
        min_skew=min_skew,
        filtered_words=filtered_words,
        phrases=_ranked(phrase_tallies, labels, prior, top, min_count, rank_by),
        unigrams=_ranked(word_tallies, labels, prior, top, min_count, rank_by),
    )


def word_label_skew(
    examples: Iterable[Example], labels: Sequence[str], *, min_count: int = SKEW_MIN_COUNT
) -> dict[str, float]:
    """How much each word type leans to a label outside the human rationales, by lower-cased word.

    Over the annotated ``examples``: the add-one smoothed log-odds (nats, :func:`label_log_odds`)
    of the label most over-represented among the examples where the word occurs outside the
    gold rationale, against the labels of all annotated examples. 0: the word follows the prior.
    Words outside the rationale of fewer than ``min_count`` examples are left out (too little
    evidence either way). An example counts once per word, however often the word occurs in it.
    """
    labels = tuple(labels)
    prior: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        if not example.is_annotated:
            continue
        prior[example.label] += 1
        outside = example.rationale_mask() == 0
        tokens = _document_tokens(example)
        for word in {w.lower() for w, out in zip(tokens, outside, strict=True) if out}:
            counts[word][example.label] += 1
    return {
        word: max(label_log_odds(by_label, prior, labels).values())
        for word, by_label in counts.items()
        if sum(by_label.values()) >= min_count
    }


def skew_filter(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    labels: Sequence[str],
    min_skew: float,
) -> tuple[dict[str, np.ndarray], int]:
    """The shortcut ``masks`` with only the words whose type carries label signal, and how many
    candidate words were dropped.

    A candidate (a selected word outside the gold rationale) stays a shortcut word when its
    :func:`word_label_skew` over the annotated ``examples`` is at least ``min_skew``; a word
    seen outside the rationale of fewer than :data:`SKEW_MIN_COUNT` examples is dropped.
    ``min_skew`` 0 keeps every candidate.
    """
    if min_skew < 0:
        raise RationalizerError(f"min_skew must be at least 0, got {min_skew}")
    pairs = _annotated_with_masks(examples, masks, "shortcut mask")
    if min_skew == 0:
        return {example.id: mask for example, mask in pairs}, 0
    skew = word_label_skew([example for example, _ in pairs], labels)
    kept: dict[str, np.ndarray] = {}
    dropped = 0
    for example, mask in pairs:
        telling = np.array(
            [skew.get(word.lower(), -math.inf) >= min_skew for word in _document_tokens(example)],
            dtype=np.int8,
        )
        kept[example.id] = (mask & telling).astype(np.int8)
        dropped += int(mask.sum()) - int(kept[example.id].sum())
    return kept, dropped


def _check_rank_by(rank_by: str) -> None:
    if rank_by not in RANKINGS:
        raise RationalizerError(f"unknown ranking {rank_by!r}: choose one of {', '.join(RANKINGS)}")


def _planted_mask(example: Example) -> np.ndarray:
    spans = example.metadata.get("shortcut_spans")
    if spans is None:
        raise RationalizerError(
            f"example {example.id!r} has no metadata['shortcut_spans']: discovery scores need a "
            "dataset with planted shortcuts, such as 'synthetic'"
        )
    try:
        return spans_to_mask((Span(start, end) for start, end in spans), len(example.document))
    except (TypeError, ValueError) as err:
        raise RationalizerError(
            f"example {example.id!r}: invalid metadata['shortcut_spans'] {spans!r} ({err})"
        ) from None


def _is_punctuation(word: str) -> bool:
    return not any(character.isalnum() for character in word)


def _without_edge_punctuation(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` without their leading and trailing punctuation tokens."""
    start, end = 0, len(words)
    while start < end and _is_punctuation(words[start]):
        start += 1
    while end > start and _is_punctuation(words[end - 1]):
        end -= 1
    return words[start:end]


def _is_telling_part(discovered: tuple[str, ...], planted: tuple[str, ...]) -> bool:
    """Whether ``discovered``, without edge punctuation, is ``planted`` or a contiguous part of
    it with a content word.

    A selector often keeps only the informative core of a phrase ("odeon" of "at the odeon");
    that still recovers the shortcut. A part made only of stopwords ("at the") does not: those
    words occur everywhere and say nothing about the planted phrase. A selector also often
    takes the full stop or comma next to the phrase ("at the odeon ."); the phrase is still
    found, so punctuation at either end is ignored (inside a phrase it is not).
    """
    core = _without_edge_punctuation(discovered)
    if not any(word not in ENGLISH_STOP_WORDS for word in core):
        return bool(core) and core == planted
    width = len(core)
    return any(planted[start : start + width] == core for start in range(len(planted) - width + 1))


def discovery_scores(
    examples: Sequence[Example],
    masks: Mapping[str, np.ndarray],
    planted: Mapping[str, str],
    *,
    depth: int = READING_DEPTH,
    rank_by: RankBy = "count",
) -> dict:
    """How well the shortcut ``masks`` recover planted shortcuts, over the annotated examples.

    Token level (pooled over examples; each example's planted words come from
    ``metadata["shortcut_spans"]``):

    * ``token_precision`` = discovered shortcut words that are planted words / discovered words
    * ``token_recall`` = planted words that were discovered / planted words
    * ``token_f1`` their harmonic mean; every ratio is 0 when its denominator is 0.

    Phrase level, on the ranking of the discovered phrases (``rank_by``, as by
    :func:`build_report`, over every phrase however rare). A discovered phrase *matches* a
    planted one when, after dropping punctuation tokens at its ends, it equals the planted
    phrase or is a contiguous part of it holding at least one non-stopword (case-insensitive):
    "odeon", "the odeon" and "at the odeon ." match "at the odeon"; "at the", "odeon again"
    and "at . odeon" do not.

    * ``phrase_precision`` = top-k phrases that match some planted phrase / top-k phrases and
      ``phrase_recall`` = planted phrases matched by some top-k phrase / planted phrases, with
      ``k`` = the number of planted phrases (``top_phrases``): strict, as by count frequent
      unskewed words ("." or "is") may outrank every planted phrase;
    * ``phrase_recall_at_depth`` = planted phrases matched within the top ``depth`` phrases /
      planted phrases: what a reader of the report's first rows sees (``depth`` defaults to
      :data:`READING_DEPTH`).

    Every ratio is 0 when nothing was found. ``planted`` maps phrase → the label it is skewed
    towards. Per planted phrase, ``planted`` in the result gives ``found`` (matched within the
    top k), the best-ranked matching discovered phrase over the whole ranking (``matched``, its
    ``rank`` and ``skew_label``; None when no discovered phrase matches) next to the planted
    ``label``.
    """
    if depth < 1:
        raise RationalizerError(f"depth must be at least 1, got {depth}")
    pairs = _annotated_with_masks(examples, masks, "shortcut mask")
    planted_masks = [_planted_mask(example) for example, _ in pairs]
    discovered = [mask for _, mask in pairs]
    micro = token_prf(planted_masks, discovered)["instance_micro"]
    labels = tuple(dict.fromkeys(example.label for example, _ in pairs))
    ranking = build_report(
        [example for example, _ in pairs],
        masks,
        labels,
        top=None,
        contexts=0,
        min_count=1,
        rank_by=rank_by,
    ).phrases
    k = len(planted)
    planted_words = {phrase: tuple(phrase.lower().split()) for phrase in planted}
    best_match = {
        phrase: next(
            (
                (rank, stats)
                for rank, stats in enumerate(ranking, start=1)
                if _is_telling_part(tuple(stats.phrase.split()), words)
            ),
            (None, None),
        )
        for phrase, words in planted_words.items()
    }

    def recall_within(limit: int) -> float:
        matched = sum(rank is not None and rank <= limit for rank, _ in best_match.values())
        return matched / k if k else 0.0

    top = ranking[:k]
    top_matching = sum(
        any(
            _is_telling_part(tuple(stats.phrase.split()), words) for words in planted_words.values()
        )
        for stats in top
    )
    details = {}
    for phrase, label in planted.items():
        rank, stats = best_match[phrase]
        details[phrase] = {
            "label": label,
            "found": rank is not None and rank <= k,
            "matched": None if stats is None else stats.phrase,
            "rank": rank,
            "skew_label": None if stats is None else stats.skew_label,
        }
    return {
        "examples": len(pairs),
        "discovered_words": sum(int(m.sum()) for m in discovered),
        "planted_words": sum(int(m.sum()) for m in planted_masks),
        "correct_words": sum(
            int((m & p).sum()) for m, p in zip(discovered, planted_masks, strict=True)
        ),
        "token_precision": micro["p"],
        "token_recall": micro["r"],
        "token_f1": micro["f1"],
        "rank_by": rank_by,
        "k": k,
        "top_phrases": [stats.phrase for stats in top],
        "planted_found": [phrase for phrase in planted if details[phrase]["found"]],
        "phrase_precision": top_matching / len(top) if top else 0.0,
        "phrase_recall": recall_within(k),
        "depth": depth,
        "phrase_recall_at_depth": recall_within(depth),
        "planted": details,
    }


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
        "| # | phrase | count | occurrences | skew label | share | log-odds | labels |",
        "|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for rank, stats in enumerate(rows, start=1):
        by_label = ", ".join(f"{_md(label)} {stats.label_counts[label]}" for label in labels)
        lines.append(
            f"| {rank} | {_md(stats.phrase)} | {stats.count} | {stats.occurrences} | "
            f"{_md(stats.skew_label)} | {stats.skew_share:.0%} | {stats.log_odds:+.2f} | "
            f"{by_label} |"
        )
    return lines
