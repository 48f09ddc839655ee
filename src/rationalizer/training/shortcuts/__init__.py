"""Shortcut discovery: what an unsupervised rationalizer selects outside the human rationale.

The SSR method turns the selections of a rationalizer trained without rationale supervision into
shortcut word masks (:mod:`.masks`), keeps the words that lean to a label (:mod:`.skew`) and
that annotators do not mark as evidence elsewhere (:mod:`.evidence`),
aggregates them into a ranked :class:`ShortcutReport` (:mod:`.aggregation`, :mod:`.report`) and,
where shortcuts are planted, scores how well they were found (:mod:`.planted`). Everything is
indexed by word position in the example's only document (training uses single-document
examples).
"""

from rationalizer.training.shortcuts.aggregation import build_report
from rationalizer.training.shortcuts.evidence import evidence_filter, word_evidence_rates
from rationalizer.training.shortcuts.masks import shortcut_masks
from rationalizer.training.shortcuts.planted import READING_DEPTH, discovery_scores
from rationalizer.training.shortcuts.report import (
    RANKINGS,
    REPORT_JSON,
    REPORT_MD,
    SCORES_JSON,
    Context,
    PhraseStats,
    RankBy,
    ShortcutReport,
)
from rationalizer.training.shortcuts.skew import label_log_odds, skew_filter, word_label_skew

__all__ = [
    "RANKINGS",
    "READING_DEPTH",
    "REPORT_JSON",
    "REPORT_MD",
    "SCORES_JSON",
    "Context",
    "PhraseStats",
    "RankBy",
    "ShortcutReport",
    "build_report",
    "discovery_scores",
    "evidence_filter",
    "label_log_odds",
    "shortcut_masks",
    "skew_filter",
    "word_evidence_rates",
    "word_label_skew",
]
