"""The models a server answers with, and the worker that runs them one request at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rationalizer.errors import RationalizerError
from rationalizer.serve.schemas import (
    ExplainRequest,
    ExplainResponse,
    MethodInfo,
    PostHocExplanation,
)

if TYPE_CHECKING:
    from rationalizer.explain.adapters import EncodedAdapter
    from rationalizer.explain.base import Explainer
    from rationalizer.training.api import Rationalizer

T = TypeVar("T")


class ExplainService:
    """A trained rationalizer (its own rationale) and the classifier post-hoc methods explain.

    By default the explained classifier is the rationalizer's predictor reading the whole text;
    ``model`` (``hf:PATH`` or another run directory) explains a different classifier instead,
    so its explanations can be set beside the rationalizer's rationale. Models are named by
    their folder only, so answers and error messages never show the server's paths.
    """

    def __init__(
        self, rationalizer: Rationalizer, adapter: EncodedAdapter, model_name: str
    ) -> None:
        self.rationalizer = rationalizer
        self.adapter = adapter
        self.model_name = model_name

    @classmethod
    def load(cls, run: str | Path, model: str | None = None) -> ExplainService:
        from rationalizer.explain import list_explainers
        from rationalizer.explain.adapters import HF_PREFIX, RationalizerAdapter, load_adapter
        from rationalizer.training.api import Rationalizer

        list_explainers()  # imports the methods now rather than during the first request
        run_name = Path(run).resolve().name
        rationalizer = Rationalizer.load(run)
        if model is None:
            return cls(rationalizer, RationalizerAdapter(rationalizer, name=run_name), run_name)
        adapter = load_adapter(model)
        prefix = HF_PREFIX if model.startswith(HF_PREFIX) else ""
        adapter.name = prefix + Path(model.removeprefix(HF_PREFIX)).resolve().name
        return cls(rationalizer, adapter, run_name)

    @property
    def explained_model(self) -> str:
        return self.adapter.name

    def methods(self) -> list[MethodInfo]:
        from rationalizer.explain import list_explainers

        return [
            MethodInfo(name=name, description=cls.description, requires=cls.requires)
            for name, cls in list_explainers().items()
        ]

    def explainer(self, request: ExplainRequest) -> Explainer | None:
        """The request's explainer, with its method and target checked before any model runs
        (a :class:`~rationalizer.errors.RationalizerError` names what is wrong)."""
        from rationalizer.explain import get_explainer

        if request.method is None:
            if request.target is not None:
                raise RationalizerError(
                    "target picks the label a post-hoc explanation explains: give a method too"
                )
            return None
        explainer = get_explainer(request.method)()
        self.adapter.check_capability(explainer.requires, explainer.name)
        if request.target is not None:
            self.adapter.label_index(request.target)
        return explainer

    def explain(self, request: ExplainRequest, explainer: Explainer | None) -> ExplainResponse:
        """The rationalizer's prediction and rationale, and ``explainer``'s explanation."""
        [prediction] = self.rationalizer.predict([request.text], queries=[request.query])
        explanation = None
        if explainer is not None:
            [result] = explainer.attribute(
                self.adapter, request.text, request.target, queries=request.query
            )
            explanation = PostHocExplanation(
                method=result.method,
                model=self.explained_model,
                target=result.target,
                probabilities=dict(result.probabilities),
                scores=list(result.scores),
                rationale=[(span.start, span.end) for span in result.rationale],
                settings=dict(result.settings),
                seconds=result.seconds,
            )
        return ExplainResponse(
            model=self.model_name,
            label=prediction.label,
            probabilities=prediction.probabilities,
            words=list(prediction.words),
            rationale=[(span.start, span.end) for span in prediction.rationale],
            scores=list(prediction.scores),
            explanation=explanation,
        )


class ModelWorker:
    """Runs model calls one at a time, in arrival order, each within a timeout.

    One thread does all model work: CPU-bound calls gain nothing from running side by side on a
    few cores, and explainers hook into the model's layers, so two calls must never overlap. A
    call still queued when its request times out is dropped; one already running cannot be
    interrupted and finishes before the next starts.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rationalizer-model")

    async def run(self, function: Callable[[], T]) -> T:
        """``function()``'s result; :class:`TimeoutError` when it takes longer than the timeout,
        waiting in the queue included."""
        pending = asyncio.get_running_loop().run_in_executor(self._thread, function)
        return await asyncio.wait_for(pending, self.timeout_seconds)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
