"""Text encoders that can hide input positions: a BiGRU over word vectors and any HF transformer.

A rationalizer's predictor must see *only* the selected positions, and during training the
selection is a soft weight in [0, 1] so that gradients reach the selector. Both encoders therefore
take a ``keep`` weight per position and blend each input embedding with a "nothing here"
embedding: the zero vector for the GRU (the RNP convention) and the ``[MASK]`` embedding for a
transformer (what it saw during pretraining for a hidden word). ``keep = 1`` is the input as is.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rationalizer.data.pretrained import resolve_model_path
from rationalizer.errors import RationalizerError
from rationalizer.models.recurrence import bidirectional_gru


class TextEncoder(nn.Module, ABC):
    """One hidden state per input position, with each position's input weighted by ``keep``."""

    #: size of the last dimension of :meth:`forward`'s output
    output_size: int
    #: whether :meth:`forward` draws random noise in training mode (dropout), so that two calls
    #: on the same input differ
    draws_noise: bool = True

    @abstractmethod
    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor, keep: Tensor
    ) -> Tensor:
        """Hidden states (B, L, output_size) of right-padded inputs (B, L).

        ``keep`` (B, L) float: 1 = the position's token as is, 0 = the token removed, values in
        between mix the two linearly.
        """


class GRUEncoder(TextEncoder):
    """A one-layer bidirectional GRU over (usually frozen GloVe) word embeddings.

    The backward direction reads each sequence reversed *within its own length*, so padding
    never leaks into it and a sequence's states do not depend on how much padding its batch
    needed; padding positions output zeros. On CPU both directions run in
    :func:`~rationalizer.models.recurrence.bidirectional_gru`, about twice as fast as ``nn.GRU``
    at training sizes; elsewhere (cuDNN) and under autocast, two unidirectional ``nn.GRU`` over
    padded tensors, the second reading each row reversed by a gather (packed sequences are an
    order of magnitude slower on CPU). Both give the same states up to float rounding, and
    the weights are the two ``nn.GRU``'s either way.

    With ``query_attention``, rows that have a query (document positions carry token type 1,
    query positions type 0) get one attention layer on top: every position attends to the
    query's states and the result is added to its own state (a residual). A recurrent state
    forgets a query read hundreds of words earlier; attention reaches it at any distance.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        embedding_matrix: np.ndarray | None = None,
        freeze_embeddings: bool = True,
        query_attention: bool = False,
    ) -> None:
        super().__init__()
        self.draws_noise = False
        if embedding_matrix is None:
            # Random rows: the caller loads trained weights (a checkpoint) or trains from scratch.
            weights = torch.randn(vocab_size, embedding_dim)
        else:
            if embedding_matrix.shape != (vocab_size, embedding_dim):
                raise RationalizerError(
                    f"embedding matrix has shape {embedding_matrix.shape}, but the model config "
                    f"expects ({vocab_size}, {embedding_dim}) (vocab_size, embedding_dim)"
                )
            # A copy: encoders built from one matrix must not share (trainable) storage.
            weights = torch.tensor(np.asarray(embedding_matrix, dtype=np.float32))
        self.embedding = nn.Embedding.from_pretrained(weights, freeze=freeze_embeddings)
        self.forward_gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.backward_gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.output_size = 2 * hidden_size
        self.query_attention = QueryAttention(self.output_size) if query_attention else None

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor, keep: Tensor
    ) -> Tensor:
        real = attention_mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        embedded = self.embedding(input_ids) * keep.unsqueeze(-1).to(real.dtype) * real
        device = embedded.device.type
        if device == "cpu" and not torch.is_autocast_enabled(device):
            states = bidirectional_gru(
                embedded, attention_mask, self.forward_gru, self.backward_gru
            )
        else:
            states = self.library_states(embedded, attention_mask)
        states = states * real
        if self.query_attention is not None:
            states = self.query_attention(states, attention_mask, token_type_ids) * real
        return states

    def library_states(self, embedded: Tensor, attention_mask: Tensor) -> Tensor:
        """The bidirectional states (B, L, 2H) from two ``nn.GRU`` calls (not zeroed at padding)."""
        reverse = _reverse_within_length(attention_mask)
        ahead, _ = self.forward_gru(embedded)
        behind, _ = self.backward_gru(_gather_positions(embedded, reverse))
        # Right padding: the forward states of real positions never saw padding.
        return torch.cat([ahead, _gather_positions(behind, reverse)], dim=-1)


class QueryAttention(nn.Module):
    """Every position attends to the query positions of its row; the context is fused back.

    The fused vector is ``tanh(W [h; c; h ⊙ c])`` for state ``h`` and query context ``c``, added
    to ``h``. Rows without a query (no position of token type 1) are returned unchanged.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.score = nn.Linear(size, size, bias=False)
        self.fuse = nn.Linear(3 * size, size)

    def forward(self, states: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Tensor:
        has_query = (token_type_ids == 1).any(-1)
        query = attention_mask.bool() & (token_type_ids == 0) & has_query.unsqueeze(-1)
        # Keys only up to the last query position of the batch: the query comes first in the
        # word layout, so this keeps the score matrix (B, L, query length), not (B, L, L).
        span = int(query.any(0).nonzero().max()) + 1 if query.any() else 1
        query, keys = query[:, :span], states[:, :span]
        scores = self.score(states) @ keys.transpose(1, 2) / states.shape[-1] ** 0.5
        scores = scores.masked_fill(~query.unsqueeze(1), float("-inf"))
        # Rows without a query would softmax over nothing; give them zero context instead.
        weights = torch.softmax(scores.masked_fill(~has_query[:, None, None], 0.0), dim=-1)
        context = (weights * has_query[:, None, None].to(weights.dtype)) @ keys
        fused = torch.tanh(self.fuse(torch.cat([states, context, states * context], dim=-1)))
        return states + fused * has_query[:, None, None].to(states.dtype)


def _reverse_within_length(attention_mask: Tensor) -> Tensor:
    """Per row, the index that reverses positions ``0..n-1`` (n = row length) and fixes padding."""
    length = attention_mask.sum(-1, keepdim=True)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device).expand_as(
        attention_mask
    )
    return torch.where(positions < length, length - 1 - positions, positions)


