"""``rationalizer report``: runs, results, shortcuts and explainer benchmarks as one HTML file.

::

    from rationalizer.report import load_inputs, write_report
    inputs = load_inputs(["runs/ssr", "preds.jsonl"], dataset="movies", split="test")
    write_report(inputs, "report.html")

:mod:`~rationalizer.report.inputs` recognises and reads the inputs,
:mod:`~rationalizer.report.charts` draws the charts, :mod:`~rationalizer.report.examples`
builds the example browser's data and :mod:`~rationalizer.report.render` fills the template.
"""

from rationalizer.report.inputs import ReportInputs, detect_input, load_inputs
from rationalizer.report.render import render_report, write_report

__all__ = ["ReportInputs", "detect_input", "load_inputs", "render_report", "write_report"]
