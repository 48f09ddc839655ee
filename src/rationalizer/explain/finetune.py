"""Fine-tune a classifier through its adapter: plainly, or with word dropout for compatibility.

Greedy rationalization and every perturbation method ask a model about inputs with words
removed, which it never saw in training. Vafa et al. (2021) make a model *compatible* with such
inputs by fine-tuning with word dropout; here each word of a training example is removed
independently with probability ``word_dropout``, hidden by the adapter's own masking, so the
model learns exactly the kind of partial input it will be explained with. ``word_dropout=0``
is plain fine-tuning (how the tests build a HateXplain classifier from MiniLM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup

from rationalizer.data import Dataset
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter
from rationalizer.explain.adapters.encoded import EncodedAdapter
from rationalizer.explain.adapters.rationalizer import RationalizerAdapter
from rationalizer.training.config import TRANSFORMER_LEARNING_RATE, learning_rate_for

#: share of the steps with a linear learning-rate warm-up
WARMUP_RATIO = 0.1
#: clip the gradient norm to this value
GRAD_CLIP = 1.0


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning run did: the mean training loss of each epoch, steps and time."""

    epoch_losses: tuple[float, ...]
    steps: int
    examples: int
    seconds: float
    out_dir: Path | None


def finetune(
    adapter: ClassifierAdapter,
    dataset: Dataset,
    *,
    epochs: int = 1,
    lr: float | None = None,
    batch_size: int = 16,
    word_dropout: float = 0.0,
    max_examples: int | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
) -> FinetuneResult:
    """Train ``adapter``'s model in place on ``dataset`` (AdamW, linear warm-up and decay).

    ``lr`` defaults to the training defaults (a GloVe GRU learns at a rate about a hundred
    times larger than a pretrained transformer). ``max_examples`` trains on a seeded random
    subset; ``out_dir`` saves the result where :func:`~rationalizer.explain.load_adapter`
    finds it (a run directory of ours, or a Hugging Face folder: prefix it with ``hf:``).
    The model is left in evaluation mode.
    """
    if not isinstance(adapter, EncodedAdapter):
        raise RationalizerError(
            f"{adapter.describe()} cannot be fine-tuned: only models with weights (our "
            "rationalizer runs and Hugging Face classifiers) can"
        )
    if epochs < 1 or batch_size < 1:
        raise RationalizerError("epochs and batch_size must be at least 1")
    if not 0.0 <= word_dropout < 1.0:
        raise RationalizerError(f"word_dropout must be in [0, 1), got {word_dropout}")
    unknown = sorted(set(dataset.labels) - set(adapter.labels))
    if unknown:
        raise RationalizerError(
            f"{dataset.name} has labels {unknown} that {adapter.describe()} does not "
            f"predict (its labels: {', '.join(adapter.labels)})"
        )
    rng = np.random.default_rng(seed)
    examples = list(dataset)
    if max_examples is not None and max_examples < len(examples):
        examples = [examples[i] for i in np.sort(rng.choice(len(examples), max_examples, False))]
    if not examples:
        raise RationalizerError(f"{dataset.name}/{dataset.split} has no example to train on")
    instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in examples]
    targets = torch.tensor([adapter.label_index(ex.label) for ex in examples])

    torch.manual_seed(seed)
    module = adapter.module
    optimizer = torch.optim.AdamW(
        [p for p in module.parameters() if p.requires_grad], lr=lr or _default_lr(adapter)
    )
    steps_per_epoch = -(-len(instances) // batch_size)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(WARMUP_RATIO * epochs * steps_per_epoch), epochs * steps_per_epoch
    )
    started = time.perf_counter()
    epoch_losses = []
    module.train()
    try:
        for _ in range(epochs):
            total = 0.0
            order = rng.permutation(len(instances))
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = [instances[i] for i in chosen]
                keep = [rng.random(instance.num_words) >= word_dropout for instance in batch]
                logits = adapter.logits(batch, keep)
                loss = F.cross_entropy(logits, targets[chosen].to(logits.device))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), GRAD_CLIP)
                optimizer.step()
                scheduler.step()
                total += loss.item() * len(chosen)
            epoch_losses.append(total / len(instances))
    finally:
        module.eval()
    if out_dir is not None:
        out_dir = Path(out_dir)
        adapter.save(out_dir)
    return FinetuneResult(
        epoch_losses=tuple(epoch_losses),
        steps=epochs * steps_per_epoch,
        examples=len(instances),
        seconds=time.perf_counter() - started,
        out_dir=out_dir,
    )


def _default_lr(adapter: EncodedAdapter) -> float:
    if isinstance(adapter, RationalizerAdapter):
        return learning_rate_for(adapter.rationalizer.config.encoder)
    return TRANSFORMER_LEARNING_RATE
