"""The inputs the fuzzers found that broke a reader, each pinned with the error it now gives."""

from __future__ import annotations

import json

import pytest

from rationalizer.data.eraser import EraserLoader
from rationalizer.data.example import Dataset, Document, Example
from rationalizer.data.jsonl import JsonlLoader
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.results import read_results
from rationalizer.data.tokenization import SubwordTokenizer
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.training.config import TrainConfig


def test_a_line_that_is_not_utf8_is_named_with_its_byte(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b'{"label": "a", "text": "fine"}\n{"label": "a", "text": "caf\xe9"}\n')
    with pytest.raises(DataFormatError) as error:
        JsonlLoader(tmp_path, argument=str(path)).load_split("train")
    assert str(error.value) == f"{path}, line 2: not UTF-8 text (byte 0xE9)"
    path.write_bytes(b"\n\n\xff\n")
    with pytest.raises(DataFormatError, match="line 3: not UTF-8 text"):
        read_results(path)


def test_a_document_file_that_is_not_utf8_is_named(tmp_path):
    root = tmp_path / "eraser"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "d1").write_bytes(b"good\nbad \x80 film\n")
    record = {"annotation_id": "a", "classification": "neg", "evidences": [], "docids": ["d1"]}
    (root / "train.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(DataFormatError) as error:
        EraserLoader(tmp_path, argument="eraser").load_split("train")
    assert error.value.field == "docids[0]" and error.value.line == 1
    assert f"document 'd1' is unusable: {root / 'docs' / 'd1'}, line 2: not UTF-8" in str(
        error.value
    )


def test_a_docid_too_long_for_a_file_name_is_an_unknown_docid(tmp_path):
    root = tmp_path / "eraser"
    (root / "docs").mkdir(parents=True)
    docid = "d" * 300
    record = {"annotation_id": "a", "classification": "neg", "evidences": [], "docids": [docid]}
    (root / "train.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(DataFormatError, match="unknown docid 'ddd") as error:
        EraserLoader(tmp_path, argument="eraser").load_split("train")
    assert (error.value.line, error.value.field) == (1, "docids[0]")


def test_a_key_with_a_line_break_is_quoted_in_the_field(tmp_path):
    path = tmp_path / "results.jsonl"
    record = {"annotation_id": "a", "classification_scores": {"neg\r\n": "high"}}
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataFormatError) as error:
        read_results(path)
    assert error.value.field == "classification_scores['neg\\r\\n']"
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "content", "field", "reason"),
    [
        ("train.toml", b"lr = inf\n", "lr", "finite number"),
        ("train.json", b'{"grad_clip": NaN}', "grad_clip", "finite number"),
        ("train.toml", b'dataset = "caf\xe9"\n', None, "line 1: not UTF-8 text (byte 0xE9)"),
        ("train.json", b"[" * 100_000, None, "invalid JSON: nested too deeply"),
        ("train.toml", b"a = " + b"[" * 5_000, None, "invalid TOML: nested too deeply"),
        ("train.json", b'{"\\r": 1}', "['\\r']", "unknown setting"),
    ],
)
def test_a_config_file_the_fuzzer_broke_is_refused_naming_file_and_setting(
    tmp_path, name, content, field, reason
):
    # infinity and NaN: JSON cannot store them, so the run's stored settings would differ
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as error:
        TrainConfig.from_file(path)
    assert error.value.field == field and error.value.path == str(path)
    assert reason in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_word_with_a_lone_surrogate_is_named_not_a_tokenizer_type_error():
    tokenizer = SubwordTokenizer.from_pretrained(minilm_path())
    with pytest.raises(RationalizerError) as error:
        tokenizer.encode(["a", "b\ud800"])
    assert str(error.value) == (
        "word 1 ('b\\ud800') holds a lone surrogate (U+D800), which is not Unicode text"
    )


@pytest.mark.parametrize("threshold", [float("nan"), 7.0, -0.1])
def test_an_aopc_threshold_outside_0_1_is_refused(tmp_path, threshold):
    scores = {"neg": 0.5, "pos": 0.5}
    record = {
        "annotation_id": "a",
        "classification": "pos",
        "classification_scores": scores,
        "comprehensiveness_classification_scores": scores,
        "sufficiency_classification_scores": scores,
        "thresholded_scores": [
            {
                "threshold": threshold,
                "comprehensiveness_classification_scores": scores,
                "sufficiency_classification_scores": scores,
            }
        ],
    }
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record) + "\n")
    dataset = Dataset(
        "toy", "test", (Example("a", (Document("a", ("ok",)),), "pos"),), ("neg", "pos")
    )
    with pytest.raises(DataFormatError, match=r"expected the fraction of words removed") as error:
        read_results(path, dataset)
    assert (error.value.line, error.value.field) == (1, "thresholded_scores[0].threshold")
