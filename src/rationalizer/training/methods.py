"""Training methods as sets of loss terms: RNP, FR, semi-supervised, supervised, SSR_unif, SSR_virt,
and the full-text reference that has no selector.

Every method trains through the same :class:`~rationalizer.training.trainer.Trainer`; a method
only says which architecture it needs and which loss terms apply to which examples. The terms
follow ``docs/training.md`` (our summary of the SSR paper's method), with the fixes noted there:
selector supervision ignores padding and forced positions, SSR_unif skips examples whose
shortcut mask is empty, and SSR_virt's distance loss is defined (mean squared error).

Examples split into the annotated set D_s (``batch["has_gold"]``: a human rationale may
supervise the selector) and the rest D_u. Methods that use no supervision treat every example
as D_u, but the annotated set still exists for them: it estimates the target selection rate
and, for SSR, is where shortcuts are discovered.
"""

from __future__ import annotations

import math
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rationalizer.errors import UnknownNameError
from rationalizer.models import RationalizerModel, RationalizerOutput
from rationalizer.models.rationalizer import batch_rows

Batch = Mapping[str, Tensor]
AnnotatedTaskInput = Literal["full", "selected", "gold"]

_METHODS: dict[str, type[Method]] = {}


@dataclass(frozen=True)
class LossWeights:
    """Coefficients of the loss terms (see the method page for the authors' values)."""

    sparsity: float = 0.01
    continuity: float = 0.01
    selection_rate: float = 0.1
    supervision: float = 1.0
    #: weight of rationale words relative to the rest in the selector's cross-entropy
    rationale_class_weight: float = 1.0
    shortcut: float = 0.1
    annotated_task_input: AnnotatedTaskInput = "full"


