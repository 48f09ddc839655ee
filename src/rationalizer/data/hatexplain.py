"""HateXplain (Mathew et al., 2021) in ERASER format, split by the official HateXplain division.

The shipped ``val.jsonl``/``test.jsonl`` belong to a random re-split (seed 1234), not to the
official split, and no train labels are shipped. So the loader pools every labelled file
(root ``val.jsonl``/``test.jsonl`` and ``data/{val,test}_split*.json[l]``; the ``.json`` files
are JSON arrays), checks that a post appearing in several files has identical label and
evidence everywhere, and assigns the split from ``data/post_id_divisions.json``: validation
and test are the official lists (each must be fully labelled), train is every labelled post
on the official train list.

Labels are ``non-toxic``/``toxic``. Non-toxic posts carry one empty evidence group, so
``Example.evidence == ((),)`` and ``has_rationale`` is False: rationale metrics on HateXplain
are reported over the toxic posts (``Dataset.annotated()``), as in the HateXplain paper.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter

from rationalizer.data._json import parse_json
from rationalizer.data.eraser import Annotation, EraserFolder
from rationalizer.data.example import Dataset, DatasetInfo, Example
from rationalizer.data.registry import DatasetLoader
from rationalizer.errors import DataFormatError

LABELS = ("non-toxic", "toxic")
DIVISION_FILE = "data/post_id_divisions.json"
_SPLIT_FILE = re.compile(r"(?:val|test)_split\d+\.jsonl?")
#: our split name → key of the division file
_DIVISION_KEYS = {"train": "train", "validation": "val", "test": "test"}


class _Division(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


def labelled_files(root: Path) -> list[str]:
    """Every annotation file of the folder, relative to it, in a fixed order."""
    nested = sorted(p.name for p in (root / "data").glob("*") if _SPLIT_FILE.fullmatch(p.name))
    return [f for f in ("val.jsonl", "test.jsonl") if (root / f).is_file()] + [
        f"data/{name}" for name in nested
    ]


class HateXplainLoader(DatasetLoader):
    """Toxic-post detection with token rationales on toxic posts; official HateXplain split."""

    name = "hatexplain"
    folder = "hatexplain-eraser"
    labels = LABELS
    info = DatasetInfo(
        name="hatexplain",
        description="Toxic-post detection (non-toxic/toxic) with annotator rationales on toxic "
        "posts (HateXplain, ERASER format); official split, train = labelled train posts",
        url="https://github.com/ritwikmishra/hateXplain-metrics-calculation",
        citation="B. Mathew, P. Saha, S. M. Yimam, C. Biemann, P. Goyal, A. Mukherjee. 2021. "
        "HateXplain: A Benchmark Dataset for Explainable Hate Speech Detection. AAAI 2021. "
        "R. Mishra, A. Yadav, R. R. Shah, P. Kumaraguru. 2023. Explaining Finetuned "
        "Transformers on Hate Speech Predictions Using Layerwise Relevance Propagation. BDA 2023.",
        license="MIT (HateXplain); content warning: slurs and hateful language",
    )

    @cached_property
    def folder_reader(self) -> EraserFolder:
        return EraserFolder(self.root())

    @cached_property
    def pool(self) -> dict[str, tuple[Annotation, ...]]:
        """Every labelled post → its records in all files, checked to agree."""
        found: dict[str, list[Annotation]] = {}
        sources = labelled_files(self.folder_reader.root)
        if not sources:
            raise DataFormatError(self.folder_reader.root, "no labelled annotation files found")
        for source in sources:
            for annotation in self.folder_reader.annotations(source):
                copies = found.setdefault(annotation.id, [])
                if copies and copies[0].record != annotation.record:
                    raise annotation.error(
                        "annotation_id",
                        f"post {annotation.id!r} conflicts with {copies[0].where()}: "
                        "label, query or evidence differ",
                    )
                copies.append(annotation)
        return {post: tuple(copies) for post, copies in found.items()}

    @cached_property
    def division(self) -> dict[str, tuple[str, ...]]:
        """The official split: our split name → post ids, checked to be disjoint."""
        path = self.folder_reader.root / DIVISION_FILE
        if not path.is_file():
            raise DataFormatError(path, "missing the official HateXplain split file")
        raw = parse_json(TypeAdapter(_Division), path.read_bytes(), path)
        division = {split: getattr(raw, key) for split, key in _DIVISION_KEYS.items()}
        owner: dict[str, str] = {}
        for split, ids in division.items():
            key = _DIVISION_KEYS[split]
            for post in ids:
                if post in owner:
                    raise DataFormatError(
                        path,
                        f"post {post!r} is listed twice (in {owner[post]} and {key})",
                        field=key,
                    )
                owner[post] = key
        unplaced = sorted(set(self.pool) - owner.keys())
        if unplaced:
            raise DataFormatError(
                path, f"{len(unplaced)} labelled posts are in no list, e.g. {unplaced[0]!r}"
            )
        return division

    def load_split(self, split: str) -> Dataset:
        ids = self.division[split]
        if split == "train":
            ids = tuple(post for post in ids if post in self.pool)
        else:
            missing = [post for post in ids if post not in self.pool]
            if missing:
                raise DataFormatError(
                    self.folder_reader.root / DIVISION_FILE,
                    f"{len(missing)} official {split} posts have no label in any file, "
                    f"e.g. {missing[0]!r}",
                    field=_DIVISION_KEYS[split],
                )
        examples = tuple(self._example(post) for post in ids)
        return Dataset(self.name, split, examples, LABELS, self.info)

    def _example(self, post: str) -> Example:
        copies = self.pool[post]
        return self.folder_reader.example(
            copies[0],
            LABELS,
            metadata={
                "sources": tuple(c.source for c in copies),
                "split_source": DIVISION_FILE,
            },
        )
