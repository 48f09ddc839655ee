"""``jsonl:PATH``: a user's own file, its documented schema, and one error per broken rule."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rationalizer.data.example import Evidence, Span
from rationalizer.data.jsonl import JsonlLoader
from rationalizer.data.registry import load
from rationalizer.errors import DataFormatError, DatasetNotFoundError


def _write(path: Path, records: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_text_tokens_and_character_rationales(tmp_path: Path) -> None:
    text = "The movie was  truly awful ."
    # "ruly aw" starts inside "truly" (chars 15-20) and ends inside "awful" (21-26)
    start, end = text.index("ruly"), text.index("aw") + 2
    path = _write(
        tmp_path / "mine.jsonl",
        [
            {"id": "r1", "label": "neg", "text": text, "rationale_chars": [[start, end]]},
            {"label": "pos", "tokens": ["a", "gem"], "rationale": [[1, 2]], "query": "why?"},
            "",
            {"id": 7, "label": "neg", "text": "meh", "rationale": []},
        ],
    )
    data = load(f"jsonl:{path}", "test")
    assert data.labels == ("neg", "pos")
    first, second, third = data
    assert first.document.tokens == ("The", "movie", "was", "truly", "awful", ".")
    assert first.evidence == ((Evidence("r1", Span(3, 5)),),)
    assert second.id == "2" and second.query == "why?"  # default id: the line number
    assert second.rationale_mask().tolist() == [0, 1]
    assert third.id == "7" and third.evidence == ((),) and third.metadata["line"] == 4


def test_without_rationale_the_example_is_unannotated(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.jsonl", [{"label": "x", "text": "hello there"}])
    (example,) = load(f"jsonl:{path}", "train")
    assert example.evidence is None and not example.is_annotated


def test_split_field_selects_records(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "split.jsonl",
        [
            {"label": "a", "text": "one", "split": "train"},
            {"label": "b", "text": "two", "split": "val"},
            {"label": "c", "text": "three", "split": "train"},
        ],
    )
    loader = JsonlLoader(tmp_path, str(path))
    assert [ex.id for ex in loader.load_split("train")] == ["1", "3"]
    validation = loader.load_split("validation")
    assert [ex.id for ex in validation] == ["2"]
    assert validation.labels == ("a", "b", "c")  # the same label order for every split
    with pytest.raises(DataFormatError, match="no record has split 'test'"):
        loader.load_split("test")


def test_no_split_field_gives_every_split_all_records_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path / "all.jsonl", [{"label": "a", "text": "x"}, {"label": "b", "text": "y"}]
    )
    loader = JsonlLoader(tmp_path, str(path))
    with caplog.at_level(logging.WARNING, logger="rationalizer.data.jsonl"):
        assert len(loader.load_split("test")) == len(loader.load_split("train")) == 2
    assert "no 'split' field" in caplog.text


def test_relative_path_under_data_dir(tmp_path: Path) -> None:
    _write(tmp_path / "rel.jsonl", [{"label": "a", "text": "x"}])
    assert len(load("jsonl:rel.jsonl", "test", data_dir=tmp_path)) == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"absent\.jsonl"):
        load("jsonl:absent.jsonl", "test", data_dir=tmp_path)


GOOD = {"label": "pos", "text": "a fine film"}
MALFORMED = {
    "truncated-json": ('{"label": "pos", "text": "a fi', None),
    "missing-label": ({"text": "a fine film"}, "label"),
    "empty-label": ({**GOOD, "label": " "}, "label"),
    "label-not-string": ({**GOOD, "label": 1}, "label"),
    "unknown-field": ({**GOOD, "rationales": [[0, 1]]}, "rationales"),
    "id-bool": ({**GOOD, "id": True}, "id"),
    "text-and-tokens": ({**GOOD, "tokens": ["a"]}, "text"),
    "neither-text-nor-tokens": ({"label": "pos"}, "text"),
    "empty-text": ({**GOOD, "text": "  \n"}, "text"),
    "empty-tokens": ({"label": "pos", "tokens": []}, "tokens"),
    "token-with-space": ({"label": "pos", "tokens": ["a", "b c"]}, "tokens[1]"),
    "span-out-of-range": ({**GOOD, "rationale": [[0, 1], [2, 4]]}, "rationale[1]"),
    "span-not-a-pair": ({**GOOD, "rationale": [[0, 1, 2]]}, "rationale[0]"),
    "chars-outside-text": ({**GOOD, "rationale_chars": [[2, 40]]}, "rationale_chars[0]"),
    "chars-on-whitespace": ({**GOOD, "rationale_chars": [[1, 2]]}, "rationale_chars[0]"),
    "chars-without-text": (
        {"label": "pos", "tokens": ["a"], "rationale_chars": [[0, 1]]},
        "rationale_chars",
    ),
    "both-rationales": ({**GOOD, "rationale": [], "rationale_chars": []}, "rationale_chars"),
    "unknown-split": ({**GOOD, "split": "holdout"}, "split"),
    "duplicate-id": ({**GOOD, "id": "1"}, "id"),
}


@pytest.mark.parametrize(("record", "field"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_line_names_file_line_and_field(
    tmp_path: Path, record: dict | str, field: str | None
) -> None:
    path = _write(tmp_path / "bad.jsonl", [GOOD, record])  # the bad record is on line 2
    with pytest.raises(DataFormatError) as excinfo:
        load(f"jsonl:{path}", "test")
    where = "bad.jsonl, line 2" + (f", field '{field}'" if field else ": not valid JSON")
    assert where in str(excinfo.value)


def test_split_on_some_records_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", [{**GOOD, "split": "train"}, GOOD])
    with pytest.raises(DataFormatError) as excinfo:
        load(f"jsonl:{path}", "train")
    assert "mixed.jsonl, line 2, field 'split': missing, but line 1 has" in str(excinfo.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(DataFormatError, match=r"empty\.jsonl: file holds no records"):
        load(f"jsonl:{path}", "test")
