"""The three adapter kinds on real text: token-id masking, plain forwards, embeddings, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from rationalizer.data import load
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer, collate
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters import (
    CallableAdapter,
    HFClassifierAdapter,
    RationalizerAdapter,
    load_adapter,
)
from rationalizer.models import ModelConfig, RationalizerModel
from rationalizer.training.config import TrainConfig
from rationalizer.training.inference import Rationalizer

#: a HateXplain post with words that split into several subwords ("retarded", "lol")
HATEXPLAIN_ID = "1252707503441313794_twitter"


@pytest.fixture(scope="module")
def movie():
    return load("movies", "validation")[0]


@pytest.fixture(scope="module")
def post():
    return load("hatexplain", "test").by_id()[HATEXPLAIN_ID]


def all_kept(instance, rows: int = 1) -> np.ndarray:
    return np.ones((rows, instance.num_words), dtype=np.int8)


def with_masking(adapter: HFClassifierAdapter, masking: str) -> HFClassifierAdapter:
    return HFClassifierAdapter(adapter.model, adapter.encoder, masking=masking)


# ---------------------------------------------------------------------------------------------
# Our rationalizer


def test_rationalizer_full_input_is_the_predictor_on_everything(rationalizer_adapter, movie):
    instance = rationalizer_adapter.prepare(movie.document.tokens)
    assert instance.encoding.truncated_words > 0  # a 600-word review, 128 positions
    model = rationalizer_adapter.rationalizer.model
    batch = collate([instance.encoding], rationalizer_adapter.encoder.pad_id)
    batch["selectable"] = batch["word_ids"] >= 0
    with torch.no_grad():
        plain = torch.softmax(model.classify(batch, batch["attention_mask"].float()), -1)
    probabilities = rationalizer_adapter.probabilities(instance, all_kept(instance))
    np.testing.assert_allclose(probabilities[0], plain[0].numpy(), atol=1e-6)


def test_truncated_words_change_nothing(rationalizer_adapter, movie):
    instance = rationalizer_adapter.prepare(movie.document.tokens)
    keep = all_kept(instance, 2)
    keep[1, instance.encoding.num_words :] = 0
    full, without_unseen = rationalizer_adapter.probabilities(instance, keep)
    np.testing.assert_array_equal(full, without_unseen)


def test_rationalizer_embeddings_round_trip_and_zero_baseline(rationalizer_adapter, movie):
    instance = rationalizer_adapter.prepare(movie.document.tokens[:40])
    embeddings = rationalizer_adapter.embeddings(instance)
    assert embeddings.shape == (1, 40, rationalizer_adapter.rationalizer.model.config.embedding_dim)
    logits = rationalizer_adapter.logits_from_embeddings(instance, embeddings.expand(3, -1, -1))
    expected = rationalizer_adapter.probabilities(instance, all_kept(instance))
    np.testing.assert_allclose(
        torch.softmax(logits, -1).detach().numpy(), expected.repeat(3, 0), atol=1e-6
    )
    baseline = rationalizer_adapter.baseline_embeddings(instance)
    assert baseline.shape == embeddings.shape and not baseline.any()  # GRU: removed = zeros


def test_rationalizer_gradients_reach_every_word(rationalizer_adapter, movie):
    instance = rationalizer_adapter.prepare(movie.document.tokens[:30])
    embeddings = rationalizer_adapter.embeddings(instance).requires_grad_()
    logits = rationalizer_adapter.logits_from_embeddings(instance, embeddings)
    logits[0, 1].backward()
    per_position = embeddings.grad[0].norm(dim=-1).numpy()
    per_word = rationalizer_adapter.words_from_positions(instance, per_position)
    assert per_word.shape == (30,) and (per_word > 0).sum() > 0


# ---------------------------------------------------------------------------------------------
# A Hugging Face classifier


def test_hf_full_input_equals_the_plain_forward(hf_adapter, post):
    instance = hf_adapter.prepare(post.document.tokens, post.query)
    tokenizer = hf_adapter.encoder.tokenizer
    plain_inputs = tokenizer(
        post.query.split(),
        list(post.document.tokens),
        is_split_into_words=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        plain = torch.softmax(hf_adapter.model(**plain_inputs).logits, -1)[0].numpy()
    np.testing.assert_array_equal(instance.encoding.input_ids, plain_inputs["input_ids"][0])
    for masking in ("mask", "pad", "delete"):
        adapter = with_masking(hf_adapter, masking)
        probabilities = adapter.probabilities(instance, all_kept(instance))
        np.testing.assert_allclose(probabilities[0], plain, atol=1e-5)


def removed_word(instance) -> tuple[np.ndarray, np.ndarray]:
    """A keep row removing the first document word with several subwords, and its positions."""
    word_ids = instance.encoding.word_ids
    counts = np.bincount(word_ids[word_ids >= 0])
    word = int(np.flatnonzero(counts > 1)[0])
    keep = np.ones(instance.num_words, dtype=np.int8)
    keep[word] = 0
    return keep, np.flatnonzero(word_ids == word)


@pytest.mark.parametrize("masking", ["mask", "pad", "delete"])
def test_hf_masking_modes_on_ids(hf_adapter, post, masking):
    adapter = with_masking(hf_adapter, masking)
    instance = adapter.prepare(post.document.tokens, post.query)
    keep, positions = removed_word(instance)
    ids = instance.encoding.input_ids
    inputs = {k: v[0].numpy() for k, v in adapter.model_inputs([instance], [keep]).items()}
    others = np.setdiff1d(np.arange(len(ids)), positions)
    if masking == "delete":
        np.testing.assert_array_equal(inputs["position_ids"], others)
        np.testing.assert_array_equal(inputs["input_ids"], ids[others])
        np.testing.assert_array_equal(
            inputs["token_type_ids"], instance.encoding.token_type_ids[others]
        )
        assert inputs["attention_mask"].all()
        return
    assert "position_ids" not in inputs
    np.testing.assert_array_equal(inputs["input_ids"][others], ids[others])
    stand_in = adapter.mask_id if masking == "mask" else adapter.encoder.pad_id
    assert (inputs["input_ids"][positions] == stand_in).all()
    np.testing.assert_array_equal(inputs["attention_mask"][positions], int(masking == "mask"))
    assert inputs["attention_mask"][others].all()


def test_hf_delete_pads_ragged_variants(hf_adapter, post):
    adapter = with_masking(hf_adapter, "delete")
    instance = adapter.prepare(post.document.tokens, post.query)
    keep = all_kept(instance, 2)
    keep[1, :5] = 0
    inputs = adapter.model_inputs([instance] * 2, list(keep))
    short = int(inputs["attention_mask"][1].sum())
    assert short == len(instance.encoding) - instance.encoding.words_to_positions(1 - keep[1]).sum()
    assert (inputs["input_ids"][1, short:] == adapter.encoder.pad_id).all()


def test_hf_delete_keeps_positions(hf_adapter, post):
    """Deleting keeps the original position ids: the result equals hiding the word's positions
    from attention (pad), and differs from a deletion that shifts the later words."""
    instance = hf_adapter.prepare(post.document.tokens, post.query)
    keep, _ = removed_word(instance)
    deleted = with_masking(hf_adapter, "delete").probabilities(instance, keep[None])[0]
    padded = with_masking(hf_adapter, "pad").probabilities(instance, keep[None])[0]
    np.testing.assert_allclose(deleted, padded, atol=1e-5)
    inputs = with_masking(hf_adapter, "delete").model_inputs([instance], [keep])
    del inputs["position_ids"]
    with torch.no_grad():
        shifted = torch.softmax(hf_adapter.model(**inputs).logits, -1)[0].numpy()
    assert np.abs(shifted - deleted).max() > 1e-5


def test_hf_embeddings_and_mask_baseline(hf_adapter, post):
    instance = hf_adapter.prepare(post.document.tokens, post.query)
    embeddings = hf_adapter.embeddings(instance)
    logits = hf_adapter.logits_from_embeddings(instance, embeddings)
    np.testing.assert_allclose(
        torch.softmax(logits, -1)[0].detach().numpy(),
        hf_adapter.probabilities(instance, all_kept(instance))[0],
        atol=1e-5,
    )
    # the [MASK] baseline is exactly the input with every document word masked
    baseline = hf_adapter.baseline_embeddings(instance)
    document = hf_adapter.document_positions(instance)
    assert torch.equal(baseline[0, ~document], embeddings[0, ~document])
    masked = hf_adapter.logits_from_embeddings(instance, baseline)
    nothing = np.zeros((1, instance.num_words), dtype=np.int8)
    np.testing.assert_allclose(
        torch.softmax(masked, -1)[0].detach().numpy(),
        hf_adapter.probabilities(instance, nothing)[0],
        atol=1e-5,
    )


def test_hf_pad_baseline_is_the_pad_embedding(hf_adapter, post):
    adapter = with_masking(hf_adapter, "delete")
    instance = adapter.prepare(post.document.tokens, post.query)
    baseline = adapter.baseline_embeddings(instance)[0]
    pad = adapter.model.get_input_embeddings().weight[adapter.encoder.pad_id]
    assert torch.equal(baseline[adapter.document_positions(instance)][0], pad)


def test_batches_split_large_requests(rationalizer_adapter, movie):
    instance = rationalizer_adapter.prepare(movie.document.tokens[:50])
    keep = np.random.default_rng(0).integers(0, 2, size=(7, 50))
    small = RationalizerAdapter(rationalizer_adapter.rationalizer, batch_size=3)
    np.testing.assert_allclose(
        small.probabilities(instance, keep),
        rationalizer_adapter.probabilities(instance, keep),
        atol=1e-6,
    )


@pytest.mark.parametrize("keep", [np.ones((1, 4)), np.ones(5), np.full((1, 5), 2)])
def test_bad_keep_masks_are_refused(rationalizer_adapter, keep):
    instance = rationalizer_adapter.prepare("a b c d e")
    with pytest.raises(RationalizerError, match="keep must"):
        rationalizer_adapter.probabilities(instance, keep)


# ---------------------------------------------------------------------------------------------
# A black box


def test_callable_gets_word_lists_with_words_deleted_or_masked(callable_adapter, post):
    instance = callable_adapter.prepare(post.document.tokens, post.query)
    assert instance.encoding is None
    keep = all_kept(instance, 2)
    keep[1, 0] = 0
    full, without_first = callable_adapter.variants(instance, keep)
    assert full == list(post.document.tokens) and without_first == full[1:]
    np.testing.assert_allclose(
        callable_adapter.probabilities(instance, keep),
        callable_adapter.fn([full, without_first]),
    )
    masking = CallableAdapter(
        callable_adapter.fn, callable_adapter.labels, masking="mask", mask_word="<hidden>"
    )
    assert masking.variants(instance, keep)[1] == ["<hidden>", *full[1:]]


def test_callable_with_queries_gets_them():
    seen = []

    def fn(word_lists, queries):
        seen.extend(queries)
        return np.full((len(word_lists), 2), 0.5)

    adapter = CallableAdapter(fn, ("no", "yes"), takes_queries=True)
    instance = adapter.prepare("the claim is true", query="is it ?")
    adapter.probabilities(instance, all_kept(instance, 2))
    assert seen == ["is it ?", "is it ?"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda n: np.full((n, 3), 1 / 3), r"shape \(\d+, 3\).*expected \(\d+, 2\)"),
        (lambda n: np.full((n + 1, 2), 0.5), "one row per word list"),
        (lambda n: np.full((n, 2), np.nan), "NaN or infinite"),
        (lambda n: np.tile([1.5, -0.5], (n, 1)), "negative"),
        (lambda n: np.full((n, 2), 0.4), "summing to 0.8"),
        (lambda n: "toxic", "returned str, not an array"),
        (lambda n: [object()] * n, "not an array"),
    ],
)
def test_callable_answers_are_validated(answer, message):
    adapter = CallableAdapter(lambda words: answer(len(words)), ("a", "b"), name="my_model")
    instance = adapter.prepare("some words here")
    with pytest.raises(RationalizerError, match=message) as raised:
        adapter.probabilities(instance, all_kept(instance))
    assert "my_model" in str(raised.value)


def test_black_box_refuses_gradient_methods(callable_adapter):
    callable_adapter.check_capability("probabilities", "occlusion")
    with pytest.raises(RationalizerError) as raised:
        callable_adapter.check_capability("gradients", "integrated-gradients")
    message = str(raised.value)
    assert "integrated-gradients needs gradients" in message
    assert "bag_of_words_classifier" in message and "only gives class probabilities" in message
    with pytest.raises(RationalizerError, match="no access to its input embeddings"):
        callable_adapter.embeddings(callable_adapter.prepare("a b"))


def test_callable_construction_errors():
    with pytest.raises(RationalizerError, match="must be callable"):
        CallableAdapter("not a function", ("a", "b"))
    with pytest.raises(RationalizerError, match="distinct labels"):
        CallableAdapter(len, ("a", "a"))
    with pytest.raises(RationalizerError, match="unknown masking"):
        CallableAdapter(len, ("a", "b"), masking="pad")


# ---------------------------------------------------------------------------------------------
# Loading by spec


def test_load_adapter_by_spec(movies_run, hatexplain_classifier_dir, tmp_path):
    assert isinstance(load_adapter(movies_run), RationalizerAdapter)
    hf = load_adapter(f"hf:{hatexplain_classifier_dir}", masking="delete")
    assert isinstance(hf, HFClassifierAdapter) and hf.masking == "delete"
    assert hf.labels == ("non-toxic", "toxic")
    with pytest.raises(RationalizerError, match="write hf:"):
        load_adapter(hatexplain_classifier_dir)
    with pytest.raises(RationalizerError, match="no model at"):
        load_adapter(tmp_path / "missing")
    (tmp_path / "config.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(RationalizerError, match="not a rationalizer run directory"):
        load_adapter(tmp_path)
    with pytest.raises(RationalizerError, match="cannot load a sequence classifier"):
        load_adapter(f"hf:{tmp_path}")


def test_unknown_hf_masking(hf_adapter):
    with pytest.raises(RationalizerError, match="unknown masking 'model'"):
        with_masking(hf_adapter, "model")


def test_empty_inputs_are_refused(hf_adapter):
    with pytest.raises(RationalizerError, match="empty"):
        hf_adapter.prepare_all([""])


def test_prepare_uses_the_models_max_length(hf_adapter, post):
    long_post = replace(post.document, tokens=post.document.tokens * 10)
    instance = hf_adapter.prepare(long_post.tokens, post.query)
    assert hf_adapter.max_length - 5 < len(instance.encoding) <= hf_adapter.max_length
    assert instance.num_words == len(long_post.tokens)


@pytest.fixture(scope="module")
def minilm_rationalizer_adapter() -> RationalizerAdapter:
    """An untrained MiniLM rationalizer: how the adapter hides words does not need training."""
    torch.manual_seed(0)
    config = TrainConfig(dataset="hatexplain", method="fr", encoder="minilm", max_length=64)
    model = RationalizerModel.build(
        ModelConfig(encoder="transformer", num_labels=2, transformer_path="minilm")
    )
    tokenizer = SubwordTokenizer.from_pretrained(minilm_path())
    return RationalizerAdapter(Rationalizer(model, tokenizer, ("non-toxic", "toxic"), config))


def test_transformer_rationalizer_baseline_is_every_word_removed(minilm_rationalizer_adapter, post):
    """The [MASK] baseline through the embeddings is exactly the model removing every word."""
    adapter = minilm_rationalizer_adapter
    instance = adapter.prepare(post.document.tokens, post.query)
    assert instance.encoding.is_query.any()
    embeddings = adapter.embeddings(instance)
    baseline = adapter.baseline_embeddings(instance)
    logits = adapter.logits_from_embeddings(instance, torch.cat([embeddings, baseline]))
    keep = np.stack([np.ones(instance.num_words), np.zeros(instance.num_words)])
    np.testing.assert_allclose(
        torch.softmax(logits, -1).detach().numpy(), adapter.probabilities(instance, keep), atol=1e-5
    )
