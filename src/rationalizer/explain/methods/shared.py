"""What the gradient and perturbation methods share: the output they explain, seeded sampling.

Han et al. (2022) show that the eight methods approximate *one* function around the input and
differ only in the neighbourhood and the loss. So every method here explains the same scalar,
chosen by the ``output`` option:

* ``"log-odds"`` (default): ``log p(target) − log(1 − p(target))``. It does not saturate for
  confident predictions (gradients of a probability near 1 vanish), it is additive for logistic
  models (each word's contribution is exact for a bag-of-words logistic regression), and for two
  classes it equals the difference of the two logits.
* ``"probability"``: ``p(target)``, in the units comprehensiveness and sufficiency measure.

Both are computed from log-probabilities, so gradient methods (from logits) and perturbation
methods (from a black box's probabilities) explain exactly the same number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch

from rationalizer.explain.base import ExplainerOptions

Output = Literal["log-odds", "probability"]

#: probabilities are clipped to [EPSILON, 1 − EPSILON] before taking log-odds, so a black box
#: answering exactly 0 or 1 still gives finite scores
EPSILON = 1e-7

#: the class explained: one index for every model input, or a tensor of one index per input
Target = int | torch.Tensor


class OutputOptions(ExplainerOptions):
    """Options of every method that explains a scalar output of the model."""

    #: the scalar explained: the target's log-odds, or its probability
    output: Output = "log-odds"


def output_from_logits(logits: torch.Tensor, target: Target, output: Output) -> torch.Tensor:
    """The explained scalar (N,) from logits (N, C) of N model inputs (differentiable; computed
    in double precision, so low-precision models lose nothing here). ``target`` is one class
    index, or one per input (N,) when the inputs explain different examples."""
    return _target_output(torch.log_softmax(logits.double(), -1), target, output)


def output_from_probabilities(
    probabilities: np.ndarray, target: Target, output: Output
) -> torch.Tensor:
    """The explained scalar (N,) from class probabilities (N, C), clipped (see EPSILON)."""
    clipped = torch.from_numpy(np.clip(probabilities, EPSILON, 1 - EPSILON)).double()
    return _target_output(clipped.log(), target, output)


def _target_output(log_probabilities: torch.Tensor, target: Target, output: Output) -> torch.Tensor:
    index = torch.as_tensor(target, device=log_probabilities.device)
    index = index.expand(log_probabilities.shape[0])[:, None]
    chosen = log_probabilities.gather(1, index)[:, 0]
    if output == "probability":
        return chosen.exp()
    others = log_probabilities.scatter(1, index, -torch.inf)
    return chosen - torch.logsumexp(others, dim=1)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run Captum's sampling (which draws from torch's global generator) from ``seed``, and
    leave the caller's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
