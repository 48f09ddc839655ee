"""The one envelope of rationalizer's JSON files: round trips, today's files, and errors that
name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rationalizer.errors import DataFormatError
from rationalizer.files import KINDS, declared_kind, file_kind, format_name, read_json, write_json


def _write(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_round_trips(tmp_path: Path, kind: str) -> None:
    payload = {"name": "ü", "numbers": [1, 2.5], "nested": {"a": None}}
    path = write_json(tmp_path / f"{kind}.json", kind, payload)
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["format"] == f"rationalizer.{kind}"
    assert stored["version"] == KINDS[kind].version
    assert read_json(path, kind) == payload
    assert file_kind(path) == kind


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_json(tmp_path / "summary.json", "summary", {"best_epoch": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_payload_cannot_overwrite_the_envelope(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="version"):
        write_json(tmp_path / "x.json", "summary", {"version": 3})


# Today's files, written literally as the code before the envelope wrote them.
TODAYS_FILES = [
    (
        "run",
        {"format": "rationalizer.run", "format_version": 1, "labels": ["NEG", "POS"]},
        {"labels": ["NEG", "POS"]},
    ),
    (
        "resume",
        {"format": "rationalizer.resume", "format_version": 1, "save_id": "ab", "state": {}},
        {"save_id": "ab", "state": {}},
    ),
    (
        "word-vocabulary",
        {"format": "rationalizer.word-vocabulary", "version": 1, "words": ["<pad>"], "dim": 2},
        {"words": ["<pad>"], "dim": 2},
    ),
    (
        "shortcut-report",
        {
            "format": "rationalizer-shortcut-report",
            "version": 3,
            "report": {"labels": ["a"], "min_skew": 0.5},
            "provenance": {"version": "0.1.0"},
        },
        {"labels": ["a"], "min_skew": 0.5, "provenance": {"version": "0.1.0"}},
    ),
    (
        "shortcut-report",
        {"format": "rationalizer-shortcut-report", "version": 1, "report": {"labels": ["a"]}},
        {"labels": ["a"]},
    ),
    (
        "download",
        {"format": "rationalizer.download", "folder": "movies", "url": "https://x/y.tar.gz"},
        {"folder": "movies", "url": "https://x/y.tar.gz"},
    ),
    ("summary", {"best_epoch": 2, "validation": {"accuracy": 0.5}}, None),
    ("discovery-scores", {"precision": 1.0, "recall": 0.5}, None),
    ("evaluation", {"classification_scores": {"accuracy": 0.9}}, None),
    ("download-progress", {"url": "https://x/y.tar.gz", "validator": None}, None),
]


@pytest.mark.parametrize(("kind", "content", "payload"), TODAYS_FILES)
def test_todays_files_load(tmp_path: Path, kind: str, content: dict, payload: dict | None) -> None:
    path = _write(tmp_path / "today.json", content)
    assert read_json(path, kind) == (content if payload is None else payload)


def test_legacy_shortcut_report_format_is_recognised(tmp_path: Path) -> None:
    content = {"format": "rationalizer-shortcut-report", "version": 3, "report": {}}
    assert declared_kind(content) == "shortcut-report"
    assert file_kind(_write(tmp_path / "shortcuts.json", content)) == "shortcut-report"


def test_foreign_files_have_no_kind(tmp_path: Path) -> None:
    assert file_kind(_write(tmp_path / "config.json", {"model_type": "bert"})) is None
    assert file_kind(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_bytes(b"\xff{")
    assert file_kind(tmp_path / "bad.json") is None


@pytest.mark.parametrize(
    ("kind", "text", "field", "message"),
    [
        ("summary", "{oops", None, "not valid JSON"),
        (
            "summary",
            "[1, 2]",
            None,
            "found an array",
        ),
        ("run", '"text"', None, "found a string"),
        ("run", '{"labels": []}', "format", "not a rationalizer run file"),
        ("summary", '{"version": 1}', "format", "not a rationalizer summary file"),
        ("run", '{"format": "rationalizer.resume", "version": 1}', "format", "expected"),
        ("run", '{"format": "rationalizer.run", "version": "1"}', "version", "whole number"),
        ("run", '{"format": "rationalizer.run", "version": 0}', "version", "no longer readable"),
        (
            "shortcut-report",
            '{"format": "rationalizer.shortcut-report", "version": 3}',
            "report",
            "the report object",
        ),
    ],
)
def test_bad_files_name_the_file_and_field(
    tmp_path: Path, kind: str, text: str, field: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as caught:
        read_json(path, kind)
    assert caught.value.path == str(path)
    assert caught.value.field == field
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{\n  "a": 1,\n  oops\n}', encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        read_json(path, "summary")
    assert caught.value.line == 3


def test_missing_and_undecodable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        read_json(tmp_path / "missing.json", "summary")
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(DataFormatError, match="not UTF-8") as caught:
        read_json(tmp_path / "latin1.json", "summary")
    assert caught.value.path == str(tmp_path / "latin1.json")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_newer_version_asks_to_upgrade(tmp_path: Path, kind: str) -> None:
    path = write_json(tmp_path / "new.json", kind, {}, version=KINDS[kind].version + 1)
    with pytest.raises(DataFormatError, match="upgrade rationalizer") as caught:
        read_json(path, kind)
    assert caught.value.field == "version"
    assert format_name(kind) in path.read_text(encoding="utf-8")
