"""rnnkit's whole-sequence LSTM: one GEMM for the inputs, a fused step loop, hand-written BPTT.

Computes exactly what the reference loop :func:`rnnkit.functional.recurrent.lstm` computes
(same signature, masks, ``go_backwards`` and recurrent dropout; NaN and infinities where it
gives them), and is tested against it. :func:`lstm_projected` is the same kernel for a caller
that has the input projection ``z_x = x @ W_x + b`` already; :func:`lstm_lookup` for a caller
whose input projection is a row lookup (an Embedding feeding the LSTM: ``E[tokens] @ W_x + b``,
one row per distinct token), with the padding in front of the rows computed once for all of
them (``pad_row``).

Where each part lives
    * this module: the public entry points and their argument checks;
    * :mod:`._lstm_autograd`: the autograd Functions, the input projection, and the choice
      between the two step loops (:func:`~._lstm_autograd.run_forward`,
      :func:`~._lstm_autograd.run_backward`, the lean :func:`~._lstm_autograd.infer`);
    * :mod:`._lstm_loops`: the Python loops, the equations as written (read these);
    * :mod:`._lstm_padding`: the order of rows by their shared padding in front;
    * ``_ext/lstm.cpp``: the compiled loops (``cell_row``: the forward equations,
      ``backward_row``: the backward ones), ``_ext/grads.cpp``: the table and weight
      gradients of the lookup path.

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
    * the Python loops (:mod:`._lstm_loops`; the fallback): the equations in torch ops, one
      per line.

    Both save the same buffers, and both write the gradient readout (``grad_hook``:
    dLoss/dh_t and dLoss/dc_t of every step) as their backward passes.

    They agree to float rounding; ``RNNKIT_CPP=0`` in the
    environment (or ``rnnkit.kernels._ext.enabled = False``) selects the Python loops.
    ``benchmarks/kernels_quick.py`` compares them with ``torch.nn.LSTM``.

Empty inputs: ``T = 0`` returns ``y`` of shape (N, 0, H) and the initial states; ``N = 0``
returns empty outputs (as the reference loop). Double backward is not supported
(``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import fail
from . import _ext
from ._common import GradHook, LoopPlan, check_sequence, check_shape, time_major
from ._lstm_autograd import (
    LSTMFunction,
    LSTMLookupFunction,
    LSTMProjectedFunction,
    infer,
    inference_loops,
    input_projection,
)
from ._lstm_padding import padding_order, unsort


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
        grad_hook: ``grad_hook(t, dh_t)`` called in the backward for every step, or an
            object whose ``record(dh, dc)`` takes dLoss/dh_t and dLoss/dc_t of every step at
            once, see :data:`rnnkit.kernels._common.GradHook`.

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
    if N > 0 and inference_loops(recurrent_mask, x, h0, c0, W_x, W_h, b) is not None:
        _, z = input_projection(x, W_x, b, go_backwards)  # (T, N, 4H)
        return infer(_plan(mask, go_backwards, None, None, x, N), h0, c0, W_h, z_x=z)
    plan = _plan(mask, go_backwards, recurrent_mask, grad_hook, x, N)
    y, h_T, c_T = LSTMFunction.apply(x, h0, c0, W_x, W_h, b, plan)
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
    if N > 0 and inference_loops(recurrent_mask, z_x, h0, c0, W_h) is not None:
        plan = _plan(mask, go_backwards, None, None, z_x, N)
        return infer(plan, h0, c0, W_h, z_x=time_major(z_x, go_backwards))  # (T, N, 4H)
    plan = _plan(mask, go_backwards, recurrent_mask, grad_hook, z_x, N)
    y, h_T, c_T = LSTMProjectedFunction.apply(z_x, h0, c0, W_h, plan)
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
    if N > 0 and inference_loops(recurrent_mask, table, h0, c0, W_h) is not None:
        start, order = (
            (None, None)
            if sequences or N == 1
            else padding_order(where, pad_row, mask, go_backwards, recurrent_mask)
        )
        if order is not None:  # rows in order of their first real token
            where, h0, c0 = where[order], h0[order], c0[order]
        plan = _plan(mask, go_backwards, None, None, table, N, start=start, sequences=sequences)
        plan = plan.with_(pad_row=0 if pad_row is None else pad_row)
        y, (h_T, c_T) = infer(plan, h0, c0, W_h, table=table.contiguous(), where=where)
        if order is not None:
            h_T, c_T = unsort(h_T, order), unsort(c_T, order)
        return y, (h_T, c_T)
    plan = _plan(mask, go_backwards, recurrent_mask, grad_hook, table, N, sequences=sequences)
    y, h_T, c_T = LSTMLookupFunction.apply(table, where, h0, c0, W_h, plan, pad_row)
    return (y if sequences else None), (h_T, c_T)


def _plan(mask, go_backwards, recurrent_mask, grad_hook, like: Tensor, N: int, **lookup):
    """The call's :class:`LoopPlan`: the compiled loops where they serve ``like``'s dtype and
    device and the batch is not empty (``N = 0`` runs the Python loops, which handle it as the
    reference loop does: empty outputs, zero weight gradients)."""
    compiled = _ext.loops_for(like) if N > 0 else None
    return LoopPlan.make(mask, go_backwards, recurrent_mask, grad_hook, compiled, **lookup)
