"""Greedy rationales of a small GPT-2 trained by the test on movie review sentences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rationalizer.data import load
from rationalizer.errors import RationalizerError
from rationalizer.explain.causal_lm import TokenRationale, greedy_lm_rationales, load_causal_lm

TRAINING_STEPS = 150


@pytest.fixture(scope="module")
def movie_sentences() -> list[list[str]]:
    """The first sentences of a movie review, as words."""
    review = load("movies", "train")[0].document.tokens
    sentences, current = [], []
    for word in review:
        current.append(word)
        if word in (".", "!", "?"):
            sentences.append(current)
            current = []
    return [sentence for sentence in sentences if len(sentence) >= 6][:4]


@pytest.fixture(scope="module")
def language_model(movie_sentences):
    """A 2-layer GPT-2 with a word vocabulary, trained to memorise ``movie_sentences``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    vocabulary = sorted({word for sentence in movie_sentences for word in sentence})
    index = {word: i for i, word in enumerate(vocabulary)}
    length = max(map(len, movie_sentences))
    config = GPT2Config(
        vocab_size=len(vocabulary), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    ids = torch.zeros((len(movie_sentences), length), dtype=torch.long)
    labels = torch.full_like(ids, -100)  # padding positions are not learnt
    for row, sentence in enumerate(movie_sentences):
        ids[row, : len(sentence)] = torch.tensor([index[word] for word in sentence])
        labels[row, : len(sentence)] = ids[row, : len(sentence)]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(TRAINING_STEPS):
        optimizer.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
    model.eval()
    return model, [np.array([index[w] for w in sentence]) for sentence in movie_sentences]


def prediction_from(model, ids: np.ndarray, positions: tuple[int, ...]) -> int:
    """The model's top next token after reading only ``positions`` of ``ids`` (in place)."""
    chosen = torch.tensor([sorted(positions)])
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor(ids)[chosen], position_ids=chosen).logits
    return int(logits[0, -1].argmax())


def test_rationales_are_sufficient_start_at_the_previous_token_and_look_back(language_model):
    model, sentences = language_model
    ids = sentences[0]
    rationales = greedy_lm_rationales(model, ids)
    assert [r.target for r in rationales] == list(range(1, len(ids) + 1))
    for rationale in rationales:
        t = rationale.target
        assert rationale.order[0] == t - 1
        assert all(0 <= p < t for p in rationale.order)
        assert len(set(rationale.order)) == len(rationale.order)
        full = prediction_from(model, ids, tuple(range(t)))
        assert rationale.predicted_token == full
        assert rationale.sufficient
        assert prediction_from(model, ids, rationale.positions) == full
        # the stopping rule: every shorter prefix of the selection order predicts otherwise
        for size in range(1, len(rationale.order)):
            assert prediction_from(model, ids, rationale.order[:size]) != full
    # memorised sentences repeat words followed by different ones: some need more context
    assert any(len(r.order) > 1 for r in rationales)


def test_targets_batches_and_max_steps(language_model):
    model, sentences = language_model
    ids = sentences[0]
    every = greedy_lm_rationales(model, ids)
    assert greedy_lm_rationales(model, ids, batch_size=3) == every
    longest = max(every, key=lambda r: len(r.order))
    assert greedy_lm_rationales(model, ids, [longest.target]) == [longest]
    capped = greedy_lm_rationales(model, ids, max_steps=1)
    for full, short in zip(every, capped, strict=True):
        assert short.order == full.order[:2]
        assert short.sufficient == (len(full.order) <= 2)


def test_a_saved_model_loads_from_its_folder(language_model, tmp_path):
    model, sentences = language_model
    model.save_pretrained(tmp_path)
    ids = sentences[2][:6]
    assert greedy_lm_rationales(tmp_path, ids) == greedy_lm_rationales(model, ids)
    with pytest.raises(RationalizerError, match="cannot load a causal language model"):
        load_causal_lm(tmp_path / "missing")


def test_the_models_mode_is_restored(language_model):
    model, sentences = language_model
    model.train()
    try:
        greedy_lm_rationales(model, sentences[0][:4], [3])
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize(
    ("ids", "targets", "message"),
    [
        ([], None, "non-empty"),
        ([[1, 2]], None, "one non-empty sequence"),
        ([1, 2], [0], "outside 1..2"),
        ([1, 2], [3], "outside 1..2"),
        ([1, 10_000], None, "token ids must be in"),
        ([1] * 65, None, "65 tokens exceed the model's 64 positions"),
    ],
)
def test_bad_inputs_are_refused_clearly(language_model, ids, targets, message):
    model, _ = language_model
    with pytest.raises(RationalizerError, match=message):
        greedy_lm_rationales(model, ids, targets)


def test_a_model_without_position_ids_is_refused():
    class NoPositions(torch.nn.Module):
        def forward(self, input_ids):
            return input_ids

    with pytest.raises(RationalizerError, match="takes no position_ids"):
        greedy_lm_rationales(NoPositions(), [1, 2])


def test_positions_are_the_order_sorted():
    rationale = TokenRationale(target=5, predicted_token=3, order=(4, 1, 2), sufficient=True)
    assert rationale.positions == (1, 2, 4)
