"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest

#: Settings for runs that take seconds: a few synthetic examples, a tiny GRU, one epoch.
TINY_TOML = """\
dataset = "synthetic"
method = "semi"
max_train_examples = 48
max_length = 64
hidden_size = 16
batch_size = 16
epochs = 1
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML, encoding="utf-8")
    return path
