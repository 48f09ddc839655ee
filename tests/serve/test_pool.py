"""Model workers and dynamic batching: batched answers equal lone ones, and a dying worker is
reported (503, a log line) instead of hanging the requests.

The worker tests run real processes; none waits on the clock for correctness: batches close
on their size, and deaths are awaited through the worker's ``ended`` event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from tests.serve.conftest import assert_same_answer

from rationalizer.errors import RationalizerError
from rationalizer.serve import WorkerSettings, create_app
from rationalizer.serve.pool import start_workers
from rationalizer.serve.schemas import ExplainRequest, ExplainResponse
from rationalizer.serve.service import ExplainService, Refusal

SHORT = "a wonderful film"
#: longer than the tiny run's 64 positions: truncated, and padding for every other text
LONG = " ".join(["the plot is thin , but the cast is wonderful and the ending moving ."] * 8)
REQUESTS = [
    ExplainRequest(text=SHORT),
    ExplainRequest(text=LONG, method="occlusion"),
    ExplainRequest(text="dull , dull , dull", method="occlusion", target="pos"),
    ExplainRequest(text="a moving film though the ending felt dull", method="greedy"),
]


@pytest.fixture(scope="module")
def service(served_run) -> ExplainService:
    return ExplainService.load(served_run)


@pytest.fixture(scope="module")
def alone(service) -> list[ExplainResponse]:
    """What each request gets when it is the only one."""
    return [service.run_batch([request])[0] for request in REQUESTS]


def post_together(client: TestClient, requests: list[ExplainRequest]) -> list[ExplainResponse]:
    """Send ``requests`` at once, each from its own thread; their answers, in order."""

    def post(request: ExplainRequest) -> ExplainResponse:
        response = client.post("/api/explain", json=request.model_dump(exclude_none=True))
        assert response.status_code == 200, response.text
        return ExplainResponse.model_validate(response.json())

    with ThreadPoolExecutor(len(requests)) as threads:
        return list(threads.map(post, requests))


# ---------------------------------------------------------------------------------------------
# batching


def test_queued_requests_run_in_batches_and_answer_as_if_alone(served_run, alone, monkeypatch):
    # no waiting for more requests: what is queued when the worker is free is the batch
    pool = start_workers(
        served_run, None, WorkerSettings(workers=0, max_batch_size=3, batch_timeout_ms=0)
    )
    service = pool.workers[0].service
    run_batch, batches = service.run_batch, []

    def recorded(requests):
        batches.append([REQUESTS.index(request) for request in requests])
        return run_batch(requests)

    monkeypatch.setattr(service, "run_batch", recorded)

    async def all_at_once() -> list:
        await pool.start()
        # every submit queues its request before the dispatcher wakes: the first batch is full
        outcomes = await asyncio.gather(*(pool.submit(r, timeout=60) for r in REQUESTS))
        await pool.close()
        return outcomes

    outcomes = asyncio.run(all_at_once())
    assert batches == [[0, 1, 2], [3]]
    for got, expected in zip(outcomes, alone, strict=True):
        assert_same_answer(got, expected)
    assert (pool.counts.requests, pool.counts.batches) == (4, 2)


def test_without_batching_every_request_runs_alone(served_run, alone):
    pool = start_workers(served_run, None, WorkerSettings(workers=0, max_batch_size=1))

    async def all_at_once() -> list:
        await pool.start()
        outcomes = await asyncio.gather(*(pool.submit(r, timeout=60) for r in REQUESTS))
        await pool.close()
        return outcomes

    for got, expected in zip(asyncio.run(all_at_once()), alone, strict=True):
        assert_same_answer(got, expected)
    assert (pool.counts.requests, pool.counts.batches) == (4, 4)


def test_a_worker_process_answers_concurrent_requests_in_one_forward_pass(served_run, alone):
    # the batch closes when it is full, not on the clock
    settings = WorkerSettings(workers=1, max_batch_size=len(REQUESTS), batch_timeout_ms=60_000)
    app = create_app(served_run, workers=settings)
    with TestClient(app) as client:
        answers = post_together(client, REQUESTS)
        workers = client.get("/healthz").json()["workers"]
    assert (workers["requests"], workers["batches"]) == (len(REQUESTS), 1)
    for got, expected in zip(answers, alone, strict=True):
        assert_same_answer(got, expected)
    # shutting down lets the worker finish and exit by itself
    [worker] = app.state.pool.workers
    assert worker.ended.is_set() and worker.process.exitcode == 0


def test_a_bad_request_in_a_batch_is_refused_alone(service, alone):
    bad = [
        ExplainRequest(text=SHORT, method="shap"),
        ExplainRequest(text=SHORT, target="pos"),
    ]
    outcomes = service.run_batch([REQUESTS[0], *bad, REQUESTS[1]])
    assert_same_answer(outcomes[0], alone[0])
    assert_same_answer(outcomes[3], alone[1])
    assert outcomes[1].status == 422 and "unknown explainer 'shap'" in outcomes[1].detail
    assert outcomes[2] == Refusal(422, "target picks the label a post-hoc explanation explains: "
                                  "give a method too")  # fmt: skip


def test_a_batch_that_fails_is_rerun_request_by_request(service, alone, monkeypatch, caplog):
    predict = service.rationalizer.predict

    def fails_on_long_texts(texts, *args, **kwargs):
        if LONG in texts:
            raise IndexError("position out of range")
        return predict(texts, *args, **kwargs)

    monkeypatch.setattr(service.rationalizer, "predict", fails_on_long_texts)
    with caplog.at_level(logging.ERROR, logger="rationalizer.serve"):
        short, long = service.run_batch(REQUESTS[:2])
    assert_same_answer(short, alone[0])
    assert long == Refusal(500, "the model failed on this text: IndexError: position out of range")
    assert "the model failed on a text of" in caplog.text


# ---------------------------------------------------------------------------------------------
# workers that die


def test_a_dying_worker_is_reported_and_the_others_carry_on(served_run, alone, caplog):
    app = create_app(served_run, workers=WorkerSettings(workers=2, max_batch_size=1))
    first, second = app.state.pool.workers
    with caplog.at_level(logging.ERROR, logger="rationalizer.serve"), TestClient(app) as client:
        os.kill(first.process.pid, signal.SIGKILL)
        assert first.ended.wait(60)
        death = f"model worker 1 (pid {first.process.pid}) died: killed by SIGKILL; 1 of 2 model"
        assert death in caplog.text
        health = client.get("/healthz").json()
        assert (health["status"], health["workers"]["alive"]) == ("degraded", 1)
        # the dead worker's share of the requests goes to the other
        for got, expected in zip(post_together(client, REQUESTS), alone, strict=True):
            assert_same_answer(got, expected)

        # the last one dies with a request on it: that request is refused, not left hanging
        os.kill(second.process.pid, signal.SIGSTOP)
        with ThreadPoolExecutor(1) as thread:
            pending = thread.submit(client.post, "/api/explain", json={"text": SHORT})
            os.kill(second.process.pid, signal.SIGKILL)
            response = pending.result()
        assert response.status_code == 503
        assert "died" in response.json()["detail"]
        assert second.ended.wait(60)

        # from now on, every request is refused at once, saying what to do
        response = client.post("/api/explain", json={"text": SHORT})
        assert response.status_code == 503
        assert "no model worker is running: all 2 have died" in response.json()["detail"]
        assert "restart the server" in response.json()["detail"]
        assert client.get("/healthz").status_code == 503
    assert "model worker 2" in caplog.text and "no model worker is running" in caplog.text


# ---------------------------------------------------------------------------------------------
# settings


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"workers": -1}, "workers must be ≥ 0"),
        ({"max_batch_size": 0}, "max_batch_size must be ≥ 1"),
        ({"batch_timeout_ms": -1.0}, "batch_timeout_ms must be a number ≥ 0"),
        ({"batch_timeout_ms": float("nan")}, "batch_timeout_ms must be a number ≥ 0"),
        ({"threads": 0}, "threads must be ≥ 1"),
    ],
)
def test_worker_settings_are_checked(settings, reason):
    with pytest.raises(RationalizerError, match=reason):
        WorkerSettings(**settings)
