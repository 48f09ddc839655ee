"""``examples/quickstart.ipynb`` runs top to bottom in a fresh kernel, offline, without an error,
and shows what it promises: the highlighted prediction and explanation, the metric table, the
shortcut report, an SVG figure and the HTML report."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def test_the_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_the_notebook_runs_and_shows_every_result(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # CellExecutionError on the first cell that fails
    shown = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type in ("execute_result", "display_data")
    ]
    html = "\n".join(output.data.get("text/html", "") for output in shown)
    assert "selector probability" in html  # the Prediction
    assert "integrated-gradients score" in html  # the Explanation
    assert "token_prf.instance_micro.f1" in html  # the evaluation's metric table
    assert "annotated examples have shortcut words" in html  # the ShortcutReport
    assert any("image/svg+xml" in output.data for output in shown)
    assert (tmp_path / "explanation.svg").read_text(encoding="utf-8").startswith("<svg")
    assert "\\colorbox" in (tmp_path / "explanation.tex").read_text(encoding="utf-8")
    assert (tmp_path / "quickstart-report.html").stat().st_size > 0
