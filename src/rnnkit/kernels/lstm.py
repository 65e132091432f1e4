"""rnnkit's whole-sequence LSTM: one GEMM for the inputs, a fused step loop, hand-written BPTT.

Computes exactly what the reference loop :func:`rnnkit.functional.recurrent.lstm` computes
(same signature, masks, ``go_backwards`` and recurrent dropout), and is tested against it.
:func:`lstm_projected` is the same kernel for a caller that has the input projection
``z_x = x @ W_x + b`` already; :func:`lstm_lookup` for a caller whose input projection is a
row lookup (an Embedding feeding the LSTM: ``E[tokens] @ W_x + b``, one row per distinct
token), with the padding in front of the rows computed once for all of them (``pad_row``).

Forward
    The input projection of every step is one GEMM, ``x @ W_x + b`` -> (T, N, 4H); a step adds
    ``h_prev @ W_h`` in place and applies the gates. Per step the buffers keep what the
    backward needs: the gates ``[i | f | g | o]``, ``c`` and ``tanh(c)``.
Backward
    One ``for t in reversed(range(T))`` loop carrying ``dh_next``, ``dc_next`` (as in
    min-char-rnn) writes the pre-activation gradients ``dz`` of every step into a (T, N, 4H)
    buffer, ``dZ``; the weight gradients are then one GEMM each over all steps:
    ``dW_h = H_prev^T dZ`` and, in :func:`lstm`, ``dW_x = X^T dZ``, ``db = sum(dZ)``,
    ``dx = dZ W_x^T``. :func:`lstm_projected` returns ``dZ`` itself as the gradient of ``z_x``.
The step loops
    Two implementations of the same loops, forward and backward, chosen per call:

    * compiled (:mod:`rnnkit.kernels._ext`): the whole step loop in C++, per step one GEMM
      (``h_prev @ W_h`` forward, ``dz @ W_h^T`` backward) and one fused pass over the step's
      gates, the batch's rows dealt to the threads (each share runs through every step on its
      own thread). Without gradients a lean loop keeps only the current state. Built on first
      use; float32 / float64 CPU tensors.
    * Python (the fallback, and the one that calls ``grad_hook``): per step about ten torch ops
      forward and fourteen backward on preallocated buffers (``out=`` and in-place ops, no
      allocation). ``tanh`` is computed as ``2 * sigmoid(2z) - 1`` (see
      :func:`._common.tanh_into`): with the g columns of ``z`` doubled, one ``sigmoid_`` makes
      all four gates.

    Both save the same buffers and agree to float rounding; ``RNNKIT_CPP=0`` in the
    environment (or ``rnnkit.kernels._ext.enabled = False``) selects the Python loop.
    ``benchmarks/kernels_quick.py`` compares them with ``torch.nn.LSTM``.

Double backward is not supported (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .._validation import fail
from . import _ext
from ._common import (
    GradHook,
    OutputGrads,
    batch_first,
    check_sequence,
    check_shape,
    clone_contiguous,
    mask_time_major,
    sigmoid_to_tanh_,
    tanh_into,
    time_major,
    time_major_copy,
)


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    *,
    grad_hook: GradHook | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM over a whole sequence with a hand-written backward.

    Args:
        x: inputs (N, T, D), batch-first.
        h0, c0: initial states (N, H).
        W_x: input weights (D, 4H), packed ``[i | f | g | o]``.
        W_h: recurrent weights (H, 4H), same packing.
        b: bias (4H,) or None.
        mask: bool (N, T), True on real steps; a padded step carries the state forward and
            repeats the previous output (zeros before the first real step).
        go_backwards: process ``t = T-1, ..., 0``; ``y`` comes back in processing order.
        recurrent_mask: (N, H), multiplied into ``h_prev`` where it enters ``h_prev @ W_h``.
        grad_hook: ``grad_hook(t, dh_t)`` called in the backward for every step, see
            :data:`rnnkit.kernels._common.GradHook`.

    Returns:
        ``(y, (h_T, c_T))``: ``y`` (N, T, H), final states (N, H).
    """
    N, T, D, H = check_sequence("lstm", x, h0, mask, recurrent_mask)
    check_shape("lstm", "c0", c0, (N, H), "(N, H)")
    check_shape("lstm", "W_x", W_x, (D, 4 * H), "(D, 4H)")
    check_shape("lstm", "W_h", W_h, (H, 4 * H), "(H, 4H)")
    check_shape("lstm", "b", b, (4 * H,), "(4H,)")
    if T == 0:
        return x.new_zeros(N, 0, H), (h0, c0)
    lean = _inference_loop(recurrent_mask, x, h0, c0, W_x, W_h, b)
    if lean is not None:
        _, z = _input_projection(x, W_x, b, go_backwards)
        return _infer(lean, z, None, None, h0, c0, W_h, mask, go_backwards)
    y, h_T, c_T = _LSTM.apply(x, h0, c0, W_x, W_h, b, mask, go_backwards, recurrent_mask, grad_hook)
    return y, (h_T, c_T)


