"""Model workers, and the dynamic batcher that feeds them the requests of one web front.

The web front (one process, one port) parses and checks requests and puts them in one queue.
Each model worker runs one batch at a time; when it is free it takes the requests waiting, up
to ``max_batch_size``, waiting at most ``batch_timeout_ms`` after the oldest one arrived for
more to join, and answers them with one forward pass. Workers are processes, each with its own
copy of the models and its own torch threads, so model code never waits for another
worker's GIL; ``workers=0`` runs the one worker in the server process instead, on a thread.

A worker process that dies fails the requests it was running with a 503 that says so, is
logged, and leaves the others serving; with none left every request gets a 503 at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from rationalizer.errors import RationalizerError
from rationalizer.serve.schemas import ExplainRequest
from rationalizer.serve.service import ExplainService, Outcome, Refusal, ServiceInfo

if TYPE_CHECKING:
    from rationalizer.training.precision import Precision

logger = logging.getLogger("rationalizer.serve")

#: Seconds a worker process gets to finish its batch and exit when the server stops.
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    """How many model workers run, where, and how they batch requests.

    ``workers`` processes each load the models (0: one worker in the server process, on a
    thread); ``max_batch_size`` requests at most run as one forward pass (1: no batching);
    ``batch_timeout_ms`` is how long a free worker waits, after the oldest request arrived,
    for more requests to join its batch; ``device`` is where every worker puts its models and
    ``precision`` what they compute in (fp32, bf16, fp16, auto; None: the run's own setting);
    ``threads`` is the torch CPU threads of each worker process (default: the usable cores
    shared out evenly, at least one each, so that workers do not fight over cores).
    """

    workers: int = 1
    max_batch_size: int = 8
    batch_timeout_ms: float = 5.0
    device: str = "cpu"
    precision: Precision | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise RationalizerError(f"workers must be ≥ 0, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise RationalizerError(f"threads must be ≥ 1, got {self.threads}")
        if self.max_batch_size < 1:
            raise RationalizerError(f"max_batch_size must be ≥ 1, got {self.max_batch_size}")
        if not (math.isfinite(self.batch_timeout_ms) and self.batch_timeout_ms >= 0):
            raise RationalizerError(
                f"batch_timeout_ms must be a number ≥ 0, got {self.batch_timeout_ms}"
            )

    @property
    def threads_per_worker(self) -> int:
        if self.threads is not None:
            return self.threads
        usable = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        )
        return max(1, (usable or 1) // max(self.workers, 1))


class WorkerDied(Exception):
    """A model worker process ended while the server still needed it."""


class Unavailable(Exception):
    """No model worker can answer the request (HTTP 503); the message says why."""


class ModelWorker(ABC):
    """Runs batches of requests one at a time, on a thread of its own so the web front's event
    loop never blocks on the models."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        #: called, from another thread, with a description of the worker's unexpected death
        self.on_death: Callable[[str], None] = logger.error

    async def run(self, requests: Sequence[ExplainRequest]) -> list[Outcome]:
        """One outcome per request; :class:`WorkerDied` if the worker ended meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._exchange, list(requests))

    @abstractmethod
    def _exchange(self, requests: list[ExplainRequest]) -> list[Outcome]:
        """Run ``requests`` on the models, blocking."""

    @property
    @abstractmethod
    def alive(self) -> bool: ...

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


class LocalWorker(ModelWorker):
    """The models in the server process itself (``workers=0``): no isolation, no copies."""

    def __init__(self, service: ExplainService) -> None:
        super().__init__("model worker")
        self.service = service

    @property
    def alive(self) -> bool:
        return True

    def _exchange(self, requests: list[ExplainRequest]) -> list[Outcome]:
        return self.service.run_batch(requests)


class ProcessWorker(ModelWorker):
    """A process with its own copy of the models, fed batches through a pipe.

    The process is started here and loads the models while the caller starts the others;
    :meth:`wait_ready` returns what it loaded. It ignores Ctrl+C (the server stops it after
    its last batch) and exits by itself when the server's end of the pipe closes, so it
    cannot outlive the server. A thread watches it, so that its death is logged the moment it
    happens, busy or idle, and sets :attr:`ended`.
    """

    def __init__(
        self, index: int, run: str | Path, model: str | None, settings: WorkerSettings
    ) -> None:
        super().__init__(f"model worker {index}")
        context = multiprocessing.get_context("spawn")  # fork would copy torch's threads
        self._connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child, str(run), model, settings),
            name=f"rationalizer-model-{index}",
            daemon=True,
        )
        self.process.start()
        child.close()  # so that the worker's death ends our reads with EOFError, not a hang
        #: set once the process has ended, for whatever reason, and its death is reported
        self.ended = threading.Event()
        self._exited = False
        self._death = ""
        self._stopping = False
        threading.Thread(target=self._watch, name=f"{self.name} watcher", daemon=True).start()

    def _watch(self) -> None:
        self.process.join()  # only this thread reaps the process
        code = self.process.exitcode
        assert code is not None  # join() returned: the process has exited
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        self._death = f"{self.name} (pid {self.process.pid}) died: {how}"
        self._exited = True
        if not self._stopping:
            self.on_death(self._death)
        self.ended.set()

    @property
    def alive(self) -> bool:
        return not self._exited

    def describe_death(self) -> str:
        self.ended.wait(STOP_SECONDS)
        return self._death or f"{self.name} (pid {self.process.pid}) stopped answering"

    def wait_ready(self) -> ServiceInfo:
        """What the worker loaded; a :class:`RationalizerError` saying why it could not."""
        try:
            status, payload = self._connection.recv()
        except (EOFError, OSError):
            raise RationalizerError(f"{self.describe_death()}, while loading the models") from None
        if status != "ready":
            raise RationalizerError(payload)
        return payload

    def _exchange(self, requests: list[ExplainRequest]) -> list[Outcome]:
        try:
            self._connection.send(requests)
            return self._connection.recv()
        except (EOFError, OSError):
            raise WorkerDied(self.describe_death()) from None

    def close(self) -> None:
        """Let the worker finish its batch and exit; kill it if it does not in time."""
        self._stopping = True
        if self.alive:
            with contextlib.suppress(OSError):  # it died just now
                self._connection.send(None)
            if not self.ended.wait(STOP_SECONDS):
                logger.warning("%s did not stop within %g s: killed", self.name, STOP_SECONDS)
                self.process.kill()
                self.ended.wait()
        self._connection.close()
        super().close()


def _worker_main(
    connection: Connection, run: str, model: str | None, settings: WorkerSettings
) -> None:
    """A worker process: load the models, then answer batches until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(settings.threads_per_worker)
    try:
        service = ExplainService.load(run, model, settings.device, settings.precision)
    except Exception as error:
        reason = str(error) if isinstance(error, RationalizerError) else repr(error)
        connection.send(("failed", reason))
        return
    connection.send(("ready", service.info()))
    # The models run on a thread of their own, as in the server process: on a busy machine,
    # torch's CPU threads ran several times slower when driven from the main thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as model_thread:
        while True:
            try:
                requests = connection.recv()
            except EOFError:  # the server is gone
                return
            if requests is None:
                return
            connection.send(model_thread.submit(service.run_batch, requests).result())


def start_workers(run: str | Path, model: str | None, settings: WorkerSettings) -> WorkerPool:
    """The workers ``settings`` asks for, each with its models loaded (in parallel)."""
    if settings.workers == 0:
        service = ExplainService.load(run, model, settings.device, settings.precision)
        return WorkerPool([LocalWorker(service)], service.info(), settings)
    workers = [ProcessWorker(i + 1, run, model, settings) for i in range(settings.workers)]
    try:
        infos = [worker.wait_ready() for worker in workers]
    except BaseException:
        for worker in workers:
            worker.close()
        raise
    return WorkerPool(workers, infos[0], settings)


@dataclass(eq=False)
class _Job:
    request: ExplainRequest
    future: asyncio.Future[Outcome]
    arrived: float


@dataclass
class PoolCounts:
    """What the pool has done: requests answered by the models, and in how many batches."""

    requests: int = 0
    batches: int = 0


@dataclass(eq=False)
class WorkerPool:
    """The queue of requests and the model workers that take them in batches.

    :meth:`start` (inside the server's event loop) starts one dispatcher per worker: it waits
    for requests, takes a batch and hands it to its worker, so a free worker takes the next
    batch and the batches grow with the load.
    """

    workers: Sequence[ModelWorker]
    info: ServiceInfo
    settings: WorkerSettings
    counts: PoolCounts = field(default_factory=PoolCounts)
    _pending: deque[_Job] = field(default_factory=deque)
    _arrival: asyncio.Event | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        for worker in self.workers:
            worker.on_death = self._report_death

    @property
    def alive(self) -> int:
        """How many workers are still running."""
        return sum(worker.alive for worker in self.workers)

    def _report_death(self, death: str) -> None:
        logger.error("%s; %d of %d model workers left", death, self.alive, len(self.workers))
        if not self.alive:
            logger.error("%s", self.none_left())

    async def start(self) -> None:
        self._arrival = asyncio.Event()
        self._tasks = [asyncio.create_task(self._dispatch(worker)) for worker in self.workers]

    async def submit(self, request: ExplainRequest, timeout: float) -> Outcome:
        """The outcome of ``request``; :class:`TimeoutError` after ``timeout`` seconds, waiting
        included, and :class:`Unavailable` when no worker can answer it."""
        if self._arrival is None:
            raise RuntimeError("the worker pool is not started: run the app with its lifespan")
        if not self.alive:
            raise Unavailable(self.none_left())
        loop = asyncio.get_running_loop()
        job = _Job(request, loop.create_future(), loop.time())
        self._pending.append(job)
        self._arrival.set()
        return await asyncio.wait_for(job.future, timeout)

    async def close(self) -> None:
        """Stop the dispatchers, refuse what is still queued, and stop the workers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail(self._pending, "the server is shutting down")
        self._pending.clear()
        await asyncio.gather(*(asyncio.to_thread(worker.close) for worker in self.workers))

    async def _dispatch(self, worker: ModelWorker) -> None:
        """Feed ``worker`` batches until it dies; with no worker left, refuse what waits."""
        assert self._arrival is not None  # start() made it before starting the dispatchers
        while True:
            jobs = await self._next_batch()
            if not worker.alive:  # it died while idle: these requests never reached it
                self._pending.extendleft(reversed(jobs))
                self._arrival.set()
                break
            try:
                outcomes = await worker.run([job.request for job in jobs])
            except asyncio.CancelledError:
                self._fail(jobs, "the server is shutting down")
                raise
            except WorkerDied as death:
                self._fail(
                    jobs,
                    f"{death}, with this request on it; "
                    f"{self.alive} of {len(self.workers)} model workers left",
                )
                break
            except Exception as error:  # a bug between here and the worker: say so, carry on
                logger.error("%s failed a batch", worker.name, exc_info=error)
                outcomes = [Refusal(500, f"the server failed: {error!r}")] * len(jobs)
            self.counts.requests += len(jobs)
            self.counts.batches += 1
            for job, outcome in zip(jobs, outcomes, strict=True):
                if not job.future.done():
                    job.future.set_result(outcome)
        if not self.alive:
            self._fail(self._pending, self.none_left())
            self._pending.clear()

    async def _next_batch(self) -> list[_Job]:
        """The next requests to run together: at least one, at most ``max_batch_size``; after
        the first, waiting for more until ``batch_timeout_ms`` past its arrival."""
        assert self._arrival is not None
        loop = asyncio.get_running_loop()
        jobs: list[_Job] = []
        deadline = math.inf
        while len(jobs) < self.settings.max_batch_size:
            if self._pending:
                job = self._pending.popleft()
                if not job.future.done():  # else its client has timed out
                    jobs.append(job)
                    deadline = min(deadline, job.arrived + self.settings.batch_timeout_ms / 1000)
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrival.clear()
            try:  # with no request yet, wait for one however long it takes
                await asyncio.wait_for(self._arrival.wait(), remaining if jobs else None)
            except TimeoutError:
                break
            except asyncio.CancelledError:
                self._pending.extendleft(reversed(jobs))  # for close() to refuse
                raise
        return jobs

    def none_left(self) -> str:
        """Why no request can be answered once every worker has died."""
        return (
            f"no model worker is running: all {len(self.workers)} have died (see the server's "
            "log); restart the server"
        )

    @staticmethod
    def _fail(jobs: Sequence[_Job], reason: str) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(Unavailable(reason))
