"""ERASER FEVER: the seeded 90/10 split of val.jsonl's pages, test.jsonl as test, and README
counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rationalizer.data.example import Dataset
from rationalizer.data.fever import FeverLoader
from rationalizer.data.registry import get_loader
from rationalizer.errors import DatasetNotFoundError

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def fever(data_dir: Path) -> dict[str, Dataset]:
    loader = get_loader("fever", data_dir)
    return {split: loader.load_split(split) for split in SPLITS}


def _raw(root: Path, name: str) -> list[dict]:
    with (root / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def raw_val(dataset_root) -> list[dict]:
    return _raw(dataset_root("fever"), "val.jsonl")


@pytest.fixture(scope="module")
def raw_test(dataset_root) -> list[dict]:
    return _raw(dataset_root("fever"), "test.jsonl")


def test_validation_is_every_claim_about_the_documented_seeded_tenth_of_the_pages(
    fever, raw_val
) -> None:
    pages = sorted({docid for r in raw_val for docid in r["docids"]})
    assert (len(raw_val), len(pages)) == (6122, 570)
    held_out = {pages[i] for i in np.random.default_rng(13).permutation(570)[:57]}
    about_held_out = [r["annotation_id"] for r in raw_val if held_out & set(r["docids"])]
    others = [r["annotation_id"] for r in raw_val if not held_out & set(r["docids"])]
    assert [ex.id for ex in fever["validation"]] == about_held_out  # in file order
    assert [ex.id for ex in fever["train"]] == others
    assert (len(fever["train"]), len(fever["validation"])) == (5514, 608)
    # no validation page is a training page, as no test page is
    train_pages = {docid for ex in fever["train"] for docid in ex.docids}
    assert train_pages.isdisjoint(docid for ex in fever["validation"] for docid in ex.docids)
    assert train_pages.isdisjoint(docid for ex in fever["test"] for docid in ex.docids)


def test_test_split_counts_match_readme(fever) -> None:
    test = fever["test"]
    assert test.labels == ("REFUTES", "SUPPORTS")
    labels = [ex.label for ex in test]
    assert (len(test), labels.count("SUPPORTS"), labels.count("REFUTES")) == (6111, 3033, 3078)
    assert sum(len(ex.evidence) >= 2 for ex in test) == 952
    assert len({ex.document.docid for ex in test}) == 614
    assert np.mean([len(ex.document) for ex in test]) == pytest.approx(254.6, abs=0.05)
    pool = [*fever["train"], *fever["validation"]]
    assert sum(len(ex.evidence) >= 2 for ex in pool) == 1047


def test_examples_follow_the_records(fever, raw_test) -> None:
    for ex, record in zip(fever["test"], raw_test, strict=True):
        assert ex.id == record["annotation_id"] and ex.label == record["classification"]
        assert ex.query == record["query"]
        assert ex.docids == tuple(record["docids"])
        assert ex.metadata["source"] == "test.jsonl"
        sentences = ex.document.sentences()
        words = ex.document.tokens
        covered = [[" ".join(words[e.span.start : e.span.end]) for e in g] for g in ex.evidence]
        assert covered == [[ev["text"] for ev in group] for group in record["evidences"]]
        for group, raw_group in zip(ex.evidence, record["evidences"], strict=True):
            for ev, raw_ev in zip(group, raw_group, strict=True):
                # README: every FEVER span is exactly the sentence it names
                assert ev.span == sentences[raw_ev["start_sentence"]]


def test_documents_keep_their_lines_as_sentences(fever, dataset_root) -> None:
    doc = fever["test"][0].document
    lines = (dataset_root("fever") / "docs" / doc.docid).read_text("utf-8").split("\n")
    assert len(doc.sentence_starts) == len(lines)
    assert [doc.tokens[s.start : s.end] for s in doc.sentences()] == [
        tuple(line.split(" ")) for line in lines
    ]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="fever-eraser"):
        FeverLoader(tmp_path).load_split("train")
