"""Load test of ``rationalizer serve``: model workers and batching, with and without an explainer.

For each request kind (``--methods``: ``none``, the rationalizer's own prediction and
rationale, and ``occlusion``, that plus a post-hoc explanation) and each server configuration
(:data:`CONFIGS`: the models in the server process one request at a time, as before worker
processes existed, then 1 and 2 worker processes, each without and with dynamic batching), a
real uvicorn server runs the app in a subprocess and one asyncio process of httpx clients keeps
``--clients`` requests in flight (``--explain-clients`` for explained requests) for
``--seconds``. Every request is ``POST /api/explain`` with a review from the validation split of
the run's dataset, drawn at random (seeded) by each client: the whole review (cut to the
server's word cap), or its first ``--explain-words`` words when explained, since occlusion
reruns the model once per word. Any answer but 200, and any transport error, counts as an
error. All servers run side by side and take their load in turn, in ``--rounds`` interleaved
slices, so that the machine's changing load falls on all of them alike.

Without ``--run`` it first trains a small BiGRU rationalizer on movies (a few seconds of CPU).
For reference it also times requests sent alone, one after another, to the first server.

Run from the repository root::

    python -m benchmarks.serve_load [--run RUN_DIR] [--methods none,occlusion] [--note TEXT]

It writes ``benchmarks/results/serve_load.json`` and ``.md`` next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import random
import socket
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

from benchmarks.common import (
    RESULTS_DIR,
    command_line,
    cpu_snapshot,
    load_sentence,
    machine_and_code_lines,
    module_command,
    other_busy_cpus,
)
from rationalizer._environment import benchmark_provenance, machine_info
from rationalizer.data import load
from rationalizer.serve import ServeLimits, WorkerSettings
from rationalizer.serve.app import serve
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.run import train

SCRIPT = Path(__file__).resolve()
HOST = "127.0.0.1"
#: the run trained when none is given: small, but it reads whole movie reviews
DEFAULT_RUN = {
    "dataset": "movies",
    "method": "fr",
    "max_train_examples": 64,
    "hidden_size": 32,
    "batch_size": 16,
    "epochs": 1,
}
#: requests sent one at a time to the first server (they also warm it up)
ALONE_REQUESTS = 8
#: the server configurations compared, the first being the reference
CONFIGS: tuple[tuple[str, WorkerSettings], ...] = (
    ("in the server process, one request at a time (before)", WorkerSettings(0, 1)),
    ("1 worker process", WorkerSettings(1, 1)),
    ("1 worker process, batching", WorkerSettings(1)),
    ("2 worker processes", WorkerSettings(2, 1)),
    ("2 worker processes, batching", WorkerSettings(2)),
)


def request_payloads(run: Path, method: str | None, max_words: int) -> list[dict]:
    """One request body per validation example of the run's dataset: its first
    ``max_words`` words."""
    config = load_checkpoint(run, with_resume=False).train_config
    payloads = []
    for example in load(config.dataset, "validation", config.data_dir):
        payload = {"text": " ".join(example.document.tokens[:max_words]), "method": method}
        if example.query is not None:
            payload["query"] = example.query
        payloads.append(payload)
    return payloads


def one_at_a_time(url: str, payloads: list[dict], timeout: float) -> list[float]:
    """Seconds of each request sent alone, one after another: the latency without queueing."""
    seconds = []
    with httpx.Client(base_url=url, timeout=timeout) as client:
        for payload in payloads:
            start = time.perf_counter()
            client.post("/api/explain", json=payload).raise_for_status()
            seconds.append(time.perf_counter() - start)
    return seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(
    run: Path, port: int, limits: ServeLimits, workers: WorkerSettings
) -> multiprocessing.Process:
    """``rationalizer serve`` in a fresh process (not a daemon: it starts worker processes of
    its own); :func:`wait_for_server` waits until it answers."""
    process = multiprocessing.get_context("spawn").Process(
        target=serve,
        args=(run,),
        kwargs={
            "host": HOST,
            "port": port,
            "limits": limits,
            "workers": workers,
            "log_level": "warning",
        },
    )
    process.start()
    return process


def wait_for_server(process: multiprocessing.Process, url: str) -> None:
    """Return once the server answers /healthz; fail if it exits or takes over 300 s."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server exited with status {process.exitcode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError("the server did not answer /healthz within 300 s")


def stop_server(process: multiprocessing.Process) -> None:
    """Stop the server as Ctrl+C would (it stops its workers), or kill it after 30 s."""
    process.terminate()
    process.join(30)
    if process.is_alive():
        process.kill()
        process.join()


