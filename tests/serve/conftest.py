"""A small trained rationalizer to serve, and clients of the app serving it (no socket)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rationalizer.serve import WorkerSettings, create_app
from rationalizer.serve.schemas import ExplainResponse

#: The models on a thread of the test process: for tests about the API rather than the workers.
IN_PROCESS = WorkerSettings(workers=0)
#: A bound on the wait for a server that hangs in its startup (a hang, not a timing check).
STARTUP_LIMIT_S = 120


@pytest.fixture(scope="session")
def served_run(tiny_run) -> Path:
    """A BiGRU rationalizer trained for one epoch on synthetic reviews (a few seconds)."""
    return tiny_run()


class _Server(uvicorn.Server):
    """A uvicorn server that signals ``done_starting`` once its startup ended (or failed)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.done_starting = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.done_starting.set()


@contextmanager
def loopback_server(app: FastAPI) -> Iterator[str]:
    """``app`` under a real uvicorn server on a free loopback port, in a thread; yields its URL
    once the server listens (an event, not a polling loop)."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_level="warning"))

    def serve() -> None:
        try:
            server.run(sockets=[listening])
        finally:
            server.done_starting.set()  # a server that failed before its startup ends too

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    server.done_starting.wait(STARTUP_LIMIT_S)
    assert server.started, "the server did not start"
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
