"""rnnkit's whole-sequence simple (Elman) RNN: one GEMM for the inputs, hand-written BPTT.

Computes exactly what the reference loop :func:`rnnkit.functional.recurrent.simple_rnn`
computes (same signature, every activation, masks, ``go_backwards``, recurrent dropout), and is
tested against it: ``h = act(x_t @ W_x + h_prev @ W_h + b)``.

The backward needs only the outputs ``h`` of every step: each activation's derivative is
written in terms of its output (``tanh' = 1 - h^2``, ``sigmoid' = h (1 - h)``, ...).

Double backward is not supported (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .._validation import choice
from ._common import (
    GradHook,
    LoopPlan,
    OutputGrads,
    batch_first,
    check_sequence,
    check_shape,
    deliver,
    records,
    time_major,
)

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "softmax")


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    activation: str = "tanh",
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    *,
    grad_hook: GradHook | None = None,
) -> tuple[Tensor, tuple[Tensor]]:
    """Simple RNN over a whole sequence with a hand-written backward.

    Args:
        x: inputs (N, T, D), batch-first.
        h0: initial state (N, H).
        W_x: input weights (D, H). W_h: recurrent weights (H, H). b: bias (H,) or None.
        activation: one of ``'tanh'``, ``'relu'``, ``'sigmoid'``, ``'linear'``, ``'softmax'``.
        mask: bool (N, T), True on real steps; a padded step carries the state forward and
            repeats the previous output (zeros before the first real step).
        go_backwards: process ``t = T-1, ..., 0``; ``y`` comes back in processing order.
        recurrent_mask: (N, H), multiplied into ``h_prev`` where it enters ``h_prev @ W_h``.
        grad_hook: ``grad_hook(t, dh_t)`` called in the backward for every step, see
            :data:`rnnkit.kernels._common.GradHook`.

    Returns:
        ``(y, (h_T,))``: ``y`` (N, T, H), final state (N, H).
    """
    choice("simple_rnn", "activation", activation, ACTIVATIONS)
    N, T, D, H = check_sequence("simple_rnn", x, h0, mask, recurrent_mask)
    check_shape("simple_rnn", "W_x", W_x, (D, H), "(D, H)")
    check_shape("simple_rnn", "W_h", W_h, (H, H), "(H, H)")
    check_shape("simple_rnn", "b", b, (H,), "(H,)")
    if T == 0:
        return x.new_zeros(N, 0, H), (h0,)
    plan = LoopPlan.make(mask, go_backwards, recurrent_mask, grad_hook, compiled=None)
    y, h_T = _SimpleRNN.apply(x, h0, W_x, W_h, b, activation, plan)
    return y, (h_T,)


def _activate_(z: Tensor, activation: str) -> None:
    """``z = act(z)`` in place; ``z`` is (N, H)."""
    if activation == "tanh":
        # torch.tanh, not 2 sigmoid(2z) - 1: near z = 0 that form loses relative accuracy
        # (about 1e-7 / |z|), and a simple RNN's recurrence carries the error on (measured
        # 2e-5 from the reference after 20 steps with saturating weights).
        z.tanh_()
    elif activation == "relu":
        z.relu_()
    elif activation == "sigmoid":
        z.sigmoid_()
    elif activation == "softmax":
        z.copy_(torch.softmax(z, dim=1))


def _backprop_activation(dh: Tensor, h: Tensor, activation: str) -> Tensor:
    """``dz = dh * act'(z)``, written in terms of the output ``h = act(z)``; all (N, H)."""
    if activation == "tanh":
        return dh * (1 - h * h)
    if activation == "sigmoid":
        return dh * (1 - h) * h
    if activation == "relu":
        return torch.where(h > 0, dh, 0.0)  # dh where h > 0 (none at z = 0, as torch.relu)
    if activation == "softmax":  # s * (dh - <dh, s>)
        return (dh - (dh * h).sum(dim=1, keepdim=True)) * h
    return dh  # linear


