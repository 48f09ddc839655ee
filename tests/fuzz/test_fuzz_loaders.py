"""The ``jsonl:`` and ``eraser:`` loaders, fuzzed: any file gives a valid dataset or an error
naming file, line and field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from tests.fuzz.strategies import (
    FUZZ,
    any_text,
    jsonl_lines,
    raw_bytes,
    valid_or_error,
    write_bytes,
    write_lines,
)

from rationalizer.data.eraser import EraserLoader
from rationalizer.data.example import Dataset
from rationalizer.data.jsonl import JsonlLoader

SPLITS = ("train", "validation", "test")

JSONL_RECORDS = [
    {
        "id": "r1",
        "label": "neg",
        "text": "a dull film",
        "rationale_chars": [[2, 6]],
        "split": "train",
    },
    {"label": "pos", "tokens": ["a", "gem"], "rationale": [[1, 2]], "query": "why", "split": "val"},
    {"id": 7, "label": "neg", "text": "meh", "rationale": [], "split": "test"},
]

#: an ERASER folder: its documents (docs.jsonl lines) and its train.jsonl annotations
DOCS = [
    {"docid": "d1", "document": "a dull film .\nbad acting"},
    {"docid": "d2", "document": "what a gem"},
]
ANNOTATIONS = [
    {
        "annotation_id": "a1",
        "classification": "neg",
        "evidences": [
            [
                {
                    "docid": "d1",
                    "start_token": 1,
                    "end_token": 3,
                    "start_sentence": 0,
                    "end_sentence": 1,
                    "text": "dull film",
                }
            ]
        ],
        "query": "is it good?",
        "docids": ["d1"],
    },
    {"annotation_id": "a2", "classification": "pos", "evidences": [[]], "docids": ["d2"]},
    {"annotation_id": "d1", "classification": "neg", "evidences": []},
]
#: documents of the one-file-per-document layout, for annotations that name them by docid
DOC_FILES = {doc["docid"]: doc["document"] for doc in DOCS}

_WHITESPACE = re.compile(r"\s")


def _assert_valid(dataset: Dataset) -> None:
    """What every loaded dataset promises: words without whitespace, evidence inside them."""
    assert dataset.labels == tuple(sorted(set(dataset.labels)))
    for example in dataset:
        assert example.label in dataset.labels
        for document in example.documents:
            assert document.tokens
            assert not any(not t or _WHITESPACE.search(t) for t in document.tokens)
        for group in example.evidence or ():
            for evidence in group:
                assert 0 <= evidence.span.start < evidence.span.end
                assert evidence.span.end <= len(example.doc(evidence.docid))


def _load(loader, files: dict[Path, int], splits: tuple[str, ...] = SPLITS) -> None:
    for split in splits:
        dataset = valid_or_error(lambda split=split: loader.load_split(split), files)
        if dataset is not None:
            _assert_valid(dataset)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("loaders")


@FUZZ
@given(lines=jsonl_lines(JSONL_RECORDS))
def test_jsonl_records_load_or_fail_naming_line_and_field(folder, lines):
    path = folder / "mine.jsonl"
    files = write_lines(path, lines)
    _load(JsonlLoader(folder, argument=str(path)), files)


@FUZZ
@given(content=raw_bytes)
def test_jsonl_bytes_load_or_fail_naming_file_and_line(folder, content):
    path = folder / "raw.jsonl"
    files = write_bytes(path, content)
    _load(JsonlLoader(folder, argument=str(path)), files)


def _eraser_folder(root: Path, docs: list[str] | None) -> dict[Path, int]:
    """A fresh ERASER folder whose documents are the docs.jsonl lines ``docs``, or DOC_FILES in
    a docs/ folder when None; returns its files with their line counts."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    if docs is not None:
        return write_lines(root / "docs.jsonl", docs)
    (root / "docs").mkdir()
    for docid, text in DOC_FILES.items():
        (root / "docs" / docid).write_text(text, encoding="utf-8")
    return {root / "docs" / docid: text.count("\n") + 1 for docid, text in DOC_FILES.items()}


@FUZZ
@given(docs=jsonl_lines(DOCS), annotations=jsonl_lines(ANNOTATIONS))
def test_eraser_docs_and_annotations_load_or_fail_naming_line_and_field(folder, docs, annotations):
    root = folder / "eraser"
    files = _eraser_folder(root, docs) | write_lines(root / "train.jsonl", annotations)
    _load(EraserLoader(folder, argument=root.name), files, ("train",))


@FUZZ
@given(annotations=jsonl_lines(ANNOTATIONS), docid=any_text)
def test_any_docid_of_a_docs_folder_is_found_or_unknown(folder, annotations, docid):
    # in the docs/ layout a docid is a file name: any string must be found or be an unknown docid
    named = {**ANNOTATIONS[1], "annotation_id": "named", "docids": [docid]}
    root = folder / "eraser"
    files = _eraser_folder(root, None)
    files |= write_lines(root / "train.jsonl", [*annotations, json.dumps(named)])
    _load(EraserLoader(folder, argument=root.name), files, ("train",))


@FUZZ
@given(content=raw_bytes)
def test_eraser_annotation_bytes_load_or_fail_naming_file_and_line(folder, content):
    root = folder / "eraser"
    files = _eraser_folder(root, None) | write_bytes(root / "train.jsonl", content)
    _load(EraserLoader(folder, argument=root.name), files, ("train",))
