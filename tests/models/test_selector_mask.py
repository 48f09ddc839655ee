"""Mask semantics: which positions the selector decides, how it samples, where gradients go."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rationalizer.models import DROP, SELECT, RationalizerModel, sample_mask


def _forced_and_padding(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    real = batch["attention_mask"].bool()
    return real & ~batch["selectable"], ~real


def _bias_selector(model: RationalizerModel, towards: int) -> None:
    """Make the selector head choose class ``towards`` everywhere with near certainty."""
    with torch.no_grad():
        model.selector_head.linear.weight.zero_()
        model.selector_head.linear.bias.copy_(torch.tensor([-20.0, -20.0]))
        model.selector_head.linear.bias[towards] = 20.0


@pytest.mark.parametrize(
    "sampling",
    [
        {"sample": False},
        {"sample": True},
        {"sample": True, "straight_through": True},
        {"sample": True, "tau": 0.3},
    ],
)
@pytest.mark.parametrize("selector_choice", [DROP, SELECT])
def test_padding_never_selected_and_forced_positions_always_kept(
    gru_config, gru_batch, sampling, selector_choice
):
    """Whatever the selector prefers, padding stays 0 and the query and <sep> stay 1."""
    torch.manual_seed(0)
    model = RationalizerModel(gru_config)
    _bias_selector(model, selector_choice)
    _, mask = model.select(gru_batch, **sampling)
    forced, padding = _forced_and_padding(gru_batch)
    assert forced.sum() == 3 and padding.sum() == 6  # query, query, <sep>; 2 + 4 pads
    assert torch.all(mask[forced] == 1.0)
    assert torch.all(mask[padding] == 0.0)
    # The selectable positions follow the selector's (near-certain) choice.
    assert torch.allclose(
        mask[gru_batch["selectable"]], torch.full((12,), float(selector_choice)), atol=1e-6
    )


def test_query_and_special_tokens_kept_on_real_subword_batch(minilm_model, hatexplain_batch):
    """[CLS], the query and [SEP]s are kept; padding is never selected."""
    with torch.no_grad():
        _, mask = minilm_model.select(hatexplain_batch, sample=False)
    real = hatexplain_batch["attention_mask"].bool()
    document = hatexplain_batch["word_ids"] >= 0
    # Row 0 is "[CLS] is this post toxic [SEP] document [SEP]": 4 query words, 3 special tokens.
    assert int((real[0] & ~document[0]).sum()) == 4 + 3
    assert torch.all(mask[real & ~document] == 1.0)
    assert torch.all(mask[~real] == 0.0)
    assert torch.all(mask[:, 0] == 1.0)  # [CLS], the position the predictor pools


def test_eval_mask_is_the_argmax(gru_config, gru_batch):
    torch.manual_seed(1)
    model = RationalizerModel(gru_config).eval()
    logits, mask = model.select(gru_batch, sample=False)
    selectable = gru_batch["selectable"]
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    expected = (logits[..., SELECT] > logits[..., DROP]).float()
    assert torch.equal(mask[selectable], expected[selectable])
    # Evaluation is deterministic: no sampling noise.
    assert torch.equal(model.select(gru_batch, sample=False)[1], mask)


def test_soft_training_mask_is_fractional_and_random(gru_config, gru_batch):
    torch.manual_seed(2)
    model = RationalizerModel(gru_config).train()
    _, first = model.select(gru_batch, sample=True)
    _, second = model.select(gru_batch, sample=True)
    selectable = gru_batch["selectable"]
    assert torch.all((first[selectable] > 0) & (first[selectable] < 1))
    assert not torch.equal(first[selectable], second[selectable])  # Gumbel noise


def test_predictor_loss_trains_the_selector_through_the_soft_mask(gru_config, gru_batch):
    torch.manual_seed(3)
    model = RationalizerModel(gru_config).train()
    out = model(gru_batch, sample=True)
    out.selector_logits.retain_grad()
    F.cross_entropy(out.logits, gru_batch["labels"]).backward()
    assert model.selector_head.linear.weight.grad.abs().sum() > 0
    # Gradient reaches the selector's decision at selectable positions, and only there.
    per_position = out.selector_logits.grad.abs().sum(-1)
    selectable = gru_batch["selectable"]
    assert torch.all(per_position[selectable] > 0)
    assert torch.all(per_position[~selectable] == 0)


def test_straight_through_mask_is_hard_with_gradients(gru_config, gru_batch):
    torch.manual_seed(4)
    model = RationalizerModel(gru_config).train()
    out = model(gru_batch, sample=True, straight_through=True)
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
    F.cross_entropy(out.logits, gru_batch["labels"]).backward()
    assert model.selector_head.linear.weight.grad.abs().sum() > 0


def test_sample_mask_by_hand():
    """One row: [special, word, word, word, pad] with logits favouring drop, select, select."""
    logits = torch.tensor([[[0.0, 5.0], [3.0, 1.0], [0.0, 2.0], [1.0, 1.5], [0.0, 9.0]]])
    selectable = torch.tensor([[False, True, True, True, False]])
    attention_mask = torch.tensor([[1, 1, 1, 1, 0]])
    mask = sample_mask(logits, selectable, attention_mask, sample=False)
    assert mask.tolist() == [[1.0, 0.0, 1.0, 1.0, 0.0]]


def test_nonpositive_temperature_is_rejected(gru_config, gru_batch):
    model = RationalizerModel(gru_config)
    with pytest.raises(ValueError, match="temperature"):
        model.select(gru_batch, sample=True, tau=0.0)