class _SimpleRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, W_x, W_h, b, activation, plan: LoopPlan):
        N, T, D = x.shape
        H = h0.shape[1]
        m_seq, recurrent_mask = plan.m_seq, plan.recurrent_mask
        x_seq = time_major(x, plan.go_backwards)  # (T, N, D)

        h0_z_seq = x.new_empty(T + 1, N, H)  # [h0, then z of every step]
        z_seq = h0_z_seq[1:]  # (T, N, H): x_t @ W_x + b, then the cell's output act(z)
        if b is None:
            torch.mm(x_seq.view(T * N, D), W_x, out=z_seq.view(T * N, H))
        else:
            torch.addmm(b, x_seq.view(T * N, D), W_x, out=z_seq.view(T * N, H))
        # h_seq[t] is h_prev of step t, h_seq[T] is h_T; without a mask they are the cell outputs
        h_seq = h0_z_seq if m_seq is None else x.new_empty(T + 1, N, H)  # (T + 1, N, H)
        h_seq[0] = h0
        # what W_h multiplies: h_prev, or h_prev * recurrent_mask
        h_rec = h_seq[:-1] if recurrent_mask is None else x.new_empty(T, N, H)  # (T, N, H)
        y_seq = h_seq[1:] if m_seq is None else x.new_empty(T, N, H)  # (T, N, H)
        y_prev = x.new_zeros(N, H)

        # per-step views, made once, each (N, H)
        z_, h_, h_rec_ = (buf.unbind(0) for buf in (z_seq, h_seq, h_rec))
        for t in range(T):
            h_prev, h = h_[t], h_[t + 1]  # without a mask h is z_seq[t]
            if recurrent_mask is not None:
                torch.mul(h_prev, recurrent_mask, out=h_rec_[t])
            z = z_[t]  # (N, H), holds x_t @ W_x + b
            z.addmm_(h_rec_[t], W_h)  # z += h_prev @ W_h
            _activate_(z, activation)  # the cell's output act(z)
            if m_seq is not None:  # a padded step keeps the state and repeats the output
                m = m_seq[t]  # (N, 1)
                torch.where(m, z, y_prev, out=y_seq[t])
                torch.where(m, z, h_prev, out=h)
                y_prev = y_seq[t]

        ctx.save_for_backward(x_seq, W_x, W_h, b, z_seq, h_rec)
        ctx.activation, ctx.plan = activation, plan
        y = y_seq.transpose(0, 1).contiguous()  # (N, T, H)
        return y, h_seq[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T):
        x_seq, W_x, W_h, b, out_seq, h_rec = ctx.saved_tensors
        activation, plan = ctx.activation, ctx.plan
        T, N, H = out_seq.shape
        D = x_seq.shape[2]

        dZ = torch.empty_like(out_seq)  # (T, N, H): dLoss/dz of every step
        grads_y = OutputGrads(dy, plan.m_seq)  # dLoss/dy, routed through the mask
        dh_next = dh_T  # (N, H): dLoss/dh_t from the steps after t
        record_dh, _ = records(plan.grad_hook, out_seq)  # the readout, (T, N, H) or None
        for t in reversed(range(T)):
            m = grads_y.mask(t)  # (N, 1) bool, or None
            dh = grads_y.into_h(t, dh_next, record_dh)  # backprop into h_t: y_t, step t+1
            dz = _backprop_activation(dh, out_seq[t], activation)  # into z, through act(z)
            if m is not None:
                dz = torch.where(m, dz, 0.0)  # a padded step's cell gets nothing
            dZ[t] = dz
            dh_rec = dz @ W_h.t()  # (N, H): backprop into h_rec, through z = ... + h_rec @ W_h
            if plan.recurrent_mask is not None:
                dh_rec = dh_rec * plan.recurrent_mask  # into h_prev, through h_prev * mask
            # backprop into h_{t-1}; a padded step passes dh_next on unchanged
            dh_next = dh_rec if m is None else torch.where(m, dh_rec, dh_next)
        deliver(plan.grad_hook, record_dh)

        # the weight gradients, once over all steps
        needs = ctx.needs_input_grad
        dZ_flat = dZ.view(T * N, H)
        dx = dW_x = dW_h = db = None
        if needs[0]:
            dx = batch_first(torch.mm(dZ_flat, W_x.t()).view(T, N, D), plan.go_backwards)
        if needs[2]:
            dW_x = torch.mm(x_seq.view(T * N, D).t(), dZ_flat)  # (D, H)
        if needs[3]:
            dW_h = torch.mm(h_rec.reshape(T * N, H).t(), dZ_flat)  # (H, H)
        if b is not None and needs[4]:
            db = dZ_flat.sum(0)  # (H,)
        return dx, dh_next, dW_x, dW_h, db, None, None
