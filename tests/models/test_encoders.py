"""Encoders: a masked position really carries no information, and padding never leaks in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, BertConfig, BertModel

from rationalizer.errors import RationalizerError
from rationalizer.models import GRUEncoder, TransformerEncoder
from rationalizer.models.encoders import QueryAttention

MASKED_POSITION = 1  # a real (non-padding) position in every row of both batches


@pytest.fixture
def gru_encoder(gru_config, embedding_matrix) -> GRUEncoder:
    torch.manual_seed(0)
    c = gru_config
    return GRUEncoder(c.vocab_size, c.embedding_dim, c.hidden_size, embedding_matrix)


@pytest.fixture(scope="module")
def mask_id(minilm_folder: Path) -> int:
    """Line number (from 0) of ``[MASK]`` in MiniLM's WordPiece vocabulary file."""
    return (minilm_folder / "vocab.txt").read_text(encoding="utf-8").splitlines().index("[MASK]")


@pytest.fixture(scope="module")
def hf_minilm(minilm_folder: Path) -> BertModel:
    """MiniLM as Hugging Face loads it, to compare our wrapper against."""
    return AutoModel.from_pretrained(str(minilm_folder), local_files_only=True).eval()


def _inputs(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]


def test_gru_keep_zero_equals_a_zero_embedding(gru_encoder, gru_batch, embedding_matrix):
    ids, attention, types = _inputs(gru_batch)
    keep = attention.float()
    keep[:, MASKED_POSITION] = 0.0
    masked = gru_encoder(ids, attention, types, keep)
    # Token 0 has the all-zero vector: feeding it at full weight is "a zero embedding there".
    assert not embedding_matrix[0].any()
    zeroed_ids = ids.clone()
    zeroed_ids[:, MASKED_POSITION] = 0
    zeroed = gru_encoder(zeroed_ids, attention, types, attention.float())
    assert torch.allclose(masked, zeroed, atol=1e-6)
    # ...and differs from the unmasked input, so the word did carry information.
    full = gru_encoder(ids, attention, types, attention.float())
    assert not torch.allclose(masked, full, atol=1e-4)


def test_gru_real_positions_ignore_padding(gru_encoder, gru_batch):
    """Each row's states equal a bidirectional run on that row alone, without any padding."""
    ids, attention, types = _inputs(gru_batch)
    hidden = gru_encoder(ids, attention, types, attention.float())
    for row, length in enumerate(attention.sum(-1).tolist()):
        alone = gru_encoder.embedding(ids[row : row + 1, :length])
        ahead, _ = gru_encoder.forward_gru(alone)
        behind, _ = gru_encoder.backward_gru(alone.flip(1))
        expected = torch.cat([ahead, behind.flip(1)], dim=-1)
        assert torch.allclose(hidden[row, :length], expected[0], atol=1e-6)
        assert torch.all(hidden[row, length:] == 0)
    assert hidden.shape == (3, 7, gru_encoder.output_size)
    assert gru_encoder.output_size == 2 * 6


def test_gru_rejects_an_embedding_matrix_of_the_wrong_shape(embedding_matrix):
    with pytest.raises(RationalizerError, match=r"\(20, 8\)"):
        GRUEncoder(20, 8, 6, embedding_matrix[:, :5])


def test_gru_embeddings_frozen_or_trainable(embedding_matrix):
    assert not GRUEncoder(20, 8, 6, embedding_matrix).embedding.weight.requires_grad
    trainable = GRUEncoder(20, 8, 6, embedding_matrix, freeze_embeddings=False)
    assert trainable.embedding.weight.requires_grad


def _query_encoder(embedding_matrix) -> GRUEncoder:
    torch.manual_seed(0)
    return GRUEncoder(20, 8, 6, embedding_matrix, query_attention=True)


def test_query_attention_leaves_rows_without_a_query_as_the_plain_gru(
    gru_encoder, gru_batch, embedding_matrix
):
    ids, attention, types = _inputs(gru_batch)
    with_attention = _query_encoder(embedding_matrix)
    with_attention.load_state_dict(gru_encoder.state_dict(), strict=False)
    plain = gru_encoder(ids, attention, types, attention.float())
    attended = with_attention(ids, attention, types, attention.float())
    # Rows 1 and 2 have no query: unchanged; row 0 (query, <sep>, document) is changed.
    assert torch.allclose(attended[1:], plain[1:], atol=1e-6)
    assert not torch.allclose(attended[0, 3:], plain[0, 3:], atol=1e-4)
    assert torch.all(attended[1:][attention[1:] == 0] == 0)


