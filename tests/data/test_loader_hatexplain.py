"""HateXplain with the official split, checked against the raw files read independently here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rationalizer.data.example import Dataset
from rationalizer.data.hatexplain import HateXplainLoader
from rationalizer.data.registry import get_loader
from rationalizer.errors import DataFormatError, DatasetNotFoundError

SPLITS = ("train", "validation", "test")


def _raw_records(root: Path) -> dict[str, list[dict]]:
    """Every labelled file (relative name → records), parsed with the json module."""
    files = {name: root / name for name in ("val.jsonl", "test.jsonl")}
    for path in (root / "data").iterdir():
        if re.fullmatch(r"(val|test)_split\d\.jsonl?", path.name):
            files[f"data/{path.name}"] = path
    records = {}
    for name, path in files.items():
        text = path.read_text("utf-8")
        if name.endswith(".json"):
            records[name] = json.loads(text)
        else:
            records[name] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return records


@pytest.fixture(scope="module")
def raw(dataset_root) -> dict[str, list[dict]]:
    return _raw_records(dataset_root("hatexplain"))


@pytest.fixture(scope="module")
def division(dataset_root) -> dict[str, list[str]]:
    return json.loads((dataset_root("hatexplain") / "data/post_id_divisions.json").read_text())


@pytest.fixture(scope="module")
def hatexplain(data_dir: Path) -> dict[str, Dataset]:
    loader = get_loader("hatexplain", data_dir)
    return {split: loader.load_split(split) for split in SPLITS}


def test_pool_of_labelled_posts_matches_readme(raw: dict[str, list[dict]]) -> None:
    assert len(raw) == 11
    labels = {r["annotation_id"]: r["classification"] for rs in raw.values() for r in rs}
    assert len(labels) == 9360
    assert sum(v == "toxic" for v in labels.values()) == 5578


def test_official_validation_and_test(hatexplain: dict[str, Dataset], division) -> None:
    for split, key, toxic, non_toxic in (
        ("validation", "val", 1141, 781),
        ("test", "test", 1142, 782),
    ):
        data = hatexplain[split]
        assert data.labels == ("non-toxic", "toxic")
        assert [ex.id for ex in data] == division[key]
        labels = [ex.label for ex in data]
        assert (labels.count("toxic"), labels.count("non-toxic")) == (toxic, non_toxic)
        assert all(f"data/{key}_split3.json" in ex.metadata["sources"] for ex in data)


def test_train_is_the_labelled_part_of_official_train(
    hatexplain: dict[str, Dataset], raw: dict[str, list[dict]], division
) -> None:
    labelled = {r["annotation_id"] for rs in raw.values() for r in rs}
    expected = [post for post in division["train"] if post in labelled]
    assert [ex.id for ex in hatexplain["train"]] == expected
    assert len(expected) == 9360 - 1922 - 1924 == 5514
    ids = [ex.id for split in SPLITS for ex in hatexplain[split]]
    assert len(set(ids)) == len(ids) == 9360


def test_evidence_follows_the_records(
    hatexplain: dict[str, Dataset], raw: dict[str, list[dict]], dataset_root
) -> None:
    records = {r["annotation_id"]: r for rs in raw.values() for r in rs}
    for split in SPLITS:
        for ex in hatexplain[split]:
            record = records[ex.id]
            assert ex.label == record["classification"]
            assert ex.has_rationale == (ex.label == "toxic")
            if ex.label == "non-toxic":
                assert ex.evidence == ((),) and ex.is_annotated
            covered = [
                " ".join(ex.document.tokens[ev.span.start : ev.span.end])
                for group in ex.evidence
                for ev in group
            ]
            assert covered == [ev["text"] for group in record["evidences"] for ev in group]
    sample = hatexplain["test"][0]
    doc_file = dataset_root("hatexplain") / "docs" / sample.id
    assert sample.document.tokens == tuple(doc_file.read_text("utf-8").split(" "))


@pytest.mark.parametrize(
    ("split", "avg_tokens", "rationale_tokens", "spans"),
    [("validation", 23.46, 9.26, 1.50), ("test", 23.14, 8.90, 1.49)],
)
def test_statistics_match_readme_split3_rows(
    hatexplain: dict[str, Dataset], split: str, avg_tokens, rationale_tokens, spans
) -> None:
    data = hatexplain[split]
    toxic = data.annotated()
    assert np.mean([len(ex.document) for ex in data]) == pytest.approx(avg_tokens, abs=0.005)
    assert np.mean([ex.rationale_mask().sum() for ex in toxic]) == pytest.approx(
        rationale_tokens, abs=0.005
    )
    assert np.mean([len(ex.evidence[0]) for ex in toxic]) == pytest.approx(spans, abs=0.005)


def _mini_folder(root: Path, val: list[dict], test: list[dict], division: dict) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "data").mkdir()
    for post in ("p1", "p2", "p3"):
        (root / "docs" / post).write_text(" ".join(WORDS))
    (root / "val.jsonl").write_text("\n".join(json.dumps(r) for r in val))
    (root / "data" / "test_split3.json").write_text(json.dumps(test))
    (root / "data" / "post_id_divisions.json").write_text(json.dumps(division))
    return root


WORDS = ["you", "are", "all", "awful", "people"]


def _post(post: str, label: str, start: int = 3) -> dict:
    evidence = {
        "docid": post,
        "start_token": start,
        "end_token": 4,
        "start_sentence": -1,
        "end_sentence": -1,
        "text": " ".join(WORDS[start:4]),
    }
    return {
        "annotation_id": post,
        "classification": label,
        "evidences": [[] if label == "non-toxic" else [evidence]],
        "query": "What is the class?",
        "query_type": None,
    }


DIVISION = {"train": ["p3"], "val": ["p1"], "test": ["p2"]}


def test_mini_folder_pools_files(tmp_path: Path) -> None:
    root = _mini_folder(
        tmp_path / "hatexplain-eraser",
        [_post("p1", "toxic"), _post("p3", "non-toxic")],
        [_post("p2", "toxic"), _post("p1", "toxic")],
        DIVISION,
    )
    loader = HateXplainLoader(root.parent)
    assert [ex.id for ex in loader.load_split("train")] == ["p3"]
    (validation,) = loader.load_split("validation")
    assert validation.metadata["sources"] == ("val.jsonl", "data/test_split3.json")


def test_conflicting_copies_name_both_files(tmp_path: Path) -> None:
    root = _mini_folder(
        tmp_path / "hatexplain-eraser",
        [_post("p1", "toxic")],
        [_post("p2", "toxic"), _post("p1", "toxic", start=2)],
        DIVISION,
    )
    with pytest.raises(DataFormatError) as excinfo:
        HateXplainLoader(root.parent).load_split("test")
    message = str(excinfo.value)
    assert "test_split3.json, field '[1].annotation_id'" in message
    assert "conflicts with val.jsonl line 1" in message


def test_unlabelled_official_test_post_is_an_error(tmp_path: Path) -> None:
    root = _mini_folder(
        tmp_path / "hatexplain-eraser", [_post("p1", "toxic")], [_post("p3", "toxic")], DIVISION
    )
    with pytest.raises(DataFormatError, match=r"post_id_divisions\.json, field 'test': 1 "):
        HateXplainLoader(root.parent).load_split("test")


def test_bad_records_name_file_and_field(tmp_path: Path) -> None:
    bad = _post("p2", "toxic")
    bad["evidences"][0][0]["end_token"] = 9
    root = _mini_folder(tmp_path / "hatexplain-eraser", [_post("p1", "hateful")], [bad], DIVISION)
    with pytest.raises(DataFormatError) as excinfo:
        HateXplainLoader(root.parent).load_split("validation")
    assert "val.jsonl, line 1, field 'classification': unknown label 'hateful'" in str(
        excinfo.value
    )
    with pytest.raises(DataFormatError) as excinfo:
        HateXplainLoader(root.parent).load_split("test")
    assert "test_split3.json, field '[0].evidences[0][0].end_token'" in str(excinfo.value)
    (root / "data" / "test_split3.json").write_text('[{"annotation_id": "p2", ')
    with pytest.raises(DataFormatError, match=r"test_split3\.json: not valid JSON"):
        HateXplainLoader(root.parent).load_split("test")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="hatexplain-eraser"):
        HateXplainLoader(tmp_path).load_split("test")


@pytest.mark.parametrize(
    ("division", "expected"),
    [
        ({"train": ["p3"], "val": ["p1"], "test": ["p2", "p1"]}, r"field 'test': post 'p1' is "),
        ({"train": [], "val": ["p1"], "test": ["p2"]}, r"1 labelled posts are in no list"),
        ({"train": ["p3"], "val": "p1", "test": ["p2"]}, r"field 'val': Input should be"),
    ],
    ids=["listed-twice", "unplaced-post", "not-a-list"],
)
def test_bad_division_file(tmp_path: Path, division: dict, expected: str) -> None:
    root = _mini_folder(
        tmp_path / "hatexplain-eraser",
        [_post("p1", "toxic"), _post("p3", "non-toxic")],
        [_post("p2", "toxic")],
        division,
    )
    with pytest.raises(DataFormatError, match=r"post_id_divisions\.json.*" + expected):
        HateXplainLoader(root.parent).load_split("test")
