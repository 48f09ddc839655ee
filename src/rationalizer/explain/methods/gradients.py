"""Gradient methods: vanilla gradients, gradient × input, SmoothGrad and integrated gradients.

Each differentiates the explained output (the target's log-odds by default, see
:mod:`~rationalizer.explain.methods.shared`) with respect to the model's input embeddings,
through Captum (``Saliency``, ``InputXGradient``, ``NoiseTunnel``, ``IntegratedGradients``),
so they need an adapter with the ``gradients`` capability. Captum gives one value per position
and embedding dimension; a word's score reduces the values of all its positions (subwords) and
dimensions, in one of two ways chosen by what the values mean:

* **signed sum** for gradient × input and integrated gradients. Their values are additive
  contributions to the output (first-order Taylor terms; for integrated gradients they add up to
  ``f(input) − f(baseline)``), so a sum keeps that meaning: a word's score is its contribution,
  positive for the target, and integrated gradients' word scores still add up to
  ``f(input) − f(baseline)`` (completeness). The baseline is what the model sees where a word is
  removed (the adapter's ``baseline_embeddings``), so special and query positions contribute 0.
* **L2 norm** for vanilla gradients and SmoothGrad. A gradient is a direction in embedding space,
  not a contribution: the sign of its sum over dimensions depends on the arbitrary basis of that
  space, so a signed reduction would be noise. The norm of the gradient over all of a word's
  positions and dimensions is the output's local sensitivity to the word: ≥ 0, and large when
  changing the word moves the output. These scores never argue against the target.

No method rescales its scores: they are in units of the explained output.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Saliency
from pydantic import Field

from rationalizer.explain.base import Explainer
from rationalizer.explain.methods.shared import OutputOptions, output_from_logits, seeded

if TYPE_CHECKING:
    from rationalizer.explain.adapters import ClassifierAdapter, Instance

Forward = Callable[[torch.Tensor], torch.Tensor]
Reduction = Literal["sum", "norm"]


class GradientExplainer(Explainer):
    """A Captum gradient attribution on the input embeddings, reduced to words.

    Subclasses set ``reduction`` (see the module docstring) and compute the attributions per
    position and dimension in :meth:`position_attributions`.
    """

    requires = "gradients"
    Options = OutputOptions
    reduction: ClassVar[Reduction]

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        inputs = model.embeddings(instance).detach().requires_grad_()

        def forward(embeddings: torch.Tensor) -> torch.Tensor:
            logits = model.logits_from_embeddings(instance, embeddings)
            return output_from_logits(logits, target, self.options.output)

        values = self.position_attributions(forward, inputs, model, instance)
        values = values.detach()[0].double().cpu()
        if self.reduction == "sum":
            return model.words_from_positions(instance, values.sum(-1).numpy())
        return np.sqrt(model.words_from_positions(instance, values.square().sum(-1).numpy()))

    @abstractmethod
    def position_attributions(
        self, forward: Forward, inputs: torch.Tensor, model: ClassifierAdapter, instance: Instance
    ) -> torch.Tensor:
        """Attributions (1, L, D) of ``forward``'s output to ``inputs`` (1, L, D)."""


class VanillaGradients(GradientExplainer):
    name = "vanilla-gradients"
    description = (
        "L2 norm of the target log-odds' gradient over the word's embedding dimensions and "
        "subwords: sensitivity ≥ 0, unnormalised"
    )
    reduction = "norm"

    def position_attributions(self, forward, inputs, model, instance):
        return Saliency(forward).attribute(inputs, abs=False)


class GradientXInput(GradientExplainer):
    name = "gradient-x-input"
    description = (
        "gradient of the target's log-odds × embedding, summed over dimensions and subwords: "
        "signed contribution, unnormalised"
    )
    reduction = "sum"

    def position_attributions(self, forward, inputs, model, instance):
        return InputXGradient(forward).attribute(inputs)


class SmoothGradOptions(OutputOptions):
    #: noisy copies of the input whose gradients are averaged
    n_samples: int = Field(16, ge=1)
    #: standard deviation of the Gaussian noise, relative to that of the input embedding values
    noise: float = Field(0.5, gt=0)


class SmoothGrad(GradientExplainer):
    name = "smoothgrad"
    description = (
        "L2 norm of the target log-odds' gradient averaged over Gaussian-noised embeddings: "
        "sensitivity ≥ 0, unnormalised"
    )
    Options = SmoothGradOptions
    reduction = "norm"

    def position_attributions(self, forward, inputs, model, instance):
        options = self.options
        with seeded(options.seed):
            return NoiseTunnel(Saliency(forward)).attribute(
                inputs,
                nt_type="smoothgrad",
                nt_samples=options.n_samples,
                nt_samples_batch_size=options.batch_size,
                stdevs=options.noise * inputs.std().item(),
                abs=False,
            )


class IntegratedGradientsOptions(OutputOptions):
    #: points of the path integral (Gauss-Legendre quadrature)
    n_steps: int = Field(50, ge=1)


class IntegratedGradientsExplainer(GradientExplainer):
    name = "integrated-gradients"
    description = (
        "target log-odds' gradients integrated from the removed-word baseline, summed over "
        "dimensions: signed, add up to f(input) − f(baseline)"
    )
    Options = IntegratedGradientsOptions
    reduction = "sum"

    def position_attributions(self, forward, inputs, model, instance):
        return IntegratedGradients(forward).attribute(
            inputs,
            baselines=model.baseline_embeddings(instance).detach(),
            n_steps=self.options.n_steps,
            internal_batch_size=self.options.batch_size,
        )
