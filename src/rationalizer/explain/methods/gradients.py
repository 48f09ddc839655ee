"""Gradient methods: vanilla gradients, gradient × input, SmoothGrad and integrated gradients.

Each differentiates the explained output (the target's log-odds by default, see
:mod:`~rationalizer.explain.methods.shared`) with respect to the model's input embeddings,
through Captum (``Saliency``, ``InputXGradient``, ``IntegratedGradients``; SmoothGrad runs
``Saliency`` on noisy copies it draws itself), so they need an adapter with the ``gradients``
capability. Captum gives one value per position and embedding dimension; a word's score
reduces the values of all its positions (subwords) and dimensions, in one of two ways chosen by
what the values mean:

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

Several examples share each forward pass (up to ``batch_size`` model inputs): their
embeddings are right-padded into one batch, and padding is cut off before the model reads it,
so an example's scores are the ones it gets alone.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from pydantic import Field

from rationalizer.explain.base import Explainer
from rationalizer.explain.methods.shared import OutputOptions, output_from_logits, seeded

if TYPE_CHECKING:
    from rationalizer.explain.adapters import ClassifierAdapter, Instance

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Reduction = Literal["sum", "norm"]


class Padded(NamedTuple):
    """The input embeddings of several examples, right-padded with zeros into one batch."""

    #: (B, L, D), requiring gradients
    inputs: torch.Tensor
    #: (B, L, D): what the model sees where a word is removed
    baselines: torch.Tensor
    #: each example's number of positions; the rest of its row is padding
    lengths: list[int]

    @property
    def rows(self) -> torch.Tensor:
        """The example index of each row: the ``forward``'s second argument."""
        return torch.arange(len(self.lengths))


class GradientExplainer(Explainer):
    """A Captum gradient attribution on the input embeddings, reduced to words.

    Subclasses set ``reduction`` (see the module docstring) and compute the attributions per
    position and dimension in :meth:`position_attributions`. Several examples are attributed
    in one call: their embeddings are right-padded into one batch, a row's padding never
    reaches the model (so its gradient is 0 and it is never read), and each row is
    differentiated for its own target.
    """

    requires = "gradients"
    Options = OutputOptions
    options: OutputOptions
    reduction: ClassVar[Reduction]

    def word_scores_batch(
        self, model: ClassifierAdapter, instances: Sequence[Instance], targets: Sequence[int]
    ) -> list[np.ndarray]:
        inputs, baselines = model.padded_embeddings(instances)
        lengths = [len(model.encoding_of(instance)) for instance in instances]
        padded = Padded(inputs.detach().requires_grad_(), baselines.detach(), lengths)
        wanted = torch.tensor(targets)

        def forward(embeddings: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            chosen = [instances[row] for row in rows.tolist()]
            logits = model.logits_from_embeddings_batch(chosen, embeddings)
            return output_from_logits(logits, wanted[rows], self.options.output)

        values = self.position_attributions(forward, padded).detach().double().cpu()
        return [
            self._reduced(model, instance, values[row, :length])
            for row, (instance, length) in enumerate(zip(instances, lengths, strict=True))
        ]

    def _reduced(
        self, model: ClassifierAdapter, instance: Instance, values: torch.Tensor
    ) -> np.ndarray:
        """Word scores from one example's attributions (L, D), by :attr:`reduction`."""
        if self.reduction == "sum":
            return model.words_from_positions(instance, values.sum(-1).numpy())
        return np.sqrt(model.words_from_positions(instance, values.square().sum(-1).numpy()))

    @abstractmethod
    def position_attributions(self, forward: Forward, padded: Padded) -> torch.Tensor:
        """Attributions (B, L, D) of ``forward``'s output to ``padded.inputs``.

        ``forward(embeddings, rows)`` also takes the example index of each of its rows: pass
        ``padded.rows`` as Captum's ``additional_forward_args``, which Captum expands along
        with the inputs.
        """


class VanillaGradients(GradientExplainer):
    name = "vanilla-gradients"
    description = (
        "L2 norm of the target log-odds' gradient over the word's embedding dimensions and "
        "subwords: sensitivity ≥ 0, unnormalised"
    )
    reduction = "norm"

    def position_attributions(self, forward, padded):
        return Saliency(forward).attribute(
            padded.inputs, abs=False, additional_forward_args=(padded.rows,)
        )


class GradientXInput(GradientExplainer):
    name = "gradient-x-input"
    description = (
        "gradient of the target's log-odds × embedding, summed over dimensions and subwords: "
        "signed contribution, unnormalised"
    )
    reduction = "sum"

    def position_attributions(self, forward, padded):
        return InputXGradient(forward).attribute(
            padded.inputs, additional_forward_args=(padded.rows,)
        )


class SmoothGradOptions(OutputOptions):
    #: noisy copies of the input whose gradients are averaged
    n_samples: int = Field(16, ge=1)
    #: standard deviation of the Gaussian noise, relative to that of the input embedding values
    noise: float = Field(0.5, gt=0)


class SmoothGrad(GradientExplainer):
    """Vanilla gradients averaged over noisy copies of the input (Captum ``Saliency``).

    Each example's noise is drawn on its own from ``seed``, scaled by the standard deviation of
    its own embedding values, so it gets the same noise, and the same scores, alone or batched
    with others. Captum's ``NoiseTunnel`` draws one noise tensor for the whole padded batch,
    which would not; so the copies are made here, and run ``batch_size`` per forward pass.
    """

    name = "smoothgrad"
    description = (
        "L2 norm of the target log-odds' gradient averaged over Gaussian-noised embeddings: "
        "sensitivity ≥ 0, unnormalised"
    )
    Options = SmoothGradOptions
    options: SmoothGradOptions
    reduction = "norm"

    def inputs_per_example(self, instance):
        return self.options.n_samples

    def position_attributions(self, forward, padded):
        options = self.options
        count, width = options.n_samples, padded.inputs.shape[1]
        copies = []
        for row, length in enumerate(padded.lengths):
            own = padded.inputs[row, :length].detach()
            with seeded(options.seed):
                noise = torch.randn((count, *own.shape), dtype=own.dtype, device=own.device)
            noisy = own + options.noise * own.std() * noise
            copies.append(torch.nn.functional.pad(noisy, (0, 0, 0, width - length)))
        noisy, rows = torch.cat(copies), padded.rows.repeat_interleave(count)
        size = options.batch_size
        gradients = torch.cat(
            [
                Saliency(forward).attribute(
                    noisy[start : start + size].requires_grad_(),
                    abs=False,
                    additional_forward_args=(rows[start : start + size],),
                )
                for start in range(0, len(noisy), size)
            ]
        )
        return gradients.reshape(len(copies), count, *gradients.shape[1:]).mean(1)


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
    options: IntegratedGradientsOptions
    reduction = "sum"

    def inputs_per_example(self, instance):
        return self.options.n_steps

    def position_attributions(self, forward, padded):
        # Captum packs the path points of all examples, batch_size rows per forward pass.
        return IntegratedGradients(forward).attribute(
            padded.inputs,
            baselines=padded.baselines,
            n_steps=self.options.n_steps,
            internal_batch_size=self.options.batch_size,
            additional_forward_args=(padded.rows,),
        )
