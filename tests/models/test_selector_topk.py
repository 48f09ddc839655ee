"""Top-k selection: a fixed share of each example's selectable positions, never none."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.models import DROP, SELECT, ModelConfig, RationalizerModel, topk_mask
from rationalizer.models.selector import topk_count


def _bias_selector(model: RationalizerModel, towards: int) -> None:
    """Make the selector head choose class ``towards`` everywhere with near certainty."""
    with torch.no_grad():
        model.selector_head.linear.weight.zero_()
        model.selector_head.linear.bias.copy_(torch.tensor([-20.0, -20.0]))
        model.selector_head.linear.bias[towards] = 20.0


def _rows(lengths: list[int], width: int, forced: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """``selectable`` and ``attention_mask`` (B, width): each row starts with ``forced`` real
    positions the selector does not decide, then document positions, then padding."""
    positions = torch.arange(width)
    real = positions < torch.tensor(lengths).unsqueeze(-1)
    selectable = real & (positions >= forced)
    return selectable, real.long()


@pytest.mark.parametrize(
    ("selectable", "rate", "expected"),
    [
        (10, 0.3, 3),  # 0.3 × 10 is 3.0000000000000004 in floating point: still 3
        (10, 0.25, 3),
        (7, 0.1, 1),
        (3, 0.01, 1),  # at least one
        (4, 1.0, 4),
        (0, 0.5, 0),  # nothing to select
    ],
)
def test_topk_keeps_the_ceiling_of_rate_times_selectable(selectable, rate, expected):
    assert topk_count(torch.tensor([selectable]), rate).item() == expected


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5])
def test_topk_count_refuses_a_rate_outside_0_1(rate):
    with pytest.raises(ValueError, match="rate"):
        topk_count(torch.tensor([10]), rate)


@pytest.mark.parametrize("sample", [False, True])
def test_topk_selects_exactly_k_selectable_positions_and_keeps_forced_ones(sample):
    torch.manual_seed(0)
    selectable, attention = _rows([40, 23, 2, 9], width=40)
    logits = torch.randn(4, 40, 2)
    mask = topk_mask(logits, selectable, attention, rate=0.2, sample=sample)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    n = selectable.sum(-1)
    assert n.tolist() == [38, 21, 0, 7]
    assert (mask * selectable).sum(-1).tolist() == [math.ceil(0.2 * k) for k in n.tolist()]
    real = attention.bool()
    assert torch.all(mask[real & ~selectable] == 1.0)  # forced positions kept
    assert torch.all(mask[~real] == 0.0)  # padding never selected


def test_topk_at_evaluation_is_the_deterministic_top_of_the_logit_difference():
    torch.manual_seed(1)
    selectable, attention = _rows([30, 30], width=30)
    logits = torch.randn(2, 30, 2)
    mask = topk_mask(logits, selectable, attention, rate=0.2, sample=False)
    difference = (logits[..., SELECT] - logits[..., DROP]).masked_fill(~selectable, -math.inf)
    for row in range(2):
        expected = set(difference[row].topk(6).indices.tolist())
        assert set(mask[row].nonzero().flatten().tolist()) - {0, 1} == expected
    assert torch.equal(topk_mask(logits, selectable, attention, rate=0.2, sample=False), mask)


def test_topk_in_training_samples_around_the_scores():
    torch.manual_seed(2)
    selectable, attention = _rows([60], width=60)
    logits = torch.zeros(1, 60, 2)
    logits[0, 2:8, SELECT] = 50.0  # six positions the noise cannot push out of the top k
    masks = [topk_mask(logits, selectable, attention, rate=0.1, sample=True) for _ in range(2)]
    assert torch.all(masks[0][0, 2:8] == 1.0) and torch.all(masks[1][0, 2:8] == 1.0)
    # among equal scores, the Gumbel noise decides
    flat = torch.zeros(1, 60, 2)
    draws = [topk_mask(flat, selectable, attention, rate=0.1, sample=True) for _ in range(2)]
    assert not torch.equal(draws[0], draws[1])
    assert all(int(d[0, 2:].sum()) == 6 for d in draws)


def test_topk_gradients_reach_selectable_logits_only_and_stay_finite():
    torch.manual_seed(3)
    # rows: ordinary, everything selected (k = n), nothing selectable
    selectable, attention = _rows([12, 3, 2], width=12)
    logits = torch.randn(3, 12, 2, requires_grad=True)
    mask = topk_mask(logits, selectable, attention, rate=0.25, sample=True, tau=0.5)
    assert (mask * selectable).sum(-1).tolist() == [3.0, 1.0, 0.0]
    (mask * torch.randn(3, 12)).sum().backward()
    grad = logits.grad.abs().sum(-1)
    assert torch.isfinite(logits.grad).all()
    assert torch.all(grad[0][selectable[0]] > 0)
    assert grad[1][selectable[1]].item() > 0
    assert torch.all(grad[~selectable] == 0)


def _topk_config(config: ModelConfig, rate: float = 0.25) -> ModelConfig:
    return dataclasses.replace(config, selection="topk", selection_rate=rate)


@pytest.mark.parametrize("sample", [False, True])
def test_a_topk_model_selects_even_where_the_selector_prefers_to_drop_everything(
    gru_config, gru_batch, sample
):
    """A thresholded selector that prefers "drop" selects nothing; top-k still selects k."""
    torch.manual_seed(4)
    threshold_model = RationalizerModel(gru_config)
    _bias_selector(threshold_model, DROP)
    _, nothing = threshold_model.select(gru_batch, sample=False)
    selectable = gru_batch["selectable"]
    assert nothing[selectable].sum() == 0
    model = RationalizerModel(_topk_config(gru_config))
    model.load_state_dict(threshold_model.state_dict())
    _, mask = model.select(gru_batch, sample=sample)
    # 4, 5 and 3 selectable words: ceil(0.25 × n) = 1, 2, 1
    assert (mask * selectable).sum(-1).tolist() == [1.0, 2.0, 1.0]
    real = gru_batch["attention_mask"].bool()
    assert torch.all(mask[real & ~selectable] == 1.0)
    assert torch.all(mask[~real] == 0.0)


def test_the_predictor_loss_trains_a_topk_selector(gru_config, gru_batch):
    torch.manual_seed(5)
    model = RationalizerModel(_topk_config(gru_config)).train()
    out = model(gru_batch, sample=True)
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}  # hard masks in training too
    out.selector_logits.retain_grad()
    F.cross_entropy(out.logits, gru_batch["labels"]).backward()
    assert model.selector_head.linear.weight.grad.abs().sum() > 0
    per_position = out.selector_logits.grad.abs().sum(-1)
    selectable = gru_batch["selectable"]
    assert torch.all(per_position[~selectable] == 0)
    assert per_position[selectable].sum() > 0


def test_topk_evaluation_is_deterministic(gru_config, gru_batch):
    torch.manual_seed(6)
    model = RationalizerModel(_topk_config(gru_config, 0.5)).eval()
    first = model(gru_batch, sample=False).mask
    assert torch.equal(model(gru_batch, sample=False).mask, first)


def test_model_config_checks_the_selection(gru_config):
    with pytest.raises(UnknownNameError):
        dataclasses.replace(gru_config, selection="sparsemax")
    with pytest.raises(RationalizerError, match="needs a selection_rate"):
        dataclasses.replace(gru_config, selection="topk")
    for rate in (0.0, 1.5):
        with pytest.raises(RationalizerError, match="selection_rate"):
            dataclasses.replace(gru_config, selection="topk", selection_rate=rate)
    assert _topk_config(gru_config).selection_rate == 0.25


def test_a_model_config_saved_before_selection_existed_loads_as_threshold(gru_config):
    stored = dataclasses.asdict(gru_config)
    del stored["selection"], stored["selection_rate"]
    loaded = ModelConfig(**stored)
    assert loaded.selection == "threshold" and loaded.selection_rate is None
