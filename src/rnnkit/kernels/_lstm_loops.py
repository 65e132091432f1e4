"""The LSTM kernel's Python loops: the forward and backward step loops written as the equations.

These are the loops to read (the vanishing-gradient lab, :mod:`rnnkit.lab`, reads
``dLoss/dh_t`` and ``dLoss/dc_t`` from :func:`backward`, or from the compiled loop, through
``grad_hook``); the compiled loops (``_ext/lstm.cpp``'s
``cell_row`` / ``backward_row``) compute the same, faster. Everything is time-major, in
processing order, packed ``[i | f | g | o]``::

    z = x_t @ W_x + b + h_rec @ W_h         # (N, 4H), h_rec = h_prev (* recurrent_mask)
    i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
    c = f * c_prev + i * g
    h = o * tanh(c)

and a padded step (mask False) keeps ``h``, ``c`` and repeats the previous output.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import LoopPlan, OutputGrads


def forward(Z: Tensor, h0: Tensor, c0: Tensor, W_h: Tensor, plan: LoopPlan):
    """The forward step loop over ``Z`` (T, N, 4H), which holds ``x_t @ W_x + b`` of every step
    and is overwritten with the gates ``[i | f | g | o]`` (what the backward needs).

    Returns ``h_seq``, ``c_seq`` (T+1, N, H; ``[t]`` is the state before step ``t``),
    ``tanh_c`` (T, N, H), ``h_rec`` (T, N, H: what ``W_h`` multiplied) and ``y_seq`` (T, N, H).
    """
    T, N, H4 = Z.shape
    H = H4 // 4
    m_seq, recurrent_mask = plan.m_seq, plan.recurrent_mask
    h_seq = Z.new_empty(T + 1, N, H)  # h_seq[t] is h_prev of step t; h_seq[T] is h_T
    c_seq = Z.new_empty(T + 1, N, H)
    h_seq[0], c_seq[0] = h0, c0
    tanh_c = Z.new_empty(T, N, H)
    h_rec = h_seq[:-1] if recurrent_mask is None else Z.new_empty(T, N, H)  # (T, N, H)
    y_seq = h_seq[1:] if m_seq is None else Z.new_empty(T, N, H)  # (T, N, H)
    y_prev = Z.new_zeros(N, H)  # the output before the first real step

    for t in range(T):
        h_prev, c_prev = h_seq[t], c_seq[t]  # (N, H) each
        if recurrent_mask is not None:
            torch.mul(h_prev, recurrent_mask, out=h_rec[t])  # what W_h multiplies
        z = Z[t].addmm_(h_rec[t], W_h)  # (N, 4H): z = x_t @ W_x + b + h_rec @ W_h
        z_i, z_f, z_g, z_o = z.chunk(4, dim=1)  # 4 x (N, H), views into Z[t]
        i = z_i.sigmoid_()  # input gate: how much of the candidate to write
        f = z_f.sigmoid_()  # forget gate: how much of the old cell to keep
        g = z_g.tanh_()  # candidate cell values
        o = z_o.sigmoid_()  # output gate: how much of the cell to show
        c = torch.mul(f, c_prev, out=c_seq[t + 1]).addcmul_(i, g)  # c = f * c_prev + i * g
        tc = torch.tanh(c, out=tanh_c[t])
        h = torch.mul(o, tc, out=h_seq[t + 1])  # h = o * tanh(c)
        if m_seq is not None:  # a padded step keeps the state and repeats the output
            m = m_seq[t]  # (N, 1)
            y_seq[t] = torch.where(m, h, y_prev)
            h.copy_(torch.where(m, h, h_prev))
            c.copy_(torch.where(m, c, c_prev))
            y_prev = y_seq[t]
    return h_seq, c_seq, tanh_c, h_rec, y_seq


def backward(
    W_h: Tensor,
    gates: Tensor,
    c_seq: Tensor,
    tanh_c: Tensor,
    dy: Tensor,
    dh_T: Tensor,
    dc_T: Tensor,
    plan: LoopPlan,
    record_dh: Tensor | None = None,
    record_dc: Tensor | None = None,
):
    """The backward step loop (BPTT), min-char-rnn style: one ``for t in reversed(range(T))``
    carrying ``dh_next`` and ``dc_next`` (dLoss/dh_t and dLoss/dc_t from the steps after ``t``).

    ``gates`` (T, N, 4H) are the forward's ``[i | f | g | o]``, ``dy`` (N, T, H) in processing
    order. Returns ``dZ`` (T, N, 4H, dLoss/dz of every step), ``dh0`` and ``dc0``. The
    gradient readout, if asked: dLoss/dh_t into ``record_dh``, dLoss/dc_t into ``record_dc``
    (T, N, H each).
    """
    T = gates.shape[0]
    m_seq, recurrent_mask = plan.m_seq, plan.recurrent_mask
    dZ = torch.empty_like(gates)  # (T, N, 4H)
    grads_y = OutputGrads(dy, m_seq)  # dLoss/dy, routed through the mask
    dh_next, dc_next = dh_T, dc_T  # (N, H) each

    for t in reversed(range(T)):
        i, f, g, o = gates[t].chunk(4, dim=1)  # 4 x (N, H)
        c_prev, tc = c_seq[t], tanh_c[t]  # (N, H) each
        m = grads_y.mask(t)  # (N, 1) bool, or None
        dh = grads_y.into_h(t, dh_next, record_dh)  # backprop into h_t: y_t and step t+1
        dc_in = dc_next if m is None else torch.where(m, dc_next, 0.0)  # padded: none to the cell
        dc = dc_in + dh * o * (1 - tc * tc)  # backprop into c_t, also through h = o * tanh(c)
        if record_dc is not None:  # the readout: a padded step's c_t is c_{t-1}
            record_dc[t] = dc if m is None else torch.where(m, dc, dc_next)
        dz_i = dc * g * i * (1 - i)  # backprop into z_i, through c = ... + i * g
        dz_f = dc * c_prev * f * (1 - f)  # backprop into z_f, through c = f * c_prev + ...
        dz_g = dc * i * (1 - g * g)  # backprop into z_g, through g = tanh(z_g)
        dz_o = dh * tc * o * (1 - o)  # backprop into z_o, through h = o * tanh(c)
        dz = torch.cat((dz_i, dz_f, dz_g, dz_o), dim=1, out=dZ[t])  # (N, 4H)
        if m is not None:
            dz.copy_(torch.where(m, dz, 0.0))  # a padded step's cell gets nothing
        dh_rec = dz @ W_h.t()  # (N, H): backprop into h_rec, through z = ... + h_rec @ W_h
        if recurrent_mask is not None:
            dh_rec = dh_rec * recurrent_mask  # backprop into h_prev, through h_prev * mask
        if m is None:
            dc_next = dc * f  # backprop into c_{t-1}, through c = f * c_prev + ...
            dh_next = dh_rec  # backprop into h_{t-1}
        else:  # a padded step passes dh_next and dc_next on to step t-1 unchanged
            dc_next = torch.where(m, dc * f, dc_next)
            dh_next = torch.where(m, dh_rec, dh_next)
    return dZ, dh_next, dc_next
