"""The bidirectional GRU recurrence of :class:`~rationalizer.models.encoders.GRUEncoder` on CPU.

PyTorch's ``nn.GRU`` on CPU records about ten autograd nodes per direction and time step and
runs two small matrix products per direction and step in the backward pass; at the sizes a
rationalizer trains (batch 32, 100 units, 512 words) that bookkeeping, not arithmetic, is most
of a training step. :class:`BidirectionalGRU` runs both directions as one batched product per
step, saves the gates itself and computes the backward pass by hand: one batched product per
step, with the weight gradients as one large product at the end. The results are those of two
``nn.GRU`` up to float rounding (``tests/models/test_recurrence.py``).

The per-step products are too small to split across threads: split, each one waits for a
second thread, and on a busy machine that thread is often descheduled (a training step on 2
threads of a shared 2-core machine took several times longer than on one). The recurrence
therefore runs on one thread; the large products before and after it keep every thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

_sigmoid_backward = torch.ops.aten.sigmoid_backward
_tanh_backward = torch.ops.aten.tanh_backward


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class BidirectionalGRU(torch.autograd.Function):
    """Both directions of a one-layer GRU, stacked along a leading direction axis D.

    ``gates_in`` (D, T, B, 3H): each direction's input projection ``W_ih x + b_ih`` in the
    order that direction reads; ``weight_hh`` (D, 3H, H) and ``bias_hh`` (D, 3H) as in
    ``nn.GRU``; ``carry`` (D, T, B, 1): 1 where the state carries on, 0 where it is reset to
    zero (padding), so a direction that reads padding first starts each row from a zero state
    at its last real word. Returns the states (D, T, B, H), zero where ``carry`` is 0.
    """

    @staticmethod
    def forward(ctx, gates_in: Tensor, weight_hh: Tensor, bias_hh: Tensor, carry: Tensor):
        directions, steps, batch, three_h = gates_in.shape
        size = three_h // 3
        weight_t = weight_hh.transpose(1, 2)
        bias = bias_hh.unsqueeze(1)
        # time-major, so that each step's product writes one contiguous block
        hidden_gates = gates_in.new_empty(steps, directions, batch, three_h)
        reset_update = gates_in.new_empty(directions, steps, batch, 2 * size)
        candidates = gates_in.new_empty(directions, steps, batch, size)
        states = gates_in.new_empty(directions, steps, batch, size)
        input_rz, input_n = gates_in[..., : 2 * size], gates_in[..., 2 * size :]
        h = gates_in.new_zeros(directions, batch, size)
        with _one_thread():
            for s in range(steps):
                gh = torch.baddbmm(bias, h, weight_t, out=hidden_gates[s])
                rz = torch.add(input_rz[:, s], gh[..., : 2 * size], out=reset_update[:, s])
                rz.sigmoid_()
                n = torch.addcmul(
                    input_n[:, s], rz[..., :size], gh[..., 2 * size :], out=candidates[:, s]
                ).tanh_()
                h = torch.lerp(n, h, rz[..., size:], out=states[:, s])
                h.mul_(carry[:, s])
        ctx.save_for_backward(weight_hh, carry, hidden_gates, reset_update, candidates, states)
        return states

    @staticmethod
    def backward(ctx, grad_states: Tensor):
        weight_hh, carry, hidden_gates, reset_update, candidates, states = ctx.saved_tensors
        directions, steps, batch, size = states.shape
        # The gradient of the hidden gates W_hh h + b_hh; it becomes that of gates_in once the
        # weight gradients are taken, when its n part is replaced by the gradient of a.
        # direction-major, so that the weight gradients below read it without a copy
        grad_gates = states.new_empty(directions, steps, batch, 3 * size)
        grad_a_all = torch.empty_like(candidates)
        grad_rz = states.new_empty(directions, batch, 2 * size)
        zero = states.new_zeros(directions, batch, size)
        grad_h = grad_states[:, steps - 1]
        with _one_thread():
            for s in range(steps - 1, -1, -1):
                # h = carry · (n + z (h_prev − n)), n = tanh(a), a = i_n + r · (W_hn h_prev + b_hn)
                r, z = reset_update[:, s, :, :size], reset_update[:, s, :, size:]
                n = candidates[:, s]
                grad_out = grad_h * carry[:, s]
                grad_a = _tanh_backward(
                    torch.addcmul(grad_out, grad_out, z, value=-1),
                    n,
                    grad_input=grad_a_all[:, s],
                )
                torch.mul(grad_a, hidden_gates[s, ..., 2 * size :], out=grad_rz[..., :size])
                previous = states[:, s - 1] if s else zero
                torch.mul(grad_out, previous - n, out=grad_rz[..., size:])
                grad_gh = grad_gates[:, s]
                _sigmoid_backward(grad_rz, reset_update[:, s], grad_input=grad_gh[..., : 2 * size])
                torch.mul(grad_a, r, out=grad_gh[..., 2 * size :])
                if s:
                    carried = torch.addcmul(grad_states[:, s - 1], grad_out, z)
                    grad_h = torch.baddbmm(carried, grad_gh, weight_hh)
        previous = torch.cat([states.new_zeros(directions, 1, batch, size), states[:, :-1]], 1)
        previous = previous.view(directions, steps * batch, size)
        flat = grad_gates.view(directions, steps * batch, 3 * size)
        grad_weight = flat.transpose(1, 2) @ previous
        grad_bias = flat.sum(1)
        grad_gates_in = flat.view(directions, steps, batch, 3 * size)
        grad_gates_in[..., 2 * size :] = grad_a_all
        return grad_gates_in, grad_weight, grad_bias, None


def _both_directions(forward: nn.GRU, backward: nn.GRU, name: str) -> Tensor:
    """The parameter ``name`` of both directions stacked (2, ...); ``get_parameter`` because
    ``nn.GRU`` registers its weights under names that only exist at run time."""
    return torch.stack([forward.get_parameter(name), backward.get_parameter(name)])


def bidirectional_gru(embedded: Tensor, real: Tensor, forward: nn.GRU, backward: nn.GRU) -> Tensor:
    """States (B, L, 2H) of right-padded inputs (B, L, E): ``forward`` reads each row left to
    right, ``backward`` right to left from the row's last real word (``real`` (B, L) is 1 on
    real positions); padding positions get zero states."""
    steps = embedded.transpose(0, 1)  # (L, B, E)
    length, batch, _ = steps.shape
    # The backward direction reads the time-reversed input; its state is reset at padding.
    inputs = torch.stack([steps, steps.flip(0)]).reshape(2, length * batch, -1)
    weight_ih = _both_directions(forward, backward, "weight_ih_l0").transpose(1, 2)
    bias_ih = _both_directions(forward, backward, "bias_ih_l0").unsqueeze(1)
    gates_in = torch.baddbmm(bias_ih, inputs, weight_ih).view(2, length, batch, -1)
    kept = real.transpose(0, 1).unsqueeze(-1).to(gates_in.dtype)
    states = BidirectionalGRU.apply(
        gates_in,
        _both_directions(forward, backward, "weight_hh_l0"),
        _both_directions(forward, backward, "bias_hh_l0"),
        torch.stack([kept, kept.flip(0)]),
    )
    return torch.cat([states[0], states[1].flip(0)], dim=-1).transpose(0, 1)
