"""The LSTM kernel's autograd Functions and the choice between its step loops.

:class:`LSTMFunction`, :class:`LSTMProjectedFunction` and :class:`LSTMLookupFunction` back
:func:`rnnkit.kernels.lstm.lstm`, ``lstm_projected`` and ``lstm_lookup``: each makes the input
part of ``z`` (one GEMM, a copy, or table rows), then :func:`run_forward` runs the step loop
(compiled, or the Python loops of :mod:`._lstm_loops`) and :func:`run_backward` the BPTT loop,
whose ``dZ`` (T, N, 4H) then gives the weight gradients in one GEMM each. :func:`infer` is the
lean compiled loop for calls without gradients (no buffers saved).

Double backward is not supported (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _ext, _lstm_loops
from ._common import LoopPlan, batch_first, deliver, records, time_major, time_major_copy
from ._lstm_padding import padding_order, unsort


def inference_loops(recurrent_mask: Tensor | None, first: Tensor, *tensors: Tensor | None):
    """The compiled loops if this call needs no gradient and can take the lean inference loop
    (no saved buffers, h and c updated in place), else None."""
    if recurrent_mask is not None:
        return None
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (first, *tensors)
    ):
        return None
    return _ext.loops_for(first)


def infer(
    plan: LoopPlan,
    h0: Tensor,
    c0: Tensor,
    W_h: Tensor,
    z_x: Tensor | None = None,
    table: Tensor | None = None,
    where: Tensor | None = None,
):
    """The lean inference loop (compiled, no buffers for BPTT) on ``z_x`` (T, N, 4H, processing
    order) or on rows of ``table`` (``where`` (N, T), input order); returns
    ``(y or None, (h_T, c_T))``."""
    where_tm = None if where is None else time_major(where, plan.go_backwards)  # (T, N)
    h_T, c_T, y_seq = plan.compiled.lstm_infer(
        z_x,
        table,
        where_tm,
        h0,
        c0,
        W_h.contiguous(),
        plan.m_seq,
        plan.sequences,
        plan.start,
        plan.pad_row,
    )
    return (y_seq.transpose(0, 1) if plan.sequences else None), (h_T, c_T)


def input_projection(x: Tensor, W_x: Tensor, b: Tensor | None, go_backwards: bool):
    """``x`` time-major in processing order (T, N, D), and ``x_t @ W_x + b`` of every step in
    one GEMM, a fresh (T, N, 4H) buffer the step loop may overwrite."""
    x_seq = time_major(x, go_backwards)  # (T, N, D)
    T, N, D = x_seq.shape
    H4 = W_x.shape[1]
    z = x.new_empty(T, N, H4)  # (T, N, 4H)
    if b is None:
        torch.mm(x_seq.view(T * N, D), W_x, out=z.view(T * N, H4))
    else:
        torch.addmm(b, x_seq.view(T * N, D), W_x, out=z.view(T * N, H4))
    return x_seq, z


class LSTMFunction(torch.autograd.Function):
    """:func:`rnnkit.kernels.lstm.lstm`: one GEMM for the inputs, then the step loops."""

    @staticmethod
    def forward(ctx, x, h0, c0, W_x, W_h, b, plan):
        x_seq, z = input_projection(x, W_x, b, plan.go_backwards)  # z: (T, N, 4H)
        y, h_T, c_T, saved = run_forward(ctx, plan, z, h0, c0, W_h)
        ctx.save_for_backward(x_seq, W_x, b, *saved)
        return y, h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        x_seq, W_x, b, *saved = ctx.saved_tensors
        needs = ctx.needs_input_grad
        dZ, dh0, dc0, dW_h, _ = run_backward(ctx, saved, dy, dh_T, dc_T, needs[4])
        T, N, H4 = dZ.shape
        D = x_seq.shape[2]
        dZ_flat = dZ.view(T * N, H4)  # (T*N, 4H)
        dx = dW_x = db = None
        if needs[0]:
            dx = batch_first(torch.mm(dZ_flat, W_x.t()).view(T, N, D), ctx.plan.go_backwards)
        if needs[3]:
            dW_x = torch.mm(x_seq.view(T * N, D).t(), dZ_flat)  # (D, 4H)
        if b is not None and needs[5]:
            db = dZ_flat.sum(0)  # (4H,)
        return dx, dh0, dc0, dW_x, dW_h, db, None


class LSTMProjectedFunction(torch.autograd.Function):
    """:func:`rnnkit.kernels.lstm.lstm_projected`: the step loops on a copy of ``z_x``;
    dLoss/dz_x = dZ."""

    @staticmethod
    def forward(ctx, z_x, h0, c0, W_h, plan):
        z = time_major_copy(z_x, plan.go_backwards)  # (T, N, 4H), ours to overwrite
        y, h_T, c_T, saved = run_forward(ctx, plan, z, h0, c0, W_h)
        ctx.save_for_backward(*saved)
        return y, h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        needs = ctx.needs_input_grad
        dZ, dh0, dc0, dW_h, _ = run_backward(ctx, ctx.saved_tensors, dy, dh_T, dc_T, needs[3])
        dz_x = batch_first(dZ, ctx.plan.go_backwards) if needs[0] else None  # (N, T, 4H)
        return dz_x, dh0, dc0, dW_h, None


class LSTMLookupFunction(torch.autograd.Function):
    """:func:`rnnkit.kernels.lstm.lstm_lookup`: the input part of step t, row n is
    ``table[where[t, n]]``.

    With ``plan.pad_row`` given (compiled loop, no masks, not ``go_backwards``, an initial
    state without gradient), rows run in order of their first real step (``start``) and come
    back in their own order; the kernel computes the shared padding in front once, and carries
    its gradient back once (``dZ_prefix``: its rows of dz, read from ``table[pad_row]``)."""

    @staticmethod
    def forward(ctx, table, where, h0, c0, W_h, plan, pad_row):
        U, H4 = table.shape
        N, T = where.shape
        order = None
        shared = plan.grad_hook is None  # the readout wants every row's own steps
        if plan.compiled is not None and shared and not any(ctx.needs_input_grad[2:4]):
            start, order = padding_order(
                where, pad_row, plan.m_seq, plan.go_backwards, plan.recurrent_mask
            )
            plan = plan.with_(start=start, pad_row=0 if pad_row is None else pad_row)
        ctx.order, ctx.rows, ctx.pad_row = order, U, pad_row
        if order is not None:  # rows in order of their first real token
            where, h0, c0 = where[order], h0[order], c0[order]
        where_tm = time_major(where, plan.go_backwards)  # (T, N), processing order
        if plan.compiled is None:  # the Python loops: gather the rows
            z = table.index_select(0, where_tm.reshape(-1)).view(T, N, H4)  # (T, N, 4H)
            y, h_T, c_T, saved = run_forward(ctx, plan, z, h0, c0, W_h)
        else:  # the compiled loop reads the table rows itself
            z = table.new_empty(T, N, H4)  # (T, N, 4H)
            y, h_T, c_T, saved = run_forward(
                ctx, plan, z, h0, c0, W_h, table.contiguous(), where_tm
            )
        ctx.save_for_backward(*saved, where_tm)
        if order is not None:  # back to the caller's order
            h_T, c_T = unsort(h_T, order), unsort(c_T, order)
            y = unsort(y, order) if plan.sequences else y
        return (y if plan.sequences else y.new_empty(0)), h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        *saved, where_tm = ctx.saved_tensors
        order, plan = ctx.order, ctx.plan
        if order is not None:  # into the kernel's row order
            dy, dh_T, dc_T = (None if g is None else g[order] for g in (dy, dh_T, dc_T))
        if dy is not None and dy.numel() == 0:
            dy = None  # sequences=False: y was a placeholder
        needs = ctx.needs_input_grad
        dZ, dh0, dc0, dW_h, dZ_prefix = run_backward(ctx, saved, dy, dh_T, dc_T, needs[4])
        if order is not None:
            dh0 = dc0 = None  # the initial state took no gradient (see forward)
        dtable = None
        if needs[0]:
            H4 = dZ.shape[2]
            if plan.compiled is None:
                dtable = dZ.new_zeros(ctx.rows, H4).index_add_(
                    0, where_tm.reshape(-1), dZ.reshape(-1, H4)
                )
            else:  # the rows' steps in their shared padding (dZ zero) are skipped
                dtable = plan.compiled.scatter_rows(
                    dZ.reshape(-1, H4), where_tm.reshape(-1), ctx.rows, plan.start
                )
            if dZ_prefix is not None and dZ_prefix.numel():
                dtable[ctx.pad_row] += dZ_prefix.sum(0)  # the shared padding read this row
        return dtable, None, dh0, dc0, dW_h, None, None


# ---------------------------------------------------------------- the step loops, either kind


def run_forward(ctx, plan: LoopPlan, z, h0, c0, W_h, table=None, where_tm=None):
    """Run the step loop over ``z`` (T, N, 4H), overwriting it with the gates.

    ``z`` holds ``x_t @ W_x + b`` of every step in processing order. Or, for the compiled loop
    only, ``z`` is uninitialised and row ``t, n`` of the input part is ``table[where_tm[t, n]]``,
    with the shared padding in front of each row (``plan.start``) computed once. Keeps ``plan``
    on ``ctx``; returns ``y`` (N, T, H, a view), ``h_T``, ``c_T`` and the tensors the backward
    needs.
    """
    ctx.set_materialize_grads(False)  # an unused output (y, mostly) gets no zero-filled grad
    ctx.plan = plan
    prefix = (None, None, None)  # the shared padding's states, gates and tanh(c)
    if plan.compiled is None:
        h_seq, c_seq, tanh_c, h_rec, y_seq = _lstm_loops.forward(z, h0, c0, W_h, plan)
    else:
        h_seq, c_seq, tanh_c, h_rec, y_seq, _, *prefix = plan.compiled.lstm_forward(
            z,
            table,
            where_tm,
            h0,
            c0,
            W_h.contiguous(),
            plan.m_seq,
            plan.recurrent_mask,
            plan.start,
            plan.pad_row,
        )
    T = z.shape[0]
    y = y_seq.transpose(0, 1)  # (N, T, H), a view: most callers read only the final state
    saved = (W_h, z, c_seq, tanh_c, h_rec, *prefix)
    return y, h_seq[T].clone(), c_seq[T].clone(), saved


def run_backward(ctx, saved, dy, dh_T, dc_T, needs_dW_h: bool):
    """The backward step loop: ``dZ`` (T, N, 4H) in processing order, ``dh0``, ``dc0``, ``dW_h``,
    and ``dZ_prefix`` (the shared padding's dz, or None)."""
    plan: LoopPlan = ctx.plan
    W_h, gates, c_seq, tanh_c, h_rec, *prefix = saved
    T, N, H4 = gates.shape
    H = H4 // 4
    dh_T = gates.new_zeros(N, H) if dh_T is None else dh_T
    dc_T = gates.new_zeros(N, H) if dc_T is None else dc_T
    dZ_prefix = None
    record_dh, record_dc = records(plan.grad_hook, tanh_c, cell=True)  # (T, N, H) or None
    if plan.compiled is None:
        dy = gates.new_zeros(N, T, H) if dy is None else dy
        dZ, dh0, dc0 = _lstm_loops.backward(
            W_h, gates, c_seq, tanh_c, dy, dh_T, dc_T, plan, record_dh, record_dc
        )
    else:
        dZ, dh0, dc0, dZ_prefix = plan.compiled.lstm_backward(
            W_h.contiguous(),
            gates,
            c_seq,
            tanh_c,
            plan.m_seq,
            plan.recurrent_mask,
            dy,
            dh_T,
            dc_T,
            plan.start,
            *prefix,
            record_dh,
            record_dc,
        )
    deliver(plan.grad_hook, record_dh, record_dc)
    dW_h = None
    if needs_dW_h:
        if plan.start is not None:  # per row, from its first real step (dZ is zero before)
            dW_h = plan.compiled.weight_grad(h_rec, dZ, plan.start)
        else:
            dW_h = torch.mm(h_rec.reshape(-1, H).t(), dZ.reshape(-1, H4))  # (H, 4H)
        if dZ_prefix is not None and dZ_prefix.numel():  # the shared padding's steps
            L = dZ_prefix.shape[0]
            dW_h.addmm_(prefix[0][0, :L].t(), dZ_prefix)
    return dZ, dh0, dc0, dW_h, dZ_prefix
