"""Our own trained rationalizer run, its predictor explained as an ordinary classifier."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from rationalizer.data.tokenization import WordTokenizer, collate
from rationalizer.explain.adapters.base import Instance, keep_everything
from rationalizer.explain.adapters.encoded import EncodedAdapter, padded_position_keep
from rationalizer.explain.base import Capability
from rationalizer.models.encoders import GRUEncoder, TransformerEncoder
from rationalizer.training.checkpoint import save_checkpoint
from rationalizer.training.inference import Rationalizer
from rationalizer.training.methods import keep_mask
from rationalizer.training.precision import Precision


class RationalizerAdapter(EncodedAdapter):
    """The predictor of a :class:`~rationalizer.training.inference.Rationalizer` as a classifier.

    The classifier reads the full input (its selector is not used): explaining it asks which
    words the predictor relies on. Removed words are hidden by the model's own keep mechanism
    (``masking = "model"``), the one its rationales were trained through: a GRU sees a zero
    vector and the position's state enters the max-pool as zeros, a transformer encoder sees
    ``[MASK]``. A predictor trained on short rationales always had such zeros in its pool, so on
    the full input the first removed word shifts every dimension whose states are all negative
    by the same amount, whichever word it is: occlusion then gives nearly equal scores to every
    word (seen on a ``semi`` run on synthetic data), which is the model's response to removal,
    not noise of the method. Gradient methods do not see that step.

    Gradient methods work on the predictor's input embeddings (the GRU's word vectors, or the
    transformer's word-piece embeddings). The baseline of a removed word is what the encoder
    feeds in its place: the zero vector (GRU) or the ``[MASK]`` embedding (transformer). For
    the GRU this matches removal at the encoder input but not in the pooling, which also drops
    a removed position's state and which no embedding can express.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"probabilities", "embeddings", "gradients"}
    )
    masking = "model"

    def __init__(
        self,
        rationalizer: Rationalizer,
        *,
        batch_size: int = 64,
        name: str | None = None,
        autocast_to: torch.dtype | None = None,
    ) -> None:
        self.rationalizer = rationalizer
        self.autocast_to = autocast_to
        self.encoder = rationalizer.encoder
        self.max_length = rationalizer.config.max_length
        self.labels = rationalizer.labels
        self.batch_size = batch_size
        self.name = name or f"{rationalizer.config.method} {rationalizer.config.encoder} model"

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        precision: Precision | None = None,
    ) -> RationalizerAdapter:
        """The run's predictor on ``device`` (default cpu). Explanations compute in float32
        unless ``precision`` (fp32, bf16, fp16, or auto: the run's own rule) says otherwise."""
        rationalizer = Rationalizer.load(run_dir, device=device, precision=precision)
        return cls(
            rationalizer,
            batch_size=batch_size,
            name=str(run_dir),
            autocast_to=None if precision is None else rationalizer.autocast_dtype,
        )

    def describe(self) -> str:
        return f"the rationalizer {self.name}"

    @property
    def module(self) -> torch.nn.Module:
        return self.rationalizer.model

    def save(self, out_dir: str | Path) -> None:
        """A run directory (the existing checkpoint format) that ``Rationalizer.load`` reads."""
        rationalizer = self.rationalizer
        save_checkpoint(
            out_dir,
            model=rationalizer.model,
            model_config=asdict(rationalizer.model.config),
            train_config=rationalizer.config,
            labels=rationalizer.labels,
            vocabulary=(
                self.encoder.vocabulary if isinstance(self.encoder, WordTokenizer) else None
            ),
        )

    # ------------------------------------------------------------------ token ids
    def _batch(self, instances: Sequence[Instance]) -> dict[str, torch.Tensor]:
        """The model's batch (the training batch keys it reads) of ``instances``."""
        batch = collate([self.encoding_of(instance) for instance in instances], self.encoder.pad_id)
        batch["selectable"] = batch["word_ids"] >= 0
        return {key: value.to(self.device) for key, value in batch.items()}

    def logits(self, instances: Sequence[Instance], keep: Sequence[np.ndarray]) -> torch.Tensor:
        batch = self._batch(instances)
        encodings = [self.encoding_of(instance) for instance in instances]
        kept = padded_position_keep(encodings, keep, batch["input_ids"].shape[1])
        with self.autocast():
            return self.rationalizer.model.classify(
                batch, keep_mask(batch, kept.to(self.device, torch.float32))
            )

    # ------------------------------------------------------------------ embeddings
    @property
    def _embedding_layer(self) -> torch.nn.Module:
        encoder = self.rationalizer.model.encoder
        if isinstance(encoder, GRUEncoder):
            return encoder.embedding
        assert isinstance(encoder, TransformerEncoder)  # the two kinds of ModelConfig.encoder
        return encoder.model.get_input_embeddings()

    @torch.no_grad()
    def embeddings(self, instance: Instance) -> torch.Tensor:
        return self._embedding_layer(self._batch([instance])["input_ids"])

    @torch.no_grad()
    def baseline_embeddings(self, instance: Instance) -> torch.Tensor:
        embeddings = self.embeddings(instance)
        encoder = self.rationalizer.model.encoder
        if isinstance(encoder, TransformerEncoder):
            removed = self._embedding_layer.get_parameter("weight")[encoder.mask_token_id]
        else:
            removed = torch.zeros_like(embeddings[0, 0])
        document = torch.from_numpy(self.document_positions(instance)).to(embeddings.device)
        return torch.where(document[None, :, None], removed, embeddings)

    def logits_from_embeddings_batch(
        self, instances: Sequence[Instance], embeddings: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`logits` of the full instances, their embedding layer outputting
        ``embeddings`` (cut to the longest instance: only padding goes)."""
        length = max(len(self.encoding_of(instance)) for instance in instances)
        with self._embedding_output(embeddings[:, :length]):
            return self.logits(instances, keep_everything(instances))

    @contextmanager
    def _embedding_output(self, embeddings: torch.Tensor) -> Iterator[None]:
        """Make the predictor's embedding layer output ``embeddings``, so everything after it
        (the keep blend, the encoder, pooling, the head) runs exactly as the model's own code."""
        handle = self._embedding_layer.register_forward_hook(lambda *_: embeddings)
        try:
            yield
        finally:
            handle.remove()
