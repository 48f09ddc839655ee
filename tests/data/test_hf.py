"""Hugging Face ``datasets`` interop: round trips, the column mapping and the ``hf:PATH`` loader."""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

import pytest

from rationalizer.data import Dataset, DatasetInfo, Document, Evidence, Example, Span, load
from rationalizer.data.hf import import_datasets
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError

datasets = pytest.importorskip("datasets")


def _toy() -> Dataset:
    """Queries, rationales (two evidence groups, an empty one, none), sentences, docid ≠ id."""
    examples = (
        Example(
            "a",
            (Document("doc-a", ("a", "fine", "film", ".", "loved", "it"), (0, 4)),),
            "pos",
            query="is it good ?",
            evidence=(
                (Evidence("doc-a", Span(1, 3)),),
                (Evidence("doc-a", Span(4, 5)),),
            ),
        ),
        Example("b", (Document("b", ("dull", "plot")),), "neg", evidence=((),)),
        Example("c", (Document("c", ("meh",)),), "neg"),
    )
    info = DatasetInfo("toy", "a toy", url="https://example.org", license="CC0")
    return Dataset("toy", "validation", examples, ("pos", "neg"), info)


def test_round_trip_keeps_examples_labels_and_info() -> None:
    toy = _toy()
    hf = toy.to_hf()
    assert hf.features["label"].names == ["pos", "neg"]
    assert hf[0]["text"] == "a fine film . loved it"
    assert hf[0]["rationale"] == [[1, 3], [4, 5]]
    assert hf[1]["rationale"] == [] and hf[2]["rationale"] is None
    back = Dataset.from_hf(hf, name="toy", split="validation")
    # the evidence groups come back as their union, which is what every metric reads
    assert back.examples[0].rationale_spans() == toy.examples[0].rationale_spans()
    assert back.examples[1:] == toy.examples[1:]
    assert back.examples[0].document == toy.examples[0].document
    assert back.examples[0].query == "is it good ?"
    assert (back.labels, back.info) == (toy.labels, toy.info)
    assert Dataset.from_hf(back.to_hf(), name="toy", split="validation") == back


def test_round_trip_of_synthetic_is_exact() -> None:
    synthetic = load("synthetic", "test")[:50]
    back = Dataset.from_hf(synthetic.to_hf(), name=synthetic.name, split="test")
    assert back == synthetic


def test_from_hf_column_mapping_with_spans_masks_and_class_labels() -> None:
    hf = datasets.Dataset.from_dict(
        {
            "review": ["great acting here", "bad"],
            "stars": [1, 0],
            "claim": ["q1", None],
            "evidence": [[0, 1, 0], [1]],
            "uid": [10, 11],
        },
        features=datasets.Features(
            {
                "review": datasets.Value("string"),
                "stars": datasets.ClassLabel(names=["low", "high"]),
                "claim": datasets.Value("string"),
                "evidence": datasets.List(datasets.Value("int8")),
                "uid": datasets.Value("int64"),
            }
        ),
    )
    data = Dataset.from_hf(
        hf, text="review", label="stars", query="claim", rationale="evidence", id="uid"
    )
    assert data.labels == ("low", "high")
    first, second = data
    assert (first.id, first.label, first.query) == ("10", "high", "q1")
    assert first.rationale_spans() == (Span(1, 2),)
    assert second.rationale_spans() == (Span(0, 1),) and second.query is None


def test_from_hf_words_and_plain_labels() -> None:
    hf = datasets.Dataset.from_dict({"text": [["x", "y"], ["z"]], "label": [2, 10]})
    data = Dataset.from_hf(hf)
    assert data.labels == ("2", "10")
    assert data[0].document.tokens == ("x", "y") and data[0].id == "0"
    assert not data[0].is_annotated


