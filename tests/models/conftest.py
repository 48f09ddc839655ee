"""Tiny GRU models on hand-built batches, and the real MiniLM on real HateXplain posts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rationalizer.data import load
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer, collate
from rationalizer.models import ModelConfig, RationalizerModel

VOCAB_SIZE = 20
EMBEDDING_DIM = 8
GRU_HIDDEN = 6
PAD, SEP = 0, 2

# HateXplain test posts (short ones) with their labels; the first is encoded after a query.
HATEXPLAIN_IDS = (
    "1252707503441313794_twitter",  # toxic: "... are you a little retarded"
    "1165785686903009283_twitter",  # non-toxic
    "1178610029273976833_twitter",  # non-toxic
)
QUERY = ("is", "this", "post", "toxic")


@pytest.fixture
def gru_config() -> ModelConfig:
    """A tiny shared-encoder GRU model; vary it with dataclasses.replace."""
    return ModelConfig(
        encoder="gru",
        num_labels=2,
        vocab_size=VOCAB_SIZE,
        embedding_dim=EMBEDDING_DIM,
        hidden_size=GRU_HIDDEN,
    )


@pytest.fixture
def embedding_matrix() -> np.ndarray:
    """Random word vectors with a zero padding row, as WordVocabulary.embedding_matrix gives."""
    matrix = np.random.default_rng(0).normal(size=(VOCAB_SIZE, EMBEDDING_DIM)).astype(np.float32)
    matrix[PAD] = 0.0
    return matrix


@pytest.fixture
def gru_batch() -> dict[str, torch.Tensor]:
    """Three word-level examples of 7, 5 and 3 real positions.

    Row 0 is ``query query <sep> w w w w``; rows 1 and 2 are documents followed by padding.
    """
    input_ids = torch.tensor(
        [
            [5, 6, SEP, 7, 8, 9, 10],
            [11, 12, 13, 14, 15, PAD, PAD],
            [16, 17, 18, PAD, PAD, PAD, PAD],
        ]
    )
    word_ids = torch.tensor(
        [
            [-1, -1, -1, 0, 1, 2, 3],
            [0, 1, 2, 3, 4, -1, -1],
            [0, 1, 2, -1, -1, -1, -1],
        ]
    )
    attention_mask = (torch.arange(7) < torch.tensor([[7], [5], [3]])).long()
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0] * 7, [0] * 7]),
        "word_ids": word_ids,
        "selectable": word_ids >= 0,
        "labels": torch.tensor([0, 1, 0]),
    }


@pytest.fixture(scope="session")
def minilm_folder() -> Path:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # loading must never need the hub
    return minilm_path()


@pytest.fixture(scope="session")
def hatexplain_batch(data_dir: Path, minilm_folder: Path) -> dict[str, torch.Tensor]:
    """Real HateXplain posts encoded by MiniLM's tokenizer; the first one after a query."""
    examples = load("hatexplain", "test", data_dir=data_dir).by_id()
    tokenizer = SubwordTokenizer.from_pretrained(minilm_folder)
    chosen = [examples[i] for i in HATEXPLAIN_IDS]
    encodings = [
        tokenizer.encode(ex.document.tokens, query=QUERY if row == 0 else None)
        for row, ex in enumerate(chosen)
    ]
    batch = collate(encodings, tokenizer.pad_id)
    batch["selectable"] = batch["word_ids"] >= 0
    batch["labels"] = torch.tensor([ex.label == "toxic" for ex in chosen], dtype=torch.long)
    return batch


@pytest.fixture(scope="session")
def minilm_model() -> RationalizerModel:
    """A MiniLM rationalizer in eval mode, shared by tests that never train it."""
    torch.manual_seed(0)
    model = RationalizerModel.build(
        ModelConfig(encoder="transformer", num_labels=2, transformer_path="minilm")
    )
    return model.eval()
