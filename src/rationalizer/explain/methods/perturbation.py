"""Perturbation methods: occlusion, LIME and KernelSHAP on words, C-LIME on embeddings.

Occlusion, LIME and KernelSHAP perturb the *word keep vector*: the input is a row of ones (one
per word the model sees), the baseline is 0 (word removed), each word is one feature, and the
model is run through ``adapter.probabilities`` on the kept words, which hides removed words the
way the adapter's model expects (its ``masking``). They therefore work on black boxes. Captum
does the work (``Occlusion``, ``Lime``, ``KernelShap``); each explains the same output as every
other method (the target's log-odds by default, see :mod:`~rationalizer.explain.methods.shared`).

C-LIME (Han et al. 2022) is LIME with continuous perturbations: instead of keeping (1) or
removing (0) a word, each word gets a weight ``k ~ N(1, noise²)`` and its input embeddings
become ``baseline + k · (embedding − baseline)``, where the baseline is what the model sees for a
removed word. A linear model fitted by least squares (Captum ``LimeBase``, no similarity
weighting: the Gaussian is the neighbourhood) maps the weights to the output. It needs the
``embeddings`` capability but no gradients.

Scores are not rescaled: occlusion gives the output's drop when the word is removed; LIME,
KernelSHAP and C-LIME give the surrogate's coefficient of the word, i.e. the output change from
removing to keeping it. Each is one number per word, so nothing is reduced over embedding
dimensions; words cut by the model's truncation are never perturbed and score 0.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from captum._utils.models.linear_model import SkLearnLinearRegression, SkLearnRidge
from captum.attr import KernelShap, Lime, LimeBase, Occlusion
from captum.attr._core.lime import get_exp_kernel_similarity_function
from pydantic import Field

from rationalizer.explain.base import Explainer
from rationalizer.explain.methods.shared import (
    OutputOptions,
    output_from_logits,
    output_from_probabilities,
    seeded,
)

if TYPE_CHECKING:
    from rationalizer.explain.adapters import ClassifierAdapter, Instance

Forward = Callable[[torch.Tensor], torch.Tensor]


def scores_of_seen_words(
    instance: Instance, seed: int, attribute: Callable[[int], torch.Tensor]
) -> np.ndarray:
    """Every word's score: ``attribute(W)`` (W values, sampled from ``seed``) for the W words
    the model sees, 0 for the words it never sees."""
    seen = instance.seen_words
    scores = np.zeros(instance.num_words)
    if seen:
        with seeded(seed):
            values = attribute(seen)
        scores[:seen] = values.detach().reshape(seen).double().cpu().numpy()
    return scores


class KeepVectorExplainer(Explainer):
    """A Captum perturbation attribution over the word keep vector (black boxes welcome).

    Subclasses implement :meth:`keep_attributions` on the (1, W) keep vector of the W words the
    model sees.
    """

    Options = OutputOptions

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        def forward(keep: torch.Tensor) -> torch.Tensor:
            variants = np.ones((len(keep), instance.num_words), dtype=np.int8)
            variants[:, : keep.shape[1]] = keep.detach().round().cpu().numpy()
            probabilities = model.probabilities(instance, variants)
            return output_from_probabilities(probabilities, target, self.options.output)

        def attribute(words: int) -> torch.Tensor:
            return self.keep_attributions(forward, torch.ones(1, words, dtype=torch.float64))

        return scores_of_seen_words(instance, self.options.seed, attribute)

    @abstractmethod
    def keep_attributions(self, forward: Forward, keep: torch.Tensor) -> torch.Tensor:
        """One attribution per word (1, W) of ``forward``'s output to the keep vector ``keep``."""


class OcclusionOptions(OutputOptions):
    #: words removed at once by a sliding window; a word's score averages the windows over it
    window: int = Field(1, ge=1)


class OcclusionExplainer(KeepVectorExplainer):
    name = "occlusion"
    description = (
        "drop in the target's log-odds when the word (or a window of words) is removed: "
        "signed, unnormalised"
    )
    Options = OcclusionOptions

    def keep_attributions(self, forward, keep):
        return Occlusion(forward).attribute(
            keep,
            sliding_window_shapes=(min(self.options.window, keep.shape[1]),),
            strides=1,
            baselines=0,
            perturbations_per_eval=self.options.batch_size,
        )


