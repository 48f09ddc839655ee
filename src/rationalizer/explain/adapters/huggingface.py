"""Any Hugging Face sequence classifier from a local folder, explained on its own token ids."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
import torch

from rationalizer.data.tokenization import SubwordTokenizer, collate
from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.explain.adapters.base import Instance, keep_everything
from rationalizer.explain.adapters.encoded import EncodedAdapter, padded_position_keep
from rationalizer.explain.base import Capability
from rationalizer.training.precision import Precision, autocast_dtype, checked_precision

if TYPE_CHECKING:
    from transformers import PreTrainedModel

HFMasking = Literal["mask", "pad", "delete"]
HF_MASKINGS: tuple[HFMasking, ...] = ("mask", "pad", "delete")


class HFClassifierAdapter(EncodedAdapter):
    """An ``AutoModelForSequenceClassification`` with its fast tokenizer.

    Words are aligned to subwords exactly by :class:`SubwordTokenizer` (query/document pairs
    use the tokenizer's pair encoding). ``masking`` says how removed words are hidden, on ids:

    * ``mask``: their subwords become the ``[MASK]`` token (what a masked language model saw
      for a hidden word in pretraining);
    * ``pad``: they become the pad token with attention off;
    * ``delete``: they are taken out of the sequence; the remaining tokens keep their original
      ``position_ids``, so deleting a word does not shift the position of the words after it.

    For gradient methods the baseline of a removed word is the ``[MASK]`` embedding (``mask``)
    or the pad token's embedding (``pad``, ``delete``: attention cannot be interpolated, so the
    embedding a padded position carries stands in for it).
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"probabilities", "embeddings", "gradients"}
    )
    encoder: SubwordTokenizer

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: SubwordTokenizer,
        *,
        masking: HFMasking = "mask",
        batch_size: int = 64,
        name: str | None = None,
    ) -> None:
        if masking not in HF_MASKINGS:
            raise UnknownNameError("masking", masking, HF_MASKINGS)
        self.model = model.eval()
        self.encoder = tokenizer
        self.max_length = tokenizer.max_length
        self.masking = masking
        self.batch_size = batch_size
        self.name = name or type(model).__name__
        # transformers types id2label loosely; a loaded config maps every class index to a name.
        id2label = cast("dict[int, str]", model.config.id2label)
        self.labels = tuple(id2label[i] for i in range(len(id2label)))
        parameters = inspect.signature(model.forward).parameters
        self._takes_token_types = "token_type_ids" in parameters
        if masking == "delete" and "position_ids" not in parameters:
            raise RationalizerError(
                f"{self.name} takes no position_ids, so deleted words would shift the positions "
                "of the words after them; use masking 'mask' or 'pad'"
            )
        self.mask_id = tokenizer.tokenizer.mask_token_id
        if masking == "mask" and self.mask_id is None:
            raise RationalizerError(
                f"the tokenizer of {self.name} has no [MASK] token; use masking 'pad' or 'delete'"
            )

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        labels: Sequence[str] | None = None,
        max_length: int | None = None,
        masking: HFMasking = "mask",
        batch_size: int = 64,
        device: str | torch.device | None = None,
        precision: Precision | None = None,
    ) -> HFClassifierAdapter:
        """Load a classifier (and its tokenizer) from a local folder, never from a hub, onto
        ``device`` (default cpu), computing in ``precision`` (default fp32; auto: bf16 where
        the device has bfloat16 units).

        ``labels`` gives the class names in index order; a folder holding a plain encoder
        (no classification head yet, as before :func:`~rationalizer.explain.finetune.finetune`)
        then gets a freshly initialised head for them (seed torch first to reproduce it).
        """
        from transformers import AutoModelForSequenceClassification

        from rationalizer.distributed import resolve_device

        target = resolve_device(device, flag="device")
        dtype = autocast_dtype(checked_precision(precision or "fp32"), target, "transformer")
        path = Path(path)
        options: dict[str, Any] = {}
        if labels is not None:
            options = {
                "num_labels": len(labels),
                "id2label": dict(enumerate(labels)),
                "label2id": {label: i for i, label in enumerate(labels)},
            }
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True, **options
            )
        except (OSError, ValueError) as err:
            raise RationalizerError(
                f"cannot load a sequence classifier from {path}: {err}"
            ) from err
        tokenizer = SubwordTokenizer.from_pretrained(path, max_length=max_length)
        adapter = cls(
            model.to(target), tokenizer, masking=masking, batch_size=batch_size, name=str(path)
        )
        adapter.autocast_to = dtype
        return adapter

    def describe(self) -> str:
        return f"the Hugging Face classifier {self.name}"

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    def save(self, out_dir: str | Path) -> None:
        """``save_pretrained`` (safetensors) of the model and its tokenizer."""
        self.model.save_pretrained(str(out_dir))
        self.encoder.tokenizer.save_pretrained(str(out_dir))

    # ------------------------------------------------------------------ token ids
    def model_inputs(
        self, instances: Sequence[Instance], keep: Sequence[np.ndarray]
    ) -> dict[str, torch.Tensor]:
        """The keyword arguments of the model for each instance with only its ``keep`` words,
        removed words hidden by :attr:`masking` (see the class docstring)."""
        encodings = [self.encoding_of(instance) for instance in instances]
        batch = collate(encodings, self.encoder.pad_id)
        ids, attention, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        kept = padded_position_keep(encodings, keep, ids.shape[1])
        removed = attention.bool() & ~kept
        extra = {}
        if self.masking == "mask":
            ids = ids.masked_fill(removed, self.mask_id)
        elif self.masking == "pad":
            ids = ids.masked_fill(removed, self.encoder.pad_id)
            attention = attention.masked_fill(removed, 0)
        else:
            # Kept positions first, in order (a stable sort), then the rest cut or padded off.
            order = torch.sort((~kept).to(torch.int8), dim=1, stable=True).indices
            order = order[:, : max(int(kept.sum(1).max()), 1)]
            attention = (torch.arange(order.shape[1]) < kept.sum(1, keepdim=True)).long()
            padding = attention == 0
            ids = ids.gather(1, order).masked_fill(padding, self.encoder.pad_id)
            types = types.gather(1, order).masked_fill(padding, 0)
            extra["position_ids"] = order.masked_fill(padding, 0)
        inputs = {"input_ids": ids, "attention_mask": attention, **extra}
        if self._takes_token_types:
            inputs["token_type_ids"] = types
        return {key: value.to(self.device) for key, value in inputs.items()}

    def logits(self, instances: Sequence[Instance], keep: Sequence[np.ndarray]) -> torch.Tensor:
        with self.autocast():
            return self.model(**self.model_inputs(instances, keep)).logits

    # ------------------------------------------------------------------ embeddings
    @torch.no_grad()
    def embeddings(self, instance: Instance) -> torch.Tensor:
        ids = self.model_inputs([instance], keep_everything([instance]))["input_ids"]
        return self.model.get_input_embeddings()(ids)

    @torch.no_grad()
    def baseline_embeddings(self, instance: Instance) -> torch.Tensor:
        table = self.model.get_input_embeddings().weight
        stand_in = self.mask_id if self.masking == "mask" else self.encoder.pad_id
        document = torch.from_numpy(self.document_positions(instance)).to(table.device)
        embeddings = self.embeddings(instance)
        return torch.where(document[None, :, None], table[stand_in], embeddings)

    def logits_from_embeddings_batch(
        self, instances: Sequence[Instance], embeddings: torch.Tensor
    ) -> torch.Tensor:
        """The model's own padded batch of ``instances`` (attention off on padding), with
        ``embeddings`` (cut to its length: only padding goes) in place of the token ids."""
        inputs = self.model_inputs(instances, keep_everything(instances))
        length = inputs.pop("input_ids").shape[1]
        with self.autocast():
            return self.model(inputs_embeds=embeddings[:, :length], **inputs).logits
