"""Hugging Face ``datasets`` interop: :meth:`Dataset.to_hf`, :meth:`Dataset.from_hf` and the
``hf:PATH`` loader for a ``save_to_disk`` folder or Parquet files.

Columns that :meth:`Dataset.to_hf` writes (one row per example, single-document examples only):

``id``, ``docid`` (strings); ``text`` (the words joined by single spaces); ``sentence_starts``
(word offsets, empty when unknown); ``label`` (a ``ClassLabel`` whose names are the dataset's
labels in order); ``query`` (string or null); ``rationale`` (``[start, end)`` word spans, the
union of the evidence groups as every metric uses it; null when the example is unannotated).

Columns that :meth:`Dataset.from_hf` and the loader read, named by a :class:`ColumnMap`:

``text``: a string (split on whitespace) or a list of words. ``label``: a string, a bool or an
integer (a ``ClassLabel``'s names are used where the feature has them). ``query``: a string or
null. ``rationale``: a list of ``[start, end]`` word spans or a 0/1 flag per word; null means
unannotated, an empty list annotated with nothing marked. ``id``: a string or an integer, by
default the row number. ``docid`` and ``sentence_starts`` are read where present, so that a
round trip through ``to_hf`` gives back equal examples.

The loader spells its column mapping after the path: ``hf:reviews?text=review&label=stars``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from rationalizer.data.eraser import locate_user_path
from rationalizer.data.example import (
    Dataset,
    DatasetInfo,
    Document,
    Evidence,
    Example,
    Span,
    mask_to_spans,
)
from rationalizer.data.registry import SPLIT_ALIASES, DatasetLoader, normalize_split
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError

if TYPE_CHECKING:
    import datasets
    import pyarrow

logger = logging.getLogger(__name__)

#: columns read where present, beyond those a :class:`ColumnMap` names
DOCID, SENTENCE_STARTS = "docid", "sentence_starts"
DATASETS_PACKAGE = "datasets"


def import_datasets() -> Any:
    """The ``datasets`` package, imported on first use: it is an optional dependency."""
    try:
        import datasets
    except ImportError:
        raise RationalizerError(
            "Hugging Face datasets support needs the 'datasets' package: run "
            f"'pip install {DATASETS_PACKAGE}' (or 'pip install rationalizer[datasets]')"
        ) from None
    return datasets


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds what. Optional columns left at None are read from the column of the
    same name where there is one; a column named explicitly must exist."""

    text: str = "text"
    label: str = "label"
    query: str | None = None
    rationale: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, spec: str, source: str) -> ColumnMap:
        """``text=review&label=stars`` (the part of ``hf:PATH?...`` after the question mark)."""
        known = [f.name for f in fields(cls)]
        mapping: dict[str, str] = {}
        for key, value in parse_qsl(spec, keep_blank_values=True, strict_parsing=bool(spec)):
            if key not in known:
                raise UnknownNameError(f"column role in {source!r}", key, known)
            if not value:
                raise RationalizerError(f"{source!r}: column role {key!r} names no column")
            mapping[key] = value
        return cls(**mapping)

    def resolved(self, columns: Sequence[str], source: str) -> dict[str, str]:
        """Role → column for every role this data has; a clear error for a missing column."""
        present = set(columns)
        chosen: dict[str, str] = {}
        for role in fields(self):
            given = getattr(self, role.name)
            column = given or role.name
            if column in present:
                chosen[role.name] = column
            elif given is not None:
                raise DataFormatError(
                    source,
                    f"no column {column!r} for the {role.name}; the columns are "
                    f"{', '.join(columns) or 'none'}",
                    field=column,
                )
        for column in (DOCID, SENTENCE_STARTS):
            if column in present and column not in chosen.values():
                chosen[column] = column
        return chosen


# ---------------------------------------------------------------------------------------------
# Rows → examples


class _RowError(Exception):
    """A bad value in one row; turned into a DataFormatError naming source, column and row."""

    def __init__(self, role: str, message: str) -> None:
        super().__init__(message)
        self.role = role


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        words = tuple(value.split())
    elif isinstance(value, list | tuple) and all(isinstance(w, str) for w in value):
        words = tuple(value)
        bad = next((w for w in words if w.split() != [w]), None)
        if bad is not None:
            raise _RowError("text", f"{bad!r} is not one non-empty word without whitespace")
    else:
        raise _RowError("text", f"expected a string or a list of words, got {_kind(value)}")
    if not words:
        raise _RowError("text", "is empty")
    return words


