"""The suite's missing-dataset rule (tests/conftest.py), run on a throw-away test module.

A machine without a dataset skips the tests that read it, with a reason naming the dataset and
the command that fetches it; ``RATIONALIZER_REQUIRE_DATA=1`` turns those skips into failures;
a broken copy (a file missing inside a present folder) fails rather than skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
SUITE_CONFTEST = (ROOT / "tests" / "conftest.py").read_text("utf-8")
READS_DATA = """
from rationalizer.data import load

def test_reads_movies():
    load("movies", "test")

def test_takes_the_data_folder(data_dir):
    assert data_dir.is_dir()

def test_needs_no_data():
    assert load("synthetic", "test").labels == ("neg", "pos")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("RATIONALIZER_REQUIRE_DATA", raising=False)
    # the suite's conftest imports the test helpers as ``tests.*``, from the repository root
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    pytester.makeconftest(SUITE_CONFTEST)
    pytester.makepyfile(test_reads_data=READS_DATA)
    return pytester


def test_no_data_folder_skips_data_tests_with_reasons(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATIONALIZER_DATA", str(suite.path / "no-such-folder"))
    result = suite.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*needs dataset 'movies'*movies-eraser*rationalizer data download movies*",
            "*needs folder*rationalizer data download all*",
        ],
        consecutive=False,
    )


def test_required_data_turns_the_skips_into_failures(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATIONALIZER_DATA", str(suite.path / "no-such-folder"))
    monkeypatch.setenv("RATIONALIZER_REQUIRE_DATA", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and "skipped" not in outcomes
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 2
    result.stdout.fnmatch_lines(["*RATIONALIZER_REQUIRE_DATA is set but this test needs*"])


def test_a_broken_copy_fails_instead_of_skipping(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = suite.path / "data"
    (data / "movies-eraser" / "docs").mkdir(parents=True)  # present but without test.jsonl
    monkeypatch.setenv("RATIONALIZER_DATA", str(data))
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*has no test.jsonl*"])
