"""The one word-highlighting renderer: its colour scale, and HTML, SVG and LaTeX that escape
whatever the text holds; notebook display of explanations and predictions."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from tests.html_fragment import Fragment

from rationalizer.data import Span
from rationalizer.explain.base import Explanation
from rationalizer.highlight import (
    BLUE,
    RATIONALE_ALPHA,
    SCORE_ALPHA,
    SKY_BLUE,
    VERMILLION,
    Highlight,
    latex_escape,
    stylesheet,
)
from rationalizer.training.inference import Prediction

SVG = "{http://www.w3.org/2000/svg}"
#: words that are markup, entities and LaTeX commands: they must come out as text
NASTY = ("<script>alert(1)</script>", "&amp;", '"quoted"', "it's", "<b>bold</b>", "\\section{x}")


def explanation(words=NASTY, scores=None, **fields) -> Explanation:
    scores = scores if scores is not None else tuple(float(i) - 2 for i in range(len(words)))
    values = {
        "words": tuple(words),
        "scores": scores,
        "rationale": (Span(len(words) - 2, len(words)),),
        "target": "<i>pos</i>",
        "probabilities": {"<i>neg</i>": 0.25, "<i>pos</i>": 0.75},
        "method": "occlusion",
        "query": 'is it <good> & "fine"?',
    }
    return Explanation(**(values | fields))


def test_scores_are_graded_blue_for_and_vermillion_against_on_one_scale():
    marks = Highlight(("a", "b", "c", "d", "e"), scores=(2.0, -1.0, 0.0, float("nan"), 4.0)).marks()
    assert [m.fill for m in marks] == [BLUE, VERMILLION, None, None, BLUE]
    low, high = SCORE_ALPHA
    assert marks[4].alpha == high  # the largest absolute score is full colour
    assert marks[0].alpha == pytest.approx(low + 0.5 * (high - low))
    assert marks[1].alpha == pytest.approx(low + 0.25 * (high - low))
    assert marks[3].title == "no score"
    assert marks[1].title == "score -1"


def test_probabilities_are_graded_on_their_own_scale_and_near_zero_left_blank():
    marks = Highlight(("a", "b", "c"), scores=(0.3, 1.0, 0.009), score_scale=1.0).marks()
    low, high = SCORE_ALPHA
    assert marks[0].alpha == pytest.approx(low + 0.3 * (high - low))
    assert marks[1].alpha == high
    assert marks[2].fill is None and marks[2].title == "score +0.009"


def test_a_hard_rationale_is_a_flat_fill_alone_and_bold_over_scores():
    alone = Highlight(("a", "b", "c"), rationale=(Span(1, 2),)).marks()
    assert [(m.fill, m.alpha, m.bold) for m in alone] == [
        (None, 0.0, False),
        (SKY_BLUE, RATIONALE_ALPHA, False),
        (None, 0.0, False),
    ]
    scored = Highlight(("a", "b", "c"), rationale=(Span(1, 2),), scores=(1.0, -1.0, 1.0)).marks()
    assert [m.bold for m in scored] == [False, True, False]
    assert scored[1].fill == VERMILLION  # the fill shows the score, not the rationale


def test_gold_is_underlined_and_shortcuts_boxed():
    marks = Highlight(("a", "b", "c"), gold=(Span(0, 2),), shortcuts=(Span(1, 3),)).marks()
    assert [m.underline for m in marks] == [True, True, False]
    assert [m.frame for m in marks] == [False, True, True]
    assert marks[1].title == "gold rationale, shortcut phrase"


def test_the_report_stylesheet_uses_the_same_marks():
    css = stylesheet()
    fill = Highlight(("a",), rationale=(Span(0, 1),)).marks()[0].css()
    assert f".hl.p {{ {fill}; }}" in css
    assert ".hl.g {" in css and ".hl.s {" in css


def test_html_escapes_every_word_and_title():
    fragment = Highlight(NASTY, scores=(1.0,) * len(NASTY), score_name="<b>x</b>").to_html()
    parsed = Fragment(fragment)
    assert set(parsed.tags) == {"p", "span"}
    assert "".join(parsed.text) == " ".join(NASTY)
    assert all(title.startswith("<b>x</b> ") for title in parsed.titles)


@pytest.mark.parametrize(
    "shown",
    [
        explanation(),
        Prediction(
            words=NASTY,
            label="<i>pos</i>",
            probabilities={"<i>neg</i>": 0.25, "<i>pos</i>": 0.75},
            rationale=(Span(0, 2),),
            scores=(0.9, 0.8, 0.1, 0.0, 0.2, 0.3),
        ),
    ],
    ids=["Explanation", "Prediction"],
)
def test_notebook_display_escapes_the_text_labels_and_query(shown):
    fragment = shown._repr_html_()
    parsed = Fragment(fragment)
    assert set(parsed.tags) <= {"div", "p", "span"}
    text = "".join(parsed.text)
    for word in NASTY:
        assert word in text
    assert "<i>pos</i>" in text and "<i>neg</i> 0.250" in text
    assert "<script>" not in fragment and "<i>" not in fragment


def test_explanation_display_says_what_was_explained():
    text = "".join(Fragment(explanation()._repr_html_()).text)
    assert "occlusion explains <i>pos</i> (model: <i>neg</i> 0.250, <i>pos</i> 0.750)" in text
    assert 'query: is it <good> & "fine"?' in text
    assert "for the label" in text and "predicted rationale bold" in text


def test_prediction_display_shades_by_selector_probability():
    prediction = Prediction(
        words=("a", "fine", "film"),
        label="pos",
        probabilities={"neg": 0.1, "pos": 0.9},
        rationale=(Span(1, 2),),
        scores=(0.0, 0.5, 0.25),
    )
    parsed = Fragment(prediction._repr_html_())
    text = "".join(parsed.text)
    assert "predicted pos (neg 0.100, pos 0.900) reading 1 of 3 words" in text
    assert "shade: the selector probability" in text and "vermillion" not in text
    assert parsed.titles[:3] == [
        "selector probability 0",
        "selector probability 0.5, predicted rationale",
        "selector probability 0.25",
    ]


def test_svg_is_well_formed_and_holds_each_word_as_text():
    svg = explanation().to_svg()
    root = ET.fromstring(svg)
    texts = root.findall(f".//{SVG}text")
    assert [t.text for t in texts] == list(NASTY)
    assert [t.get("font-weight") for t in texts] == [None] * 4 + ["700"] * 2
    fills = [r.get("fill") for r in root.findall(f".//{SVG}g/{SVG}rect")]
    assert fills == [
        "#d55e00",
        "#d55e00",
        "#0072b2",
        "#0072b2",
        "#0072b2",
    ]  # scores -2..3, 0 unfilled


def test_svg_wraps_long_texts_within_its_width():
    words = tuple(f"word{i}" for i in range(60))
    root = ET.fromstring(Highlight(words).to_svg(width=300))
    texts = root.findall(f".//{SVG}text")
    lines = {float(t.get("y")) for t in texts}
    assert len(lines) > 3
    for t in texts:
        assert float(t.get("x")) + float(t.get("textLength")) <= 300
    assert float(root.get("height")) > max(lines)


def test_latex_escapes_special_characters():
    assert latex_escape("50% & $x_1$ {a} #2 ~ ^ \\ <b>") == (
        r"50\% \& \$x\_1\$ \{a\} \#2 \textasciitilde{} \textasciicircum{} \textbackslash{} "
        r"\textless{}b\textgreater{}"
    )


def test_latex_has_a_colorbox_per_filled_word_blended_over_white():
    latex = Highlight(
        ("good", "50%", "plain", "bad"), rationale=(Span(0, 1),), scores=(1.0, 0.5, 0.0, -1.0)
    ).to_latex()
    boxes = re.findall(r"\\colorbox\[RGB\]\{(\d+),(\d+),(\d+)\}\{\\strut ([^}\n]*}?)\}", latex)
    blue = tuple(str(round(255 - SCORE_ALPHA[1] * (255 - c))) for c in BLUE)
    assert boxes[0][:3] == blue
    assert [box[3] for box in boxes] == [r"\textbf{good}", r"50\%", "bad"]
    assert "\nplain\n" in latex
    assert latex.startswith("% made by rationalizer; needs \\usepackage{xcolor}\n")


def test_latex_underlines_gold_and_frames_shortcuts():
    latex = Highlight(("a", "b"), gold=(Span(0, 1),), shortcuts=(Span(1, 2),)).to_latex()
    assert "\\underline{a}" in latex
    assert "\\fcolorbox[RGB]{0,0,0}{255,255,255}{\\strut b}" in latex