def lstm_projected(
    z_x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_h: Tensor,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    *,
    grad_hook: GradHook | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """:func:`lstm` with the input projection already done: ``z_x = x @ W_x + b``.

    ``lstm_projected(x @ W_x + b, h0, c0, W_h, ...)`` equals ``lstm(x, h0, c0, W_x, W_h, b,
    ...)``, outputs and gradients. The gradient of ``z_x`` is the kernel's ``dZ``, so autograd
    carries it on to whatever computed ``z_x`` (``W_x``, ``b``, an embedding table...).

    Args:
        z_x: input pre-activations (N, T, 4H), batch-first, in input order (not reversed for
            ``go_backwards``), packed ``[i | f | g | o]``. Not modified.
        h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook: as in :func:`lstm`.

    Returns:
        ``(y, (h_T, c_T))``: ``y`` (N, T, H), final states (N, H).
    """
    N, T, _, H = check_sequence(
        "lstm_projected", z_x, h0, mask, recurrent_mask, "z_x", "(N, T, 4H)"
    )
    check_shape("lstm_projected", "z_x", z_x, (N, T, 4 * H), "(N, T, 4H)")
    check_shape("lstm_projected", "c0", c0, (N, H), "(N, H)")
    check_shape("lstm_projected", "W_h", W_h, (H, 4 * H), "(H, 4H)")
    if T == 0:
        return z_x.new_zeros(N, 0, H), (h0, c0)
    lean = _inference_loop(recurrent_mask, z_x, h0, c0, W_h)
    if lean is not None:
        return _infer(
            lean, time_major(z_x, go_backwards), None, None, h0, c0, W_h, mask, go_backwards
        )
    y, h_T, c_T = _LSTMProjected.apply(
        z_x, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook
    )
    return y, (h_T, c_T)


def lstm_lookup(
    table: Tensor,
    where: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_h: Tensor,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    *,
    sequences: bool = True,
    pad_row: int | None = None,
    grad_hook: GradHook | None = None,
) -> tuple[Tensor | None, tuple[Tensor, Tensor]]:
    """:func:`lstm_projected` of ``table[where]``, without making ``table[where]``.

    An Embedding feeding an LSTM makes ``x_t @ W_x + b`` a row lookup: with ``table`` the
    input pre-activations of a set of tokens (``E[tokens] @ W_x + b``, say) and ``where`` the
    position of each step's token in it, ``lstm_lookup(table, where, ...)`` equals
    ``lstm_projected(table[where], ...)``, outputs and gradients. The compiled loop reads each
    row from ``table`` as it needs it, and the gradient of ``table`` is the sum of ``dZ`` over
    the steps that read each row.

    Args:
        table: (U, 4H), packed ``[i | f | g | o]``.
        where: int64 (N, T), values in ``[0, U)``.
        h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook: as in :func:`lstm`.
        sequences: False when only the final state is wanted: a call without gradients then
            returns ``None`` for ``y`` and writes no per-step outputs.
        pad_row: the row of ``table`` that padding in front of the rows reads (token 0's),
            where the initial state is the same for all rows (zeros, say) and takes no
            gradient; used without masks and ``go_backwards``. The padded steps in front are
            then the same for every row: their states are computed once, on one row, and each
            row runs only from its first other token, joining from the shared state (and in
            training, their gradient is carried back once). Exact: the padded computation,
            without its cost.

    Returns:
        ``(y, (h_T, c_T))``: ``y`` (N, T, H) or None (see ``sequences``), final states (N, H).
    """
    if not isinstance(where, Tensor) or where.dim() != 2 or where.dtype != torch.int64:
        fail("lstm_lookup", "where", "an int64 tensor of shape (N, T)", where)
    N, T = where.shape
    H = W_h.shape[0]
    if table.dim() != 2 or table.shape[1] != 4 * H:
        fail("lstm_lookup", "table", f"a tensor of shape (U, 4H) = (U, {4 * H})", table)
    check_shape("lstm_lookup", "h0", h0, (N, H), "(N, H)")
    check_shape("lstm_lookup", "c0", c0, (N, H), "(N, H)")
    check_shape("lstm_lookup", "W_h", W_h, (H, 4 * H), "(H, 4H)")
    if mask is not None:
        check_shape("lstm_lookup", "mask", mask, (N, T), "(N, T)")
    if where.numel():
        lo, hi = (int(v) for v in torch.aminmax(where))
        if lo < 0 or hi >= table.shape[0]:
            raise ValueError(
                f"lstm_lookup: `where` expected values in [0, {table.shape[0]}) "
                f"(rows of `table`), received values in [{lo}, {hi}]."
            )
    if T == 0:
        return (table.new_zeros(N, 0, H) if sequences else None), (h0, c0)
    lean = _inference_loop(recurrent_mask, table, h0, c0, W_h)
    if lean is not None:
        start, order = (
            (None, None)
            if sequences or N == 1
            else _padding_order(where, pad_row, mask, go_backwards, recurrent_mask)
        )
        if order is not None:  # rows in order of their first real token
            where, h0, c0 = where[order], h0[order], c0[order]
        y, (h_T, c_T) = _infer(
            lean,
            None,
            table.contiguous(),
            where,
            h0,
            c0,
            W_h,
            mask,
            go_backwards,
            sequences,
            start,
            pad_row,
        )
        if order is not None:
            h_T, c_T = _unsort(h_T, order), _unsort(c_T, order)
        return y, (h_T, c_T)
    y, h_T, c_T = _LSTMLookup.apply(
        table, where, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook, pad_row, sequences
    )
    return (y if sequences else None), (h_T, c_T)


def _infer(
    lean,
    z_x,
    table,
    where,
    h0,
    c0,
    W_h,
    mask,
    go_backwards,
    sequences=True,
    start=None,
    pad_row=None,
):
    """The lean inference loop (no buffers for BPTT) on ``z_x`` (T, N, 4H, processing order)
    or on rows of ``table`` (``where`` (N, T), input order); returns ``(y or None, (h_T, c_T))``."""
    where_tm = None if where is None else time_major(where, go_backwards)
    h_T, c_T, y_seq = lean.lstm_infer(
        z_x,
        table,
        where_tm,
        h0,
        c0,
        W_h.contiguous(),
        mask_time_major(mask, go_backwards),
        sequences,
        start,
        0 if pad_row is None else pad_row,
    )
    return (y_seq.transpose(0, 1) if sequences else None), (h_T, c_T)


def _inference_loop(recurrent_mask, first: Tensor, *tensors: Tensor | None):
    """The compiled loops if this call needs no gradient and can take the lean inference loop
    (no saved buffers, h and c updated in place), else None."""
    if recurrent_mask is not None:
        return None
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (first, *tensors)
    ):
        return None
    return _ext.loops_for(first)