async def load_test(
    url: str, payloads: list[dict], clients: int, seconds: float, seed: str, timeout: float
) -> tuple[list[tuple[float, str]], float]:
    """(latency in seconds, status) of every request, and the wall time until all ended."""
    outcomes: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def one_client(index: int, deadline: float) -> None:
            draw = random.Random(f"{seed}-{index}")
            while loop.time() < deadline:
                payload = draw.choice(payloads)
                start = time.perf_counter()
                try:
                    status = str((await client.post("/api/explain", json=payload)).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                outcomes.append((time.perf_counter() - start, status))

        start = loop.time()
        await asyncio.gather(*(one_client(i, start + seconds) for i in range(clients)))
        return outcomes, loop.time() - start


def summary(outcomes: list[tuple[float, str]], elapsed: float) -> dict:
    latencies_ms = np.array([latency for latency, _ in outcomes]) * 1000
    statuses = Counter(status for _, status in outcomes)
    return {
        "requests": len(outcomes),
        "elapsed_seconds": elapsed,
        "requests_per_second": len(outcomes) / elapsed,
        "errors": sum(count for status, count in statuses.items() if status != "200"),
        "statuses": dict(statuses),
        "latency_ms": {f"p{q}": float(np.percentile(latencies_ms, q)) for q in (50, 90, 99)}
        | {"max": float(latencies_ms.max()), "mean": float(latencies_ms.mean())},
    }


def batch_counts(url: str) -> tuple[int, int]:
    """Requests the server's workers have answered, and in how many batches."""
    workers = httpx.get(f"{url}/healthz", timeout=30).json()["workers"]
    return workers["requests"], workers["batches"]


def compare(
    servers: list[tuple[str, WorkerSettings, str]],
    payloads: list[dict],
    clients: int,
    args: argparse.Namespace,
) -> list[dict]:
    """Every server under the same load, in ``args.rounds`` interleaved slices each, so that
    the machine's changing load falls on all of them alike."""
    timeout = ServeLimits().timeout_seconds + 10
    measured: list[dict] = [
        {"outcomes": [], "elapsed": 0.0, "requests": 0, "batches": 0, "other": []} for _ in servers
    ]
    for round_ in range(args.rounds):
        for (_, _, url), totals in zip(servers, measured, strict=True):
            before = batch_counts(url)
            cpu_before = cpu_snapshot()
            outcomes, elapsed = asyncio.run(
                load_test(
                    url,
                    payloads,
                    clients,
                    args.seconds / args.rounds,
                    f"{args.seed}-{round_}",
                    timeout,
                )
            )
            totals["other"].append(other_busy_cpus(cpu_before, cpu_snapshot()))
            after = batch_counts(url)
            totals["outcomes"] += outcomes
            totals["elapsed"] += elapsed
            totals["requests"] += after[0] - before[0]
            totals["batches"] += after[1] - before[1]
    return [
        {
            "label": label,
            "workers": workers.workers,
            "max_batch_size": workers.max_batch_size,
            "batch_timeout_ms": workers.batch_timeout_ms,
            "threads_per_worker": workers.threads_per_worker if workers.workers else None,
            "clients": clients,
            "other_busy_cpus": _mean_or_none(totals["other"]),
            "mean_batch_size": totals["requests"] / max(totals["batches"], 1),
            "results": summary(totals["outcomes"], totals["elapsed"]),
        }
        for (label, workers, _), totals in zip(servers, measured, strict=True)
    ]


def _mean_or_none(values: list[float | None]) -> float | None:
    """The mean of measured values; None where the load could not be measured."""
    known = [value for value in values if value is not None]
    return statistics.mean(known) if known else None


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.splitlines()[0]
    )
    parser.add_argument("--run", type=Path, help="run directory (default: train a small one)")
    parser.add_argument(
        "--methods",
        default="none,occlusion",
        help="request kinds, comma-separated: none (no post-hoc explainer) or a method",
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--explain-clients", type=int, default=8)
    parser.add_argument("--explain-words", type=int, default=60)
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="load per configuration and request kind"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved slices of --seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="conditions of the measurement, for the record")
    args = parser.parse_args()
    methods = [None if m == "none" else m for m in args.methods.split(",")]

    limits = ServeLimits()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "movies-fr"
            print(f"training a small run: {DEFAULT_RUN}")
            train(run, console=Console(file=io.StringIO()), seed=args.seed, **DEFAULT_RUN)
        config = load_checkpoint(run, with_resume=False).train_config
        # every configuration's server runs from the start; the idle ones cost memory only
        servers, processes = [], []
        try:
            for label, workers in CONFIGS:
                port = free_port()
                processes.append(start_server(run, port, limits, workers))
                servers.append((label, workers, f"http://{HOST}:{port}"))
            for process, (_, _, url) in zip(processes, servers, strict=True):
                wait_for_server(process, url)
            kinds = []
            for method in methods:
                words = limits.max_words if method is None else args.explain_words
                clients = args.clients if method is None else args.explain_clients
                payloads = request_payloads(run, method, words)
                random.Random(args.seed).shuffle(payloads)
                print(f"{method or 'no method'}: requests alone, then under load", flush=True)
                alone = one_at_a_time(servers[0][2], payloads[:ALONE_REQUESTS], 60)
                configurations = compare(servers, payloads, clients, args)
                for configuration in configurations:
                    print(_row(configuration, configurations[0]), flush=True)
                kinds.append(
                    {
                        "method": method,
                        "texts": len(payloads),
                        "max_words": words,
                        "mean_words": statistics.mean(len(p["text"].split()) for p in payloads),
                        "alone_ms_per_request": {
                            "median": statistics.median(alone) * 1000,
                            "requests": len(alone),
                        },
                        "configurations": configurations,
                    }
                )
        finally:
            for process in processes:
                stop_server(process)

    result = {
        "command": command_line(SCRIPT),
        "seeds": [args.seed],
        "note": args.note,
        "provenance": benchmark_provenance(SCRIPT),
        "machine": machine_info(),
        "run": {
            "trained_here": args.run is None,
            **config.model_dump(
                mode="json",
                include={"dataset", "method", "encoder", "max_length", "hidden_size", "seed"},
            ),
        },
        "endpoint": "POST /api/explain",
        "split": "validation",
        "seconds": args.seconds,
        "rounds": args.rounds,
        "limits": {
            "max_body_bytes": limits.max_body_bytes,
            "max_words": limits.max_words,
            "timeout_seconds": limits.timeout_seconds,
        },
        "wall_seconds": time.perf_counter() - started,
        "kinds": kinds,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS_DIR / "serve_load.md").write_text(_markdown(result))
    print(_markdown(result))


