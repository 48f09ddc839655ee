"""The CPU recurrence of the GRU encoder against two ``nn.GRU``: same states, same gradients."""

from __future__ import annotations

import pytest
import torch

from rationalizer.models.encoders import GRUEncoder
from rationalizer.models.recurrence import bidirectional_gru


@pytest.fixture
def encoder() -> GRUEncoder:
    torch.manual_seed(0)
    return GRUEncoder(30, 5, 4, freeze_embeddings=False).double()


def _padded(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of right-padded rows of ``lengths``."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30, (len(lengths), max(lengths)), generator=generator)
    mask = (torch.arange(max(lengths)) < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


def _states_and_gradients(encoder: GRUEncoder, states_of, lengths: list[int]):
    ids, mask = _padded(lengths)
    embedded = encoder.embedding(ids) * mask.unsqueeze(-1)
    states = states_of(embedded, mask) * mask.unsqueeze(-1)
    weights = torch.randn(states.shape, generator=torch.Generator().manual_seed(2)).double()
    parameters = list(encoder.parameters())
    return states, torch.autograd.grad((states * weights).sum(), parameters)


@pytest.mark.parametrize("lengths", [[6, 4, 1], [3, 3], [1]])
def test_recurrence_equals_two_library_grus_on_padded_rows(encoder, lengths):
    """Every weight's gradient (embeddings included) and every state agree with ``nn.GRU``;
    in float64 the difference is rounding only."""
    looped = _states_and_gradients(
        encoder,
        lambda x, m: bidirectional_gru(x, m, encoder.forward_gru, encoder.backward_gru),
        lengths,
    )
    library = _states_and_gradients(encoder, encoder.library_states, lengths)
    torch.testing.assert_close(looped[0], library[0], rtol=0, atol=1e-12)
    for ours, reference in zip(looped[1], library[1], strict=True):
        torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


def test_padding_changes_no_state_or_gradient(encoder):
    """A row's states are the same alone as next to a longer row, and zero on its padding."""
    alone = _states_and_gradients(encoder, encoder.library_states, [3])
    ids, mask = _padded([3])
    longer = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], 1)
    padded_mask = torch.cat([mask, torch.zeros(1, 4, dtype=torch.long)], 1)
    embedded = encoder.embedding(torch.cat([longer, torch.randint(1, 30, (1, 7))]))
    both_mask = torch.cat([padded_mask, torch.ones(1, 7, dtype=torch.long)])
    embedded = embedded * both_mask.unsqueeze(-1)
    states = bidirectional_gru(embedded, both_mask, encoder.forward_gru, encoder.backward_gru)
    torch.testing.assert_close(states[0, :3], alone[0][0], rtol=0, atol=1e-12)
    assert torch.all(states[0, 3:] == 0)


def test_the_encoder_under_autocast_agrees_within_bfloat16_rounding(encoder):
    ids, mask = _padded([5, 2])
    keep = mask.double()
    plain = encoder(ids, mask, torch.zeros_like(ids), keep)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = encoder.float()(ids, mask, torch.zeros_like(ids), keep.float())
    torch.testing.assert_close(mixed.float(), plain.float(), rtol=0, atol=0.05)
