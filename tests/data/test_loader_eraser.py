"""The generic ERASER reader (``eraser:PATH``): small hand-written folders, real FEVER files,
and one malformed input per check, each reported with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rationalizer.data.eraser import EraserLoader
from rationalizer.data.example import Evidence, Span
from rationalizer.data.registry import get_loader, load
from rationalizer.errors import DataFormatError, DatasetNotFoundError

DOCS = {
    "d1": "the plot is thin .\nbut the acting is superb !",
    "d2": "a dull , lifeless film",
}


def _evidence(docid: str, start: int, end: int, text: str, sentences=(-1, -1)) -> dict:
    return {
        "docid": docid,
        "start_token": start,
        "end_token": end,
        "start_sentence": sentences[0],
        "end_sentence": sentences[1],
        "text": text,
    }


def _record(annotation_id: str, label: str, evidences: list, **extra) -> dict:
    return {
        "annotation_id": annotation_id,
        "classification": label,
        "evidences": evidences,
        "query": "What is the sentiment?",
        "query_type": None,
        **extra,
    }


GOOD = {
    "train.jsonl": [
        _record("a1", "pos", [[_evidence("d1", 9, 10, "superb", (1, 2))]], docids=["d1"]),
        _record("a2", "neg", [[_evidence("d2", 1, 4, "dull , lifeless")]]),
    ],
    "val.jsonl": [_record("a3", "zzz", [[]], docids=["d2"])],
}


def _write_folder(root: Path, files: dict[str, list], docs: dict[str, str] = DOCS) -> Path:
    (root / "docs").mkdir(parents=True)
    for docid, text in docs.items():
        (root / "docs" / docid).write_text(text, encoding="utf-8")
    for name, records in files.items():
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_reads_documents_sentences_and_evidence(tmp_path: Path) -> None:
    root = _write_folder(tmp_path / "set", GOOD)
    loader = get_loader(f"eraser:{root}")
    train = loader.load_split("train")
    assert train.name == f"eraser:{root}"
    assert train.labels == ("neg", "pos", "zzz")  # sorted over every split file present
    first, second = train
    assert " ".join(first.document.tokens) == "the plot is thin . but the acting is superb !"
    assert len(first.document) == 11
    assert first.document.sentence_starts == (0, 5)
    assert first.evidence == ((Evidence("d1", Span(9, 10)),),)
    assert first.query == "What is the sentiment?"
    assert first.metadata["source"] == "train.jsonl" and first.metadata["line"] == 1
    # without "docids", the document comes from the evidence
    assert second.docids == ("d2",) and second.rationale_mask().tolist() == [0, 1, 1, 1, 0]
    validation = loader.load_split("validation")
    assert validation[0].evidence == ((),) and not validation[0].has_rationale
    with pytest.raises(DatasetNotFoundError, match=r"test\.jsonl"):
        loader.load_split("test")


def test_reads_docs_jsonl_and_path_under_data_dir(tmp_path: Path) -> None:
    root = tmp_path / "data" / "set"
    root.mkdir(parents=True)
    (root / "docs.jsonl").write_text(
        "\n".join(json.dumps({"docid": d, "document": t}) for d, t in DOCS.items()) + "\n"
    )
    (root / "train.jsonl").write_text("\n".join(json.dumps(r) for r in GOOD["train.jsonl"]))
    train = load("eraser:set", "train", data_dir=tmp_path / "data")
    assert [len(ex.document) for ex in train] == [11, 5]


def test_matches_fever_loader_on_real_files(data_dir: Path) -> None:
    generic = load("eraser:fever-eraser", "test", data_dir)
    fever = load("fever", "test", data_dir)
    assert generic.labels == fever.labels
    assert generic.examples == fever.examples


def test_real_evidence_text_equals_covered_tokens(data_dir: Path, dataset_root) -> None:
    data = load("eraser:hatexplain-eraser", "test", data_dir)  # root test.jsonl (split 1)
    raw = [json.loads(line) for line in (dataset_root("hatexplain") / "test.jsonl").open()]
    assert len(data) == len(raw) == 1922
    for ex, record in zip(data, raw, strict=True):
        texts = [ev["text"] for group in record["evidences"] for ev in group]
        covered = [
            " ".join(ex.doc(ev.docid).tokens[ev.span.start : ev.span.end])
            for group in ex.evidence
            for ev in group
        ]
        assert covered == texts


def test_missing_folder_and_missing_docs(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="nowhere"):
        get_loader("eraser:nowhere", tmp_path).load_split("train")
    (tmp_path / "bare").mkdir()
    with pytest.raises(DatasetNotFoundError, match="docs"):
        EraserLoader(tmp_path, "bare").load_split("train")


def _bad_evidence(**changes) -> str:
    evidence = {**_evidence("d1", 9, 10, "superb", (1, 2)), **changes}
    return json.dumps(_record("x", "pos", [[evidence]], docids=["d1"]))


MALFORMED = {
    "truncated-json": (_bad_evidence()[:40], None),
    "span-out-of-range": (_bad_evidence(end_token=12), "evidences[0][0].end_token"),
    "negative-start": (_bad_evidence(start_token=-1), "evidences[0][0].start_token"),
    "text-mismatch": (_bad_evidence(text="superb!"), "evidences[0][0].text"),
    "sentence-out-of-range": (_bad_evidence(end_sentence=3), "evidences[0][0].start_sentence"),
    "unknown-docid": (_bad_evidence(docid="d9"), "evidences[0][0].docid"),
    "path-as-docid": (
        json.dumps(_record("x", "pos", [[]], docids=["../train.jsonl"])),
        "docids[0]",
    ),
    "empty-document": (json.dumps(_record("x", "pos", [[]], docids=["blank"])), "docids[0]"),
    "evidence-outside-docids": (
        json.dumps(_record("x", "pos", [[_evidence("d2", 0, 1, "a")]], docids=["d1"])),
        "evidences[0][0].docid",
    ),
    "missing-label": (
        json.dumps({k: v for k, v in _record("x", "pos", [[]]).items() if k != "classification"}),
        "classification",
    ),
    "wrong-type": (_bad_evidence(start_token="9"), "evidences[0][0].start_token"),
    "unknown-field": (json.dumps(_record("x", "pos", [[]], evidence=[])), "evidence"),
    "duplicate-id": (json.dumps(_record("a1", "pos", [[]], docids=["d1"])), "annotation_id"),
}


@pytest.mark.parametrize(("line", "field"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_record_names_file_line_and_field(
    tmp_path: Path, line: str, field: str | None
) -> None:
    docs = {**DOCS, "blank": " \n"}
    records = [*GOOD["train.jsonl"], line]  # the bad record is on line 3
    root = _write_folder(tmp_path / "set", {"train.jsonl": records}, docs)
    with pytest.raises(DataFormatError) as excinfo:
        EraserLoader(tmp_path, "set").load_split("train")
    where = "train.jsonl, line 3" + (f", field '{field}'" if field else ": not valid JSON")
    assert where in str(excinfo.value)
    assert str(root) in str(excinfo.value)


def test_empty_document_error_names_the_document(tmp_path: Path) -> None:
    _write_folder(tmp_path / "set", {"train.jsonl": GOOD["train.jsonl"]}, {**DOCS, "d2": ""})
    with pytest.raises(DataFormatError, match="document 'd2' is empty") as excinfo:
        EraserLoader(tmp_path, "set").load_split("train")
    assert "train.jsonl, line 2, field 'evidences[0][0].docid'" in str(excinfo.value)


def test_docs_jsonl_errors_name_line_and_field(tmp_path: Path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    docs = [{"docid": "d1", "document": DOCS["d1"]}, {"docid": "d1", "document": "again"}]
    (root / "docs.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (root / "train.jsonl").write_text(json.dumps(GOOD["train.jsonl"][0]))
    with pytest.raises(DataFormatError) as excinfo:
        EraserLoader(tmp_path, "set").load_split("train")
    assert "docs.jsonl, line 2, field 'docid': duplicate docid 'd1'" in str(excinfo.value)
