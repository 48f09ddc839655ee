"""Reader for the ERASER benchmark format (DeYoung et al., 2020), and the ``eraser:PATH`` loader.

An ERASER folder holds ``docs/`` (one file per document, named by its docid) or ``docs.jsonl``
(``{"docid": ..., "document": ...}`` per line), plus one annotation file per split:
``train.jsonl``, ``val.jsonl``, ``test.jsonl``. Documents are pre-tokenised: one sentence per
line, tokens separated by spaces; token offsets count over the whole document. Blank lines are
skipped, as ERASER's own reader does, so sentence indices count non-blank lines.

Every record is checked field by field (types, docids, token and sentence ranges, and that each
evidence ``text`` equals the tokens it covers), because a silently wrong offset would corrupt
every rationale metric computed downstream. The pieces here (:class:`DocumentStore`,
:func:`read_annotations`, :class:`EraserFolder`) are reused by the HateXplain and FEVER loaders.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from rationalizer.data._json import numbered_lines, parse_json, read_text
from rationalizer.data.example import Dataset, DatasetInfo, Document, Evidence, Example, Span
from rationalizer.data.registry import DatasetLoader
from rationalizer.errors import DataFormatError, DatasetNotFoundError

#: annotation file of each split, as ERASER names them
SPLIT_FILES = {"train": "train.jsonl", "validation": "val.jsonl", "test": "test.jsonl"}

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


class EvidenceRecord(BaseModel):
    """One ERASER evidence span as written in the file (sentence fields default to -1)."""

    model_config = _STRICT
    docid: str
    start_token: int
    end_token: int
    start_sentence: int = -1
    end_sentence: int = -1
    text: str


class AnnotationRecord(BaseModel):
    """One line of an ERASER annotation file, type-checked but not yet checked against docs."""

    model_config = _STRICT
    annotation_id: str
    classification: str
    evidences: tuple[tuple[EvidenceRecord, ...], ...]
    query: str | None = None
    query_type: str | None = None
    docids: tuple[str, ...] | None = None


class _DocumentRecord(BaseModel):
    model_config = _STRICT
    docid: str
    document: str


T = TypeVar("T")
_ANNOTATION_RECORD = TypeAdapter(AnnotationRecord)
_ANNOTATION_ARRAY = TypeAdapter(tuple[AnnotationRecord, ...])
_DOCUMENT_RECORD = TypeAdapter(_DocumentRecord)


def locate_user_path(argument: str, data_dir: Path, *, directory: bool) -> Path:
    """A user-given path: as given (relative to the working directory), else under ``data_dir``."""
    given = Path(argument).expanduser()
    candidates = [given] if given.is_absolute() else [given, data_dir / given]
    for candidate in candidates:
        if candidate.is_dir() if directory else candidate.is_file():
            return candidate
    kind = "folder" if directory else "file"
    looked = " and ".join(str(c.absolute()) for c in candidates)
    # A missing folder is a dataset that is not on this machine; a missing file is not.
    raise DatasetNotFoundError(
        f"no {kind} {argument!r}: looked for {looked}",
        folder=data_dir / given if directory else None,
    )


def document_from_text(docid: str, text: str, *, path: Path, line: int | None = None) -> Document:
    """Parse ERASER document text: sentences on lines, tokens separated by whitespace."""
    sentences = [tokens for tokens in (raw.split() for raw in text.split("\n")) if tokens]
    if not sentences:
        raise DataFormatError(path, f"document {docid!r} is empty", line=line)
    starts: list[int] = []
    tokens: list[str] = []
    for sentence in sentences:
        starts.append(len(tokens))
        tokens.extend(sentence)
    return Document(docid, tuple(tokens), tuple(starts))


class DocumentStore:
    """The documents of one ERASER folder, each read on first use and then cached.

    Reading lazily matters: HateXplain ships 19,229 document files and a split needs ~2,000.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        docs_dir, docs_jsonl = root / "docs", root / "docs.jsonl"
        self._one_file_per_doc = docs_dir.is_dir()
        if not (self._one_file_per_doc or docs_jsonl.is_file()):
            raise DatasetNotFoundError(f"{root} holds neither a docs/ folder nor docs.jsonl")
        #: where the documents are read from (``docs/`` wins when both exist)
        self.source = docs_dir if self._one_file_per_doc else docs_jsonl
        self._cache: dict[str, Document] = {}
        self._jsonl_loaded = False

    def get(self, docid: str) -> Document:
        """The document ``docid``; ``KeyError`` if there is none, DataFormatError if malformed."""
        if docid in self._cache:
            return self._cache[docid]
        if self._one_file_per_doc:
            path = self.source / docid
            # A docid is a file name, never a path that could lead outside docs/.
            if Path(docid).name != docid or docid in {".", ".."} or not _is_file(path):
                raise KeyError(docid)
            self._cache[docid] = document_from_text(docid, read_text(path), path=path)
            return self._cache[docid]
        if not self._jsonl_loaded:
            self._read_docs_jsonl()
        return self._cache[docid]

    def _read_docs_jsonl(self) -> None:
        path = self.source
        first_line: dict[str, int] = {}
        for number, line in numbered_lines(path):
            record = parse_json(_DOCUMENT_RECORD, line, path, line=number)
            if record.docid in first_line:
                first = first_line[record.docid]
                raise DataFormatError(
                    path,
                    f"duplicate docid {record.docid!r} (first on line {first})",
                    line=number,
                    field="docid",
                )
            first_line[record.docid] = number
            self._cache[record.docid] = document_from_text(
                record.docid, record.document, path=path, line=number
            )
        self._jsonl_loaded = True


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a name too long for the file system names none."""
    try:
        return path.is_file()
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        return False


@dataclass(frozen=True)
class Annotation:
    """A parsed annotation record and where it was read (for error messages and metadata)."""

    record: AnnotationRecord
    path: Path
    #: path relative to the dataset folder, as stored in example metadata
    source: str
    #: 1-based line in a jsonl file; None for a record of a JSON array file
    line: int | None = None
    #: 0-based position in a JSON array file; None for jsonl
    index: int | None = None

    @property
    def id(self) -> str:
        return self.record.annotation_id

    def where(self) -> str:
        """Human-readable position, e.g. ``val.jsonl line 3`` or ``data/x.json record [7]``."""
        position = f"line {self.line}" if self.index is None else f"record [{self.index}]"
        return f"{self.source} {position}"

    def error(self, field: str | None, message: str) -> DataFormatError:
        if self.index is not None:
            field = f"[{self.index}]" + (f".{field}" if field else "")
        return DataFormatError(self.path, message, line=self.line, field=field)


def read_annotations(path: Path, source: str) -> tuple[Annotation, ...]:
    """Read an annotation file: jsonl (one record per line) or ``.json`` (one JSON array).

    Records are type-checked; ids must be unique within the file.
    """
    if not path.is_file():
        raise DataFormatError(path, "no such annotation file")
    annotations: list[Annotation] = []
    if path.suffix == ".json":
        records = parse_json(_ANNOTATION_ARRAY, read_text(path), path)
        annotations = [Annotation(r, path, source, index=i) for i, r in enumerate(records)]
    else:
        for number, line in numbered_lines(path):
            record = parse_json(_ANNOTATION_RECORD, line, path, line=number)
            annotations.append(Annotation(record, path, source, line=number))
    if not annotations:
        raise DataFormatError(path, "file holds no annotation records")
    seen: dict[str, Annotation] = {}
    for annotation in annotations:
        if annotation.id in seen:
            first = seen[annotation.id].where()
            raise annotation.error(
                "annotation_id", f"duplicate annotation_id {annotation.id!r} (first at {first})"
            )
        seen[annotation.id] = annotation
    return tuple(annotations)


class EraserFolder:
    """One ERASER-format folder: its documents and annotation files, each parsed once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.documents = DocumentStore(root)
        self._annotations: dict[str, tuple[Annotation, ...]] = {}

    def annotations(self, source: str) -> tuple[Annotation, ...]:
        """Records of the annotation file at ``source`` (relative to the folder)."""
        if source not in self._annotations:
            self._annotations[source] = read_annotations(self.root / source, source)
        return self._annotations[source]

    def example(
        self,
        annotation: Annotation,
        labels: Iterable[str],
        metadata: dict[str, Any] | None = None,
    ) -> Example:
        """Check a record against its documents and turn it into an :class:`Example`."""
        record = annotation.record
        labels = tuple(labels)
        if record.classification not in labels:
            raise annotation.error(
                "classification",
                f"unknown label {record.classification!r}; expected one of {list(labels)}",
            )
        docids = self._docids(annotation)
        documents = {docid: self._document(annotation, docid, field) for docid, field in docids}
        groups = tuple(
            tuple(
                self._evidence(annotation, ev, documents, f"evidences[{g}][{k}]")
                for k, ev in enumerate(group)
            )
            for g, group in enumerate(record.evidences)
        )
        location = (
            {"line": annotation.line} if annotation.index is None else {"record": annotation.index}
        )
        return Example(
            id=record.annotation_id,
            documents=tuple(documents.values()),
            label=record.classification,
            query=record.query,
            evidence=groups,
            metadata={"source": annotation.source, **location, **(metadata or {})},
        )

    def _docids(self, annotation: Annotation) -> list[tuple[str, str]]:
        """The example's docids, each with the field it came from.

        ERASER falls back to the evidences' docids when ``docids`` is absent, and datasets
        whose examples have no evidence (HateXplain's non-toxic posts) name the document by
        ``annotation_id``.
        """
        record = annotation.record
        if record.docids is not None:
            if not record.docids:
                raise annotation.error("docids", "empty list; name at least one document")
            if len(set(record.docids)) != len(record.docids):
                raise annotation.error("docids", "lists a docid twice")
            return [(d, f"docids[{i}]") for i, d in enumerate(record.docids)]
        found: dict[str, str] = {}
        for g, group in enumerate(record.evidences):
            for k, ev in enumerate(group):
                found.setdefault(ev.docid, f"evidences[{g}][{k}].docid")
        return list(found.items()) or [(record.annotation_id, "annotation_id")]

    def _document(self, annotation: Annotation, docid: str, field: str) -> Document:
        try:
            return self.documents.get(docid)
        except KeyError:
            raise annotation.error(
                field, f"unknown docid {docid!r}: no such document in {self.documents.source}"
            ) from None
        except DataFormatError as exc:
            raise annotation.error(field, f"document {docid!r} is unusable: {exc}") from None

    def _evidence(
        self, annotation: Annotation, ev: EvidenceRecord, documents: dict[str, Document], field: str
    ) -> Evidence:
        if ev.docid not in documents:
            self._document(annotation, ev.docid, f"{field}.docid")  # unknown docid error first
            raise annotation.error(
                f"{field}.docid", f"docid {ev.docid!r} is not among the record's docids"
            )
        doc = documents[ev.docid]
        if not 0 <= ev.start_token < ev.end_token <= len(doc):
            raise annotation.error(
                f"{field}.end_token" if ev.start_token >= 0 else f"{field}.start_token",
                f"token span [{ev.start_token}, {ev.end_token}) is empty or outside "
                f"document {ev.docid!r} of {len(doc)} tokens",
            )
        n_sentences = len(doc.sentence_starts)
        if (ev.start_sentence, ev.end_sentence) != (-1, -1) and not (
            0 <= ev.start_sentence < ev.end_sentence <= n_sentences
        ):
            raise annotation.error(
                f"{field}.start_sentence",
                f"sentence range [{ev.start_sentence}, {ev.end_sentence}) is outside document "
                f"{ev.docid!r} of {n_sentences} sentences (use -1 for both when not given)",
            )
        covered = " ".join(doc.tokens[ev.start_token : ev.end_token])
        if ev.text != covered:
            raise annotation.error(
                f"{field}.text",
                f"{_excerpt(ev.text)} differs from the covered tokens {_excerpt(covered)}",
            )
        return Evidence(ev.docid, Span(ev.start_token, ev.end_token))


