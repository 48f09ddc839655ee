"""``rationalizer explain --format svg|latex``: explanations as paper figures.

A figure is one example: a standalone SVG, or a LaTeX fragment to ``\\input`` (a
``\\colorbox`` per word, needing only ``xcolor``). ``--text`` writes one file (or prints it);
``--dataset`` writes one file per example into a folder, named by the example id, because a
paper shows a few chosen examples, each in its own figure.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rationalizer.errors import RationalizerError
from rationalizer.outputs import write_atomic

if TYPE_CHECKING:
    from rationalizer.data import Dataset, Span
    from rationalizer.explain.adapters import ClassifierAdapter
    from rationalizer.explain.base import Explainer, Explanation

#: format name → file suffix
FORMATS = {"svg": ".svg", "latex": ".tex"}


def checked_format(name: str | None) -> str | None:
    if name is not None and name not in FORMATS:
        raise typer.BadParameter(
            f"{name!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    return name


def figure(explanation: Explanation, name: str, gold: Sequence[Span] | None = None) -> str:
    """The explanation as an SVG or LaTeX figure; ``gold`` underlines a human rationale."""
    marked = explanation.highlight(gold)
    return marked.to_svg() if name == "svg" else marked.to_latex()


def write_figure(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out``, or print it unchanged when there is no ``out``."""
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(out, text)


def write_dataset_figures(
    explainer: Explainer, adapter: ClassifierAdapter, data: Dataset, out: Path, name: str
) -> list[Path]:
    """One figure per example of ``data`` in the folder ``out`` (``ID.svg`` or ``ID.tex``,
    characters other than letters, digits, ``.``, ``_`` and ``-`` in the id written ``_``),
    the gold rationale underlined where the example has one."""
    paths = _figure_paths(data, out, FORMATS[name])
    instances = [adapter.prepare(example.document.tokens, example.query) for example in data]
    explanations = explainer.attribute(adapter, instances)
    out.mkdir(parents=True, exist_ok=True)
    for example, explanation, path in zip(data, explanations, paths, strict=True):
        gold = example.rationale_spans() if example.has_rationale else None
        _write(path, figure(explanation, name, gold))
    return paths


def _write(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a killed run leaves whole figures only."""
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _figure_paths(data: Dataset, out: Path, suffix: str) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise RationalizerError(f"--out {out}: with --dataset and --format, --out is a folder")
    paths: dict[str, str] = {}
    for example in data:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", example.id).lstrip(".") or "_"
        if stem in paths:
            raise RationalizerError(
                f"examples {paths[stem]!r} and {example.id!r} would share the file {stem}{suffix}"
            )
        paths[stem] = example.id
    return [out / f"{stem}{suffix}" for stem in paths]
