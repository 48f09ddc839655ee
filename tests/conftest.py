"""Shared test setup: real data from the shared folder, no model hub, deterministic seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()

os.environ.setdefault("RATIONALIZER_DATA", str(SHARED_DATA))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True, scope="session")
def one_thread_per_process():
    """One torch and one BLAS thread per test process: the suite runs one process per core,
    and small models' many tiny operations (and small least-squares fits) get many times
    slower when two threads share a busy core."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real annotated datasets; every loader test runs on these files."""
    path = Path(os.environ["RATIONALIZER_DATA"])
    if not path.is_dir():
        pytest.fail(f"shared data folder missing: {path} (set RATIONALIZER_DATA)")
    return path