def _excerpt(text: str, limit: int = 60) -> str:
    return json.dumps(text if len(text) <= limit else text[:limit] + "…", ensure_ascii=False)


class EraserSplitsLoader(DatasetLoader):
    """A dataset kept as one ERASER folder whose ``train``/``val``/``test.jsonl`` are its splits.

    Subclasses say where the folder is (``folder`` or :meth:`root`) and which ``labels`` it has.
    """

    labels: tuple[str, ...]

    @cached_property
    def folder_reader(self) -> EraserFolder:
        return EraserFolder(self.root())

    @property
    def dataset_name(self) -> str:
        return self.name

    def load_split(self, split: str) -> Dataset:
        reader = self.folder_reader
        source = SPLIT_FILES[split]
        if not (reader.root / source).is_file():
            raise DatasetNotFoundError(f"{reader.root} has no {source} for split {split!r}")
        examples = tuple(reader.example(a, self.labels) for a in reader.annotations(source))
        return Dataset(self.dataset_name, split, examples, self.labels, self.info)


class EraserLoader(EraserSplitsLoader):
    """Any dataset in ERASER format: ``eraser:PATH`` with PATH the dataset folder.

    PATH is taken relative to the working directory, else to the data directory. Labels are
    the sorted set of ``classification`` values over all split files present, so every split
    of one folder shares the same label order.
    """

    name = "eraser"
    parametrised = True
    info = DatasetInfo(
        name="eraser",
        description="Any dataset in ERASER format (docs/ or docs.jsonl plus "
        "train/val/test.jsonl): use eraser:PATH",
        url="https://www.eraserbenchmark.com/",
        citation="J. DeYoung, S. Jain, N. F. Rajani, E. Lehman, C. Xiong, R. Socher, "
        "B. C. Wallace. 2020. ERASER: A Benchmark to Evaluate Rationalized NLP Models. ACL 2020.",
        license="depends on the dataset",
    )

    def root(self) -> Path:
        return locate_user_path(str(self.argument), self.data_dir, directory=True)

    @property
    def dataset_name(self) -> str:
        return f"eraser:{self.argument}"

    # The base's settable labels attribute, read from the folder here (once): mypy refuses a
    # read-only property over a writable attribute.
    @cached_property
    def labels(self) -> tuple[str, ...]:  # type: ignore[override]
        present = [f for f in SPLIT_FILES.values() if (self.folder_reader.root / f).is_file()]
        if not present:
            raise DatasetNotFoundError(
                f"{self.folder_reader.root} holds none of {', '.join(SPLIT_FILES.values())}"
            )
        annotations = (a for f in present for a in self.folder_reader.annotations(f))
        return tuple(sorted({a.record.classification for a in annotations}))
