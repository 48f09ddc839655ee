"""One word-highlighting renderer for every place a rationale is shown: the HTML report's
styles, notebook display (``_repr_html_``), and paper figures as standalone SVG or LaTeX.

Marks differ in kind, not only in colour, and the colours are Okabe–Ito (colour-blind safe):

* **predicted rationale** (a hard mask): a sky-blue fill; where soft scores take the fill, the
  rationale words are **bold** instead;
* **soft scores**: a graded fill, blue for scores above 0 (evidence for the label), vermillion
  below (against it), its opacity growing with the score's size on ``score_scale`` (by default
  the largest absolute score); scores under 1% of it stay unfilled;
* **gold rationale**: a vermillion underline;
* **shortcut phrase**: a black dotted box (a framed box in LaTeX).

Everything from the data is escaped: HTML entities in HTML and SVG, LaTeX's special characters
in LaTeX. This module stays light (no report, no torch) because results objects import it.
"""

from __future__ import annotations

import html
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache

import numpy as np

from rationalizer.data.example import Span, spans_to_mask

RGB = tuple[int, int, int]
SKY_BLUE: RGB = (86, 180, 233)
BLUE: RGB = (0, 114, 178)
VERMILLION: RGB = (213, 94, 0)
BLACK: RGB = (0, 0, 0)
#: opacity of the flat rationale fill, and the range of a graded score fill
RATIONALE_ALPHA = 0.45
SCORE_ALPHA = (0.1, 0.6)
#: scores under this share of the scale stay unfilled (a selector's near-zero probabilities)
MIN_SHARE = 0.01


@dataclass(frozen=True)
class Mark:
    """How one word is drawn; the same mark gives the same look in HTML, SVG and LaTeX."""

    fill: RGB | None = None
    alpha: float = 0.0
    bold: bool = False
    underline: bool = False
    frame: bool = False
    title: str = ""

    @property
    def plain(self) -> bool:
        return self.fill is None and not (self.bold or self.underline or self.frame)

    def blended(self) -> RGB:
        """The fill laid over white, for formats without transparency (LaTeX)."""
        assert self.fill is not None
        red, green, blue = (round(255 - self.alpha * (255 - c)) for c in self.fill)
        return red, green, blue

    def css(self) -> str:
        rules = []
        if self.fill is not None:
            rules.append(f"background: {_rgba(self.fill, self.alpha)}")
        if self.bold:
            rules.append("font-weight: 700")
        if self.underline:
            rules.append(
                f"text-decoration: underline solid {_hex(VERMILLION)} 3px; "
                "text-underline-offset: 3px; text-decoration-skip-ink: none"
            )
        if self.frame:
            rules.append(f"outline: 2px dotted {_hex(BLACK)}; outline-offset: 1px")
        return "; ".join(rules)


#: The report's example browser marks word runs with these classes (report.js).
LAYERS = {
    "p": ("predicted rationale", "filled", Mark(fill=SKY_BLUE, alpha=RATIONALE_ALPHA)),
    "g": ("gold rationale", "underlined", Mark(underline=True)),
    "s": ("shortcut phrase", "dotted box", Mark(frame=True)),
}


def stylesheet() -> str:
    """CSS of the report's ``.hl`` classes (:data:`LAYERS`), from the same marks."""
    rules = [".hl { padding: 0 1px; }"]
    rules += [f".hl.{name} {{ {mark.css()}; }}" for name, (*_, mark) in LAYERS.items()]
    return "\n".join(rules) + "\n"


