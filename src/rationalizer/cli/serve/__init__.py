"""``rationalizer serve``: a local web page and JSON API over a trained rationalizer."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import DeviceOption, PrecisionOption, console, console_err
from rationalizer.serve import ServeLimits, WorkerSettings

_DEFAULTS = ServeLimits()
_WORKERS = WorkerSettings()


def serve_command(
    run: Annotated[
        Path, typer.Option("--run", "-r", help="Run directory made by `rationalizer train`.")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Classifier the post-hoc explainers explain: hf:PATH (a Hugging Face "
            "classifier folder or Hub ID) or another run directory. Default: the --run model's "
            "predictor.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; the default is reachable from this machine only."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_words: Annotated[
        int, typer.Option(help="Most words a request's text may have.")
    ] = _DEFAULTS.max_words,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body, in bytes.")
    ] = _DEFAULTS.max_body_bytes,
    timeout: Annotated[
        float, typer.Option(help="Seconds a request may take, waiting for the model included.")
    ] = _DEFAULTS.timeout_seconds,
    workers: Annotated[
        int,
        typer.Option(
            help="Model worker processes, each with its own copy of the models; 0 runs the "
            "models in the server process."
        ),
    ] = _WORKERS.workers,
    max_batch_size: Annotated[
        int,
        typer.Option(
            help="Most concurrent requests a worker runs as one forward pass; 1 turns batching off."
        ),
    ] = _WORKERS.max_batch_size,
    batch_timeout_ms: Annotated[
        float,
        typer.Option(
            help="How long a free worker waits, after the oldest request arrived, for more "
            "to join its batch."
        ),
    ] = _WORKERS.batch_timeout_ms,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="Torch CPU threads of each worker process. Default: the usable cores shared "
            "out evenly among the workers.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a page where you paste a text, pick an explainer, and see the prediction, its
    probabilities, the words the model read and the post-hoc explanation, highlighted.

    The same runs through a JSON API: POST /api/explain {"text": ..., "method": ...},
    GET /api/methods, GET /healthz; OpenAPI docs at /docs. Models are loaded once at startup,
    by each model worker; requests carry text only, and concurrent ones are batched. Each
    request is capped in bytes, words and seconds.

    Example: [bold]rationalizer serve -r runs/ssr -m hf:models/sst2 --workers 2 --port 8000[/]
    """
    limits = ServeLimits(
        max_body_bytes=max_body_bytes, max_words=max_words, timeout_seconds=timeout
    )
    # Imported here so that `--help` does not pay for torch and the web stack.
    from rationalizer.distributed import resolve_device
    from rationalizer.serve import serve
    from rationalizer.training.precision import checked_precision

    settings = WorkerSettings(
        workers=workers,
        max_batch_size=max_batch_size,
        batch_timeout_ms=batch_timeout_ms,
        # checked here, so that the error names the flag before any worker starts
        device=str(resolve_device(device)),
        precision=None if precision is None else checked_precision(precision),
        threads=threads,
    )

    if not is_loopback(host):
        console_err.print(
            f"[bold yellow]warning:[/] listening on {host}: anyone who can reach it can use "
            "the model (the API has no authentication)",
            highlight=False,
        )
    address = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is bracketed
    console.print(f"serving {run} at http://{address}:{port}/ (stop with Ctrl+C)", soft_wrap=True)
    serve(run, model, host=host, port=port, limits=limits, workers=settings)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
