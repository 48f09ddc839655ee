"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.cli_helpers import invoke

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


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory) -> Path:
    """A run trained by ``rationalizer train`` with :data:`TINY_TOML`, for commands that read
    one (predict, explain) and leave it as it is."""
    folder = tmp_path_factory.mktemp("tiny-run")
    config = folder / "tiny.toml"
    config.write_text(TINY_TOML, encoding="utf-8")
    invoke("train", "--config", str(config), "--out", str(folder / "run"))
    return folder / "run"
