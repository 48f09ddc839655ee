"""Time the HTML report in headless Chromium: 2,000 ERASER movie reviews with predictions and a
shortcut report, loaded and then filtered, sorted, re-paged and searched.

The limits a user notices (Nielsen, "Response times: the 3 important limits"): an action answered
within 1 s keeps the flow of thought, a page within 10 s keeps the attention. Each sitting loads
the page ``--loads`` times and repeats every interaction ``--repeats`` times, and reports the
median and the worst. The report is the one ``tests/browser`` checks for correctness (its
pseudo-predictions and planted shortcut phrases): this script only times it.

Run from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets and Debian's
``chromium`` and ``chromium-driver`` installed::

    python -m benchmarks.report_browser

It writes ``benchmarks/results/report_browser.json`` and ``.md`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# The report and the page scripts are the browser tests' own (tests/browser/movie_report.py).
from tests.browser.chromium import start_chromium
from tests.browser.movie_report import (
    TIMED_CHANGE,
    TIMED_SEARCH,
    all_movie_reviews,
    write_movie_report,
)

from benchmarks.common import RESULTS_DIR, command_line, module_command
from rationalizer._environment import benchmark_provenance, code_text, machine_info

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
#: The test helpers that build the report and act on it: part of what makes the numbers.
HELPERS = (ROOT / "tests/browser/movie_report.py", ROOT / "tests/report/sample_inputs.py")
INTERACTION_LIMIT_MS = 1_000
LOAD_LIMIT_MS = 10_000
#: The interactions timed, in order: (name, control id, value, the value that undoes it).
CHANGES = (
    ("only incorrect predictions", "outcome", "incorrect", "all"),
    ("gold label POS", "gold-label", "POS", ""),
    ("sort by worst token F1", "order", "worst-f1", "dataset"),
    ("100 examples per page", "page-size", "100", "10"),
)
SEARCH = "waste of time"


def time_load(driver, page: Path) -> dict[str, float]:
    """One page load: the navigation's load event and the report's own timings (ms)."""
    driver.get("about:blank")
    driver.get(page.as_uri())
    navigation = driver.execute_script(
        "return performance.getEntriesByType('navigation')[0].toJSON()"
    )
    timings = driver.execute_script("return window.reportTimings")
    if timings["examples"] != 2_000:
        raise RuntimeError(f"the report shows {timings['examples']} examples, not 2,000")
    return {
        "page load (to the load event)": navigation["loadEventEnd"],
        "example data parsed": timings["parseMs"],
        "first page rendered (after the page script started)": timings["firstRenderMs"],
    }


def time_interactions(driver) -> dict[str, float]:
    """Each interaction once (ms until the new page is laid out; the search includes its
    150 ms pause for typing)."""
    measured = {}
    for name, control, value, undo in CHANGES:
        measured[name] = driver.execute_script(TIMED_CHANGE, control, value)
        driver.execute_script(TIMED_CHANGE, control, undo)
    measured[f"search {SEARCH!r} (after its 150 ms pause)"] = driver.execute_async_script(
        TIMED_SEARCH, SEARCH
    )
    driver.execute_async_script(TIMED_SEARCH, "")
    return measured


def summarise(samples: Sequence[dict[str, float]], limit: Callable[[str], float]) -> dict:
    """Median and worst of each timing over the samples, and whether the worst is within the
    timing's ``limit``."""
    return {
        name: {
            "median_ms": statistics.median(s[name] for s in samples),
            "worst_ms": max(s[name] for s in samples),
            "limit_ms": limit(name),
            "within_limit": max(s[name] for s in samples) < limit(name),
        }
        for name in samples[0]
    }


def load_limit(name: str) -> float:
    """A page must load within 10 s; what the reader waits for once it has, within 1 s."""
    return LOAD_LIMIT_MS if name.startswith("page load") else INTERACTION_LIMIT_MS


def run(loads: int, repeats: int, progress: Callable[[str], None]) -> dict:
    reviews = all_movie_reviews()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        page, _, _ = write_movie_report(reviews, Path(folder))
        build_seconds = time.perf_counter() - started
        size_mb = page.stat().st_size / 1e6
        progress(f"report of {len(reviews):,} reviews: {size_mb:.1f} MB in {build_seconds:.1f} s")
        driver = start_chromium(webdriver, Service)
        try:
            load_samples = [time_load(driver, page) for _ in range(loads)]
            interaction_samples = [time_interactions(driver) for _ in range(repeats)]
            browser_version = driver.capabilities.get("browserVersion")
        finally:
            driver.quit()
    return {
        "report": {"examples": len(reviews), "megabytes": size_mb, "build_seconds": build_seconds},
        "chromium": browser_version,
        "load": summarise(load_samples, load_limit),
        "interactions": summarise(interaction_samples, lambda _: INTERACTION_LIMIT_MS),
        "loads": loads,
        "repeats": repeats,
    }


def render_markdown(record: dict) -> str:
    report = record["report"]
    lines = [
        "# The HTML report in a browser: load and interaction times",
        "",
        f"Command: `{record['command']}` ({record['finished']}). No random seed is involved: the "
        "report's pseudo-predictions are seeded (seed 0) by the browser tests' helper.",
        "",
        f"Code: {code_text(record['provenance'])}.",
        "",
        f"Machine: {record['machine']['platform']}, {record['machine']['usable_cpus']} usable "
        f"CPUs, headless Chromium {record['chromium']}.",
        "",
        f"Report: {report['examples']:,} ERASER movie reviews with predictions and a shortcut "
        f"report, {report['megabytes']:.1f} MB, built in {report['build_seconds']:.1f} s. "
        f"Page loaded {record['loads']} times; each interaction repeated {record['repeats']} "
        "times. Limits: 10 s for a page, 1 s for an action (Nielsen's response-time limits).",
        "",
        "| what | median ms | worst ms | limit ms | worst within the limit |",
        "|---|---:|---:|---:|---|",
    ]
    for section in ("load", "interactions"):
        for name, row in record[section].items():
            lines.append(
                f"| {name} | {row['median_ms']:.0f} | {row['worst_ms']:.0f} | "
                f"{row['limit_ms']:,} | {'yes' if row['within_limit'] else '**no**'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--loads", type=int, default=5, help="page loads timed (default 5)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="times each interaction is timed (default 5)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    record = run(args.loads, args.repeats, progress=lambda text: print(text, file=sys.stderr))
    record |= {
        "command": command_line(SCRIPT, argv),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "provenance": benchmark_provenance(SCRIPT, *HELPERS),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "report_browser.json").write_text(
        json.dumps(record, indent=2) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(record)
    (args.out_dir / "report_browser.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
