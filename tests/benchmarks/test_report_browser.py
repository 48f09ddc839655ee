"""benchmarks/report_browser.py: one short sitting in headless Chromium writes its record and
table (the times themselves are the benchmark's to report, not this test's to judge)."""

from __future__ import annotations

import json
import math

import pytest
from tests.browser.chromium import CHROMEDRIVER, CHROMIUM


@pytest.mark.slow  # builds the 2,000-review report and starts a browser
def test_a_short_sitting_writes_its_record_and_table(tmp_path):
    pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install)")
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("headless Chromium not installed: apt-get install chromium chromium-driver")
    from benchmarks import report_browser  # imports selenium, checked for above

    assert report_browser.main(["--loads", "1", "--repeats", "1", "--out-dir", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "report_browser.json").read_text(encoding="utf-8"))
    assert record["report"]["examples"] == 2_000
    timed = {**record["load"], **record["interactions"]}
    assert len(timed) == 3 + len(report_browser.CHANGES) + 1
    for name, row in timed.items():
        assert math.isfinite(row["worst_ms"]) and row["worst_ms"] >= row["median_ms"] >= 0, name
        assert row["within_limit"] == (row["worst_ms"] < row["limit_ms"])
    assert record["load"]["page load (to the load event)"]["limit_ms"] == 10_000
    assert set(record["provenance"]["scripts"]) == {
        "report_browser.py",
        "movie_report.py",
        "sample_inputs.py",
    }
    markdown = (tmp_path / "report_browser.md").read_text(encoding="utf-8")
    assert markdown.count("\n| ") == len(timed) + 1  # the header row and one row per timing
    assert f"Command: `{record['command']}`" in markdown
