"""Mixed precision: which dtype a setting resolves to, and that autocast really applies it."""

from __future__ import annotations

import pytest
import torch

from rationalizer.training.config import TrainConfig
from rationalizer.training.precision import (
    PRECISIONS,
    autocast,
    autocast_dtype,
    bf16_is_fast,
    grad_scaler,
    precision_name,
)


@pytest.mark.parametrize("encoder_kind", ["gru", "transformer"])
def test_explicit_precision_is_obeyed(encoder_kind):
    assert autocast_dtype("fp32", "cpu", encoder_kind) is None
    assert autocast_dtype("bf16", "cpu", encoder_kind) is torch.bfloat16
    assert autocast_dtype("fp16", "cpu", encoder_kind) is torch.float16


def test_each_dtype_has_its_setting_name():
    for name in PRECISIONS[1:]:
        assert precision_name(autocast_dtype(name, "cpu", "gru")) == name


def test_only_float16_scales_the_loss():
    """A disabled scaler leaves the loss and the optimizer step as they are, so fp32 and bf16
    runs take the same code path as fp16 ones and are not changed by it."""
    assert grad_scaler(torch.float16, "cpu").is_enabled()
    for dtype in (None, torch.bfloat16):
        scaler = grad_scaler(dtype, "cpu")
        loss = torch.tensor(2.0)
        assert not scaler.is_enabled() and scaler.scale(loss) is loss


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


@pytest.mark.slow
def test_float16_training_runs_on_cpu_and_checkpoints_its_scaler(tmp_path):
    """The float16 path (autocast and loss scaling) is the one a GPU takes, run on a CPU."""
    from rich.console import Console

    from rationalizer.training.checkpoint import load_checkpoint
    from rationalizer.training.trainer import Trainer

    config = TrainConfig(
        method="semi",
        precision="fp16",
        max_train_examples=24,
        max_length=32,
        hidden_size=8,
        epochs=1,
        batch_size=12,
    )
    Trainer(config, tmp_path / "run", console=Console(quiet=True)).fit()
    scaler = load_checkpoint(tmp_path / "run").resume.scaler
    assert scaler is not None and scaler["scale"] > 0
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert '"precision": "fp16"' in summary
