"""A user's own labelled file: ``jsonl:PATH``, one JSON object per line.

Fields of a record (anything else is an error, so typos don't pass silently):

``label`` (string, required)
    The gold class. The dataset's labels are the sorted set over the whole file.
``text`` (string) *or* ``tokens`` (list of strings), exactly one
    ``text`` is split on whitespace into word tokens; ``tokens`` are taken as given (each
    non-empty, without whitespace).
``id`` (string or integer, optional)
    Defaults to the 1-based line number; ids must be unique in the file.
``query`` (string, optional)
    A question or claim paired with the text.
``rationale`` (list of ``[start, end]``, optional)
    Gold rationale as word-token spans, end exclusive.
``rationale_chars`` (list of ``[start, end]``, optional, only with ``text``)
    Gold rationale as character spans into ``text``, end exclusive; every token overlapping a
    span is marked. Give at most one of ``rationale`` and ``rationale_chars``; without either
    the example is unannotated, while ``[]`` means annotated with nothing marked.
``split`` (``train``, ``validation``/``val``/``dev`` or ``test``, optional)
    Either every record has it or none does. Without it, whichever split is requested gets
    every record and a warning is logged, so one file can serve for scoring but a train/test
    pair from it would overlap completely.

The path is taken relative to the working directory, else to the data directory.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, field_validator

from rationalizer.data._json import numbered_lines, parse_json
from rationalizer.data.eraser import locate_user_path
from rationalizer.data.example import Dataset, DatasetInfo, Document, Evidence, Example, Span
from rationalizer.data.registry import DatasetLoader, normalize_split
from rationalizer.errors import DataFormatError, UnknownNameError

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"\S+")
#: builds the error for a field of the record being parsed
_ErrorAt = Callable[[str, str], DataFormatError]


class JsonlRecord(BaseModel):
    """One line of a user's file, type-checked (meaning is checked by :func:`parse_line`)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    id: str | None = None
    label: str
    text: str | None = None
    tokens: tuple[str, ...] | None = None
    query: str | None = None
    rationale: tuple[tuple[int, int], ...] | None = None
    rationale_chars: tuple[tuple[int, int], ...] | None = None
    split: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError("id must be a string or an integer")


_RECORD = TypeAdapter(JsonlRecord)


@dataclass(frozen=True)
class _Row:
    example: Example
    split: str | None
    line: int


def _words(record: JsonlRecord, error: _ErrorAt) -> tuple[tuple[str, ...], list[tuple[int, int]]]:
    """Word tokens, and for ``text`` the character range of each token."""
    if (record.text is None) == (record.tokens is None):
        raise error("text", "give exactly one of 'text' and 'tokens'")
    if record.text is not None:
        matches = list(_TOKEN.finditer(record.text))
        if not matches:
            raise error("text", "is empty")
        return tuple(m.group() for m in matches), [m.span() for m in matches]
    if not record.tokens:
        raise error("tokens", "is empty")
    for i, token in enumerate(record.tokens):
        if not token or _TOKEN.fullmatch(token) is None:
            raise error(f"tokens[{i}]", f"{token!r} is not one non-empty word without whitespace")
    return record.tokens, []


def _rationale(
    record: JsonlRecord, n_tokens: int, offsets: list[tuple[int, int]], error: _ErrorAt
) -> tuple[Span, ...] | None:
    if record.rationale is not None and record.rationale_chars is not None:
        raise error("rationale_chars", "give at most one of 'rationale' and 'rationale_chars'")
    if record.rationale is not None:
        for i, (start, end) in enumerate(record.rationale):
            if not 0 <= start < end <= n_tokens:
                raise error(
                    f"rationale[{i}]",
                    f"token span [{start}, {end}) is empty or outside the {n_tokens} tokens",
                )
        return tuple(Span(start, end) for start, end in record.rationale)
    if record.rationale_chars is None:
        return None
    if record.text is None:
        raise error("rationale_chars", "needs 'text' (character offsets index into it)")
    token_starts = [s for s, _ in offsets]
    token_ends = [e for _, e in offsets]
    spans = []
    for i, (start, end) in enumerate(record.rationale_chars):
        if not 0 <= start < end <= len(record.text):
            raise error(
                f"rationale_chars[{i}]",
                f"character span [{start}, {end}) is empty or outside the text of "
                f"{len(record.text)} characters",
            )
        first, stop = bisect_right(token_ends, start), bisect_left(token_starts, end)
        if first >= stop:
            raise error(f"rationale_chars[{i}]", f"[{start}, {end}) covers only whitespace")
        spans.append(Span(first, stop))
    return tuple(spans)