def _input_projection(
    x: Tensor, W_x: Tensor, b: Tensor | None, go_backwards: bool
) -> tuple[Tensor, Tensor]:
    """``x`` time-major in processing order (T, N, D), and ``x_t @ W_x + b`` of every step in
    one GEMM, a fresh (T, N, 4H) buffer the step loop may overwrite."""
    x_seq = time_major(x, go_backwards)
    T, N, D = x_seq.shape
    z = x.new_empty(T, N, W_x.shape[1])
    if b is None:
        torch.mm(x_seq.view(T * N, D), W_x, out=z.view(T * N, -1))
    else:
        torch.addmm(b, x_seq.view(T * N, D), W_x, out=z.view(T * N, -1))
    return x_seq, z


def _g_scale(like: Tensor, H: int) -> Tensor:
    """(4H,) ones with 2.0 on the g columns: tanh(z) = 2 sigmoid(2z) - 1 (the Python loop)."""
    scale = like.new_ones(4 * H)
    scale[2 * H : 3 * H] = 2.0
    return scale


class _LSTM(torch.autograd.Function):
    """:func:`lstm`: one GEMM for the inputs, then the shared step loops."""

    @staticmethod
    def forward(ctx, x, h0, c0, W_x, W_h, b, mask, go_backwards, recurrent_mask, grad_hook):
        compiled = _ext.loops_for(x, grad_hook)
        W_xz, b_z = W_x, b
        if compiled is None:  # the Python loop wants the g columns doubled, see _forward
            scale = _g_scale(x, W_h.shape[0])
            W_xz, b_z = W_x * scale, (None if b is None else b * scale)
        x_seq, z = _input_projection(x, W_xz, b_z, go_backwards)  # the loop makes z the gates
        y, h_T, c_T, saved = _forward(
            ctx, compiled, z, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook
        )
        ctx.save_for_backward(x_seq, W_x, b, *saved)
        return y, h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        x_seq, W_x, b, *saved = ctx.saved_tensors
        needs = ctx.needs_input_grad
        dZ, dh0, dc0, dW_h, _ = _backward(ctx, saved, dy, dh_T, dc_T, needs[4])
        T, N, H4 = dZ.shape
        D = x_seq.shape[2]
        dZ_flat = dZ.view(T * N, H4)
        dx = dW_x = db = None
        if needs[0]:
            dx = batch_first(torch.mm(dZ_flat, W_x.t()).view(T, N, D), ctx.go_backwards)
        if needs[3]:
            dW_x = torch.mm(x_seq.view(T * N, D).t(), dZ_flat)  # (D, 4H)
        if b is not None and needs[5]:
            db = dZ_flat.sum(0)  # (4H,)
        return dx, dh0, dc0, dW_x, dW_h, db, None, None, None, None


