"""``rationalizer serve``: a local web app and JSON API over a trained rationalizer.

``create_app(run)`` builds the FastAPI app and ``serve(run)`` runs it under uvicorn; both are
imported on first use, so that the command line stays light. ``WorkerSettings`` sets the model
workers and their batching.
"""

from typing import TYPE_CHECKING

from rationalizer.serve.limits import ServeLimits
from rationalizer.serve.pool import WorkerSettings

if TYPE_CHECKING:
    from rationalizer.serve.app import create_app, serve


def __getattr__(name: str):
    if name in ("create_app", "serve"):
        from rationalizer.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'rationalizer.serve' has no attribute {name!r}")


__all__ = ["ServeLimits", "WorkerSettings", "create_app", "serve"]