class SurrogateExplainer(KeepVectorExplainer):
    """A linear surrogate fitted on sampled keep vectors; LIME and KernelSHAP differ only in the
    sampling and the sample weights, i.e. in the Captum ``Lime`` they use."""

    @abstractmethod
    def surrogate(self, forward: Forward) -> Lime:
        """The Captum LIME (or KernelSHAP) fitting ``forward``."""

    def keep_attributions(self, forward, keep):
        return self.surrogate(forward).attribute(
            keep,
            baselines=0,
            feature_mask=torch.arange(keep.shape[1])[None],
            n_samples=self.options.n_samples,
            perturbations_per_eval=self.options.batch_size,
        )


class LimeOptions(OutputOptions):
    #: random keep vectors (each word kept with probability 1/2) the surrogate is fitted on
    n_samples: int = Field(256, ge=1)
    #: width of the exponential kernel on the cosine distance to the full input (lime's text
    #: default is 0.25 in these units)
    kernel_width: float = Field(0.25, gt=0)
    #: ridge penalty of the linear surrogate
    alpha: float = Field(1.0, ge=0)


class LimeExplainer(SurrogateExplainer):
    name = "lime"
    description = (
        "coefficient of a kernel-weighted ridge fit of the target's log-odds on random word "
        "subsets: signed, unnormalised"
    )
    Options = LimeOptions

    def surrogate(self, forward):
        return Lime(
            forward,
            interpretable_model=SkLearnRidge(alpha=self.options.alpha),
            similarity_func=get_exp_kernel_similarity_function("cosine", self.options.kernel_width),
        )


class KernelShapOptions(OutputOptions):
    #: keep vectors sampled from the Shapley kernel (the full and the empty input come first)
    n_samples: int = Field(256, ge=2)


class KernelShapExplainer(SurrogateExplainer):
    name = "kernel-shap"
    description = (
        "Shapley value for the target's log-odds by Shapley-kernel regression: signed, add up "
        "to f(input) − f(no words)"
    )
    Options = KernelShapOptions

    def surrogate(self, forward):
        return KernelShap(forward)

    def keep_attributions(self, forward, keep):
        if keep.shape[1] == 1:
            # Captum's Shapley-kernel sampler needs two words; a lone word's Shapley value is
            # exactly the output change from removing it.
            return forward(keep) - forward(torch.zeros_like(keep))
        return super().keep_attributions(forward, keep)


class CLimeOptions(OutputOptions):
    #: Gaussian word weights the linear surrogate is fitted on
    n_samples: int = Field(256, ge=2)
    #: standard deviation of each word's weight around 1 (1 = as given, 0 = removed)
    noise: float = Field(0.5, gt=0)


class CLime(Explainer):
    name = "c-lime"
    description = (
        "coefficient of a least-squares fit of the target's log-odds on Gaussian word weights "
        "in embedding space: signed, unnormalised"
    )
    requires = "embeddings"
    Options = CLimeOptions

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        options = self.options
        seen = instance.seen_words
        embeddings = model.embeddings(instance).detach()
        baseline = model.baseline_embeddings(instance).detach()
        positions = torch.from_numpy(np.flatnonzero(model.document_positions(instance)))
        words_at = torch.from_numpy(instance.encoding.word_ids)[positions]

        def perturb(_original: torch.Tensor, **_: object) -> torch.Tensor:
            return 1 + options.noise * torch.randn(1, seen, dtype=torch.float64)

        def weighted_embeddings(weights: torch.Tensor, *_: object, **__: object) -> torch.Tensor:
            position_weights = torch.ones_like(embeddings[0, :, 0])
            position_weights[positions] = weights[0, words_at].to(embeddings)
            return baseline + position_weights[None, :, None] * (embeddings - baseline)

        def forward(variants: torch.Tensor) -> torch.Tensor:
            logits = model.logits_from_embeddings(instance, variants)
            return output_from_logits(logits, target, options.output)

        surrogate = LimeBase(
            forward,
            interpretable_model=SkLearnLinearRegression(),
            similarity_func=lambda *_, **__: 1.0,
            perturb_func=perturb,
            perturb_interpretable_space=True,
            from_interp_rep_transform=weighted_embeddings,
            to_interp_rep_transform=None,
        )
        return scores_of_seen_words(
            instance,
            options.seed,
            lambda _: surrogate.attribute(
                embeddings, n_samples=options.n_samples, perturbations_per_eval=options.batch_size
            ),
        )
