"""Load test of ``rationalizer serve``: 50 concurrent clients on loopback for 30 seconds.

A real uvicorn server runs the app in a subprocess; one asyncio process of httpx clients keeps
``--clients`` requests in flight until ``--seconds`` have passed. Every request is
``POST /api/explain`` with a review from the validation split of the run's dataset (cut to the
server's word cap), drawn at random (seeded) by each client, with ``--method`` as the post-hoc
explainer (default: none, the rationalizer's own prediction and rationale only). Any answer
but 200, and any transport error, counts as an error.

Without ``--run`` it first trains a small BiGRU rationalizer on movies (a few seconds of CPU),
so that requests are full movie reviews (about 700 words). For reference it also times the
requests sent alone, one after another, to the same server.

Run from the repository root::

    python benchmarks/serve_load.py [--run RUN_DIR] [--method occlusion] [--note TEXT]

It writes ``benchmarks/results/serve_load.json`` and ``.md`` next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import shlex
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

from rationalizer._environment import benchmark_provenance, code_text, machine_info
from rationalizer.data import load
from rationalizer.serve import ServeLimits
from rationalizer.serve.app import serve
from rationalizer.training.api import train
from rationalizer.training.checkpoint import load_checkpoint

SCRIPT = Path(__file__).resolve()
RESULTS = SCRIPT.parent / "results"
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
#: requests sent one at a time first (they also warm the server up)
ALONE_REQUESTS = 20


def request_payloads(run: Path, method: str | None, max_words: int) -> list[dict]:
    """One request body per validation example of the run's dataset."""
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


def start_server(run: Path, port: int, limits: ServeLimits) -> multiprocessing.Process:
    """``rationalizer serve`` in a fresh process; returns once it answers /healthz."""
    process = multiprocessing.get_context("spawn").Process(
        target=serve,
        args=(run,),
        kwargs={"host": HOST, "port": port, "limits": limits, "log_level": "warning"},
        daemon=True,
    )
    process.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server exited with status {process.exitcode}")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError("the server did not answer /healthz within 300 s")


async def load_test(
    url: str, payloads: list[dict], clients: int, seconds: float, seed: int, timeout: float
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run directory (default: train a small one)")
    parser.add_argument("--method", help="post-hoc explainer of every request (default: none)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="conditions of the measurement, for the record")
    args = parser.parse_args()

    limits = ServeLimits()
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "movies-fr"
            print(f"training a small run: {DEFAULT_RUN}")
            train(run, console=Console(file=io.StringIO()), seed=args.seed, **DEFAULT_RUN)
        config = load_checkpoint(run, with_resume=False).train_config
        payloads = request_payloads(run, args.method, limits.max_words)
        random.Random(args.seed).shuffle(payloads)
        port = free_port()
        url, timeout = f"http://{HOST}:{port}", limits.timeout_seconds + 10
        load_before = os.getloadavg()
        server = start_server(run, port, limits)
        try:
            alone = one_at_a_time(url, payloads[:ALONE_REQUESTS], timeout)
            outcomes, elapsed = asyncio.run(
                load_test(url, payloads, args.clients, args.seconds, args.seed, timeout)
            )
        finally:
            server.terminate()
            server.join(10)

    result = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in ["benchmarks/serve_load.py", *sys.argv[1:]]),
        "seeds": [args.seed],
        "note": args.note,
        "provenance": benchmark_provenance(SCRIPT),
        "machine": machine_info(),
        "load_average_before": load_before,
        "run": {
            "trained_here": args.run is None,
            **config.model_dump(
                mode="json",
                include={"dataset", "method", "encoder", "max_length", "hidden_size", "seed"},
            ),
        },
        "requests": {
            "endpoint": "POST /api/explain",
            "method": args.method,
            "split": "validation",
            "texts": len(payloads),
            "mean_words": statistics.mean(len(p["text"].split()) for p in payloads),
        },
        "clients": args.clients,
        "seconds": args.seconds,
        "limits": {
            "max_body_bytes": limits.max_body_bytes,
            "max_words": limits.max_words,
            "timeout_seconds": limits.timeout_seconds,
        },
        "alone_ms_per_request": {
            "median": statistics.median(alone) * 1000,
            "requests": len(alone),
        },
        "results": summary(outcomes, elapsed),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "serve_load.md").write_text(_markdown(result))
    print(_markdown(result))


def _markdown(result: dict) -> str:
    m, r, run, asked = result["machine"], result["results"], result["run"], result["requests"]
    alone = result["alone_ms_per_request"]
    latency = r["latency_ms"]
    method = asked["method"] or "none (the rationalizer's own rationale only)"
    lines = [
        "# `rationalizer serve` under load",
        "",
        f"Command: `{result['command']}` (seed {result['seeds'][0]}).",
        "",
        f"{result['clients']} concurrent clients (httpx, one asyncio process) against a uvicorn "
        f"server in another process on loopback, for {result['seconds']:g} s. Each request is "
        f"`{asked['endpoint']}` with a {run['dataset']} {asked['split']} review "
        f"({asked['texts']:,} texts, {asked['mean_words']:.0f} words on average); post-hoc "
        f"method: {method}. Model: a {run['method']} rationalizer, {run['encoder']} encoder "
        f"(hidden size {run['hidden_size']}, {run['max_length']} positions)"
        + (", trained by the script" if run["trained_here"] else "")
        + ".",
        "",
        "| requests | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |",
        "|---|---|---|---|---|---|---|",
        f"| {r['requests']:,} | {r['requests_per_second']:.1f} | {latency['p50']:.0f} | "
        f"{latency['p90']:.0f} | {latency['p99']:.0f} | {latency['max']:.0f} | {r['errors']} |",
        "",
        f"Answers by status: {', '.join(f'{k}: {v:,}' for k, v in r['statuses'].items())}.",
        "",
        "The server runs the model one request at a time (`ModelWorker`), so under load the "
        "latency is mostly waiting in that queue. Sent alone, one after another, a request "
        f"takes {alone['median']:.0f} ms (median of {alone['requests']}, before the load "
        f"test, same server), i.e. about {1000 / alone['median']:.1f} requests/s without "
        "concurrency.",
        "",
    ]
    if result["note"]:
        lines += [f"Conditions: {result['note']}", ""]
    load_average = ", ".join(f"{x:.2f}" for x in result["load_average_before"])
    lines += [
        f"Load average before the test: {load_average} (1, 5, 15 min).",
        "",
        f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['usable_cpus']} usable); Python {m['python']}, torch {m['torch']}.",
        "",
        f"Code: {code_text(result.get('provenance'))}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
