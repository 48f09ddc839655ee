"""The web app: a page and a JSON API over one trained rationalizer, fixed at startup.

``create_app`` builds the FastAPI application (tests drive it in-process with
``fastapi.testclient``); ``serve`` runs it under uvicorn, as ``rationalizer serve`` does.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from rationalizer import __version__
from rationalizer.errors import RationalizerError
from rationalizer.serve.limits import ServeLimits
from rationalizer.serve.schemas import (
    ErrorMessage,
    ExplainRequest,
    ExplainResponse,
    Health,
    LimitsInfo,
    MethodsResponse,
)
from rationalizer.serve.service import ExplainService, ModelWorker

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

_REFUSALS = {
    413: {"model": ErrorMessage, "description": "The request body is larger than the cap."},
    422: {"model": ErrorMessage, "description": "Bad input: too many words, unknown method..."},
    504: {"model": ErrorMessage, "description": "No answer within the per-request timeout."},
}


def create_app(
    run: str | Path, model: str | None = None, *, limits: ServeLimits | None = None
) -> FastAPI:
    """The app serving the rationalizer trained in ``run``.

    ``model`` (``hf:PATH`` or a run directory) is the classifier post-hoc methods explain;
    by default, the rationalizer's own predictor. Both are loaded here, once: requests carry
    text only.
    """
    limits = limits or ServeLimits()
    service = ExplainService.load(run, model)
    worker = ModelWorker(limits.timeout_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        worker.close()

    app = FastAPI(
        title="rationalizer",
        version=__version__,
        summary="Classify a text, see the rationale the model read, explain it post hoc.",
        lifespan=lifespan,
        max_body_size=limits.max_body_bytes,
    )
    app.state.service = service

    @app.exception_handler(RationalizerError)
    async def refuse(_: Request, error: RationalizerError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        context = {
            "nonce": nonce,
            "model": service.model_name,
            "explained_model": service.explained_model,
            "explained_labels": service.adapter.labels,
            "max_words": limits.max_words,
        }
        response = TEMPLATES.TemplateResponse(request, "index.html", context)
        response.headers["Content-Security-Policy"] = PAGE_POLICY.format(nonce=nonce)
        return response

    @app.get("/healthz", response_model=Health, summary="Liveness, the models and the limits.")
    async def health() -> Health:
        return Health(
            status="ok",
            model=service.model_name,
            explained_model=service.explained_model,
            labels=list(service.rationalizer.labels),
            limits=LimitsInfo(
                max_body_bytes=limits.max_body_bytes,
                max_words=limits.max_words,
                timeout_seconds=limits.timeout_seconds,
            ),
        )

    @app.get("/api/methods", response_model=MethodsResponse, summary="The post-hoc explainers.")
    async def methods() -> MethodsResponse:
        return MethodsResponse(explained_model=service.explained_model, methods=service.methods())

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
        explainer = service.explainer(request)
        try:
            return await worker.run(partial(service.explain, request, explainer))
        except TimeoutError:
            raise HTTPException(
                504,
                f"no answer within {limits.timeout_seconds:g} s, this server's limit per "
                "request; try a shorter text or a faster method",
            ) from None

    return app


def serve(
    run: str | Path,
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits | None = None,
    log_level: str = "info",
) -> None:
    """Run :func:`create_app` under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(run, model, limits=limits), host=host, port=port, log_level=log_level)
