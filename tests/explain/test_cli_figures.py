"""`rationalizer explain --format svg|latex`: paper figures of one text or of dataset examples."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from tests.cli.cli_helpers import invoke, runner

from rationalizer.cli import app
from rationalizer.cli.explain.figures import write_dataset_figures
from rationalizer.data import Dataset, Document, Example, load
from rationalizer.errors import RationalizerError

TEXT = "a gripping film , 100% worth it & more"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.slow
def test_one_text_becomes_an_svg_file(movies_run, tmp_path):
    out = tmp_path / "figures" / "fig.svg"
    args = ["explain", "-m", str(movies_run), "-x", "occlusion", "-t", TEXT]
    invoke(*args, "--rationale", "top-k:2", "--format", "svg", "-o", str(out))
    root = ET.parse(out).getroot()
    texts = root.findall(f".//{SVG}text")
    assert [t.text for t in texts] == TEXT.split()
    assert sum(t.get("font-weight") == "700" for t in texts) == 2  # the top-2 rationale


@pytest.mark.slow
def test_one_text_as_latex_is_printed_escaped(movies_run):
    args = ["explain", "-m", str(movies_run), "-x", "occlusion", "-t", TEXT, "--format", "latex"]
    latex = invoke(*args)
    assert latex.startswith("% made by rationalizer; needs \\usepackage{xcolor}")
    assert "100\\%" in latex and "\\&" in latex
    assert "\\colorbox[RGB]" in latex


@pytest.mark.slow
def test_dataset_examples_become_one_file_each_with_the_gold_rationale(movies_run, tmp_path):
    out = tmp_path / "figures"
    args = ["explain", "-m", str(movies_run), "-x", "occlusion", "-d", "movies", "-o", str(out)]
    printed = invoke(*args, "--limit", "2", "--format", "latex")
    assert "2 latex figures by occlusion" in printed
    examples = load("movies", "test").examples[:2]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{ex.id}.tex" for ex in examples)
    for example in examples:
        latex = (out / f"{example.id}.tex").read_text(encoding="utf-8")
        underlined = latex.count("\\underline{")
        assert underlined == int(example.rationale_mask().sum()) > 0


def test_an_unknown_format_is_refused_naming_the_option():
    args = ["explain", "-m", "RUN", "-t", "x", "--format", "png"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "'png' is not one of svg, latex" in result.output and "--format" in result.output


def test_json_and_a_figure_are_refused_together():
    args = ["explain", "-m", "RUN", "-t", "x", "--format", "svg", "--json"]
    with pytest.raises(RationalizerError, match="give one output: --json or --format"):
        runner.invoke(app, args, catch_exceptions=False)


def dataset_with_ids(*ids: str) -> Dataset:
    examples = tuple(Example(i, (Document(f"d{n}", ("a", "b")),), "pos") for n, i in enumerate(ids))
    return Dataset("ids", "test", examples, ("neg", "pos"))


def test_example_ids_that_would_share_a_file_are_refused_before_any_work(tmp_path):
    data = dataset_with_ids("post/1", "post_1")
    with pytest.raises(RationalizerError, match="'post/1' and 'post_1' would share the file"):
        write_dataset_figures(None, None, data, tmp_path / "figures", "svg")  # type: ignore[arg-type]
    assert not (tmp_path / "figures").exists()


def test_dataset_figures_need_a_folder_not_a_file(tmp_path):
    taken = tmp_path / "results.jsonl"
    taken.write_text("", encoding="utf-8")
    with pytest.raises(RationalizerError, match="--out is a folder"):
        write_dataset_figures(None, None, dataset_with_ids("a"), taken, "latex")  # type: ignore[arg-type]
