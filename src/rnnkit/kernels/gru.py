"""rnnkit's whole-sequence GRU: one GEMM for the inputs, a fused step loop, hand-written BPTT.

Computes exactly what the reference loop :func:`rnnkit.functional.recurrent.gru` computes
(same signature, both ``reset_after`` forms, masks, ``go_backwards``, recurrent dropout), and is
tested against it. Gates are packed ``[z | r | n]`` (update, reset, new) as in Keras.

Forward
    ``a = x @ W_x + b_x`` for every step in one GEMM -> (T, N, 3H). A step adds the recurrent
    products and applies the gates in place; the buffers keep what the backward needs.
Backward
    One ``for t in reversed(range(T))`` loop carrying ``dh_next`` writes the gradients of the
    pre-activations of every step into (T, N, .) buffers; the weight gradients are then one
    GEMM each over all steps.
The step loops
    As in :mod:`.lstm`: compiled in C++ (:mod:`rnnkit.kernels._ext`, per step the recurrent
    GEMMs and fused passes over the gates) where they build, else the Python loops below; both
    save the same buffers, and both write the gradient readout (``grad_hook``).

Double backward is not supported (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _ext
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


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    reset_after: bool = True,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    *,
    grad_hook: GradHook | None = None,
) -> tuple[Tensor, tuple[Tensor]]:
    """GRU over a whole sequence with a hand-written backward.

    Args:
        x: inputs (N, T, D), batch-first.
        h0: initial state (N, H).
        W_x: input weights (D, 3H), packed ``[z | r | n]``.
        W_h: recurrent weights (H, 3H), same packing.
        b_x, b_h: input and recurrent biases (3H,), each may be None. With
            ``reset_after=False`` the recurrent bias is not used (as in the reference loop).
        reset_after: apply the reset gate after the recurrent product
            (``n = tanh(a_n + r * (h_prev @ W_hn + b_hn))``, PyTorch's and cuDNN's form) or
            before it (``n = tanh(a_n + (r * h_prev) @ W_hn)``, the original paper's form).
        mask: bool (N, T), True on real steps; a padded step carries the state forward and
            repeats the previous output (zeros before the first real step).
        go_backwards: process ``t = T-1, ..., 0``; ``y`` comes back in processing order.
        recurrent_mask: (N, H), multiplied into ``h_prev`` where it enters the recurrent
            products; the undropped ``h_prev`` is interpolated in ``h = z*h_prev + (1-z)*n``.
        grad_hook: ``grad_hook(t, dh_t)`` called in the backward for every step, see
            :data:`rnnkit.kernels._common.GradHook`.

    Returns:
        ``(y, (h_T,))``: ``y`` (N, T, H), final state (N, H).
    """
    N, T, D, H = check_sequence("gru", x, h0, mask, recurrent_mask)
    check_shape("gru", "W_x", W_x, (D, 3 * H), "(D, 3H)")
    check_shape("gru", "W_h", W_h, (H, 3 * H), "(H, 3H)")
    check_shape("gru", "b_x", b_x, (3 * H,), "(3H,)")
    check_shape("gru", "b_h", b_h, (3 * H,), "(3H,)")
    if T == 0:
        return x.new_zeros(N, 0, H), (h0,)
    if not reset_after:
        b_h = None  # the reference's reset-before form has no recurrent bias
    compiled = _ext.loops_for(x) if N > 0 else None  # N = 0: the Python loops
    plan = LoopPlan.make(mask, go_backwards, recurrent_mask, grad_hook, compiled)
    y, h_T = _GRU.apply(x, h0, W_x, W_h, b_x, b_h, reset_after, plan)
    return y, (h_T,)


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, W_x, W_h, b_x, b_h, reset_after, plan: LoopPlan):
        N, T, D = x.shape
        H = h0.shape[1]
        x_seq = time_major(x, plan.go_backwards)  # (T, N, D)

        gates = x.new_empty(T, N, 3 * H)  # a = x_t @ W_x + b_x, then the gates [z | r | n]
        if b_x is None:
            torch.mm(x_seq.view(T * N, D), W_x, out=gates.view(T * N, 3 * H))
        else:
            torch.addmm(b_x, x_seq.view(T * N, D), W_x, out=gates.view(T * N, 3 * H))
        if plan.compiled is None:
            h_seq, h_rec, saved, y_seq = _forward_python(gates, h0, W_h, b_h, reset_after, plan)
        else:
            h_seq, h_rec, saved, y_seq = plan.compiled.gru_forward(
                gates, h0, W_h, b_h, plan.m_seq, plan.recurrent_mask, reset_after
            )
        ctx.save_for_backward(x_seq, W_x, W_h, b_x, b_h, gates, h_seq, h_rec, saved)
        ctx.reset_after = reset_after
        ctx.plan = plan
        y = y_seq.transpose(0, 1).contiguous()  # (N, T, H)
        return y, h_seq[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T):
        x_seq, W_x, W_h, b_x, b_h, gates, h_seq, h_rec, saved = ctx.saved_tensors
        reset_after, plan = ctx.reset_after, ctx.plan
        T, N, H3 = gates.shape
        H = H3 // 3
        D = x_seq.shape[2]
        record_dh, _ = records(plan.grad_hook, h_rec)  # (T, N, H) or None
        if plan.compiled is None:
            dA, dHP, dh0 = _backward_python(
                W_h, gates, h_seq, h_rec, saved, reset_after, dy, dh_T, plan, record_dh
            )
        else:
            dA, dHP, dh0 = plan.compiled.gru_backward(
                W_h,
                gates,
                h_seq,
                h_rec,
                saved,
                plan.m_seq,
                plan.recurrent_mask,
                reset_after,
                dy,
                dh_T,
                record_dh,
            )
        deliver(plan.grad_hook, record_dh)

        # the weight gradients, once over all steps
        needs = ctx.needs_input_grad
        dA_flat = dA.view(T * N, 3 * H)
        h_rec_flat = h_rec.reshape(T * N, H)
        rh_seq = None if reset_after else saved
        dx = dW_x = dW_h = db_x = db_h = None
        if needs[0]:
            dx = batch_first(torch.mm(dA_flat, W_x.t()).view(T, N, D), plan.go_backwards)
        if needs[2]:
            dW_x = torch.mm(x_seq.view(T * N, D).t(), dA_flat)  # (D, 3H)
        if b_x is not None and needs[4]:
            db_x = dA_flat.sum(0)  # (3H,)
        if reset_after:
            dHP_flat = dHP.view(T * N, 3 * H)
            if needs[3]:
                dW_h = torch.mm(h_rec_flat.t(), dHP_flat)  # (H, 3H)
            if b_h is not None and needs[5]:
                db_h = dHP_flat.sum(0)  # (3H,)
        elif needs[3]:
            dW_h = W_h.new_empty(H, 3 * H)
            torch.mm(h_rec_flat.t(), dA_flat[:, : 2 * H], out=dW_h[:, : 2 * H])  # (H, 2H)
            torch.mm(rh_seq.view(T * N, H).t(), dA_flat[:, 2 * H :], out=dW_h[:, 2 * H :])
        return dx, dh0, dW_x, dW_h, db_x, db_h, None, None


def _forward_python(gates, h0, W_h, b_h, reset_after, plan: LoopPlan):
    """The forward step loop in torch ops over ``gates`` (T, N, 3H), which holds
    ``a = x_t @ W_x + b_x`` and is overwritten with the gates ``[z | r | n]``::

        reset_after:  hp = h_rec @ W_h + b_h
                      z, r = sigmoid(a_z + hp_z), sigmoid(a_r + hp_r)
                      n = tanh(a_n + r * hp_n)
        reset before: z, r = sigmoid(a_zr + h_rec @ W_hzr)
                      n = tanh(a_n + (r * h_rec) @ W_hn)
        h = z * h_prev + (1 - z) * n

    Returns ``h_seq`` (T+1, N, H), ``h_rec`` (T, N, H), ``hp_seq`` (T, N, 3H) with
    ``reset_after`` else ``rh_seq`` (T, N, H: ``r * h_rec``), and ``y_seq`` (T, N, H).
    """
    T, N, H3 = gates.shape
    H = H3 // 3
    m_seq, recurrent_mask = plan.m_seq, plan.recurrent_mask
    h_seq = gates.new_empty(T + 1, N, H)  # h_seq[t] is h_prev of step t; h_seq[T] is h_T
    h_seq[0] = h0
    h_rec = h_seq[:-1] if recurrent_mask is None else gates.new_empty(T, N, H)  # (T, N, H)
    if reset_after:
        hp_seq = gates.new_empty(T, N, 3 * H)  # h_rec @ W_h + b_h
    else:
        rh_seq = gates.new_empty(T, N, H)  # r * h_rec, what W_hn multiplies
        W_hzr, W_hn = W_h[:, : 2 * H], W_h[:, 2 * H :]  # (H, 2H), (H, H)
    y_seq = h_seq[1:] if m_seq is None else gates.new_empty(T, N, H)  # (T, N, H)
    y_prev = gates.new_zeros(N, H)  # the output before the first real step

    for t in range(T):
        h_prev = h_seq[t]  # (N, H)
        if recurrent_mask is not None:
            torch.mul(h_prev, recurrent_mask, out=h_rec[t])  # what W_h multiplies
        a_z, a_r, a_n = gates[t].chunk(3, dim=1)  # 3 x (N, H), views: x_t @ W_x + b_x
        if reset_after:
            hp = hp_seq[t]  # (N, 3H)
            if b_h is None:
                torch.mm(h_rec[t], W_h, out=hp)
            else:
                torch.addmm(b_h, h_rec[t], W_h, out=hp)  # hp = h_rec @ W_h + b_h
            hp_z, hp_r, hp_n = hp.chunk(3, dim=1)  # 3 x (N, H)
            z = a_z.add_(hp_z).sigmoid_()  # update gate: how much of h_prev to keep
            r = a_r.add_(hp_r).sigmoid_()  # reset gate: how much of h_prev the candidate sees
            n = a_n.addcmul_(r, hp_n).tanh_()  # candidate state: tanh(a_n + r * hp_n)
        else:
            zr = gates[t, :, : 2 * H].addmm_(h_rec[t], W_hzr).sigmoid_()  # (N, 2H)
            z, r = zr.chunk(2, dim=1)  # update and reset gates, (N, H) each
            rh = torch.mul(r, h_rec[t], out=rh_seq[t])  # (N, H)
            n = a_n.addmm_(rh, W_hn).tanh_()  # candidate state: tanh(a_n + (r * h_rec) @ W_hn)
        h = torch.add(z * h_prev, (1 - z) * n, out=h_seq[t + 1])  # h = z*h_prev + (1-z)*n
        if m_seq is not None:  # a padded step keeps the state and repeats the output
            m = m_seq[t]  # (N, 1)
            y_seq[t] = torch.where(m, h, y_prev)
            h.copy_(torch.where(m, h, h_prev))
            y_prev = y_seq[t]
    return h_seq, h_rec, (hp_seq if reset_after else rh_seq), y_seq


def _backward_python(
    W_h, gates, h_seq, h_rec, saved, reset_after, dy, dh_T, plan: LoopPlan, record_dh=None
):
    """The backward step loop (BPTT): one ``for t in reversed(range(T))`` carrying ``dh_next``
    (dLoss/dh_t from the steps after ``t``). Returns ``dA`` (T, N, 3H: dLoss/da),
    ``dHP`` (T, N, 3H: dLoss/dhp, with ``reset_after``, else None) and ``dh0``. The gradient
    readout, if asked: dLoss/dh_t of every step into ``record_dh`` (T, N, H)."""
    T, H = gates.shape[0], gates.shape[2] // 3
    m_seq, recurrent_mask = plan.m_seq, plan.recurrent_mask
    dA = torch.empty_like(gates)  # (T, N, 3H): of a = x_t @ W_x + b_x, as [z | r | n]
    dHP = torch.empty_like(gates) if reset_after else None  # (T, N, 3H): of hp
    W_hz_r, W_hn = W_h[:, : 2 * H], W_h[:, 2 * H :]  # (H, 2H), (H, H)
    grads_y = OutputGrads(dy, m_seq)  # dLoss/dy, routed through the mask
    dh_next = dh_T  # (N, H)

    for t in reversed(range(T)):
        z, r, n = gates[t].chunk(3, dim=1)  # 3 x (N, H)
        h_prev = h_seq[t]  # (N, H)
        m = grads_y.mask(t)  # (N, 1) bool, or None
        dh = grads_y.into_h(t, dh_next, record_dh)  # backprop into h_t: y_t and step t+1
        dz = dh * h_prev - dh * n  # backprop into z, through h = z * h_prev + (1 - z) * n
        dn = dh * (1 - z)  # backprop into n, through (1 - z) * n
        da_n = dn * (1 - n * n)  # backprop into a_n, through n = tanh(a_n + ...)
        da_z = dz * z * (1 - z)  # backprop into a_z, through z = sigmoid(...)
        if reset_after:
            hp_n = saved[t, :, 2 * H :]  # (N, H): h_rec @ W_hn + b_hn
            dr = da_n * hp_n  # backprop into r, through r * hp_n
            da_r = dr * r * (1 - r)  # backprop into a_r, through r = sigmoid(...)
            dhp_n = da_n * r  # backprop into hp_n, through r * hp_n
            torch.cat((da_z, da_r, da_n), dim=1, out=dA[t])  # (N, 3H)
            torch.cat((da_z, da_r, dhp_n), dim=1, out=dHP[t])  # hp_z, hp_r add to a_z, a_r
            if m is not None:  # a padded step's cell gets nothing
                dA[t] = torch.where(m, dA[t], 0.0)
                dHP[t] = torch.where(m, dHP[t], 0.0)
            dh_rec = dHP[t] @ W_h.t()  # (N, H): backprop into h_rec, through hp = h_rec @ W_h
        else:
            drh = da_n @ W_hn.t()  # (N, H): backprop into r * h_rec, through ... @ W_hn
            dr = drh * h_rec[t]  # backprop into r, through r * h_rec
            da_r = dr * r * (1 - r)  # backprop into a_r, through r = sigmoid(...)
            torch.cat((da_z, da_r, da_n), dim=1, out=dA[t])  # (N, 3H)
            if m is not None:  # a padded step's cell gets nothing
                dA[t] = torch.where(m, dA[t], 0.0)
                drh = torch.where(m, drh, 0.0)
            # backprop into h_rec, through r * h_rec and through h_rec @ W_hzr
            dh_rec = drh * r + dA[t, :, : 2 * H] @ W_hz_r.t()
        if recurrent_mask is not None:
            dh_rec = dh_rec * recurrent_mask  # backprop into h_prev, through h_prev * mask
        dh_prev = dh * z + dh_rec  # backprop into h_{t-1}: through z * h_prev, and h_rec
        # a padded step passes dh_next on to step t-1 unchanged
        dh_next = dh_prev if m is None else torch.where(m, dh_prev, dh_next)
    return dA, dHP, dh_next