def test_query_attention_reads_only_query_positions():
    """A document state's context is built from query states only: changing another document
    state changes nothing but that position's own output."""
    torch.manual_seed(0)
    layer = QueryAttention(4)
    states = torch.randn(1, 6, 4)
    attention = torch.ones(1, 6, dtype=torch.long)
    types = torch.tensor([[0, 0, 1, 1, 1, 1]])
    out = layer(states, attention, types)
    changed = states.clone()
    changed[0, 4] += 1.0
    out_changed = layer(changed, attention, types)
    others = [0, 1, 2, 3, 5]
    assert torch.allclose(out[0, others], out_changed[0, others], atol=1e-6)
    changed_query = states.clone()
    changed_query[0, 1] += 1.0
    assert not torch.allclose(layer(changed_query, attention, types)[0, 5], out[0, 5], atol=1e-4)


def test_query_attention_follows_the_query_at_any_distance(embedding_matrix):
    """With attention, the last state of a 300-word document still depends on the query
    clearly; the plain BiGRU's forward state has mostly forgotten it."""
    torch.manual_seed(0)
    document = torch.randint(3, 20, (300,))

    def last_state_change(encoder: GRUEncoder) -> float:
        rows = [torch.cat([torch.tensor(q), torch.tensor([2]), document]) for q in ([5], [6])]
        ids = torch.stack(rows)
        attention = torch.ones_like(ids)
        types = torch.cat([torch.zeros(2, 2), torch.ones(2, 300)], dim=1).long()
        with torch.no_grad():
            states = encoder(ids, attention, types, attention.float())
        return float((states[0, -1] - states[1, -1]).abs().max())

    plain = GRUEncoder(20, 8, 6, embedding_matrix)
    attended = _query_encoder(embedding_matrix)
    assert last_state_change(attended) > 10 * last_state_change(plain)


def test_transformer_keep_zero_equals_the_mask_token(hatexplain_batch, hf_minilm, mask_id):
    encoder = TransformerEncoder("minilm").eval()
    assert encoder.mask_token_id == mask_id
    assert encoder.output_size == 384
    ids, attention, types = _inputs(hatexplain_batch)
    keep = attention.float()
    keep[:, MASKED_POSITION] = 0.0
    masked_ids = ids.clone()
    masked_ids[:, MASKED_POSITION] = encoder.mask_token_id
    with torch.no_grad():
        ours = encoder(ids, attention, types, keep)
        reference = hf_minilm(
            input_ids=masked_ids, attention_mask=attention, token_type_ids=types
        ).last_hidden_state
        unmasked = encoder(ids, attention, types, attention.float())
    real = attention.bool()
    assert torch.allclose(ours[real], reference[real], atol=1e-5)
    assert not torch.allclose(ours[real], unmasked[real], atol=1e-3)


def test_transformer_fractional_keep_mixes_word_and_mask_embeddings(
    hatexplain_batch, hf_minilm, mask_id
):
    encoder = TransformerEncoder("minilm").eval()
    ids, attention, types = _inputs(hatexplain_batch)
    keep = attention.float()
    keep[:, MASKED_POSITION] = 0.25
    table = hf_minilm.get_input_embeddings().weight
    mixed = table[ids].clone()
    mixed[:, MASKED_POSITION] = 0.25 * table[ids[:, MASKED_POSITION]] + 0.75 * table[mask_id]
    with torch.no_grad():
        ours = encoder(ids, attention, types, keep)
        reference = hf_minilm(
            inputs_embeds=mixed, attention_mask=attention, token_type_ids=types
        ).last_hidden_state
    real = attention.bool()
    assert torch.allclose(ours[real], reference[real], atol=1e-5)


def test_transformer_without_a_mask_token_is_rejected(tmp_path):
    """A model folder with no tokenizer and no mask token in its config cannot hide tokens."""
    tiny = BertConfig(
        vocab_size=30,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    BertModel(tiny).save_pretrained(tmp_path)
    assert "mask_token_id" not in json.loads((tmp_path / "config.json").read_text())
    with pytest.raises(RationalizerError, match="no mask token"):
        TransformerEncoder(tmp_path)


def test_transformer_folder_must_exist(tmp_path):
    with pytest.raises(RationalizerError, match="does not exist"):
        TransformerEncoder(tmp_path / "missing")
    with pytest.raises(RationalizerError, match="cannot load a transformer encoder"):
        TransformerEncoder(tmp_path)  # exists, but holds no model


def test_transformer_attention_dropout_is_off_and_hidden_dropout_on(minilm_folder):
    encoder = TransformerEncoder(minilm_folder)
    assert encoder.model.config.attention_probs_dropout_prob == 0.0
    assert encoder.model.config.hidden_dropout_prob > 0.0
    attention = [m for m in encoder.model.modules() if type(m).__name__ == "BertSelfAttention"]
    assert attention and all(m.dropout.p == 0.0 for m in attention)
