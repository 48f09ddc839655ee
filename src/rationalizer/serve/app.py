"""The web app: a page and a JSON API over one trained rationalizer, fixed at startup.

``create_app`` builds the FastAPI application (tests drive it in-process with
``fastapi.testclient``); ``serve`` runs it under uvicorn, as ``rationalizer serve`` does. The
app is the web front only: the models run in the workers of a
:class:`~rationalizer.serve.pool.WorkerPool`, which batches concurrent requests.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from rationalizer import __version__
from rationalizer.errors import RationalizerError
from rationalizer.serve.limits import ServeLimits
from rationalizer.serve.pool import Unavailable, WorkerSettings, start_workers
from rationalizer.serve.schemas import (
    ErrorMessage,
    ExplainRequest,
    ExplainResponse,
    Health,
    InvalidRequest,
    LimitsInfo,
    MethodsResponse,
    WorkersInfo,
)
from rationalizer.serve.service import Refusal

TEMPLATES = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("rationalizer.serve", "templates"), autoescape=select_autoescape()
    )
)

#: The page runs only its own inline script and style (by nonce) and talks only to this server.
PAGE_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorMessage, "description": "The body is not UTF-8 text."},
    413: {"model": ErrorMessage, "description": "The request body is larger than the cap."},
    422: {
        "model": ErrorMessage | InvalidRequest,
        "description": "Bad input: too many words, unknown method... (a request off this "
        "schema lists its problems).",
    },
    503: {"model": ErrorMessage, "description": "No model worker is left to answer."},
    504: {"model": ErrorMessage, "description": "No answer within the per-request timeout."},
}


def create_app(
    run: str | Path,
    model: str | None = None,
    *,
    limits: ServeLimits | None = None,
    workers: WorkerSettings | None = None,
) -> FastAPI:
    """The app serving the rationalizer trained in ``run``.

    ``model`` (``hf:PATH`` or a run directory) is the classifier post-hoc methods explain;
    by default, the rationalizer's own predictor. Both are loaded here, once, by every model
    worker (``workers``): requests carry text only.
    """
    limits = limits or ServeLimits()
    settings = workers or WorkerSettings()
    pool = start_workers(run, model, settings)
    info = pool.info

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.start()
        yield
        await pool.close()

    app = FastAPI(
        title="rationalizer",
        version=__version__,
        summary="Classify a text, see the rationale the model read, explain it post hoc.",
        lifespan=lifespan,
        max_body_size=limits.max_body_bytes,
    )
    app.state.pool = pool

    @app.exception_handler(RationalizerError)
    async def refuse(_: Request, error: RationalizerError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and fails on text UTF-8 cannot encode
        return JSONResponse({"detail": _encodable(jsonable_encoder(error.errors()))}, 422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        context = {
            "nonce": nonce,
            "model": info.model_name,
            "explained_model": info.explained_model,
            "explained_reader": explained_reader(info.model_name, info.explained_model),
            "explained_labels": info.explained_labels,
            "max_words": limits.max_words,
        }
        response = TEMPLATES.TemplateResponse(request, "index.html", context)
        response.headers["Content-Security-Policy"] = PAGE_POLICY.format(nonce=nonce)
        return response

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": ErrorMessage, "description": "No model worker is left."}},
        summary="Liveness, the models, the workers and the limits.",
    )
    async def health() -> Health:
        alive = pool.alive
        if not alive:
            raise HTTPException(503, pool.none_left())
        return Health(
            status="ok" if alive == len(pool.workers) else "degraded",
            model=info.model_name,
            explained_model=info.explained_model,
            labels=list(info.labels),
            limits=LimitsInfo(
                max_body_bytes=limits.max_body_bytes,
                max_words=limits.max_words,
                timeout_seconds=limits.timeout_seconds,
            ),
            workers=WorkersInfo(
                workers=settings.workers,
                alive=alive,
                in_server_process=settings.workers == 0,
                device=settings.device,
                max_batch_size=settings.max_batch_size,
                batch_timeout_ms=settings.batch_timeout_ms,
                requests=pool.counts.requests,
                batches=pool.counts.batches,
            ),
        )

    @app.get("/api/methods", response_model=MethodsResponse, summary="The post-hoc explainers.")
    async def methods() -> MethodsResponse:
        return MethodsResponse(explained_model=info.explained_model, methods=list(info.methods))

    @app.post(
        "/api/explain",
        response_model=ExplainResponse,
        responses=_REFUSALS,
        summary="Classify a text; its rationale, and a post-hoc explanation when asked.",
    )
    async def explain(request: ExplainRequest) -> ExplainResponse:
        words = len(request.text.split())
        if words == 0:
            raise HTTPException(422, "text has no words")
        if words > limits.max_words:
            raise HTTPException(
                422,
                f"text has {words:,} words; this server explains at most {limits.max_words:,} "
                "per request",
            )
        try:
            outcome = await pool.submit(request, limits.timeout_seconds)
        except TimeoutError:
            raise HTTPException(
                504,
                f"no answer within {limits.timeout_seconds:g} s, this server's limit per "
                "request; try a shorter text or a faster method",
            ) from None
        except Unavailable as error:
            raise HTTPException(503, str(error)) from None
        if isinstance(outcome, Refusal):
            raise HTTPException(outcome.status, outcome.detail)
        return outcome

    return app


def serve(
    run: str | Path,
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits | None = None,
    workers: WorkerSettings | None = None,
    log_level: str = "info",
) -> None:
    """Run :func:`create_app` under uvicorn until interrupted; the server's own messages (a
    worker's death) are logged like uvicorn's."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    app = create_app(run, model, limits=limits, workers=workers)
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["loggers"]["rationalizer.serve"] = {"handlers": ["default"], "propagate": False}
    uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=logging)


def explained_reader(model: str, explained_model: str) -> str:
    """Who the post-hoc probabilities come from, in words: by default the run's own predictor,
    which then reads the whole text rather than the rationale, so the page must say so."""
    return f"{model}'s predictor" if explained_model == model else explained_model


def _encodable(value: Any) -> Any:
    """``value`` with every string UTF-8 can encode: a lone surrogate becomes its escape."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    return value
