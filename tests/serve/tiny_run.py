"""The small rationalizer the web-app tests serve (API tests and the browser test)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from rationalizer.training.run import train


def train_tiny_run(out: Path) -> Path:
    """A BiGRU rationalizer trained for one epoch on synthetic reviews (a few seconds)."""
    train(
        out,
        console=Console(file=io.StringIO()),
        dataset="synthetic",
        method="semi",
        max_train_examples=48,
        max_length=64,
        hidden_size=16,
        batch_size=16,
        epochs=1,
    )
    return out
