"""The models a server answers with, and how one batch of requests runs on them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    from rationalizer.training.inference import Rationalizer
    from rationalizer.training.precision import Precision

logger = logging.getLogger("rationalizer.serve")


@dataclass(frozen=True)
class Refusal:
    """A request the models did not answer: the HTTP status and the reason, for the client."""

    status: int
    detail: str


#: What a model worker answers for one request.
Outcome = ExplainResponse | Refusal


@dataclass(frozen=True)
class ServiceInfo:
    """What the web front needs to know of the models, without holding them (its workers do)."""

    model_name: str
    explained_model: str
    labels: tuple[str, ...]
    explained_labels: tuple[str, ...]
    methods: tuple[MethodInfo, ...]


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
    def load(
        cls,
        run: str | Path,
        model: str | None = None,
        device: str = "cpu",
        precision: Precision | None = None,
    ) -> ExplainService:
        """Both models, on ``device`` (``cpu``, ``cuda``, ``cuda:N`` or ``mps``), computing in
        ``precision`` (fp32, bf16, fp16, auto; None: the run's setting, float32 for a
        classifier of another kind)."""
        import torch

        from rationalizer.explain import list_explainers
        from rationalizer.explain.adapters import HF_PREFIX, RationalizerAdapter, load_adapter
        from rationalizer.training.inference import Rationalizer

        list_explainers()  # imports the methods now rather than during the first request
        run_name = Path(run).resolve().name
        rationalizer = Rationalizer.load(run, device=device, precision=precision)
        if model is None:
            autocast_to = None if precision is None else rationalizer.autocast_dtype
            adapter = RationalizerAdapter(rationalizer, name=run_name, autocast_to=autocast_to)
            return cls(rationalizer, adapter, run_name)
        # A folder holding a bare encoder gets a fresh classification head: seeded, so that
        # every worker process draws the same one and answers alike.
        torch.manual_seed(0)
        explained = load_adapter(model, device=device, precision=precision)
        prefix = HF_PREFIX if model.startswith(HF_PREFIX) else ""
        explained.name = prefix + Path(model.removeprefix(HF_PREFIX)).resolve().name
        return cls(rationalizer, explained, run_name)

    @property
    def explained_model(self) -> str:
        return self.adapter.name

    def info(self) -> ServiceInfo:
        from rationalizer.explain import list_explainers

        methods = tuple(
            MethodInfo(name=name, description=cls.description, requires=cls.requires)
            for name, cls in list_explainers().items()
        )
        return ServiceInfo(
            model_name=self.model_name,
            explained_model=self.explained_model,
            labels=tuple(self.rationalizer.labels),
            explained_labels=tuple(self.adapter.labels),
            methods=methods,
        )

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

    def run_batch(self, requests: Sequence[ExplainRequest]) -> list[Outcome]:
        """One outcome per request, in order; the predictions of all of them in one forward pass.

        A request with a bad method or target is refused alone. Should the batch fail as a
        whole, each request is rerun by itself, so that one bad request cannot fail the others
        and each gets its own reason.
        """
        outcomes: dict[int, Outcome] = {}
        explainers: dict[int, Explainer | None] = {}
        for i, request in enumerate(requests):
            try:
                explainers[i] = self.explainer(request)
            except RationalizerError as error:
                outcomes[i] = Refusal(422, str(error))
        valid = list(explainers)
        answers: Sequence[Outcome]
        try:
            answers = self._answer([requests[i] for i in valid], list(explainers.values()))
        except Exception as error:
            if len(valid) > 1:
                answers = [self.run_batch([requests[i]])[0] for i in valid]
            else:
                answers = [_refusal(error, requests[valid[0]])]
        for i, answer in zip(valid, answers, strict=True):
            outcomes[i] = answer
        return [outcomes[i] for i in range(len(requests))]

    def _answer(
        self, requests: Sequence[ExplainRequest], explainers: Sequence[Explainer | None]
    ) -> list[ExplainResponse]:
        """The rationalizer's prediction for every request, and each explainer's explanation
        (one ``attribute`` call per method)."""
        if not requests:
            return []
        texts, queries = [r.text for r in requests], [r.query for r in requests]
        predictions = self.rationalizer.predict(texts, queries=queries, batch_size=len(requests))
        explanations: list[PostHocExplanation | None] = [None] * len(requests)
        by_method: dict[str, tuple[Explainer, list[int]]] = {}
        for i, explainer in enumerate(explainers):
            if explainer is not None:
                by_method.setdefault(explainer.name, (explainer, []))[1].append(i)
        for explainer, indices in by_method.values():
            results = explainer.attribute(
                self.adapter,
                [requests[i].text for i in indices],
                [requests[i].target for i in indices],
                queries=[requests[i].query for i in indices],
            )
            for i, result in zip(indices, results, strict=True):
                explanations[i] = PostHocExplanation(
                    method=result.method,
                    model=self.explained_model,
                    target=result.target,
                    probabilities=dict(result.probabilities),
                    scores=list(result.scores),
                    rationale=[(span.start, span.end) for span in result.rationale],
                    settings=dict(result.settings),
                    seconds=result.seconds,
                )
        return [
            ExplainResponse(
                model=self.model_name,
                label=prediction.label,
                probabilities=prediction.probabilities,
                words=list(prediction.words),
                rationale=[(span.start, span.end) for span in prediction.rationale],
                scores=list(prediction.scores),
                explanation=explanation,
            )
            for prediction, explanation in zip(predictions, explanations, strict=True)
        ]


def _refusal(error: Exception, request: ExplainRequest) -> Refusal:
    """What the client is told when the models failed on ``request``; a bug is also logged."""
    if isinstance(error, RationalizerError):
        return Refusal(422, str(error))
    logger.error("the model failed on a text of %d characters", len(request.text), exc_info=error)
    return Refusal(500, f"the model failed on this text: {type(error).__name__}: {error}")