def _label(value: Any, names: Sequence[str] | None) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, bool | int) and not isinstance(value, str):
        if names is None:
            return str(value)
        if isinstance(value, int) and 0 <= value < len(names):
            return names[value]
        raise _RowError("label", f"class index {value} is outside the {len(names)} class names")
    raise _RowError("label", f"expected a non-empty string or an integer, got {_kind(value)}")


def _rationale(value: Any, n_words: int) -> tuple[Span, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise _RowError("rationale", f"expected spans or a 0/1 mask, got {_kind(value)}")
    if all(isinstance(v, list | tuple) for v in value):
        spans = []
        for i, pair in enumerate(value):
            if len(pair) != 2 or not all(_is_int(x) for x in pair):
                raise _RowError("rationale", f"span {i} is {pair!r}, not [start, end]")
            start, end = pair
            if not 0 <= start < end <= n_words:
                raise _RowError(
                    "rationale",
                    f"span {i} [{start}, {end}) is empty or outside the {n_words} words",
                )
            spans.append(Span(start, end))
        return tuple(spans)
    if not all(_is_int(v) and v in (0, 1) for v in value):
        raise _RowError("rationale", "expected [start, end] spans or a 0/1 flag per word")
    if len(value) != n_words:
        raise _RowError("rationale", f"a mask of {len(value)} flags for {n_words} words")
    return mask_to_spans(list(value))


def _sentence_starts(value: Any, n_words: int) -> tuple[int, ...]:
    if value is None:
        return ()
    starts = tuple(value) if isinstance(value, list | tuple) else None
    if starts is None or not all(_is_int(s) for s in starts):
        raise _RowError(SENTENCE_STARTS, f"expected a list of word offsets, got {_kind(value)}")
    if starts and (starts[0] != 0 or list(starts) != sorted(set(starts)) or starts[-1] >= n_words):
        raise _RowError(
            SENTENCE_STARTS, f"{list(starts)} must rise from 0 and stay below {n_words} words"
        )
    return starts


def _text_or_none(value: Any, role: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if role == "id" and _is_int(value):
        return str(value)
    expected = "a string or an integer" if role == "id" else "a string or null"
    raise _RowError(role, f"expected {expected}, got {_kind(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r:.60}"


def _example(
    row: Mapping[str, Any],
    number: int,
    columns: Mapping[str, str],
    class_names: Sequence[str] | None,
    source: str,
) -> Example:
    words = _words(row[columns["text"]])
    example_id = _text_or_none(row.get(columns.get("id", "")), "id") or str(number)
    docid = _text_or_none(row.get(columns.get(DOCID, "")), DOCID) or example_id
    spans = _rationale(row.get(columns.get("rationale", "")), len(words))
    starts = _sentence_starts(row.get(columns.get(SENTENCE_STARTS, "")), len(words))
    return Example(
        id=example_id,
        documents=(Document(docid, words, starts),),
        label=_label(row[columns["label"]], class_names),
        query=_text_or_none(row.get(columns.get("query", "")), "query"),
        evidence=None if spans is None else (tuple(Evidence(docid, s) for s in spans),),
        metadata={"source": source, "row": number},
    )


def examples_from_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str],
    *,
    class_names: Sequence[str] | None,
    source: str,
) -> tuple[Example, ...]:
    """Examples from rows (dicts keyed by column), checked value by value; errors name the
    source, the column and the 0-based row."""
    examples: list[Example] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows):
        try:
            example = _example(row, number, columns, class_names, source)
        except _RowError as err:
            column = columns.get(err.role, err.role)
            raise DataFormatError(source, f"row {number}: {err}", field=column) from None
        if example.id in first_row:
            raise DataFormatError(
                source,
                f"row {number}: duplicate id {example.id!r} (first in row {first_row[example.id]})",
                field=columns.get("id", "id"),
            )
        first_row[example.id] = number
        examples.append(example)
    return tuple(examples)


def label_order(
    examples: Iterable[Example], given: Sequence[str] | None, class_names: Sequence[str] | None
) -> tuple[str, ...]:
    """The labels in canonical order: given, else the ``ClassLabel`` names, else sorted (class
    numbers without names in numeric order)."""
    if given is not None:
        return tuple(given)
    if class_names is not None:
        return tuple(class_names)
    found = {ex.label for ex in examples}
    numeric = all(label.lstrip("-").isdigit() for label in found)
    return tuple(sorted(found, key=int if numeric else None))


