"""The selector: a per-position keep/drop head and the sampling of a rationale mask from it.

Training needs a differentiable mask, so the mask is a Gumbel-softmax sample of the "select"
class (soft by default, as SSR's authors train; straight-through hard samples as an option).
Evaluation takes the argmax, a plain 0/1 mask. Positions that are not the selector's decision
are fixed afterwards: special and query tokens are always kept, padding is never selected.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: index of the "drop" and "select" classes in the selector's 2-way logits
DROP, SELECT = 0, 1


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
        if tau <= 0:
            raise ValueError(f"Gumbel-softmax temperature must be positive, got {tau}")
        chosen = F.gumbel_softmax(logits, tau=tau, hard=straight_through, dim=-1)[..., SELECT]
    else:
        chosen = (logits.argmax(dim=-1) == SELECT).to(logits.dtype)
    real = attention_mask.bool()
    forced = (real & ~selectable.bool()).to(chosen.dtype)
    return torch.where(selectable.bool() & real, chosen, forced)