def _row(measured: dict, reference: dict) -> str:
    """A Markdown table row: one configuration against the reference (the first)."""
    r, base = measured["results"], reference["results"]

    def against(value: float, reference_value: float, digits: int) -> str:
        return f"{value:.{digits}f} ({value / reference_value:.2f}×)"

    batching = (
        f"≤ {measured['max_batch_size']}, {measured['batch_timeout_ms']:g} ms"
        if measured["max_batch_size"] > 1
        else "off"
    )
    cells = [
        measured["label"],
        batching,
        f"{r['requests']:,}",
        against(r["requests_per_second"], base["requests_per_second"], 1),
        *(against(r["latency_ms"][q], base["latency_ms"][q], 0) for q in ("p50", "p99")),
        f"{measured['mean_batch_size']:.1f}",
        str(r["errors"]),
        "–" if measured["other_busy_cpus"] is None else f"{measured['other_busy_cpus']:.2f}",
    ]
    return f"| {' | '.join(cells)} |"


def _markdown(result: dict) -> str:
    run = result["run"]
    lines = [
        "# `rationalizer serve` under load: worker processes and dynamic batching",
        "",
        f"Command: `{result['command']}` (seed {result['seeds'][0]}); the whole comparison took "
        f"{result['wall_seconds'] / 60:.1f} minutes.",
        "",
        load_sentence(
            _mean_or_none(
                [c["other_busy_cpus"] for kind in result["kinds"] for c in kind["configurations"]]
            ),
            result["machine"]["usable_cpus"],
        )
        + " The last column is the CPUs other processes (not the servers or the clients) "
        "kept busy during each configuration's slices. All servers ran side by side, idle but "
        "for the one "
        f"under load, and each got its load in {result['rounds']} slices taken in turn with "
        "the others', so that the machine's changing load fell on all alike: compare the rows "
        "with each other, not with numbers from another run.",
        "",
        f"Clients (httpx, one asyncio process, on the same 2 cores) keep requests in flight "
        f"against a uvicorn server in another process on loopback for {result['seconds']:g} s "
        f"per configuration. Each request is `{result['endpoint']}` with a {run['dataset']} "
        f"{result['split']} review. Model: a {run['method']} rationalizer, {run['encoder']} "
        f"encoder (hidden size {run['hidden_size']}, "
        + (f"{run['max_length']} positions" if run["max_length"] else "whole documents")
        + ")"
        + (", trained by the script" if run["trained_here"] else "")
        + ". Times in ms; in brackets, the ratio to the first row (the server before worker "
        "processes: the models on a thread of the server process, one request at a time). "
        "Worker processes share out the cores: two torch threads for one worker, one each "
        "for two. Batching: at most that many requests per forward pass, waiting at most that "
        "long after the oldest for others to join.",
        "",
    ]
    for kind in result["kinds"]:
        first = kind["configurations"][0]
        alone = kind["alone_ms_per_request"]
        method = kind["method"] or "none (the rationalizer's own prediction and rationale)"
        lines += [
            f"## Post-hoc method: {method}",
            "",
            f"{first['clients']} concurrent clients; {kind['texts']:,} texts of at most "
            f"{kind['max_words']:,} words ({kind['mean_words']:.0f} on average). Sent alone, "
            f"one after another, to the first server, a request takes {alone['median']:.0f} ms "
            f"(median of {alone['requests']}).",
            "",
            "| server | batching | requests | requests/s | p50 (ms) | p99 (ms) | "
            "mean batch | errors | other CPUs |",
            "|---|---|---|---|---|---|---|---|---|",
            *(_row(c, first) for c in kind["configurations"]),
            "",
        ]
        statuses = Counter()
        for configuration in kind["configurations"]:
            statuses.update(configuration["results"]["statuses"])
        lines += [
            f"Answers by status: {', '.join(f'{k}: {v:,}' for k, v in statuses.items())}.",
            "",
        ]
    if result["note"]:
        lines += [f"Conditions: {result['note']}", ""]
    lines += machine_and_code_lines(result, ("torch",))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