class _LSTMProjected(torch.autograd.Function):
    """:func:`lstm_projected`: the shared step loops on a copy of ``z_x``; dLoss/dz_x = dZ."""

    @staticmethod
    def forward(ctx, z_x, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook):
        H = W_h.shape[0]
        compiled = _ext.loops_for(z_x, grad_hook)
        z = time_major_copy(z_x, go_backwards)  # (T, N, 4H), ours to overwrite
        if compiled is None:  # the Python loop wants the g columns doubled, see _forward
            z[..., 2 * H : 3 * H].mul_(2.0)
        y, h_T, c_T, saved = _forward(
            ctx, compiled, z, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook
        )
        ctx.save_for_backward(*saved)
        return y, h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        dZ, dh0, dc0, dW_h, _ = _backward(
            ctx, ctx.saved_tensors, dy, dh_T, dc_T, ctx.needs_input_grad[3]
        )
        dz_x = batch_first(dZ, ctx.go_backwards) if ctx.needs_input_grad[0] else None
        return dz_x, dh0, dc0, dW_h, None, None, None, None


class _LSTMLookup(torch.autograd.Function):
    """:func:`lstm_lookup`: the input part of step t, row n is ``table[where[t, n]]``.

    With ``pad_row`` (compiled loop, no masks, not ``go_backwards``, an initial state without
    gradient), rows run in order of their first real step (``start``) and come back in their
    own order; the kernel computes the shared padding in front once, and carries its gradient
    back once (``dZ_prefix``: its rows of dz, read from ``table[pad_row]``)."""

    @staticmethod
    def forward(
        ctx,
        table,
        where,
        h0,
        c0,
        W_h,
        mask,
        go_backwards,
        recurrent_mask,
        grad_hook,
        pad_row,
        sequences,
    ):
        U, H4 = table.shape
        N, T = where.shape
        compiled = _ext.loops_for(table, grad_hook)
        start, ctx.order = (
            (None, None)
            if compiled is None or any(ctx.needs_input_grad[2:4])
            else _padding_order(where, pad_row, mask, go_backwards, recurrent_mask)
        )
        if ctx.order is not None:  # rows in order of their first real token
            where, h0, c0 = where[ctx.order], h0[ctx.order], c0[ctx.order]
        where_tm = time_major(where, go_backwards)  # (T, N), processing order
        if compiled is None:  # the Python loop: gather, g columns doubled, see _forward
            z = table.index_select(0, where_tm.view(-1)).view(T, N, H4)
            z[..., H4 // 2 : 3 * H4 // 4].mul_(2.0)
            y, h_T, c_T, saved = _forward(
                ctx, None, z, h0, c0, W_h, mask, go_backwards, recurrent_mask, grad_hook
            )
        else:  # the compiled loop reads the table rows itself
            z = table.new_empty(T, N, H4)
            y, h_T, c_T, saved = _forward(
                ctx,
                compiled,
                z,
                h0,
                c0,
                W_h,
                mask,
                go_backwards,
                recurrent_mask,
                grad_hook,
                table.contiguous(),
                where_tm,
                start,
                0 if pad_row is None else pad_row,
            )
        ctx.save_for_backward(*saved, where_tm)
        ctx.rows, ctx.pad_row = U, pad_row
        if ctx.order is not None:  # back to the caller's order
            h_T, c_T = _unsort(h_T, ctx.order), _unsort(c_T, ctx.order)
            y = _unsort(y, ctx.order) if sequences else y
        return (y if sequences else y.new_empty(0)), h_T, c_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        *saved, where_tm = ctx.saved_tensors
        order = ctx.order
        if order is not None:  # into the kernel's row order
            dy, dh_T, dc_T = (None if g is None else g[order] for g in (dy, dh_T, dc_T))
        if dy is not None and dy.numel() == 0:
            dy = None  # sequences=False: y was a placeholder
        dZ, dh0, dc0, dW_h, dZ_prefix = _backward(
            ctx, saved, dy, dh_T, dc_T, ctx.needs_input_grad[4]
        )
        if order is not None:
            dh0 = dc0 = None  # the initial state took no gradient (see forward)
        dtable = None
        if ctx.needs_input_grad[0]:
            H4 = dZ.shape[2]
            if ctx.compiled is None:
                dtable = dZ.new_zeros(ctx.rows, H4).index_add_(
                    0, where_tm.reshape(-1), dZ.reshape(-1, H4)
                )
            else:  # the rows' steps in their shared padding (dZ zero) are skipped
                dtable = ctx.compiled.scatter_rows(
                    dZ.reshape(-1, H4), where_tm.reshape(-1), ctx.rows, ctx.start
                )
            if dZ_prefix is not None and dZ_prefix.numel():
                dtable[ctx.pad_row] += dZ_prefix.sum(0)  # the shared padding read this row
        return dtable, None, dh0, dc0, dW_h, None, None, None, None, None, None


def _padding_order(where: Tensor, pad_row: int | None, mask, go_backwards, recurrent_mask):
    """For the shared padding in front (``pad_row``, see :func:`lstm_lookup`): each row's
    first step that is not ``pad_row`` (T for all padding), sorted, and the order that sorts
    the rows; ``(None, None)`` where it does not apply (masks, ``go_backwards``) or no row
    starts with padding."""
    if pad_row is None or mask is not None or go_backwards or recurrent_mask is not None:
        return None, None
    _N, T = where.shape
    padded = where == pad_row
    start = torch.where(padded.all(1), T, (~padded).int().argmax(1))
    if not bool(start.any()):
        return None, None
    start, order = torch.sort(start.long(), stable=True)
    return start.contiguous(), order


def _unsort(t: Tensor, order: Tensor) -> Tensor:
    """Rows of ``t`` (in the order ``order`` gave them) back in the caller's order."""
    out = torch.empty_like(t, memory_format=torch.contiguous_format)
    out[order] = t
    return out


# ---------------------------------------------------------------- the shared step loops


def _forward(
    ctx,
    compiled,
    z,
    h0,
    c0,
    W_h,
    mask,
    go_backwards,
    recurrent_mask,
    grad_hook,
    table=None,
    where=None,
    start=None,
    pad_row=0,
):
    """Run the step loop over ``z`` (T, N, 4H), overwriting it with the gates.

    ``z`` holds ``x_t @ W_x + b`` of every step in processing order; for the Python loop
    (``compiled`` None) with its g columns doubled. Or, for the compiled loop only, ``z`` is
    uninitialised and row ``t, n`` of the input part is ``table[where[t, n]]``, with the
    shared padding in front of each row (``start``, see :class:`_LSTMLookup`) computed once.
    Returns ``y`` (N, T, H, a view), ``h_T``, ``c_T`` and the tensors the backward needs.
    """
    ctx.set_materialize_grads(False)  # an unused output (y, mostly) gets no zero-filled grad
    m_seq = mask_time_major(mask, go_backwards)  # (T, N, 1) or None
    prefix = (None, None, None)  # the shared padding's states, gates and tanh(c)
    if compiled is None:
        h_seq, c_seq, tanh_c, h_rec, y_seq = _forward_python(z, h0, c0, W_h, m_seq, recurrent_mask)
    else:
        h_seq, c_seq, tanh_c, h_rec, y_seq, _, *prefix = compiled.lstm_forward(
            z, table, where, h0, c0, W_h.contiguous(), m_seq, recurrent_mask, start, pad_row
        )
    ctx.go_backwards = go_backwards
    ctx.grad_hook = grad_hook
    ctx.compiled = compiled
    # each row's first step past its shared padding (sorted): dZ is zero before it, so the
    # weight and table gradients skip those steps
    ctx.start = start
    T = z.shape[0]
    y = y_seq.transpose(0, 1)  # (N, T, H), a view: most callers read only the final state
    saved = (W_h, z, c_seq, tanh_c, h_rec, m_seq, recurrent_mask, *prefix)
    return y, h_seq[T].clone(), c_seq[T].clone(), saved


def _backward(ctx, saved, dy, dh_T, dc_T, needs_dW_h):
    """The backward step loop: ``dZ`` (T, N, 4H) in processing order, ``dh0``, ``dc0``, ``dW_h``,
    and ``dZ_prefix`` (the shared padding's dz, or None)."""
    W_h, gates, c_seq, tanh_c, h_rec, m_seq, recurrent_mask, *prefix = saved
    T, N, H4 = gates.shape
    dh_T = gates.new_zeros(N, H4 // 4) if dh_T is None else dh_T
    dc_T = gates.new_zeros(N, H4 // 4) if dc_T is None else dc_T
    dZ_prefix = None
    if ctx.compiled is None:
        dy = gates.new_zeros(N, T, H4 // 4) if dy is None else dy
        dZ, dh0, dc0 = _backward_python(
            W_h, gates, c_seq, tanh_c, m_seq, recurrent_mask, dy, dh_T, dc_T, ctx.grad_hook
        )
    else:
        dZ, dh0, dc0, dZ_prefix = ctx.compiled.lstm_backward(
            W_h.contiguous(),
            gates,
            c_seq,
            tanh_c,
            m_seq,
            recurrent_mask,
            dy,
            dh_T,
            dc_T,
            ctx.start,
            *prefix,
        )
    dW_h = None
    if needs_dW_h:
        if ctx.start is not None:  # per row, from its first real step (dZ is zero before)
            dW_h = ctx.compiled.weight_grad(h_rec, dZ, ctx.start)
        else:
            dW_h = torch.mm(h_rec.reshape(-1, H4 // 4).t(), dZ.reshape(-1, H4))  # (H, 4H)
        if dZ_prefix is not None and dZ_prefix.numel():  # the shared padding's steps
            L = dZ_prefix.shape[0]
            dW_h.addmm_(prefix[0][0, :L].t(), dZ_prefix)
    return dZ, dh0, dc0, dW_h, dZ_prefix


def _forward_python(gates, h0, c0, W_h, m_seq, recurrent_mask):
    """The forward step loop in torch ops; ``gates`` (T, N, 4H) has its g columns doubled.

    tanh(z) = 2 * sigmoid(2z) - 1: with the g columns doubled, one ``sigmoid_`` makes all gates.
    """
    T, N, H4 = gates.shape
    H = H4 // 4
    W_h2 = W_h * _g_scale(W_h, H)  # (H, 4H)
    h_seq = gates.new_empty(T + 1, N, H)  # h_seq[t] is h_prev of step t; h_seq[T] is h_T
    c_seq = gates.new_empty(T + 1, N, H)
    h_seq[0] = h0
    c_seq[0] = c0
    tanh_c = gates.new_empty(T, N, H)
    # what W_h multiplies: h_prev, or h_prev * recurrent_mask
    h_rec = h_seq[:-1] if recurrent_mask is None else gates.new_empty(T, N, H)  # (T, N, H)
    y_seq = h_seq[1:] if m_seq is None else gates.new_empty(T, N, H)  # (T, N, H)
    y_prev = gates.new_zeros(N, H)

    # per-step views, made once: z[t] is (N, 4H), the others (N, H)
    z_, h_, c_, tanh_c_, h_rec_ = (buf.unbind(0) for buf in (gates, h_seq, c_seq, tanh_c, h_rec))
    i_, f_, g_, o_ = (gate.unbind(0) for gate in gates.chunk(4, dim=2))
    for t in range(T):
        h_prev, h, c_prev, c = h_[t], h_[t + 1], c_[t], c_[t + 1]
        i, f, g, o = i_[t], f_[t], g_[t], o_[t]  # views into z, the gates after the sigmoid
        if recurrent_mask is not None:
            torch.mul(h_prev, recurrent_mask, out=h_rec_[t])
        z = z_[t]  # (N, 4H), holds x_t @ W_x + b
        z.addmm_(h_rec_[t], W_h2)  # z += h_prev @ W_h
        z.sigmoid_()  # [i | f | (g + 1) / 2 | o]
        sigmoid_to_tanh_(g)  # g = tanh(z_g)
        torch.mul(f, c_prev, out=c)
        c.addcmul_(i, g)  # c = f * c_prev + i * g
        tanh_into(c, out=tanh_c_[t])
        torch.mul(o, tanh_c_[t], out=h)  # h = o * tanh(c)
        if m_seq is not None:  # a padded step keeps the state and repeats the output
            m = m_seq[t]  # (N, 1)
            torch.where(m, h, y_prev, out=y_seq[t])
            torch.where(m, h, h_prev, out=h)
            torch.where(m, c, c_prev, out=c)
            y_prev = y_seq[t]
    return h_seq, c_seq, tanh_c, h_rec, y_seq


def _backward_python(W_h, gates, c_seq, tanh_c, m_seq, recurrent_mask, dy, dh_T, dc_T, grad_hook):
    """The backward step loop in torch ops: ``dZ`` (T, N, 4H), ``dh0``, ``dc0``."""
    T, N, H4 = gates.shape
    H = H4 // 4

    dZ = torch.empty_like(gates)  # (T, N, 4H): dLoss/dz of every step
    dh = gates.new_empty(N, H)
    grads_y = OutputGrads(dy, m_seq, dh)  # dLoss/dy, routed through the mask
    dc_cell = gates.new_empty(N, H)
    dc_dh = gates.new_empty(N, H)
    dgates_dz = gates.new_empty(N, 4 * H)
    dh_next = clone_contiguous(dh_T)  # dLoss/dh_t from the steps after t
    dc_next = clone_contiguous(dc_T)
    dh_rec = gates.new_empty(N, H)
    one = gates.new_ones(())
    W_hT = W_h.t()  # (4H, H)
    # act'(z) = (G + g_slot) * (1 - G): s * (1 - s) for i, f, o and (1 + g) * (1 - g) for g
    g_slot = gates.new_zeros(4 * H)
    g_slot[2 * H : 3 * H] = 1.0

    # per-step views, made once: gates[t] and dZ[t] are (N, 4H), the others (N, H)
    G_, dz_, c_, tanh_c_ = (buf.unbind(0) for buf in (gates, dZ, c_seq, tanh_c))
    i_, f_, g_, o_ = (gate.unbind(0) for gate in gates.chunk(4, dim=2))
    dz_i_, dz_f_, dz_g_, dz_o_ = (gate.unbind(0) for gate in dZ.chunk(4, dim=2))
    for t in reversed(range(T)):
        i, f, g, o, c_prev, tc, dz = i_[t], f_[t], g_[t], o_[t], c_[t], tanh_c_[t], dz_[t]
        m, keep = grads_y.masks(t)  # (N, 1) each, or None
        grads_y.into_h(t, dh, dh_next, grad_hook)
        # backprop into c_t from step t+1 (unmasked, dc_next becomes dc in place)
        dc = dc_next if m is None else torch.mul(dc_next, m, out=dc_cell)
        torch.addcmul(one, tc, tc, value=-1.0, out=dc_dh).mul_(o)  # o * (1 - tanh(c)^2)
        dc.addcmul_(dh, dc_dh)  # backprop into c_t through h = o * tanh(c)
        torch.mul(dh, tc, out=dz_o_[t])  # into o
        torch.mul(dc, g, out=dz_i_[t])  # into i
        torch.mul(dc, c_prev, out=dz_f_[t])  # into f
        torch.mul(dc, i, out=dz_g_[t])  # into g
        torch.add(G_[t], g_slot, out=dgates_dz).addcmul_(G_[t], dgates_dz, value=-1.0)  # act'
        dz.mul_(dgates_dz)  # into z, through the sigmoids and the tanh
        if m_seq is None:
            dc_next.mul_(f)  # into c_{t-1} (dc_next is dc here)
            torch.mm(dz, W_hT, out=dh_next)  # into h_{t-1}, through z = ... + h_prev @ W_h
            if recurrent_mask is not None:
                dh_next.mul_(recurrent_mask)  # through h_rec = h_prev * recurrent_mask
        else:
            dc_next.mul_(keep).addcmul_(dc, f)  # into c_{t-1}: forget gate, or pass-through
            torch.mm(dz, W_hT, out=dh_rec)  # into h_rec of step t
            if recurrent_mask is not None:
                dh_rec.mul_(recurrent_mask)  # into h_prev through h_prev * recurrent_mask
            dh_next.mul_(keep).add_(dh_rec)  # into h_{t-1}: W_h, or pass-through
    return dZ, dh_next, dc_next