@pytest.mark.parametrize(
    ("columns", "mapping", "field", "message"),
    [
        ({"txt": ["a"], "label": ["x"]}, {}, "text", "no column 'text'"),
        ({"text": ["a"], "label": ["x"]}, {"query": "q"}, "q", "no column 'q' for the query"),
        ({"text": ["a", ""], "label": ["x", "y"]}, {}, "text", "row 1: is empty"),
        ({"text": ["a", "b"], "label": ["x", None]}, {}, "label", "row 1: expected"),
        (
            {"text": ["a b"], "label": ["x"], "r": [[[1, 3]]]},
            {"rationale": "r"},
            "r",
            "row 0: span 0 [1, 3) is empty or outside the 2 words",
        ),
        (
            {"text": ["a b"], "label": ["x"], "r": [[1, 0, 1]]},
            {"rationale": "r"},
            "r",
            "row 0: a mask of 3 flags for 2 words",
        ),
        (
            {"text": ["a b"], "label": ["x"], "r": [[2, 0]]},
            {"rationale": "r"},
            "r",
            "0/1 flag per word",
        ),
        ({"text": ["a", "b"], "label": ["x", "y"], "id": ["k", "k"]}, {}, "id", "duplicate id"),
    ],
)
def test_bad_columns_name_the_column_and_row(columns, mapping, field, message) -> None:
    with pytest.raises(DataFormatError, match=r"<datasets\.Dataset") as err:
        Dataset.from_hf(datasets.Dataset.from_dict(columns), **mapping)
    assert err.value.field == field
    assert message in str(err.value)


def test_label_outside_the_given_labels() -> None:
    hf = datasets.Dataset.from_dict({"text": ["a", "b"], "label": ["x", "z"]})
    with pytest.raises(DataFormatError, match="row 1: label 'z' is not one of"):
        Dataset.from_hf(hf, labels=("x", "y"))


def test_multi_document_examples_cannot_become_rows() -> None:
    pair = Example("p", (Document("d1", ("a",)), Document("d2", ("b",))), "x")
    with pytest.raises(RationalizerError, match="'p' of toy has 2 documents"):
        Dataset("toy", "test", (pair,), ("x",)).to_hf()


def test_slicing_returns_a_dataset() -> None:
    toy = _toy()
    head = toy[:2]
    assert isinstance(head, Dataset)
    assert (head.name, head.split, head.labels, head.info) == (
        toy.name,
        toy.split,
        toy.labels,
        toy.info,
    )
    assert head.examples == toy.examples[:2]
    assert toy[1] is toy.examples[1]
    assert toy[::-1].examples == toy.examples[::-1]


# ---------------------------------------------------------------------------------------------
# the hf:PATH loader


def test_loader_reads_a_saved_dataset_dict_by_split(tmp_path: Path) -> None:
    toy = _toy()
    dd = datasets.DatasetDict({"train": toy.to_hf(), "val": toy[:1].to_hf()})
    dd.save_to_disk(str(tmp_path / "toy"))
    data = load(f"hf:{tmp_path / 'toy'}", "validation")
    assert data.name == f"hf:{tmp_path / 'toy'}"
    assert data.labels == ("pos", "neg")
    assert data.examples[0].document == toy.examples[0].document
    assert len(load(f"hf:{tmp_path / 'toy'}", "train")) == 3
    with pytest.raises(DataFormatError, match="has no split 'test' \\(present: train, valid"):
        load(f"hf:{tmp_path / 'toy'}", "test")


def test_loader_reads_parquet_files_named_by_split(tmp_path: Path) -> None:
    toy = _toy()
    (tmp_path / "data").mkdir()
    toy.to_hf().to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    toy[2:].to_hf().to_parquet(str(tmp_path / "data" / "test-00000-of-00001.parquet"))
    test = load(f"hf:{tmp_path}", "test")
    # the ClassLabel names travel in the Parquet metadata
    assert test.labels == ("pos", "neg")
    assert test.examples == toy.examples[2:]


def test_loader_column_mapping_and_a_file_without_splits(tmp_path: Path, caplog) -> None:
    path = tmp_path / "mine.parquet"
    datasets.Dataset.from_dict(
        {"body": ["good one", "poor"], "y": ["pos", "neg"], "mask": [[0, 1], None]}
    ).to_parquet(str(path))
    with caplog.at_level(logging.WARNING):
        data = load(f"hf:{path}?text=body&label=y&rationale=mask", "test")
    assert "has no splits" in caplog.text
    assert data.labels == ("neg", "pos")
    assert data[0].rationale_spans() == (Span(1, 2),) and not data[1].is_annotated
    with pytest.raises(DataFormatError, match=f"{path}, field 'text': no column 'text'"):
        load(f"hf:{path}", "test")
    with pytest.raises(UnknownNameError, match="unknown column role"):
        load(f"hf:{path}?txt=body", "test")


def test_missing_datasets_package_says_how_to_install(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(RationalizerError, match="pip install datasets"):
        import_datasets()
