"""Notebook display (``_repr_html_``) of an evaluation report and a shortcut report: the HTML
report's metric table and shortcut contexts as fragments, every value escaped."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from rationalizer.data.example import Span
from rationalizer.highlight import Highlight
from rationalizer.report.render import _cell, metric_groups

if TYPE_CHECKING:
    from rationalizer.training.shortcuts import Context, ShortcutReport

_TABLE = '<table class="rationalizer">'


def evaluation_html(report: Mapping[str, Any]) -> str:
    """Every metric of an :func:`~rationalizer.metrics.evaluate` report, grouped by section as
    the HTML report groups them, with its range and direction."""
    rows = []
    for group in metric_groups([report]):
        rows.append(f'<tr><th colspan="4" style="text-align: left">{escape(group.title)}</th></tr>')
        rows += [
            f'<tr><td title="{escape(row.description)}">{escape(row.name)} '
            f"<code>{escape(row.key)}</code></td>"
            f'<td style="text-align: right">{escape(row.values[0])}</td>'
            f"<td>{escape(row.bounds)}</td><td>{escape(row.better)}</td></tr>"
            for row in group.rows
        ]
    head = "<tr><th>metric</th><th>value</th><th>range</th><th>better</th></tr>"
    return f"{_TABLE}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def shortcuts_html(report: ShortcutReport) -> str:
    """The summary and the phrase table of a shortcut report, each phrase shown in its first
    context with the shortcut mark."""
    rate = report.shortcut_rate
    summary = (
        f"{report.examples_with_shortcuts:,} of {report.annotated_examples:,} annotated examples "
        f"have shortcut words ({report.shortcut_words:,} words"
        + ("" if rate is None else f", {rate:.1%} of the selected words")
        + f"); phrases ranked by {report.ranking_title}."
    )
    head = (
        "<tr><th>#</th><th>phrase</th><th>examples</th><th>skew label</th><th>share</th>"
        "<th>log-odds</th><th>in rationales</th><th>context</th></tr>"
    )
    rows = [
        f"<tr><td>{rank}</td><td>{escape(p.phrase)}</td><td>{p.count:,}</td>"
        f"<td>{escape(p.skew_label)}</td><td>{_cell(p.skew_share)}</td>"
        f"<td>{_cell(p.log_odds)}</td><td>{_cell(p.evidence_rate)}</td>"
        f"<td>{_context_html(p.contexts[0]) if p.contexts else ''}</td></tr>"
        for rank, p in enumerate(report.phrases, start=1)
    ]
    return (
        f'<div class="rationalizer"><p>{escape(summary)}</p>'
        f"{_TABLE}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _context_html(context: Context) -> str:
    left, phrase, right = (part.split() for part in (context.left, context.phrase, context.right))
    marked = Highlight(
        (*left, *phrase, *right), shortcuts=(Span(len(left), len(left) + len(phrase)),)
    )
    source = f"{escape(context.example_id)}, {escape(context.label)}"
    return f"{marked.to_html()}<small>({source})</small>"
