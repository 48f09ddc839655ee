"""Greedy rationales for the next-token predictions of a causal language model.

Vafa et al. (2021) explain each prediction of a sequence model by the smallest set of earlier
tokens on which the model, shown nothing else, predicts the same token. For the prediction at
position t (the token after ``t - 1``) the search starts from the previous token alone, adds
the earlier token that raises the probability of the full-context prediction most, and stops
once that token is the model's top prediction. Removed tokens are deleted from the sequence;
the remaining ones keep their original ``position_ids``, so the model sees each kept token
where it really stood. Candidates of a step are scored in one batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rationalizer.errors import RationalizerError
from rationalizer.explain.search import SubsetScores, greedy_search

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class TokenRationale:
    """The rationale of the model's prediction for position ``target`` (from ``0..target-1``)."""

    target: int
    #: the model's top prediction at ``target`` with the full context
    predicted_token: int
    #: context positions in the order they were added; the first is always ``target - 1``
    order: tuple[int, ...]
    #: whether the model predicts ``predicted_token`` from ``order`` alone
    sufficient: bool

    @property
    def positions(self) -> tuple[int, ...]:
        """The rationale's token positions, ascending."""
        return tuple(sorted(self.order))


def load_causal_lm(path: str | Path) -> PreTrainedModel:
    """An ``AutoModelForCausalLM`` from a local folder (never from a hub)."""
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise RationalizerError(f"cannot load a causal language model from {path}: {err}") from err


def greedy_lm_rationales(
    model: PreTrainedModel | str | Path,
    input_ids: Sequence[int] | np.ndarray | torch.Tensor,
    targets: Sequence[int] | None = None,
    *,
    max_steps: int | None = None,
    batch_size: int = 64,
) -> list[TokenRationale]:
    """One greedy rationale per target position of the token sequence ``input_ids``.

    ``model`` is a causal LM (in memory, or a local folder to load). ``targets`` are positions
    ``1..len(input_ids)``: position t is the prediction made after reading tokens ``0..t-1``
    (``len(input_ids)`` is the token after the sequence); by default every one of them.
    ``max_steps`` caps the tokens added after the previous one; ``batch_size`` the sequences
    run at once. The model runs in eval mode (its mode is restored afterwards).
    """
    if isinstance(model, str | Path):
        model = load_causal_lm(model)
    ids = _validated_ids(model, input_ids)
    targets = list(range(1, len(ids) + 1)) if targets is None else [int(t) for t in targets]
    for target in targets:
        if not 1 <= target <= len(ids):
            raise RationalizerError(
                f"target position {target} is outside 1..{len(ids)} for {len(ids)} tokens "
                "(position t is predicted from tokens 0..t-1)"
            )
    was_training = model.training
    model.eval()
    try:
        full = _next_token_logits(model, ids[None], np.arange(len(ids))[None], all_positions=True)
        predictions = full[0].argmax(-1).tolist()
        return [
            _rationale(model, ids, target, predictions[target - 1], max_steps, batch_size)
            for target in targets
        ]
    finally:
        model.train(was_training)


def _rationale(
    model: PreTrainedModel,
    ids: np.ndarray,
    target: int,
    predicted: int,
    max_steps: int | None,
    batch_size: int,
) -> TokenRationale:
    def score(masks: np.ndarray) -> SubsetScores:
        # Every subset of one call has the same size, so the kept tokens form a rectangle.
        positions = np.nonzero(masks)[1].reshape(len(masks), -1)
        probabilities = torch.cat(
            [
                torch.softmax(_next_token_logits(model, ids[chunk], chunk), -1)
                for chunk in np.split(positions, range(batch_size, len(positions), batch_size))
            ]
        )
        return SubsetScores(
            probabilities[:, predicted].numpy(), (probabilities.argmax(-1) == predicted).numpy()
        )

    result = greedy_search(score, target, start=(target - 1,), max_steps=max_steps)
    return TokenRationale(target, predicted, result.units, result.sufficient)


@torch.no_grad()
def _next_token_logits(
    model: PreTrainedModel, ids: np.ndarray, positions: np.ndarray, all_positions: bool = False
) -> torch.Tensor:
    """Float logits at the last position (N, V) — or at every position (N, L, V) — of token
    rows ``ids`` (N, L) placed at ``positions`` (N, L)."""
    device = model.device
    logits = model(
        input_ids=torch.as_tensor(ids, device=device),
        position_ids=torch.as_tensor(positions, device=device),
    ).logits.float()
    return (logits if all_positions else logits[:, -1]).cpu()


def _validated_ids(model: PreTrainedModel, input_ids: object) -> np.ndarray:
    """``input_ids`` as a 1-D int64 array the model can read; a clear error otherwise."""
    if "position_ids" not in inspect.signature(model.forward).parameters:
        raise RationalizerError(
            f"{type(model).__name__} takes no position_ids, so deleting context tokens would "
            "shift the positions of the tokens after them"
        )
    ids = np.asarray(
        input_ids.cpu() if isinstance(input_ids, torch.Tensor) else input_ids, dtype=np.int64
    )
    if ids.ndim != 1 or len(ids) == 0:
        raise RationalizerError(
            f"input_ids must be one non-empty sequence of token ids, got shape {ids.shape}"
        )
    # get_parameter: the embedding layer is typed as any nn.Module, whose attributes are untyped.
    vocab_size = model.get_input_embeddings().get_parameter("weight").shape[0]
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise RationalizerError(f"token ids must be in 0..{vocab_size - 1}")
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and len(ids) > limit:
        raise RationalizerError(
            f"{len(ids)} tokens exceed the model's {limit} positions; explain a shorter sequence"
        )
    return ids
