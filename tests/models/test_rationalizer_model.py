"""The full model: configuration, encoder sharing, pooling, masking, training, reproducibility."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.models import ModelConfig, RationalizerModel, RationalizerOutput
from rationalizer.models.rationalizer import batch_rows


def _gru_parameter_counts(config: ModelConfig) -> dict[str, int]:
    """Parameter counts of the parts of a GRU model, from the layer definitions."""
    d, h, c = config.embedding_dim, config.hidden_size, config.num_labels
    # Per direction: input weights (3h, d), recurrent weights (3h, h), two biases of 3h.
    gru = 2 * (3 * h * d + 3 * h * h + 2 * 3 * h)
    return {
        "embedding": config.vocab_size * d,
        "gru": gru,
        "selector_head": 2 * h * 2 + 2,
        "predictor_head": 2 * h * c + c,
    }


def _ids(module: torch.nn.Module | None) -> set[int]:
    return set() if module is None else {id(p) for p in module.parameters()}


# --- configuration ---------------------------------------------------------------------------


def test_config_round_trips_through_json(gru_config):
    config = dataclasses.replace(gru_config, shared_encoder=False, virtual_encoder=True)
    assert ModelConfig(**json.loads(json.dumps(dataclasses.asdict(config)))) == config


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"encoder": "lstm"}, UnknownNameError, "gru, transformer"),
        ({"num_labels": 1}, RationalizerError, "num_labels"),
        ({"dropout": 1.0}, RationalizerError, "dropout"),
        ({"vocab_size": 0}, RationalizerError, "vocab_size"),
        ({"encoder": "transformer"}, RationalizerError, "transformer_path"),
    ],
)
def test_invalid_configs_are_rejected(gru_config, changes, error, message):
    with pytest.raises(error, match=message):
        dataclasses.replace(gru_config, **changes)


def test_embedding_matrix_must_fit_the_config(gru_config, embedding_matrix):
    with pytest.raises(RationalizerError, match="embedding matrix"):
        RationalizerModel(dataclasses.replace(gru_config, vocab_size=21), embedding_matrix)


# --- encoder sharing and the virtual encoder -----------------------------------------------------


def test_shared_encoder_counts_once(gru_config):
    model = RationalizerModel(gru_config)
    parts = _gru_parameter_counts(gru_config)
    assert model.selector_encoder is None and model.virtual_encoder is None
    assert model.num_parameters() == sum(parts.values())
    # GloVe stays fixed by default: everything but the embedding table trains.
    assert model.num_parameters(trainable_only=True) == sum(parts.values()) - parts["embedding"]
    assert not any(
        key.startswith(("selector_encoder.", "virtual_encoder.")) for key in model.state_dict()
    )


def test_separate_encoders_have_their_own_weights(gru_config, embedding_matrix):
    config = dataclasses.replace(gru_config, shared_encoder=False)
    model = RationalizerModel(config, embedding_matrix)
    parts = _gru_parameter_counts(config)
    encoder = parts["embedding"] + parts["gru"]
    assert model.num_parameters() == sum(parts.values()) + encoder
    assert _ids(model.encoder).isdisjoint(_ids(model.selector_encoder))
    # Both start from the given word vectors.
    for module in (model.encoder, model.selector_encoder):
        assert torch.equal(module.embedding.weight, torch.from_numpy(embedding_matrix))


@pytest.mark.parametrize("shared", [True, False])
def test_selector_gradients_reach_the_right_encoder(gru_config, gru_batch, shared):
    model = RationalizerModel(dataclasses.replace(gru_config, shared_encoder=shared))
    logits, _ = model.select(gru_batch, sample=False)
    logits.sum().backward()
    reached_main = model.encoder.forward_gru.weight_ih_l0.grad is not None
    assert reached_main == shared
    if not shared:
        assert model.selector_encoder.forward_gru.weight_ih_l0.grad.abs().sum() > 0
        # The predictor on a given mask never touches the selector's encoder.
        model.zero_grad(set_to_none=True)
        model.classify(gru_batch, gru_batch["attention_mask"].float()).sum().backward()
        assert model.selector_encoder.forward_gru.weight_ih_l0.grad is None
        assert model.encoder.forward_gru.weight_ih_l0.grad.abs().sum() > 0


def test_virtual_encoder_only_when_configured(gru_config, gru_batch):
    with pytest.raises(RationalizerError, match="no virtual encoder"):
        RationalizerModel(gru_config).virtual_represent(gru_batch)
    config = dataclasses.replace(gru_config, virtual_encoder=True)
    model = RationalizerModel(config)
    parts = _gru_parameter_counts(config)
    assert model.num_parameters() == sum(parts.values()) + parts["embedding"] + parts["gru"]
    assert _ids(model.virtual_encoder).isdisjoint(_ids(model.encoder))
    virtual = model.virtual_represent(gru_batch)
    assert virtual.shape == (3, 2 * config.hidden_size)
    assert model.head(virtual).shape == (3, 2)
    # V's training signal stays in V (and the head reading it).
    F.mse_loss(virtual, torch.zeros_like(virtual)).backward()
    assert model.virtual_encoder.forward_gru.weight_ih_l0.grad.abs().sum() > 0
    assert model.encoder.forward_gru.weight_ih_l0.grad is None


def test_transformer_encoders_start_from_the_same_pretrained_weights(hatexplain_batch):
    torch.manual_seed(0)
    config = ModelConfig(
        encoder="transformer",
        num_labels=2,
        transformer_path="minilm",
        shared_encoder=False,
        virtual_encoder=True,
    )
    model = RationalizerModel.build(config).eval()
    assert _ids(model.encoder).isdisjoint(_ids(model.selector_encoder))
    assert _ids(model.encoder).isdisjoint(_ids(model.virtual_encoder))
    with torch.no_grad():
        full = hatexplain_batch["attention_mask"].float()
        # Pretrained copies: V on the full input matches the predictor encoder on it.
        assert torch.allclose(
            model.virtual_represent(hatexplain_batch),
            model.represent(hatexplain_batch, full),
            atol=1e-5,
        )
        # Perturbing V's first attention layer leaves the predictor's encoder as it was.
        query = model.virtual_encoder.model.encoder.layer[0].attention.self.query.weight
        query.add_(torch.randn_like(query))
        assert not torch.allclose(
            model.virtual_represent(hatexplain_batch),
            model.represent(hatexplain_batch, full),
            atol=1e-3,
        )


def test_transformer_model_rejects_word_vectors(embedding_matrix):
    config = ModelConfig(encoder="transformer", num_labels=2, transformer_path="minilm")
    with pytest.raises(RationalizerError, match="GRU"):
        RationalizerModel(config, embedding_matrix)


# --- pooling and masking -----------------------------------------------------------------------


def test_gru_pooling_is_max_of_mask_weighted_states_over_real_positions(gru_config, gru_batch):
    torch.manual_seed(5)
    model = RationalizerModel(gru_config).eval()
    mask = torch.rand(gru_batch["input_ids"].shape)
    pooled = model.represent(gru_batch, mask)
    keep = mask * gru_batch["attention_mask"]
    hidden = model.encoder(
        gru_batch["input_ids"], gru_batch["attention_mask"], gru_batch["token_type_ids"], keep
    )
    for row, length in enumerate(gru_batch["attention_mask"].sum(-1).tolist()):
        for unit in range(pooled.shape[1]):
            values = [(hidden[row, p, unit] * keep[row, p]).item() for p in range(length)]
            assert pooled[row, unit].item() == pytest.approx(max(values), abs=1e-6)


def test_transformer_pooling_is_the_cls_state(minilm_model, hatexplain_batch):
    mask = hatexplain_batch["attention_mask"].float()
    with torch.no_grad():
        pooled = minilm_model.represent(hatexplain_batch, mask)
        hidden = minilm_model.encoder(
            hatexplain_batch["input_ids"],
            hatexplain_batch["attention_mask"],
            hatexplain_batch["token_type_ids"],
            mask,
        )
    assert torch.equal(pooled, hidden[:, 0])


def _replace_masked_out_tokens(batch: dict[str, torch.Tensor], mask: torch.Tensor, token: int):
    changed = dict(batch)
    changed["input_ids"] = torch.where(mask == 0, token, batch["input_ids"])
    return changed


def test_gru_predictor_cannot_see_unselected_words(gru_config, gru_batch, embedding_matrix):
    torch.manual_seed(6)
    model = RationalizerModel(gru_config, embedding_matrix).eval()
    out = model(gru_batch, sample=False)
    assert 0 < out.mask[gru_batch["selectable"]].sum() < 12  # some words hidden, some not
    other = _replace_masked_out_tokens(gru_batch, out.mask, token=19)
    assert torch.allclose(model.classify(other, out.mask), out.logits, atol=1e-6)
    # The same substitution at *selected* positions does change the prediction.
    visible = _replace_masked_out_tokens(gru_batch, 1 - out.mask, token=19)
    assert not torch.allclose(model.classify(visible, out.mask), out.logits, atol=1e-4)


def test_transformer_predictor_cannot_see_unselected_words(minilm_model, hatexplain_batch):
    mask = hatexplain_batch["attention_mask"].float()
    hidden_words = hatexplain_batch["selectable"] & (torch.arange(mask.shape[1]) % 2 == 0)
    mask[hidden_words] = 0.0
    other = _replace_masked_out_tokens(
        hatexplain_batch, mask, token=2000
    )  # another vocabulary entry
    with torch.no_grad():
        expected = minilm_model.classify(hatexplain_batch, mask)
        assert torch.allclose(minilm_model.classify(other, mask), expected, atol=1e-5)
        full = minilm_model.classify(hatexplain_batch, hatexplain_batch["attention_mask"].float())
    assert not torch.allclose(full, expected, atol=1e-4)


# --- training and reproducibility -------------------------------------------------------------


def _train(model: RationalizerModel, batch, steps: int, lr: float) -> list[float]:
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(batch, sample=True)
        loss = F.cross_entropy(out.logits, batch["labels"])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_tiny_gru_model_overfits_a_batch(gru_config, gru_batch, embedding_matrix):
    torch.manual_seed(7)
    model = RationalizerModel(gru_config, embedding_matrix)
    losses = _train(model, gru_batch, steps=80, lr=0.02)
    assert sum(losses[-5:]) / 5 < 0.2 * losses[0]
    model.eval()
    assert torch.equal(model(gru_batch, sample=False).logits.argmax(-1), gru_batch["labels"])


def test_minilm_model_overfits_a_batch(hatexplain_batch):
    torch.manual_seed(8)
    model = RationalizerModel(
        ModelConfig(encoder="transformer", num_labels=2, transformer_path="minilm")
    )
    losses = _train(model, hatexplain_batch, steps=8, lr=3e-4)
    assert sum(losses[-2:]) / 2 < 0.2 * losses[0]


def test_same_seed_same_model_and_samples(gru_config, gru_batch):
    def run(seed: int) -> tuple[dict[str, torch.Tensor], RationalizerOutput]:
        torch.manual_seed(seed)
        model = RationalizerModel.build(dataclasses.replace(gru_config, shared_encoder=False))
        return model.state_dict(), model.train()(gru_batch, sample=True)

    (weights_a, out_a), (weights_b, out_b) = run(0), run(0)
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    for field in ("selector_logits", "mask", "logits"):
        assert torch.equal(getattr(out_a, field), getattr(out_b, field))
    weights_c, _ = run(1)
    assert not torch.equal(
        weights_a["encoder.forward_gru.weight_ih_l0"], weights_c["encoder.forward_gru.weight_ih_l0"]
    )


@pytest.mark.parametrize("shared", [True, False])
def test_weights_saved_as_safetensors_restore_the_model(
    gru_config, gru_batch, embedding_matrix, tmp_path, shared
):
    """A checkpoint rebuilds the model from its config alone (no word vectors) plus weights."""
    config = dataclasses.replace(gru_config, shared_encoder=shared, virtual_encoder=True)
    torch.manual_seed(9)
    model = RationalizerModel.build(config, embedding_matrix).eval()
    save_file(model.state_dict(), tmp_path / "weights.safetensors")  # refuses shared tensors
    restored = RationalizerModel.build(config)
    restored.load_state_dict(load_file(tmp_path / "weights.safetensors"))
    restored.eval()
    expected, actual = model(gru_batch, sample=False), restored(gru_batch, sample=False)
    assert torch.equal(expected.logits, actual.logits)
    assert torch.equal(expected.mask, actual.mask)
    assert torch.equal(model.virtual_represent(gru_batch), restored.virtual_represent(gru_batch))


def test_an_all_padding_row_selects_nothing_and_pools_to_zero(gru_config, gru_batch):
    """A document with no word (and no query) encodes to no position at all."""
    batch = {key: value.clone() for key, value in gru_batch.items()}
    batch["attention_mask"][2] = 0
    batch["selectable"][2] = False
    batch["input_ids"][2] = 0
    torch.manual_seed(10)
    model = RationalizerModel(gru_config).eval()
    out = model(batch, sample=False)
    assert torch.all(out.mask[2] == 0)
    assert torch.all(model.represent(batch, out.mask)[2] == 0)
    assert torch.isfinite(out.logits).all()
    # The other rows are unaffected by the empty one.
    assert torch.allclose(out.logits[:2], model(gru_batch, sample=False).logits[:2], atol=1e-6)


@pytest.mark.parametrize("shared", [True, False])
def test_full_input_logits_reuse_the_selector_pass_only_when_it_is_the_same(
    gru_config, gru_batch, shared
):
    """A shared GRU encoder's selector pass is the predictor's pass on the whole input, so
    semi-supervised methods need no third pass; separate encoders compute their own."""
    torch.manual_seed(0)
    config = dataclasses.replace(gru_config, shared_encoder=shared, dropout=0.0)
    model = RationalizerModel.build(config)
    out = model(gru_batch, sample=True)
    assert (out.full_input_states is not None) == shared
    separate = model.classify(gru_batch, gru_batch["attention_mask"].float())
    torch.testing.assert_close(model.full_input_logits(gru_batch, out), separate)


def test_batch_rows_keeps_the_chosen_examples_cut_to_their_longest():
    lengths = torch.tensor([3, 6, 2, 5])
    batch = {
        "attention_mask": (torch.arange(6) < lengths[:, None]).long(),
        "input_ids": torch.arange(24).view(4, 6),
        "labels": torch.tensor([0, 1, 0, 1]),
    }
    rows = batch_rows(batch, torch.tensor([True, False, True, False]))
    assert torch.equal(rows["input_ids"], torch.tensor([[0, 1, 2], [12, 13, 14]]))
    assert torch.equal(rows["attention_mask"], torch.tensor([[1, 1, 1], [1, 1, 0]]))
    assert torch.equal(rows["labels"], torch.tensor([0, 0]))
    none = batch_rows(batch, torch.zeros(4, dtype=torch.bool))
    assert none["input_ids"].shape == (0, 0) and none["labels"].shape == (0,)
