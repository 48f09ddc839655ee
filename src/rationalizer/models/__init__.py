"""Select-then-predict rationalizer models: encoders, the selector and the full model."""

from rationalizer.models.encoders import GRUEncoder, TextEncoder, TransformerEncoder
from rationalizer.models.rationalizer import (
    ENCODER_KINDS,
    ModelConfig,
    RationalizerModel,
    RationalizerOutput,
)
from rationalizer.models.selector import DROP, SELECT, SelectorHead, sample_mask, topk_mask

__all__ = [
    "DROP",
    "ENCODER_KINDS",
    "SELECT",
    "GRUEncoder",
    "ModelConfig",
    "RationalizerModel",
    "RationalizerOutput",
    "SelectorHead",
    "TextEncoder",
    "TransformerEncoder",
    "sample_mask",
    "topk_mask",
]
