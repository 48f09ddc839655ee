"""The selector: a per-position keep/drop head and the sampling of a rationale mask from it.

Training needs a differentiable mask, so the mask is a Gumbel-softmax sample of the "select"
class (soft by default, as SSR's authors train; straight-through hard samples as an option).
Evaluation takes the argmax, a plain 0/1 mask. Positions that are not the selector's decision
are fixed afterwards: special and query tokens are always kept, padding is never selected.

:func:`topk_mask` is the alternative that fixes the amount instead of a threshold: every example
keeps exactly ``ceil(rate × selectable positions)`` of its selectable positions, the ones with
the largest "select minus drop" logit difference. It cannot select nothing, whatever the
selector's probabilities are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: index of the "drop" and "select" classes in the selector's 2-way logits
DROP, SELECT = 0, 1
#: How the selector turns its logits into a mask: ``threshold`` (Gumbel-softmax sample in
#: training, argmax at evaluation) or ``topk`` (a fixed share of the selectable positions).
SELECTIONS = ("threshold", "topk")


class SelectorHead(nn.Module):
    """Dropout and a linear layer: encoder states (B, L, H) to keep/drop logits (B, L, 2)."""

    def __init__(self, input_size: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(input_size, 2)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.linear(self.dropout(hidden))


def sample_mask(
    logits: Tensor,
    selectable: Tensor,
    attention_mask: Tensor,
    *,
    sample: bool,
    tau: float = 1.0,
    straight_through: bool = False,
) -> Tensor:
    """The rationale mask (B, L) float from selector logits (B, L, 2).

    ``sample=True``: Gumbel-softmax probability of "select" at temperature ``tau`` (a hard 0/1
    straight-through sample with ``straight_through``); ``sample=False``: the argmax. Then
    positions outside ``selectable`` are forced: 1 on real positions (``attention_mask``), 0 on
    padding. Forcing selects values rather than adding to them, so gradients reach exactly the
    selectable positions.
    """
    if sample:
        _check_temperature(tau)
        chosen = F.gumbel_softmax(logits, tau=tau, hard=straight_through, dim=-1)[..., SELECT]
    else:
        chosen = (logits.argmax(dim=-1) == SELECT).to(logits.dtype)
    return _force(chosen, selectable, attention_mask)


def topk_count(selectable_counts: Tensor, rate: float) -> Tensor:
    """Positions top-k keeps per example: ``ceil(rate × n)`` of ``n`` selectable positions, at
    least one where there is one (long tensor, same shape as ``selectable_counts``)."""
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"a top-k selection rate must be in (0, 1], got {rate}")
    # The rounding absorbs float error: 0.3 × 10 is 3.0000000000000004, whose ceiling is 4.
    wanted = torch.ceil(torch.round(selectable_counts.to(torch.float64) * rate, decimals=9))
    counts = selectable_counts.to(torch.long)
    return torch.minimum(wanted.to(torch.long).clamp(min=1), counts)


def topk_mask(
    logits: Tensor,
    selectable: Tensor,
    attention_mask: Tensor,
    *,
    rate: float,
    sample: bool,
    tau: float = 1.0,
) -> Tensor:
    """The rationale mask (B, L) that keeps the ``ceil(rate × n)`` selectable positions of each
    example with the largest logit difference ``select − drop`` (see :func:`topk_count`).

    ``sample=True`` (training): the differences are perturbed with Gumbel noise (the difference
    of two Gumbel variables, as the 2-way Gumbel-softmax draws), the top k of the perturbed
    scores are selected, and gradients pass straight through the soft relaxation
    ``sigmoid((score − threshold) / tau)``, with the threshold half-way between the k-th and the
    (k+1)-th score (a constant for the gradient, so each score learns whether its position
    should rank higher or lower). The mask is always hard 0/1. ``sample=False``: the top k of
    the plain differences, deterministic. Forced positions are set as by :func:`sample_mask`.
    """
    decidable = selectable.bool() & attention_mask.bool()
    scores = logits[..., SELECT] - logits[..., DROP]
    if sample:
        _check_temperature(tau)
        uniform = torch.rand_like(scores).clamp(1e-6, 1 - 1e-6)
        scores = scores + (uniform.log() - (-uniform).log1p())
    n = decidable.sum(-1, keepdim=True)
    k = topk_count(n, rate)
    ranked = scores.masked_fill(~decidable, float("-inf"))
    order = ranked.argsort(dim=-1, descending=True, stable=True)
    # rank of each position among its example's selectable ones (ties broken by position)
    positions = torch.arange(order.shape[-1], device=order.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(-1, order, positions)
    hard = ((rank < k) & decidable).to(logits.dtype)
    if not sample:
        return _force(hard, selectable, attention_mask)
    values = ranked.gather(-1, order)  # scores sorted, largest first; -inf where not decidable
    last = values.gather(-1, (k - 1).clamp(min=0))
    following = values.gather(-1, k.clamp(max=values.shape[-1] - 1))
    # Everything selected (k = n): no (k+1)-th score, the threshold goes one unit below the
    # k-th; no selectable position at all: any finite threshold (nothing is decided there).
    following = torch.where(k < n, following, last - 1.0)
    threshold = torch.where(n > 0, (last + following) / 2, torch.zeros_like(last)).detach()
    soft = torch.sigmoid((torch.where(decidable, scores, threshold) - threshold) / tau)
    # soft − soft.detach() is exactly 0 (and carries soft's gradient): the mask stays exactly 0/1
    return _force(hard + (soft - soft.detach()), selectable, attention_mask)


def _check_temperature(tau: float) -> None:
    if tau <= 0:
        raise ValueError(f"Gumbel-softmax temperature must be positive, got {tau}")


def _force(chosen: Tensor, selectable: Tensor, attention_mask: Tensor) -> Tensor:
    """``chosen`` on selectable real positions; 1 on other real positions, 0 on padding."""
    real = attention_mask.bool()
    forced = (real & ~selectable.bool()).to(chosen.dtype)
    return torch.where(selectable.bool() & real, chosen, forced)
