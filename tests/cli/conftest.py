"""Fixtures of the CLI tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.tiny_runs import TINY_SETTINGS

#: :data:`TINY_SETTINGS` as a config file, for ``rationalizer train --config``.
TINY_TOML = "".join(f"{name} = {json.dumps(value)}\n" for name, value in TINY_SETTINGS.items())


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run_dir(tiny_run) -> Path:
    """A run of :data:`TINY_SETTINGS`, for commands that read one (predict, explain) and
    leave it as it is."""
    return tiny_run()
