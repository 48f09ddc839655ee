"""ERASER results files, fuzzed: any file reads as valid records or fails with file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.strategies import (
    FUZZ,
    any_text,
    jsonl_lines,
    raw_bytes,
    valid_or_error,
    write_bytes,
    write_lines,
)
from tests.results_records import results_record

from rationalizer.data.example import Dataset, Document, Evidence, Example, Span
from rationalizer.data.results import parse_record, read_results, write_results

DATASET = Dataset(
    "toy",
    "test",
    (
        Example(
            "a",
            (Document("da", ("a", "very", "good", "film"), (0, 2)),),
            "pos",
            evidence=((Evidence("da", Span(1, 3)),),),
        ),
        Example("b", (Document("db", ("a", "dull", "one")),), "neg"),
    ),
    labels=("neg", "pos"),
)


RECORDS = [results_record("a", "da", 4, "pos", sentences=2), results_record("b", "db", 3, "neg")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("results")


@FUZZ
@given(line=any_text, number=st.integers(min_value=1, max_value=10**6))
def test_any_line_parses_or_names_its_line(line, number):
    path = Path("results.jsonl")
    valid_or_error(lambda: parse_record(line, path=path, line_number=number), {path: number})


@FUZZ
@given(content=raw_bytes)
def test_any_bytes_read_as_records_or_fail_naming_file_and_line(folder, content):
    files = write_bytes(folder / "raw.jsonl", content)
    valid_or_error(lambda: read_results(folder / "raw.jsonl", DATASET), files)


@FUZZ
@given(lines=jsonl_lines(RECORDS))
def test_mutated_records_are_read_in_full_or_refused_naming_line_and_field(folder, lines):
    path = folder / "mutated.jsonl"
    records = valid_or_error(lambda: read_results(path, DATASET), write_lines(path, lines))
    if records is None:
        return
    for record in records:  # AOPC thresholds are fractions of the words
        assert all(0 <= t.threshold <= 1 for t in record.thresholded_scores or ())
    # what was accepted is what ERASER's format can hold: it writes and reads back unchanged
    again = folder / "again.jsonl"
    write_results(again, records)
    assert read_results(again, DATASET) == records
