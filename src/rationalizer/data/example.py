"""The interchange format: frozen dataclasses for documents, gold rationales and examples.

Everything in rationalizer speaks in *word tokens* of the published text: a gold rationale, a
predicted mask and a soft score vector are all indexed by word position in a document. Subword
models map to and from words through :mod:`rationalizer.data.tokenization`.

Spans are half-open ``[start, end)`` word offsets, as in ERASER.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    import datasets


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range ``[start, end)`` of word positions in one document."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def positions(self) -> range:
        return range(self.start, self.end)


def spans_to_mask(spans: Iterable[Span], length: int) -> np.ndarray:
    """0/1 mask (int8) of ``length`` word positions with every position of ``spans`` set."""
    mask = np.zeros(length, dtype=np.int8)
    for span in spans:
        if span.end > length:
            raise ValueError(f"span [{span.start}, {span.end}) exceeds document length {length}")
        mask[span.start : span.end] = 1
    return mask


def mask_to_spans(mask: Sequence[int] | Sequence[bool] | np.ndarray) -> tuple[Span, ...]:
    """Maximal runs of non-zero positions, in order; the inverse of :func:`spans_to_mask`."""
    flags = np.asarray(mask).astype(bool).astype(np.int8)
    if flags.size == 0:
        return ()
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return tuple(Span(int(s), int(e)) for s, e in zip(starts, ends, strict=True))


def merge_spans(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Union of possibly overlapping or adjacent spans as sorted, disjoint maximal spans."""
    merged: list[Span] = []
    for span in sorted(spans):
        if len(span) == 0:
            continue
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return tuple(merged)


@dataclass(frozen=True)
class Document:
    """A tokenised document: its id, word tokens and (optionally) sentence boundaries.

    ``sentence_starts`` holds the word offset at which each sentence begins (first is 0); it is
    empty when the source gives no sentence segmentation.
    """

    docid: str
    tokens: tuple[str, ...]
    sentence_starts: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def sentences(self) -> tuple[Span, ...]:
        """Sentence spans; the whole document as one span when no segmentation is known."""
        if not self.sentence_starts:
            return (Span(0, len(self.tokens)),) if self.tokens else ()
        bounds = (*self.sentence_starts, len(self.tokens))
        return tuple(Span(a, b) for a, b in itertools.pairwise(bounds))


@dataclass(frozen=True)
class Evidence:
    """One gold rationale span in one document (an ERASER ``Evidence`` without the text copy)."""

    docid: str
    span: Span


EvidenceGroup = tuple[Evidence, ...]


