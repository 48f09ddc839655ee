"""The select-then-predict model behind every training method (RNP, FR, SSR and their variants).

A selector picks input positions, a predictor classifies the input with everything else hidden,
so the predictor's decision can only rest on the rationale. Methods differ in their losses (see
:mod:`rationalizer.training.methods`) and in two architecture switches kept here:
``shared_encoder`` (FR/SSR fold selector and predictor onto one encoder; RNP gives each its own)
and ``virtual_encoder`` (SSR_virt's extra encoder V that learns to imitate shortcut
representations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.models.encoders import GRUEncoder, TextEncoder, TransformerEncoder
from rationalizer.models.selector import SELECTIONS, SelectorHead, sample_mask, topk_mask

Batch = Mapping[str, Tensor]
ENCODER_KINDS = ("gru", "transformer")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture settings; JSON-serialisable with :func:`dataclasses.asdict` for checkpoints."""

    encoder: str
    num_labels: int
    #: gru: size of the word vocabulary (rows of the embedding matrix)
    vocab_size: int = 0
    #: gru: word vector size
    embedding_dim: int = 50
    #: gru: hidden size per direction (encoder output is twice this)
    hidden_size: int = 100
    #: transformer: "minilm" or a local Hugging Face folder, as the user gave it
    transformer_path: str | None = None
    #: FR/SSR: selector and predictor share one encoder; RNP: each has its own
    shared_encoder: bool = True
    #: SSR_virt: an extra encoder V of the same kind, with its own weights
    virtual_encoder: bool = False
    #: False: no selector, the predictor reads every position (the full-text reference)
    selects: bool = True
    dropout: float = 0.1
    #: gru: keep the (GloVe) word vectors fixed
    freeze_embeddings: bool = True
    #: gru: document positions attend to the query (rows that have one)
    query_attention: bool = False
    #: how the selector turns logits into a mask: "threshold" (Gumbel-softmax sample in
    #: training, argmax at evaluation) or "topk" (exactly ceil(selection_rate × selectable
    #: positions) per example); checkpoints written before this setting load as "threshold"
    selection: str = "threshold"
    #: topk: the share of each example's selectable positions to keep (required there)
    selection_rate: float | None = None

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_KINDS:
            raise UnknownNameError("encoder", self.encoder, ENCODER_KINDS)
        if self.num_labels < 2:
            raise RationalizerError(f"num_labels must be at least 2, got {self.num_labels}")
        if not 0.0 <= self.dropout < 1.0:
            raise RationalizerError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.encoder == "gru":
            for name in ("vocab_size", "embedding_dim", "hidden_size"):
                if getattr(self, name) < 1:
                    raise RationalizerError(
                        f"a GRU model needs a positive {name}, got {getattr(self, name)}"
                    )
        elif not self.transformer_path:
            raise RationalizerError(
                "a transformer model needs transformer_path ('minilm' or a local model folder)"
            )
        if self.selection not in SELECTIONS:
            raise UnknownNameError("selection", self.selection, SELECTIONS)
        if self.selection_rate is not None and not 0.0 < self.selection_rate <= 1.0:
            raise RationalizerError(f"selection_rate must be in (0, 1], got {self.selection_rate}")
        if self.selection == "topk" and self.selection_rate is None:
            raise RationalizerError("topk selection needs a selection_rate in (0, 1]")


@dataclass(frozen=True)
class RationalizerOutput:
    """One forward pass: selector logits (B, L, 2), the mask (B, L) and predictor logits (B, C).

    ``full_input_states``: the predictor encoder's states (B, L, H) on the whole input where
    the selector's pass already computed them (see :meth:`RationalizerModel.full_input_logits`).
    """

    selector_logits: Tensor
    mask: Tensor
    logits: Tensor
    full_input_states: Tensor | None = None


