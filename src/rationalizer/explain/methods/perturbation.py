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

Every method packs ``batch_size`` perturbed copies into one forward pass (Captum's
``perturbations_per_eval``). Occlusion also packs several examples: their keep vectors are
right-padded into one batch, and a padded column is no word of its row. Captum fits LIME's,
KernelSHAP's and C-LIME's surrogates one example at a time, so those pack the copies of one
example, whose ``n_samples`` fill every forward pass but the last.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from captum.attr import KernelShap, Lime, LimeBase, Occlusion
from pydantic import Field
from sklearn.linear_model import LinearRegression, Ridge
from torch.utils.data import DataLoader

from rationalizer.explain.base import Explainer
from rationalizer.explain.methods.shared import (
    OutputOptions,
    output_from_logits,
    output_from_probabilities,
    seeded,
)

if TYPE_CHECKING:
    from rationalizer.explain.adapters import ClassifierAdapter, Instance

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


class LinearSurrogate:
    """A scikit-learn linear model as Captum's LIME fits its surrogate: ``fit`` on a loader of
    (interpretable inputs, outputs, sample weights), ``representation`` the coefficients.

    Ours rather than Captum's ``SkLearnRidge`` / ``SkLearnLinearRegression``, which live in a
    private module (``captum._utils``) that may change in any release; this is the same fit on
    the same float32 arrays, so the scores are the same.
    """

    def __init__(self, model: LinearRegression | Ridge) -> None:
        self.model = model

    def fit(self, train_data: DataLoader) -> None:
        inputs, outputs, weights = (
            np.concatenate([part.cpu().numpy() for part in parts])
            for parts in zip(*train_data, strict=True)
        )
        self.model.fit(inputs, outputs, sample_weight=weights)

    def representation(self) -> torch.Tensor:
        return torch.as_tensor(self.model.coef_, dtype=torch.float32).reshape(1, -1)


def exponential_cosine_kernel(width: float) -> Callable[..., float]:
    """LIME's sample weight ``exp(−d² / (2 · width²))`` of the cosine distance ``d`` between the
    full input and a perturbed one (what Captum's private
    ``get_exp_kernel_similarity_function("cosine", width)`` computes)."""

    def similarity(original: torch.Tensor, perturbed: torch.Tensor, *_: object, **__: object):
        cosine = torch.nn.functional.cosine_similarity(
            original.flatten().float(), perturbed.flatten().float(), dim=0
        )
        return math.exp(-((1 - cosine) ** 2) / (2 * width**2))

    return similarity


