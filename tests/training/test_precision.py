"""Mixed precision: which dtype a setting resolves to, and that autocast really applies it."""

from __future__ import annotations

import pytest
import torch

from rationalizer.training.config import TrainConfig
from rationalizer.training.precision import autocast, autocast_dtype, bf16_is_fast


@pytest.mark.parametrize("encoder_kind", ["gru", "transformer"])
def test_explicit_precision_is_obeyed(encoder_kind):
    assert autocast_dtype("fp32", "cpu", encoder_kind) is None
    assert autocast_dtype("bf16", "cpu", encoder_kind) is torch.bfloat16


def test_auto_keeps_a_gru_in_float32_and_follows_the_hardware_for_transformers():
    assert autocast_dtype("auto", "cpu", "gru") is None
    expected = torch.bfloat16 if bf16_is_fast(torch.device("cpu")) else None
    assert autocast_dtype("auto", "cpu", "transformer") is expected


def test_autocast_runs_matrix_products_in_the_chosen_dtype():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(torch.bfloat16, "cpu"):
        assert (a @ b).dtype is torch.bfloat16
    with autocast(None, "cpu"):
        assert (a @ b).dtype is torch.float32


def test_the_summary_records_what_auto_resolved_to():
    config = TrainConfig(encoder="minilm")
    (filled,) = [o for o in config.filled_defaults() if o.setting == "precision"]
    assert filled.requested == "auto"
    assert filled.used == ("bf16" if bf16_is_fast(torch.device("cpu")) else "fp32")
    assert config.effective(config.filled_defaults())["precision"] == filled.used