@dataclass(frozen=True)
class Example:
    """A labelled example: one or more documents, optional query, optional gold rationale.

    ``evidence`` follows ERASER: a tuple of alternative *evidence groups*, each sufficient on its
    own. ``None`` means the example carries no human annotation at all; ``((),)`` (one empty
    group, as HateXplain gives non-toxic posts) means annotated, with nothing marked. Metrics use
    the union of all groups, as ERASER's metrics script does.
    """

    id: str
    documents: tuple[Document, ...]
    label: str
    query: str | None = None
    evidence: tuple[EvidenceGroup, ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.documents:
            raise ValueError(f"example {self.id!r} has no document")
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        known = {d.docid for d in self.documents}
        for group in self.evidence or ():
            for ev in group:
                if ev.docid not in known:
                    raise ValueError(
                        f"example {self.id!r}: evidence names unknown docid {ev.docid!r}"
                    )
                if ev.span.end > len(self.doc(ev.docid)):
                    raise ValueError(
                        f"example {self.id!r}: evidence span [{ev.span.start}, {ev.span.end}) "
                        f"exceeds document {ev.docid!r} of {len(self.doc(ev.docid))} tokens"
                    )

    @property
    def document(self) -> Document:
        """The only document of a single-document example."""
        if len(self.documents) != 1:
            raise ValueError(
                f"example {self.id!r} has {len(self.documents)} documents; use .doc(docid)"
            )
        return self.documents[0]

    @property
    def docids(self) -> tuple[str, ...]:
        return tuple(d.docid for d in self.documents)

    def doc(self, docid: str) -> Document:
        for d in self.documents:
            if d.docid == docid:
                return d
        raise KeyError(f"example {self.id!r} has no document {docid!r}")

    @property
    def is_annotated(self) -> bool:
        """True when a human looked at this example (even if they marked nothing)."""
        return self.evidence is not None

    @property
    def has_rationale(self) -> bool:
        """True when the gold rationale marks at least one token."""
        return any(len(ev.span) > 0 for group in self.evidence or () for ev in group)

    def rationale_spans(self, docid: str | None = None) -> tuple[Span, ...]:
        """Gold rationale of one document as disjoint spans: the union of all evidence groups."""
        docid = self.document.docid if docid is None else docid
        return merge_spans(
            ev.span for group in self.evidence or () for ev in group if ev.docid == docid
        )

    def rationale_mask(self, docid: str | None = None) -> np.ndarray:
        """Gold rationale of one document as a 0/1 mask over its word tokens."""
        doc = self.document if docid is None else self.doc(docid)
        return spans_to_mask(self.rationale_spans(doc.docid), len(doc))


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset comes from and how to cite it; shown by ``rationalizer data list``."""

    name: str
    description: str
    url: str = ""
    citation: str = ""
    license: str = ""


@dataclass(frozen=True)
class Dataset(Sequence[Example]):
    """One split of a dataset: examples plus the label set in canonical order."""

    name: str
    split: str
    examples: tuple[Example, ...]
    labels: tuple[str, ...]
    info: DatasetInfo | None = None

    def __post_init__(self) -> None:
        known = set(self.labels)
        for ex in self.examples:
            if ex.label not in known:
                raise ValueError(f"example {ex.id!r} has label {ex.label!r} outside {self.labels}")

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    @overload
    def __getitem__(self, index: int) -> Example: ...
    @overload
    def __getitem__(self, index: slice) -> Dataset: ...
    def __getitem__(self, index: int | slice) -> Example | Dataset:
        """An example, or for a slice a dataset of the same name, split and labels, so that
        ``dataset[:10]`` can go wherever the whole split goes."""
        if isinstance(index, slice):
            return replace(self, examples=self.examples[index])
        return self.examples[index]

    def by_id(self) -> dict[str, Example]:
        return {ex.id: ex for ex in self.examples}

    def annotated(self) -> tuple[Example, ...]:
        """Examples whose gold rationale marks at least one token."""
        return tuple(ex for ex in self.examples if ex.has_rationale)

    def to_hf(self) -> datasets.Dataset:
        """This split as a Hugging Face ``datasets.Dataset`` (columns in
        :mod:`rationalizer.data.hf`); needs ``pip install datasets``."""
        from rationalizer.data.hf import dataset_to_hf

        return dataset_to_hf(self)

    @classmethod
    def from_hf(
        cls,
        ds: datasets.Dataset,
        *,
        text: str = "text",
        label: str = "label",
        query: str | None = None,
        rationale: str | None = None,
        id: str | None = None,
        labels: Sequence[str] | None = None,
        name: str = "hf",
        split: str = "train",
    ) -> Dataset:
        """A split from a Hugging Face ``datasets.Dataset`` with the given column mapping.

        ``rationale`` holds ``[start, end)`` word spans or a 0/1 mask per word; optional
        columns left at None are used when the dataset has a column of that name (``query``,
        ``rationale``, ``id``). See :func:`rationalizer.data.hf.dataset_from_hf`.
        """
        from rationalizer.data.hf import ColumnMap, dataset_from_hf

        columns = ColumnMap(text=text, label=label, query=query, rationale=rationale, id=id)
        return dataset_from_hf(ds, columns, labels=labels, name=name, split=split)
