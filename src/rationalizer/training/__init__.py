"""Training self-explaining classifiers: settings, data pipeline, methods and run directories."""

from rationalizer.training.batching import (
    BucketBatchSampler,
    EncodedExample,
    TrainingExample,
    build_encoder,
    choose_annotated,
    collate_batch,
    encode_examples,
    to_device,
)
from rationalizer.training.checkpoint import (
    Checkpoint,
    ResumeState,
    RngState,
    load_checkpoint,
    save_checkpoint,
)
from rationalizer.training.config import TrainConfig, learning_rate_for

__all__ = [
    "BucketBatchSampler",
    "Checkpoint",
    "EncodedExample",
    "ResumeState",
    "RngState",
    "TrainConfig",
    "TrainingExample",
    "build_encoder",
    "choose_annotated",
    "collate_batch",
    "encode_examples",
    "learning_rate_for",
    "load_checkpoint",
    "save_checkpoint",
    "to_device",
]
