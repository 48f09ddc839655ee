"""A small trained rationalizer to serve, and a client of the app serving it (no socket)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.serve.tiny_run import train_tiny_run

from rationalizer.serve import create_app


@pytest.fixture(scope="session")
def served_run(tmp_path_factory) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("serve") / "synthetic-semi")


@pytest.fixture(scope="module")
def client(served_run) -> Iterator[TestClient]:
    with TestClient(create_app(served_run)) as client:
        yield client