class RationalizerModel(nn.Module):
    """Selector and predictor over one or two encoders, plus SSR_virt's optional encoder V.

    Batches are dicts of (B, L) tensors over model positions with at least ``input_ids``,
    ``attention_mask``, ``token_type_ids`` and ``selectable`` (see the training batch layout).
    Pooling is the RNP max-pool of mask-weighted BiGRU states over real positions, or a
    transformer's first ([CLS]) state.
    """

    def __init__(self, config: ModelConfig, embedding_matrix: np.ndarray | None = None) -> None:
        super().__init__()
        if config.encoder == "transformer" and embedding_matrix is not None:
            raise RationalizerError(
                "an embedding matrix is for GRU models; a transformer uses its own embeddings"
            )
        self.config = config
        self.encoder = self._new_encoder(embedding_matrix)
        # An absent encoder is None, never a second reference to `encoder`: every weight then has
        # exactly one name in the state dict, and checkpoints hold no shared tensors.
        self.selector_encoder: TextEncoder | None = None
        if not config.shared_encoder:
            self.selector_encoder = self._new_encoder(embedding_matrix)
        self.virtual_encoder: TextEncoder | None = None
        if config.virtual_encoder:
            self.virtual_encoder = self._new_encoder(embedding_matrix)
        size = self.encoder.output_size
        self.selector_head = SelectorHead(size, config.dropout) if config.selects else None
        self.predictor_dropout = nn.Dropout(config.dropout)
        self.predictor_linear = nn.Linear(size, config.num_labels)

    @classmethod
    def build(
        cls, config: ModelConfig, embedding_matrix: np.ndarray | None = None
    ) -> RationalizerModel:
        """A freshly initialised model (seed with ``torch.manual_seed`` first to reproduce it)."""
        return cls(config, embedding_matrix)

    def _new_encoder(self, embedding_matrix: np.ndarray | None) -> TextEncoder:
        c = self.config
        if c.encoder == "gru":
            return GRUEncoder(
                c.vocab_size,
                c.embedding_dim,
                c.hidden_size,
                embedding_matrix,
                freeze_embeddings=c.freeze_embeddings,
                query_attention=c.query_attention,
            )
        assert c.transformer_path is not None  # ModelConfig refuses a transformer without one
        return TransformerEncoder(c.transformer_path)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Parameters counted once each (a shared encoder is not counted twice)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def forward(
        self, batch: Batch, *, sample: bool, tau: float = 1.0, straight_through: bool = False
    ) -> RationalizerOutput:
        """Select a rationale, then classify the input with everything else hidden."""
        hidden, selector_logits, mask = self._select(batch, sample, tau, straight_through)
        if self.selector_encoder is not None or self.encoder.draws_noise:
            hidden = None  # not the states a predictor pass on the whole input would compute
        return RationalizerOutput(selector_logits, mask, self.classify(batch, mask), hidden)

    def select(
        self, batch: Batch, *, sample: bool, tau: float = 1.0, straight_through: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Selector logits (B, L, 2) on the full input and the mask (B, L) drawn from them.

        See :func:`~rationalizer.models.selector.sample_mask` for sampling and forced positions,
        and :func:`~rationalizer.models.selector.topk_mask` for ``selection="topk"`` (its
        training masks are always hard, so ``straight_through`` does not apply).
        A model without a selector (``selects=False``) keeps every real position, with logits
        that say so with certainty (log 0 and log 1), so soft scores and argmax agree.
        """
        _, logits, mask = self._select(batch, sample, tau, straight_through)
        return logits, mask

    def _select(
        self, batch: Batch, sample: bool, tau: float, straight_through: bool
    ) -> tuple[Tensor | None, Tensor, Tensor]:
        """:meth:`select`, plus the selector's encoder states (None without a selector)."""
        if self.selector_head is None:
            mask = _real(batch)
            return None, torch.stack([1.0 - mask, mask], dim=-1).log(), mask
        encoder = self.encoder if self.selector_encoder is None else self.selector_encoder
        hidden = self._encode(encoder, batch, _real(batch))
        logits = self.selector_head(hidden)
        if self.config.selection == "topk":
            assert self.config.selection_rate is not None  # checked by ModelConfig
            mask = topk_mask(
                logits,
                batch["selectable"],
                batch["attention_mask"],
                rate=self.config.selection_rate,
                sample=sample,
                tau=tau,
            )
            return hidden, logits, mask
        mask = sample_mask(
            logits,
            batch["selectable"],
            batch["attention_mask"],
            sample=sample,
            tau=tau,
            straight_through=straight_through,
        )
        return hidden, logits, mask

    def classify(self, batch: Batch, mask: Tensor) -> Tensor:
        """Predictor logits (B, C) on the input weighted by ``mask`` (applied as given, except
        that padding is always hidden: the caller keeps special and query positions at 1)."""
        return self.head(self.represent(batch, mask))

    def full_input_logits(self, batch: Batch, out: RationalizerOutput | None = None) -> Tensor:
        """Predictor logits (B, C) on the whole input: from ``out``'s selector pass where it
        computed them (a shared encoder that draws no noise), else from a pass of their own."""
        if out is None or out.full_input_states is None:
            return self.classify(batch, _real(batch))
        return self.head(self._pool(out.full_input_states, batch, _real(batch)))

    def represent(self, batch: Batch, mask: Tensor) -> Tensor:
        """The pooled predictor representation (B, H) of the input weighted by ``mask``."""
        keep = mask.to(torch.float32) if not mask.is_floating_point() else mask
        keep = keep * _real(batch).to(keep.dtype)
        return self._pool(self._encode(self.encoder, batch, keep), batch, keep)

    def virtual_represent(self, batch: Batch) -> Tensor:
        """SSR_virt: the virtual encoder's pooled representation (B, H) of the full input."""
        if self.virtual_encoder is None:
            raise RationalizerError(
                "this model has no virtual encoder; build it with ModelConfig(virtual_encoder=True)"
            )
        keep = _real(batch)
        return self._pool(self._encode(self.virtual_encoder, batch, keep), batch, keep)

    def head(self, pooled: Tensor) -> Tensor:
        """The predictor's classification head: dropout and a linear layer, (B, H) to (B, C)."""
        return self.predictor_linear(self.predictor_dropout(pooled))

    @staticmethod
    def _encode(encoder: TextEncoder, batch: Batch, keep: Tensor) -> Tensor:
        return encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], keep)

    def _pool(self, hidden: Tensor, batch: Batch, keep: Tensor) -> Tensor:
        if self.config.encoder == "transformer":
            return hidden[:, 0]
        # RNP: states weighted by the mask, max over real positions (0 for an empty input).
        real = batch["attention_mask"].bool().unsqueeze(-1)
        weighted = (hidden * keep.unsqueeze(-1)).masked_fill(~real, float("-inf"))
        pooled = weighted.max(dim=1).values
        return torch.where(real.any(dim=1), pooled, torch.zeros_like(pooled))


def batch_rows(batch: Batch, rows: Tensor) -> dict[str, Tensor]:
    """The examples ``rows`` ((B,) bool) of a batch, cut to the longest of them: what a pass
    that only some examples need (SSR's shortcut-only inputs, gold inputs of the annotated
    ones) reads, instead of every example of the batch. Right padding makes the cut exact."""
    index = rows.nonzero().squeeze(1)
    length = int(batch["attention_mask"][index].sum(1).max()) if len(index) else 0
    return {
        key: value[index, :length] if value.dim() > 1 else value[index]
        for key, value in batch.items()
    }


def _real(batch: Batch) -> Tensor:
    """The full-input weights: 1 on real positions, 0 on padding (float)."""
    return batch["attention_mask"].to(torch.float32)