def _subset_mean(values: Tensor, subset: Tensor) -> Tensor:
    """Mean of per-example ``values`` over the examples in ``subset``; 0 if it is empty."""
    weight = subset.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def task_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-example cross-entropy of the predictor."""
    return F.cross_entropy(logits, labels, reduction="none")


def sparsity_loss(mask: Tensor, selectable: Tensor, rate: float) -> Tensor:
    """Per-example ``|selected fraction of selectable positions − rate|`` (RNP's sparsity)."""
    weight = selectable.to(mask.dtype)
    fraction = (mask * weight).sum(-1) / weight.sum(-1).clamp(min=1.0)
    return (fraction - rate).abs()


def continuity_loss(mask: Tensor, selectable: Tensor) -> Tensor:
    """Per-example mean ``|m_t − m_{t−1}|`` over adjacent selectable positions."""
    pairs = (selectable[:, 1:] & selectable[:, :-1]).to(mask.dtype)
    jumps = (mask[:, 1:] - mask[:, :-1]).abs() * pairs
    return jumps.sum(-1) / pairs.sum(-1).clamp(min=1.0)


def supervision_loss(
    selector_logits: Tensor, gold: Tensor, selectable: Tensor, rationale_weight: float = 1.0
) -> Tensor:
    """Per-example token cross-entropy of the selector against the gold mask.

    Only selectable positions count: padding, special and query tokens are not the selector's
    decision (the authors' code also scores padding, which rewards selecting nothing).
    ``rationale_weight`` weights the tokens of the rationale class against the others.
    """
    class_weights = selector_logits.new_tensor([1.0, rationale_weight])
    per_token = F.cross_entropy(
        selector_logits.flatten(0, 1),
        gold.round().long().flatten(),
        weight=class_weights,
        reduction="none",
    ).view_as(gold)
    weight = selectable.to(per_token.dtype)
    return (per_token * weight).sum(-1) / weight.sum(-1).clamp(min=1.0)


def uniform_kl(logits: Tensor) -> Tensor:
    """Per-example ``KL(p ‖ uniform) = Σ p log p + log C``: zero exactly when p is uniform."""
    log_p = F.log_softmax(logits, dim=-1)
    return (log_p.exp() * log_p).sum(-1) + math.log(logits.shape[-1])


def keep_mask(batch: Batch, selected: Tensor) -> Tensor:
    """Input weights that keep ``selected`` document positions plus every forced position."""
    real = batch["attention_mask"].to(selected.dtype)
    forced = real * (~batch["selectable"]).to(selected.dtype)
    return forced + selected * batch["selectable"].to(selected.dtype)


class Method(ABC):
    """A training method: its architecture needs and its loss terms.

    Subclasses register under ``name``. ``losses`` returns named scalar terms; the trainer sums
    them and logs each one.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    shared_encoder: ClassVar[bool] = True
    virtual_encoder: ClassVar[bool] = False
    supervises_selector: ClassVar[bool] = False
    needs_shortcuts: ClassVar[bool] = False
    annotates_everything: ClassVar[bool] = False
    #: False: no selector; the predictor reads the whole input
    selects: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _METHODS[cls.name] = cls

    def __init__(self, weights: LossWeights) -> None:
        self.weights = weights

    def annotated(self, batch: Batch) -> Tensor:
        """Examples of this batch in D_s, as this method sees them."""
        if not self.supervises_selector:
            return torch.zeros_like(batch["has_gold"])
        return batch["has_gold"]

    def losses(
        self, model: RationalizerModel, batch: Batch, out: RationalizerOutput
    ) -> dict[str, Tensor]:
        w = self.weights
        labels = batch["labels"]
        annotated = self.annotated(batch)
        unannotated = ~annotated
        terms = {
            "task": _subset_mean(task_loss(out.logits, labels), unannotated),
            "sparsity": w.sparsity
            * _subset_mean(
                sparsity_loss(out.mask, batch["selectable"], w.selection_rate), unannotated
            ),
            "continuity": w.continuity
            * _subset_mean(continuity_loss(out.mask, batch["selectable"]), unannotated),
        }
        if annotated.any():
            terms["supervision"] = w.supervision * _subset_mean(
                supervision_loss(
                    out.selector_logits,
                    batch["gold_mask"],
                    batch["selectable"],
                    w.rationale_class_weight,
                ),
                annotated,
            )
            terms["annotated_task"] = task_loss(
                self._annotated_logits(model, batch, out, annotated), labels[annotated]
            ).mean()
        terms.update(self.shortcut_terms(model, batch, out, annotated))
        return terms

    def _annotated_logits(
        self, model: RationalizerModel, batch: Batch, out: RationalizerOutput, annotated: Tensor
    ) -> Tensor:
        """Predictor logits of the ``annotated`` examples (D_s, in batch order) on the input the
        ``annotated_task_input`` setting names; a pass of their own reads only their rows."""
        source = self.weights.annotated_task_input
        if source == "selected":
            return out.logits[annotated]
        if source == "full" and out.full_input_states is not None:
            return model.full_input_logits(batch, out)[annotated]
        rows = batch_rows(batch, annotated)
        if source == "gold":
            return model.classify(rows, keep_mask(rows, rows["gold_mask"]))
        return model.full_input_logits(rows)

    def shortcut_terms(
        self,
        model: RationalizerModel,
        batch: Batch,
        out: RationalizerOutput,
        annotated: Tensor,
    ) -> dict[str, Tensor]:
        """Extra terms of the SSR strategies; none for the baselines."""
        return {}


class RNP(Method):
    name = "rnp"
    description = (
        "unsupervised rationalizer, separate selector and predictor encoders (Lei et al. 2016)"
    )
    shared_encoder = False


class FR(Method):
    name = "fr"
    description = "unsupervised, selector and predictor share one encoder (folded rationalization)"


class SemiSupervised(Method):
    name = "semi"
    description = "FR plus selector supervision on the annotated fraction; no shortcut terms"
    supervises_selector = True


class Supervised(Method):
    name = "supervised"
    description = "selector supervised on every training example (upper reference)"
    supervises_selector = True
    annotates_everything = True


class SSRUniform(Method):
    name = "ssr-unif"
    description = (
        "SSR: semi-supervised, and the predictor is pushed to uniform on shortcut-only inputs"
    )
    supervises_selector = True
    needs_shortcuts = True

    def shortcut_terms(self, model, batch, out, annotated):
        # Examples with an empty shortcut mask are skipped: an empty input says nothing.
        with_shortcut = annotated & batch["has_shortcut"]
        if not with_shortcut.any():
            return {"shortcut_uniform": out.logits.new_zeros(())}
        rows = batch_rows(batch, with_shortcut)
        logits = model.classify(rows, keep_mask(rows, rows["shortcut_mask"]))
        return {"shortcut_uniform": self.weights.shortcut * uniform_kl(logits).mean()}


class SSRVirtual(Method):
    name = "ssr-virt"
    description = (
        "SSR: a virtual encoder imitates shortcut representations (learnt on D_s); the "
        "predictor is pushed to uniform on them over D_u"
    )
    supervises_selector = True
    needs_shortcuts = True
    virtual_encoder = True

    def shortcut_terms(self, model, batch, out, annotated):
        virtual = model.virtual_represent(batch)
        with_shortcut = annotated & batch["has_shortcut"]
        terms: dict[str, Tensor] = {}
        if with_shortcut.any():
            rows = batch_rows(batch, with_shortcut)
            target = model.represent(rows, keep_mask(rows, rows["shortcut_mask"])).detach()
            imitation = virtual[with_shortcut]
            terms["virtual_distance"] = F.mse_loss(imitation, target)
            terms["virtual_task"] = task_loss(model.head(imitation), rows["labels"]).mean()
        # On D_u the virtual encoder is fixed; only the predictor head learns to be unsure.
        unannotated = ~annotated
        if unannotated.any():
            terms["virtual_uniform"] = self.weights.shortcut * _subset_mean(
                uniform_kl(model.head(virtual.detach())), unannotated
            )
        return terms


class FullText(Method):
    name = "full-text"
    description = (
        "no selector: the predictor reads the whole input; the accuracy a rationalizer of the "
        "same encoder is measured against"
    )
    selects = False

    def losses(self, model, batch, out):
        return {"task": task_loss(out.logits, batch["labels"]).mean()}


def available_methods() -> dict[str, str]:
    """Registered method names with a line each."""
    return {name: cls.description for name, cls in _METHODS.items()}


def shortcut_methods() -> tuple[str, ...]:
    """Registered methods that train on discovered shortcuts (and so may augment them)."""
    return tuple(name for name, cls in _METHODS.items() if cls.needs_shortcuts)


def get_method_class(name: str) -> type[Method]:
    cls = _METHODS.get(name)
    if cls is None:
        raise UnknownNameError("method", name, list(_METHODS))
    return cls


def get_method(name: str, weights: LossWeights) -> Method:
    return get_method_class(name)(weights)