def _checked_labels(
    examples: Sequence[Example], labels: tuple[str, ...], source: str, column: str
) -> None:
    known = set(labels)
    for number, example in enumerate(examples):
        if example.label not in known:
            raise DataFormatError(
                source,
                f"row {number}: label {example.label!r} is not one of {list(labels)}",
                field=column,
            )


# ---------------------------------------------------------------------------------------------
# datasets.Dataset ↔ Dataset


def _class_names(features: Mapping[str, Any], column: str) -> list[str] | None:
    names = getattr(features.get(column), "names", None)
    return list(names) if names else None


def dataset_from_hf(
    ds: datasets.Dataset,
    columns: ColumnMap,
    *,
    labels: Sequence[str] | None = None,
    name: str = "hf",
    split: str = "train",
    source: str | None = None,
) -> Dataset:
    """A :class:`Dataset` from a ``datasets.Dataset`` (see :meth:`Dataset.from_hf`)."""
    source = source or f"<datasets.Dataset {name}>"
    resolved = columns.resolved(ds.column_names, source)
    class_names = _class_names(ds.features, resolved["label"])
    examples = examples_from_rows(ds, resolved, class_names=class_names, source=source)
    order = label_order(examples, labels, class_names)
    _checked_labels(examples, order, source, resolved["label"])
    info = ds.info
    our_info = None
    if info.description or info.citation or info.homepage or info.license:
        our_info = DatasetInfo(
            name=info.dataset_name or name,
            description=info.description or "",
            url=info.homepage or "",
            citation=info.citation or "",
            license=info.license or "",
        )
    return Dataset(name, split, examples, order, our_info)


def dataset_to_hf(dataset: Dataset) -> datasets.Dataset:
    """A ``datasets.Dataset`` with the columns in this module's docstring."""
    hf = import_datasets()
    rows: dict[str, list[Any]] = {
        key: [] for key in ("id", DOCID, "text", SENTENCE_STARTS, "label", "query", "rationale")
    }
    for example in dataset:
        if len(example.documents) != 1:
            raise RationalizerError(
                f"example {example.id!r} of {dataset.name} has {len(example.documents)} "
                "documents; a Hugging Face dataset row holds one text"
            )
        doc = example.document
        rows["id"].append(example.id)
        rows[DOCID].append(doc.docid)
        rows["text"].append(doc.text)
        rows[SENTENCE_STARTS].append(list(doc.sentence_starts))
        rows["label"].append(dataset.labels.index(example.label))
        rows["query"].append(example.query)
        spans = example.rationale_spans() if example.is_annotated else None
        rows["rationale"].append(None if spans is None else [[s.start, s.end] for s in spans])
    features = hf.Features(
        {
            "id": hf.Value("string"),
            DOCID: hf.Value("string"),
            "text": hf.Value("string"),
            SENTENCE_STARTS: hf.List(hf.Value("int32")),
            "label": hf.ClassLabel(names=list(dataset.labels)),
            "query": hf.Value("string"),
            "rationale": hf.List(hf.List(hf.Value("int32"))),
        }
    )
    ours = dataset.info
    info = hf.DatasetInfo(
        dataset_name=dataset.name,
        description=ours.description if ours else "",
        homepage=ours.url if ours else "",
        citation=ours.citation if ours else "",
        license=ours.license if ours else "",
        features=features,
    )
    return hf.Dataset.from_dict(rows, info=info, split=dataset.split)


# ---------------------------------------------------------------------------------------------
# The hf:PATH loader


@dataclass(frozen=True)
class _Table:
    """One split's rows as read from disk, with the ``ClassLabel`` names of its label column."""

    rows: Sequence[Mapping[str, Any]]
    columns: tuple[str, ...]
    features: Mapping[str, Any]
    source: str


def _parquet_table(paths: Sequence[Path]) -> _Table:
    import pyarrow.parquet as pq

    tables = [pq.read_table(path) for path in paths]
    return _Table(
        rows=[row for table in tables for row in table.to_pylist()],
        columns=tuple(tables[0].column_names),
        features=_parquet_features(tables[0]),
        source=str(paths[0]) if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} files)",
    )


class _Names:
    """A stand-in for a ``ClassLabel`` read from Parquet metadata, with only its names."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)


def _parquet_features(table: pyarrow.Table) -> dict[str, Any]:
    """The ``ClassLabel`` names that ``datasets`` stores in a Parquet file's schema metadata."""
    raw = (table.schema.metadata or {}).get(b"huggingface")
    try:
        features = json.loads(raw)["info"]["features"] if raw else {}
    except (ValueError, KeyError, TypeError):
        return {}
    return {
        column: _Names(feature["names"])
        for column, feature in features.items()
        if isinstance(feature, dict) and feature.get("_type") == "ClassLabel"
    }


