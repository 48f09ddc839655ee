"""A small trained rationalizer to serve, and clients of the app serving it (no socket)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.serve.tiny_run import train_tiny_run

from rationalizer.serve import WorkerSettings, create_app
from rationalizer.serve.schemas import ExplainResponse

#: The models on a thread of the test process: for tests about the API rather than the workers.
IN_PROCESS = WorkerSettings(workers=0)


@pytest.fixture(scope="session")
def served_run(tmp_path_factory) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("serve") / "synthetic-semi")


@contextmanager
def loopback_server(app: FastAPI) -> Iterator[str]:
    """``app`` under a real uvicorn server on a free loopback port, in a thread; yields its URL."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def client(served_run) -> Iterator[TestClient]:
    """The app as `rationalizer serve` starts it by default: one worker process, batching."""
    with TestClient(create_app(served_run)) as client:
        yield client


def assert_same_answer(got: ExplainResponse, alone: ExplainResponse) -> None:
    """``got`` says what ``alone`` says: words, labels and rationales exactly, numbers to float32
    rounding (a batch runs other kernels than a single text, so the last bit may differ), and
    an explanation's timing aside."""
    got_fields, got_numbers = _fields_and_numbers(got)
    alone_fields, alone_numbers = _fields_and_numbers(alone)
    assert got_fields == alone_fields
    assert got_numbers == pytest.approx(alone_numbers, abs=1e-6)


def _fields_and_numbers(answer: ExplainResponse) -> tuple[dict, list[float]]:
    """The answer's fields with its probabilities and scores (its explanation's too) apart."""
    fields = answer.model_dump()
    explanation = fields["explanation"]
    numbers: list[float] = []
    for part in [fields] + ([explanation] if explanation else []):
        probabilities = part.pop("probabilities")
        part["labels"] = list(probabilities)
        numbers += [*probabilities.values(), *part.pop("scores")]
    if explanation:
        explanation.pop("seconds")
    return fields, numbers