@dataclass(frozen=True)
class Highlight:
    """Words with their marks: a hard rationale, soft scores, a gold rationale, shortcuts.

    ``score_scale`` is the score at full colour (None: the largest absolute score); pass 1 for
    probabilities so that 0.3 never looks like certainty. ``score_name`` titles each word's
    score (a tooltip in HTML and SVG). ``signed`` scores speak for the label above 0 and
    against it below (attributions), others only grow (a selector's probabilities): the
    legend says which.
    """

    words: tuple[str, ...]
    rationale: tuple[Span, ...] = ()
    scores: tuple[float, ...] | None = None
    gold: tuple[Span, ...] | None = None
    shortcuts: tuple[Span, ...] = ()
    score_scale: float | None = None
    score_name: str = "score"
    signed: bool = True

    def __post_init__(self) -> None:
        if self.scores is not None and len(self.scores) != len(self.words):
            raise ValueError(f"{len(self.scores)} scores for {len(self.words)} words")

    def marks(self) -> list[Mark]:
        """One :class:`Mark` per word."""
        size = len(self.words)
        chosen = spans_to_mask(self.rationale, size).astype(bool)
        gold = spans_to_mask(self.gold or (), size).astype(bool)
        shortcut = spans_to_mask(self.shortcuts, size).astype(bool)
        scored = (
            None
            if self.scores is None
            else list(zip(self._score_fills(), self.scores, strict=True))
        )
        marks = []
        for i in range(size):
            titles = [
                name
                for name, on in (
                    ("predicted rationale", chosen[i]),
                    ("gold rationale", gold[i]),
                    ("shortcut phrase", shortcut[i]),
                )
                if on
            ]
            if scored is None:
                fill, alpha = (SKY_BLUE, RATIONALE_ALPHA) if chosen[i] else (None, 0.0)
            else:
                (fill, alpha), score = scored[i]
                titles.insert(0, self._score_title(score))
            marks.append(
                Mark(
                    fill=fill,
                    alpha=alpha,
                    bold=bool(chosen[i]) and scored is not None,
                    underline=bool(gold[i]),
                    frame=bool(shortcut[i]),
                    title=", ".join(titles),
                )
            )
        return marks

    def _score_fills(self) -> list[tuple[RGB | None, float]]:
        scores = np.asarray(self.scores, dtype=np.float64)
        finite = scores[np.isfinite(scores)]
        scale = self.score_scale or (float(np.abs(finite).max()) if finite.size else 0.0)
        low, high = SCORE_ALPHA
        fills: list[tuple[RGB | None, float]] = []
        for score in scores:
            if not math.isfinite(score) or scale == 0 or abs(score) < MIN_SHARE * scale:
                fills.append((None, 0.0))
            else:
                share = min(abs(score) / scale, 1.0)
                fills.append(
                    (BLUE if score > 0 else VERMILLION, round(low + share * (high - low), 3))
                )
        return fills

    def _score_title(self, score: float) -> str:
        if not math.isfinite(score):
            return "no score"
        return f"{self.score_name} {score:{'+' if self.signed else ''}.3g}"

    # ------------------------------------------------------------------ HTML
    def to_html(self) -> str:
        """The words as an HTML paragraph, each marked word a ``<span>`` with inline styles
        (notebooks may drop stylesheets, never inline styles)."""
        parts = []
        for word, mark in zip(self.words, self.marks(), strict=True):
            text = html.escape(word)
            parts.append(text if mark.plain and not mark.title else _span(text, mark, escaped=True))
        return f'<p class="words" style="line-height: 2">{" ".join(parts)}</p>'

    def legend_html(self) -> str:
        """A one-line key to the marks this highlight uses."""
        items = []
        blue, vermillion = (Mark(fill=c, alpha=SCORE_ALPHA[1]) for c in (BLUE, VERMILLION))
        if self.scores is not None and self.signed:
            items.append(
                f"{_span('blue', blue)} for the label, {_span('vermillion', vermillion)} "
                "against it, shade: the score's size"
            )
        elif self.scores is not None:
            items.append(f"{_span('shade', blue)}: the {self.score_name}")
        name, look, mark = LAYERS["p"]
        if self.scores is not None:
            look, mark = "bold", Mark(bold=True)
        items.append(f"{_span(name, mark)} {look}")
        for layer, shown in (("g", self.gold is not None), ("s", bool(self.shortcuts))):
            if shown:
                name, look, mark = LAYERS[layer]
                items.append(f"{_span(name, mark)} {look}")
        return f'<p class="legend" style="font-size: 0.85em">{" · ".join(items)}</p>'

    # ------------------------------------------------------------------ SVG
    def to_svg(self, width: float = 640, font_size: float = 14) -> str:
        """A standalone SVG of the words, wrapped at ``width`` pixels.

        Word widths are measured in DejaVu Sans (matplotlib's font) and pinned with
        ``textLength``, so the layout holds in a viewer with another font.
        """
        pad, gap, line = font_size * 0.25, font_size * 0.35, font_size * 1.9
        x, y = pad, pad
        boxes, texts = [], []
        for word, mark in zip(self.words, self.marks(), strict=True):
            measured = _text_width(word, font_size, mark.bold)
            box = measured + 2 * pad
            if x > pad and x + box > width - pad:
                x, y = pad, y + line
            top, height = y + font_size * 0.2, font_size * 1.5
            base = top + font_size * 1.08
            title = f"<title>{html.escape(mark.title)}</title>" if mark.title else ""
            if mark.fill is not None or mark.frame:
                fill = "none" if mark.fill is None else _hex(mark.fill)
                shape = f'fill="{fill}"' + (
                    "" if mark.fill is None else f' fill-opacity="{mark.alpha:g}"'
                )
                if mark.frame:
                    shape += f' stroke="{_hex(BLACK)}" stroke-width="1.5" stroke-dasharray="2 2"'
                boxes.append(
                    f'<rect x="{x:.1f}" y="{top:.1f}" width="{box:.1f}" height="{height:.1f}" '
                    f'rx="2" {shape}>{title}</rect>'
                )
                title = ""
            if mark.underline:
                boxes.append(
                    f'<line x1="{x + pad:.1f}" y1="{base + 3:.1f}" x2="{x + pad + measured:.1f}" '
                    f'y2="{base + 3:.1f}" stroke="{_hex(VERMILLION)}" stroke-width="2.5"/>'
                )
            weight = ' font-weight="700"' if mark.bold else ""
            texts.append(
                f'<text x="{x + pad:.1f}" y="{base:.1f}" textLength="{measured:.1f}" '
                f'lengthAdjust="spacingAndGlyphs"{weight}>{html.escape(word)}{title}</text>'
            )
            x += box + gap
        height = y + line + pad
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:.0f}" '
            f'viewBox="0 0 {width:g} {height:.0f}">\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            f'<g font-family="DejaVu Sans, Verdana, sans-serif" font-size="{font_size:g}" '
            f'fill="#1a1a1a">\n' + "\n".join(boxes + texts) + "\n</g>\n</svg>\n"
        )

    # ------------------------------------------------------------------ LaTeX
    def to_latex(self) -> str:
        """The words as a LaTeX fragment, a ``\\colorbox`` per filled word (needs only
        ``\\usepackage{xcolor}``); text special characters are escaped."""
        words = []
        for word, mark in zip(self.words, self.marks(), strict=True):
            text = latex_escape(word)
            if mark.bold:
                text = f"\\textbf{{{text}}}"
            if mark.underline:
                text = f"\\underline{{{text}}}"
            if mark.frame:
                fill = "255,255,255" if mark.fill is None else ",".join(map(str, mark.blended()))
                text = f"\\fcolorbox[RGB]{{0,0,0}}{{{fill}}}{{\\strut {text}}}"
            elif mark.fill is not None:
                text = f"\\colorbox[RGB]{{{','.join(map(str, mark.blended()))}}}{{\\strut {text}}}"
            words.append(text)
        return (
            "% made by rationalizer; needs \\usepackage{xcolor}\n"
            "{\\setlength{\\fboxsep}{1pt}%\n" + "\n".join(words) + "%\n}\n"
        )


