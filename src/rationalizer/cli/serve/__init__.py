"""``rationalizer serve``: a local web page and JSON API over a trained rationalizer."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import console, console_err
from rationalizer.serve import ServeLimits

_DEFAULTS = ServeLimits()


def serve_command(
    run: Annotated[
        Path, typer.Option("--run", "-r", help="Run directory made by `rationalizer train`.")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Classifier the post-hoc explainers explain: hf:PATH (a local Hugging Face "
            "classifier folder) or another run directory. Default: the --run model's predictor.",
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
) -> None:
    """Serve a page where you paste a text, pick an explainer, and see the prediction, its
    probabilities, the words the model read and the post-hoc explanation, highlighted.

    The same runs through a JSON API: POST /api/explain {"text": ..., "method": ...},
    GET /api/methods, GET /healthz; OpenAPI docs at /docs. Models are loaded once at startup;
    requests carry text only. Each request is capped in bytes, words and seconds.

    Example: [bold]rationalizer serve -r runs/ssr -m hf:models/sst2 --port 8000[/]
    """
    limits = ServeLimits(
        max_body_bytes=max_body_bytes, max_words=max_words, timeout_seconds=timeout
    )
    # Imported here so that `--help` does not pay for torch and the web stack.
    from rationalizer.serve import serve

    if not is_loopback(host):
        console_err.print(
            f"[bold yellow]warning:[/] listening on {host}: anyone who can reach it can use "
            "the model (the API has no authentication)",
            highlight=False,
        )
    address = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is bracketed
    console.print(f"serving {run} at http://{address}:{port}/ (stop with Ctrl+C)", soft_wrap=True)
    serve(run, model, host=host, port=port, limits=limits)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
