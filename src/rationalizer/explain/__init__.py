"""Post-hoc explanations of any classifier, through one call shared by every method.

from rationalizer.explain import explain, load_adapter
model = load_adapter("runs/movies-ssr")            # or "hf:models/my-classifier"
[e] = explain(model, "a gripping , beautifully acted film", method="integrated-gradients")
e.scores, e.rationale_words

Where methods disagree: :func:`agreement` gives every pair's rank correlation and top-k overlap
of word scores, from explanations in memory or the results files ``rationalizer explain``
writes.
"""

from __future__ import annotations

from typing import Any

from rationalizer.explain.adapters import (
    CallableAdapter,
    ClassifierAdapter,
    HFClassifierAdapter,
    Instance,
    RationalizerAdapter,
    load_adapter,
)
from rationalizer.explain.agreement import (
    AGREEMENT_METRICS,
    Agreement,
    AgreementMatrix,
    agreement,
)
from rationalizer.explain.base import (
    Explainer,
    ExplainerOptions,
    Explanation,
    RationaleRule,
    TextInput,
    get_explainer,
    list_explainers,
)
from rationalizer.explain.causal_lm import TokenRationale, greedy_lm_rationales
from rationalizer.explain.faithfulness import explain_dataset, measure_explanation
from rationalizer.explain.finetune import finetune
from rationalizer.explain.search import approximation_ratio, smallest_sufficient_subset


def explain(
    model: ClassifierAdapter,
    inputs: TextInput | Instance | list,
    method: str = "integrated-gradients",
    target: int | str | list | None = None,
    *,
    queries: str | list | None = None,
    rule: RationaleRule | str | None = None,
    **options: Any,
) -> list[Explanation]:
    """Explain ``model``'s predictions with the explainer registered as ``method``
    (``options`` are that method's options; see :func:`list_explainers`)."""
    explainer = get_explainer(method)(rule=rule, **options)
    return explainer.attribute(model, inputs, target, queries=queries)


__all__ = [
    "AGREEMENT_METRICS",
    "Agreement",
    "AgreementMatrix",
    "CallableAdapter",
    "ClassifierAdapter",
    "Explainer",
    "ExplainerOptions",
    "Explanation",
    "HFClassifierAdapter",
    "Instance",
    "RationaleRule",
    "RationalizerAdapter",
    "TokenRationale",
    "agreement",
    "approximation_ratio",
    "explain",
    "explain_dataset",
    "finetune",
    "get_explainer",
    "greedy_lm_rationales",
    "list_explainers",
    "load_adapter",
    "measure_explanation",
    "smallest_sufficient_subset",
]