class Highlightable(ABC):
    """A result that marks words: notebook display and paper figures from its
    :meth:`highlight`."""

    @abstractmethod
    def highlight(self) -> Highlight:
        """The words and their marks."""

    @abstractmethod
    def summary(self) -> str:
        """One line of plain text above the words in a notebook (escaped when shown)."""

    def to_svg(self, width: float = 640, font_size: float = 14) -> str:
        """A standalone SVG figure of the highlighted words (see :meth:`Highlight.to_svg`)."""
        return self.highlight().to_svg(width, font_size)

    def to_latex(self) -> str:
        """The highlighted words as a LaTeX fragment (see :meth:`Highlight.to_latex`)."""
        return self.highlight().to_latex()

    def _repr_html_(self) -> str:
        marked = self.highlight()
        return (
            f'<div class="rationalizer"><p>{html.escape(self.summary())}</p>'
            f"{marked.to_html()}{marked.legend_html()}</div>"
        )


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(text: str) -> str:
    """``text`` with every character LaTeX treats specially written as itself."""
    return "".join(_LATEX_SPECIALS.get(character, character) for character in text)


def _span(text: str, mark: Mark, *, escaped: bool = False) -> str:
    shown = text if escaped else html.escape(text)
    title = f' title="{html.escape(mark.title)}"' if mark.title else ""
    style = f' style="{mark.css()}; padding: 0 1px"' if not mark.plain else ""
    return f"<span{style}{title}>{shown}</span>"


def _rgba(colour: RGB, alpha: float) -> str:
    return f"rgba({colour[0]}, {colour[1]}, {colour[2]}, {alpha:g})"


def _hex(colour: RGB) -> str:
    return "#" + "".join(f"{c:02x}" for c in colour)


@cache
def _text_width(word: str, font_size: float, bold: bool) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal", size=font_size)
    width, _, _ = TextToPath().get_text_width_height_descent(word, font, ismath=False)
    return max(width, font_size * 0.3)