def _gather_positions(values: Tensor, index: Tensor) -> Tensor:
    return values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


class TransformerEncoder(TextEncoder):
    """Any Hugging Face encoder (``AutoModel``) loaded from a local folder, never from a hub.

    ``spec`` is ``"minilm"`` (the bundled all-MiniLM-L6-v2) or a folder with the model's config
    and weights; the ``[MASK]`` id comes from the tokenizer files in the same folder, or else from
    the model config.

    Dropout on the attention probabilities is switched off (hidden-state dropout stays): drawing
    a random mask over every (batch, head, position, position) probability made a MiniLM training
    step 2.6 times slower on CPU and keeps PyTorch off its fused attention kernels
    (``benchmarks/results/precision.md``).
    """

    def __init__(self, spec: str | Path) -> None:
        super().__init__()
        # imported here: transformers is slow to import
        from transformers import AutoConfig, AutoModel

        path = resolve_model_path(spec)
        try:
            model_config = AutoConfig.from_pretrained(str(path), local_files_only=True)
            for name in _ATTENTION_DROPOUT_NAMES:
                if hasattr(model_config, name):
                    setattr(model_config, name, 0.0)
            self.model = AutoModel.from_pretrained(
                str(path), config=model_config, local_files_only=True
            )
        except (OSError, ValueError) as err:
            raise RationalizerError(
                f"cannot load a transformer encoder from {path}: {err}"
            ) from err
        self.mask_token_id = _mask_token_id(path, self.model.config)
        vocab_size = self.model.get_input_embeddings().num_embeddings
        if not 0 <= self.mask_token_id < vocab_size:
            raise RationalizerError(
                f"mask token id {self.mask_token_id} of {path} is outside the model's "
                f"vocabulary of {vocab_size} tokens"
            )
        self.output_size = int(self.model.config.hidden_size)
        # Some encoders (DistilBERT) have no segment embeddings and reject token_type_ids.
        self._takes_token_types = (
            "token_type_ids" in inspect.signature(self.model.forward).parameters
        )

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor, keep: Tensor
    ) -> Tensor:
        embeddings = self.model.get_input_embeddings()
        words = embeddings(input_ids)
        weight = keep.unsqueeze(-1).to(words.dtype)
        inputs = weight * words + (1 - weight) * embeddings.weight[self.mask_token_id]
        extra = {"token_type_ids": token_type_ids} if self._takes_token_types else {}
        out = self.model(inputs_embeds=inputs, attention_mask=attention_mask, **extra)
        return out.last_hidden_state


#: Config fields that hold the attention-probability dropout, by model family (BERT-style,
#: DistilBERT and most newer encoders).
_ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")


def _mask_token_id(path: Path, model_config: object) -> int:
    """The ``[MASK]`` token id from the folder's tokenizer, else the model config."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError):
        tokenizer = None
    # Recent transformers build a tokenizer with a made-up vocabulary when the folder has no
    # tokenizer files; its mask id would be meaningless, so only trust one read from files.
    mask_id = None
    if tokenizer is not None and any(
        (path / name).is_file() for name in tokenizer.vocab_files_names.values()
    ):
        mask_id = tokenizer.mask_token_id
    if mask_id is None:
        mask_id = getattr(model_config, "mask_token_id", None)
    if mask_id is None:
        raise RationalizerError(
            f"the model in {path} has no mask token (neither its tokenizer nor its config names "
            "one); the transformer encoder hides unselected tokens behind it, so use a masked "
            "language model encoder such as BERT or MiniLM"
        )
    return int(mask_id)