def parse_line(line: str, number: int, path: Path) -> _Row:
    """One line → an example (document id = example id) and its optional split."""

    def error(field: str, message: str) -> DataFormatError:
        return DataFormatError(path, message, line=number, field=field)

    record = parse_json(_RECORD, line, path, line=number)
    if not record.label.strip():
        raise error("label", "is empty")
    split = None
    if record.split is not None:
        try:
            split = normalize_split(record.split)
        except UnknownNameError as exc:
            raise error("split", str(exc)) from None
    example_id = record.id if record.id is not None else str(number)
    tokens, offsets = _words(record, error)
    spans = _rationale(record, len(tokens), offsets, error)
    evidence = None if spans is None else (tuple(Evidence(example_id, s) for s in spans),)
    example = Example(
        id=example_id,
        documents=(Document(example_id, tuple(tokens)),),
        label=record.label,
        query=record.query,
        evidence=evidence,
        metadata={"source": path.name, "line": number},
    )
    return _Row(example, split, number)


def read_jsonl_examples(path: Path) -> tuple[_Row, ...]:
    """All records of the file, checked for unique ids and consistent use of ``split``."""
    rows: list[_Row] = []
    for number, line in numbered_lines(path):
        rows.append(parse_line(line, number, path))
    if not rows:
        raise DataFormatError(path, "file holds no records")
    first_line: dict[str, int] = {}
    for row in rows:
        if row.example.id in first_line:
            raise DataFormatError(
                path,
                f"duplicate id {row.example.id!r} (first on line {first_line[row.example.id]}; "
                "records without 'id' use their line number)",
                line=row.line,
                field="id",
            )
        first_line[row.example.id] = row.line
    with_split = [row for row in rows if row.split is not None]
    if with_split and len(with_split) < len(rows):
        lacking = next(row for row in rows if row.split is None)
        raise DataFormatError(
            path,
            f"missing, but line {with_split[0].line} has a split: give it on every record "
            "or on none",
            line=lacking.line,
            field="split",
        )
    return tuple(rows)


class JsonlLoader(DatasetLoader):
    """A user's labelled jsonl file: ``jsonl:PATH`` (schema in the module docstring)."""

    name = "jsonl"
    parametrised = True
    info = DatasetInfo(
        name="jsonl",
        description="Your own labelled file, one JSON object per line with label, text or "
        "tokens, optional rationale spans and split: use jsonl:PATH",
    )

    def root(self) -> Path:
        return locate_user_path(str(self.argument), self.data_dir, directory=False)

    @cached_property
    def rows(self) -> tuple[_Row, ...]:
        return read_jsonl_examples(self.root())

    @cached_property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({row.example.label for row in self.rows}))

    def load_split(self, split: str) -> Dataset:
        path = self.root()
        if self.rows[0].split is None:
            logger.warning(
                "%s has no 'split' field: split %r gets all %d records", path, split, len(self.rows)
            )
            chosen = self.rows
        else:
            chosen = tuple(row for row in self.rows if row.split == split)
            if not chosen:
                present = sorted({row.split for row in self.rows if row.split})
                raise DataFormatError(
                    path,
                    f"no record has split {split!r} (present: {', '.join(present)})",
                    field="split",
                )
        examples = tuple(row.example for row in chosen)
        return Dataset(f"jsonl:{self.argument}", split, examples, self.labels, self.info)