class KeepVectorExplainer(Explainer):
    """A Captum perturbation attribution over the word keep vector (black boxes welcome).

    Subclasses implement :meth:`keep_attributions` on the (B, W) keep vectors of B examples,
    right-padded to the W words the longest of them shows the model. A padded column is no
    word of its row: the forward hands each row only its own columns, so removing a padded
    column changes nothing, and its value is never read.
    """

    Options = OutputOptions
    options: OutputOptions

    def word_scores_batch(
        self, model: ClassifierAdapter, instances: Sequence[Instance], targets: Sequence[int]
    ) -> list[np.ndarray]:
        seen = [instance.seen_words for instance in instances]
        scores = [np.zeros(instance.num_words) for instance in instances]
        if max(seen) == 0:
            return scores
        wanted = torch.tensor(targets)

        def forward(keep: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            chosen = [instances[row] for row in rows.tolist()]
            variants = []
            for instance, flags in zip(chosen, keep.detach().round().cpu().numpy(), strict=True):
                variant = np.ones(instance.num_words, dtype=np.int8)
                variant[: instance.seen_words] = flags[: instance.seen_words]
                variants.append(variant)
            probabilities = model.probabilities_batch(chosen, variants, self.options.batch_size)
            return output_from_probabilities(probabilities, wanted[rows], self.options.output)

        with seeded(self.options.seed):
            attributions = self.keep_attributions(
                forward,
                torch.ones(len(instances), max(seen), dtype=torch.float64),
                torch.arange(len(instances)),
            )
        values = attributions.detach().reshape(len(instances), -1).double().cpu().numpy()
        for row, count in enumerate(seen):
            scores[row][:count] = values[row, :count]
        return scores

    @abstractmethod
    def keep_attributions(
        self, forward: Forward, keep: torch.Tensor, rows: torch.Tensor
    ) -> torch.Tensor:
        """One attribution per word (B, W) of ``forward``'s output to the keep vectors
        ``keep``; ``forward(keep, rows)`` also takes each row's example index (pass ``rows`` as
        Captum's ``additional_forward_args``, which Captum expands along with the inputs)."""


class OcclusionOptions(OutputOptions):
    #: words removed at once by a sliding window; a word's score averages the windows over it
    window: int = Field(1, ge=1)


class OcclusionExplainer(KeepVectorExplainer):
    """Occlusion (Captum ``Occlusion``) of several examples at once: each forward pass removes
    one window position from every example, ``batch_size`` rows per pass in all."""

    name = "occlusion"
    description = (
        "drop in the target's log-odds when the word (or a window of words) is removed: "
        "signed, unnormalised"
    )
    Options = OcclusionOptions
    options: OcclusionOptions

    def inputs_per_example(self, instance: Instance) -> int:
        return instance.seen_words

    def group_key(self, instance: Instance) -> int:
        # A window wider than a word would also slide over a shorter example's padding, adding
        # windows that example does not have alone: only examples of one length share a call.
        return instance.seen_words if self.options.window > 1 else 0

    def keep_attributions(self, forward, keep, rows):
        return Occlusion(forward).attribute(
            keep,
            sliding_window_shapes=(min(self.options.window, keep.shape[1]),),
            strides=1,
            baselines=0,
            perturbations_per_eval=max(1, self.options.batch_size // len(keep)),
            additional_forward_args=(rows,),
        )


class SurrogateExplainer(KeepVectorExplainer):
    """A linear surrogate fitted on sampled keep vectors; LIME and KernelSHAP differ only in the
    sampling and the sample weights, i.e. in the Captum ``Lime`` they use.

    Captum fits one surrogate per example, one example after another, so examples are not
    packed together; the ``n_samples`` keep vectors of one example are, ``batch_size`` per
    forward pass (``perturbations_per_eval``), which fills every pass but the last.
    """

    examples_per_call = 1
    options: LimeOptions | KernelShapOptions

    @abstractmethod
    def surrogate(self, forward: Forward) -> Lime:
        """The Captum LIME (or KernelSHAP) fitting ``forward``."""

    def keep_attributions(self, forward, keep, rows):
        return self.surrogate(forward).attribute(
            keep,
            baselines=0,
            feature_mask=torch.arange(keep.shape[1])[None],
            n_samples=self.options.n_samples,
            perturbations_per_eval=self.options.batch_size,
            additional_forward_args=(rows,),
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
    options: LimeOptions

    def surrogate(self, forward):
        return Lime(
            forward,
            interpretable_model=LinearSurrogate(Ridge(alpha=self.options.alpha)),
            similarity_func=exponential_cosine_kernel(self.options.kernel_width),
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
    options: KernelShapOptions

    def surrogate(self, forward):
        return KernelShap(forward)

    def keep_attributions(self, forward, keep, rows):
        if keep.shape[1] == 1:
            # Captum's Shapley-kernel sampler needs two words; a lone word's Shapley value is
            # exactly the output change from removing it.
            return forward(keep, rows) - forward(torch.zeros_like(keep), rows)
        return super().keep_attributions(forward, keep, rows)


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
    options: CLimeOptions

    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        options = self.options
        seen = instance.seen_words
        embeddings = model.embeddings(instance).detach()
        baseline = model.baseline_embeddings(instance).detach()
        positions = torch.from_numpy(np.flatnonzero(model.document_positions(instance)))
        words_at = torch.from_numpy(model.encoding_of(instance).word_ids)[positions]

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
            interpretable_model=LinearSurrogate(LinearRegression()),
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