def _split_of(path: Path) -> str | None:
    """``train``, ``validation`` or ``test`` from a file name such as ``train-00000-of-00001``."""
    stem = path.name.split(".")[0].split("-")[0].lower()
    stem = SPLIT_ALIASES.get(stem, stem)
    return stem if stem in ("train", "validation", "test") else None


class HFLoader(DatasetLoader):
    """A local Hugging Face dataset: ``hf:PATH[?ROLE=COLUMN&...]`` (see the module docstring).

    PATH is a ``save_to_disk`` folder (of a ``DatasetDict``: its splits; of one ``Dataset``:
    every split), a Parquet file (every split), or a folder of Parquet files named by split
    (``train.parquet``, ``data/test-00000-of-00001.parquet``). Labels are shared by all splits.
    """

    name = "hf"
    parametrised = True
    info = DatasetInfo(
        name="hf",
        description="A local Hugging Face dataset (save_to_disk folder or Parquet files) with "
        "text, label and optional query and rationale columns: use hf:PATH?text=COL&label=COL",
    )

    @cached_property
    def _spec(self) -> tuple[str, ColumnMap]:
        path, _, mapping = str(self.argument).partition("?")
        return path, ColumnMap.parse(mapping, f"hf:{self.argument}")

    def root(self) -> Path:
        path = self._spec[0]
        directory = not path.endswith(".parquet")
        return locate_user_path(path, self.data_dir, directory=directory)

    @cached_property
    def tables(self) -> dict[str | None, _Table]:
        """Split → rows; the key None holds the rows of data without splits."""
        root = self.root()
        if root.is_file():
            return {None: _parquet_table([root])}
        if (root / "dataset_dict.json").is_file() or (root / "state.json").is_file():
            return self._saved_tables(root)
        files = sorted(root.rglob("*.parquet"))
        if not files:
            raise DataFormatError(
                root, "holds no save_to_disk dataset (dataset_dict.json, state.json) or *.parquet"
            )
        by_split: dict[str | None, list[Path]] = {}
        for path in files:
            by_split.setdefault(_split_of(path), []).append(path)
        if None in by_split and len(by_split) > 1:
            raise DataFormatError(
                by_split[None][0], "is named by no split (train, validation, test), unlike others"
            )
        return {split: _parquet_table(paths) for split, paths in by_split.items()}

    def _saved_tables(self, root: Path) -> dict[str | None, _Table]:
        hf = import_datasets()
        saved = hf.load_from_disk(str(root))
        if not isinstance(saved, hf.DatasetDict):
            return {None: _Table(saved, tuple(saved.column_names), saved.features, str(root))}
        tables: dict[str | None, _Table] = {}
        for key, part in saved.items():
            try:
                split = normalize_split(key)
            except UnknownNameError as err:
                raise DataFormatError(root, f"split {key!r}: {err}") from None
            tables[split] = _Table(part, tuple(part.column_names), part.features, f"{root}/{key}")
        return tables

    @cached_property
    def _columns(self) -> dict[str | None, dict[str, str]]:
        return {
            split: self._spec[1].resolved(table.columns, table.source)
            for split, table in self.tables.items()
        }

    @cached_property
    def _examples(self) -> dict[str | None, tuple[Example, ...]]:
        return {
            split: examples_from_rows(
                table.rows,
                self._columns[split],
                class_names=_class_names(table.features, self._columns[split]["label"]),
                source=table.source,
            )
            for split, table in self.tables.items()
        }

    @cached_property
    def labels(self) -> tuple[str, ...]:
        names = {
            split: _class_names(table.features, self._columns[split]["label"])
            for split, table in self.tables.items()
        }
        everything = [ex for examples in self._examples.values() for ex in examples]
        return label_order(everything, None, next(iter(names.values())))

    def load_split(self, split: str) -> Dataset:
        if None in self.tables:
            logger.warning(
                "hf:%s has no splits: split %r gets all %d rows",
                self.argument,
                split,
                len(self._examples[None]),
            )
            key: str | None = None
        elif split in self.tables:
            key = split
        else:
            present = ", ".join(sorted(str(s) for s in self.tables))
            raise DataFormatError(self.root(), f"has no split {split!r} (present: {present})")
        table = self.tables[key]
        examples = self._examples[key]
        _checked_labels(examples, self.labels, table.source, self._columns[key]["label"])
        return Dataset(f"hf:{self.argument}", split, examples, self.labels, self.info)
