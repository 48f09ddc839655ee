"""A trained run as a Python object: loading, predicting, ERASER records and their faithfulness."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from tests.tiny_runs import MINILM_SETTINGS, spread

from rationalizer import Rationalizer
from rationalizer.data import Dataset, load, spans_to_mask
from rationalizer.data.results import validate_results
from rationalizer.data.tokenization import collate
from rationalizer.errors import RationalizerError
from rationalizer.metrics import evaluate
from rationalizer.metrics.evaluate import DEFAULT_AOPC_THRESHOLDS

TEXTS = [
    "this is a stupid post about nothing",
    "i love my neighbours , they are kind people",
]


@pytest.fixture(scope="module")
def hatexplain_validation() -> Dataset:
    return spread(load("hatexplain", "validation"), 24)


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    """A small FR (unsupervised, shared encoder) BiGRU run on HateXplain; it selects about a
    third of the words (a semi-supervised run this small still selects nothing)."""
    return tiny_run(
        dataset="hatexplain",
        method="fr",
        max_train_examples=64,
        max_length=24,  # shorter than some posts: truncation is part of the test
        epochs=2,
        batch_size=8,
        lr=0.01,
        validation_size=24,
    )


@pytest.fixture(scope="module")
def model(run_dir) -> Rationalizer:
    return Rationalizer.load(run_dir)


@pytest.fixture(scope="module")
def records(model, hatexplain_validation):
    return model.predict_dataset(hatexplain_validation, batch_size=8)


def test_predict_gives_label_probabilities_and_word_spans(model):
    long_text = " ".join(["word"] * 40)  # longer than max_length: the tail is never read
    predictions = model.predict([*TEXTS, long_text.split()])
    assert len(predictions) == 3
    for text, prediction in zip([*TEXTS, long_text], predictions, strict=True):
        words = tuple(text.split())
        assert prediction.words == words
        assert prediction.label in ("non-toxic", "toxic")
        assert prediction.probabilities.keys() == {"non-toxic", "toxic"}
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
        assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
        assert len(prediction.scores) == len(words)
        assert all(0.0 <= s <= 1.0 for s in prediction.scores)
        for span in prediction.rationale:
            assert 0 <= span.start < span.end <= len(words)
        assert prediction.rationale_words == [
            words[i] for span in prediction.rationale for i in span.positions()
        ]
    # a word-level model reads max_length words; the rest is never selected nor scored
    tail = predictions[2]
    assert all(span.end <= 24 for span in tail.rationale)
    assert tail.scores[24:] == (0.0,) * 16


def test_predict_is_deterministic_and_independent_of_batching(model):
    together = model.predict(TEXTS, batch_size=2)
    alone = [model.predict([text])[0] for text in TEXTS]
    for a, b in zip(together, alone, strict=True):
        assert a.rationale == b.rationale and a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)


def test_predict_rejects_an_empty_text(model):
    with pytest.raises(RationalizerError, match="text 1 is empty"):
        model.predict(["fine", "   "])


def test_dataset_records_are_valid_eraser_results(records, hatexplain_validation):
    assert [r.annotation_id for r in records] == [ex.id for ex in hatexplain_validation]
    validate_results(list(enumerate(records, start=1)), hatexplain_validation)
    report = evaluate(hatexplain_validation, records)
    assert 0.0 <= report["token_prf"]["instance_micro"]["f1"] <= 1.0
    scores = report["classification_scores"]
    for key in ("comprehensiveness", "sufficiency", "comprehensiveness_aopc", "sufficiency_aopc"):
        assert math.isfinite(scores[key]), key
    assert tuple(scores["aopc_thresholds"]) == DEFAULT_AOPC_THRESHOLDS


def _encode(model: Rationalizer, example):
    """The example as the model reads it (with its query), as a batch of one."""
    encoding = model.encoder.encode(
        example.document.tokens, query=example.query.split(), max_length=model.config.max_length
    )
    batch = collate([encoding], model.encoder.pad_id)
    batch["selectable"] = batch["word_ids"] >= 0
    return encoding, batch


def _probabilities(model: Rationalizer, batch, keep_words: np.ndarray, encoding) -> np.ndarray:
    """The predictor's distribution reading the kept words plus every non-word position."""
    keep = torch.tensor(encoding.words_to_positions(keep_words), dtype=torch.float32)[None]
    keep = torch.where(batch["selectable"], keep, batch["attention_mask"].float())
    with torch.no_grad():
        return torch.softmax(model.model.classify(batch, keep), -1)[0].numpy()


def _as_array(scores: dict[str, float], labels) -> np.ndarray:
    return np.array([scores[label] for label in labels])


def test_faithfulness_scores_are_the_predictor_on_kept_and_removed_rationales(
    model, records, hatexplain_validation
):
    labels = model.labels
    selected_somewhere = False
    for example, record in zip(hatexplain_validation, records, strict=True):
        encoding, batch = _encode(model, example)
        n = len(example.document)
        with torch.no_grad():
            out = model.model(batch, sample=False)
        # the hard rationale is exactly the selector's argmax on the words the model read
        rationale = spans_to_mask(
            [span.to_span() for span in record.rationales[0].hard_rationale_predictions], n
        )
        argmax = encoding.position_mask_to_words((out.mask[0] * batch["selectable"][0]).numpy())
        assert np.array_equal(rationale, argmax)
        selected_somewhere |= bool(rationale.any())
        full = torch.softmax(out.logits, -1)[0].numpy()
        assert np.allclose(_as_array(record.classification_scores, labels), full, atol=1e-5)
        assert record.classification == labels[int(full.argmax())]
        read = np.zeros(n, dtype=np.int8)
        read[: encoding.num_words] = 1  # truncated words are never in the input
        sufficiency = _probabilities(model, batch, rationale, encoding)
        comprehensiveness = _probabilities(model, batch, read - rationale, encoding)
        assert np.allclose(
            _as_array(record.sufficiency_classification_scores, labels), sufficiency, atol=1e-5
        )
        assert np.allclose(
            _as_array(record.comprehensiveness_classification_scores, labels),
            comprehensiveness,
            atol=1e-5,
        )
        # AOPC at 20%: the top ceil(0.2 n) words read by the soft selector scores
        soft = np.array(record.rationales[0].soft_rationale_predictions)[: encoding.num_words]
        top = np.zeros(n, dtype=np.int8)
        top[np.argsort(-soft, kind="stable")[: math.ceil(0.2 * encoding.num_words)]] = 1
        at_20 = next(t for t in record.thresholded_scores if t.threshold == 0.2)
        assert np.allclose(
            _as_array(at_20.sufficiency_classification_scores, labels),
            _probabilities(model, batch, top, encoding),
            atol=1e-5,
        )
    assert selected_somewhere  # otherwise sufficiency would only ever see an empty input


def test_a_corrupt_or_foreign_checkpoint_is_refused(run_dir, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run_dir, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00 not safetensors")
    with pytest.raises(RationalizerError, match=r"model\.safetensors"):
        Rationalizer.load(corrupt)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"format": "someone-else", "layers": 3}))
    with pytest.raises(RationalizerError, match="not a rationalizer run file"):
        Rationalizer.load(foreign)
    with pytest.raises(RationalizerError, match="does not exist"):
        Rationalizer.load(tmp_path / "nowhere")


def test_a_transformer_rationalizer_trains_saves_loads_and_predicts(tiny_run):
    run = tiny_run(**MINILM_SETTINGS)
    assert not (run / "vocab.json").exists()  # the tokenizer comes with the model
    model = Rationalizer.load(run)
    assert model.model.config.encoder == "transformer"
    predictions = model.predict(TEXTS)
    for text, prediction in zip(TEXTS, predictions, strict=True):
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
        assert all(0 <= s.start < s.end <= len(text.split()) for s in prediction.rationale)
        assert len(prediction.scores) == len(text.split())
