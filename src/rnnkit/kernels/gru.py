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
    GEMMs and fused passes over the gates) where they build, else, and whenever ``grad_hook``
    is given, the Python loops below; both save the same buffers.

Double backward is not supported (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _ext
from ._common import (
    GradHook,
    OutputGrads,
    batch_first,
    check_sequence,
    check_shape,
    clone_contiguous,
    mask_time_major,
    tanh_into,
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
    y, h_T = _GRU.apply(
        x, h0, W_x, W_h, b_x, b_h, reset_after, mask, go_backwards, recurrent_mask, grad_hook
    )
    return y, (h_T,)


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, x, h0, W_x, W_h, b_x, b_h, reset_after, mask, go_backwards, recurrent_mask, grad_hook
    ):
        N, T, D = x.shape
        H = h0.shape[1]
        compiled = _ext.loops_for(x, grad_hook)
        x_seq = time_major(x, go_backwards)  # (T, N, D)
        m_seq = mask_time_major(mask, go_backwards)  # (T, N, 1) or None

        gates = x.new_empty(T, N, 3 * H)  # a = x_t @ W_x + b_x, then the gates [z | r | n]
        if b_x is None:
            torch.mm(x_seq.view(T * N, D), W_x, out=gates.view(T * N, 3 * H))
        else:
            torch.addmm(b_x, x_seq.view(T * N, D), W_x, out=gates.view(T * N, 3 * H))
        if compiled is None:
            h_seq, h_rec, saved, y_seq = _forward_python(
                gates, h0, W_h, b_h, reset_after, m_seq, recurrent_mask
            )
        else:
            h_seq, h_rec, saved, y_seq = compiled.gru_forward(
                gates, h0, W_h, b_h, m_seq, recurrent_mask, reset_after
            )
        ctx.save_for_backward(
            x_seq, W_x, W_h, b_x, b_h, gates, h_seq, h_rec, saved, m_seq, recurrent_mask
        )
        ctx.reset_after = reset_after
        ctx.go_backwards = go_backwards
        ctx.grad_hook = grad_hook
        ctx.compiled = compiled
        y = y_seq.transpose(0, 1).contiguous()  # (N, T, H)
        return y, h_seq[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T):
        (x_seq, W_x, W_h, b_x, b_h, gates, h_seq, h_rec, saved, m_seq, recurrent_mask) = (
            ctx.saved_tensors
        )
        reset_after = ctx.reset_after
        T, N, H3 = gates.shape
        H = H3 // 3
        D = x_seq.shape[2]
        if ctx.compiled is None:
            dA, dHP, dh0 = _backward_python(
                W_h,
                gates,
                h_seq,
                h_rec,
                saved,
                m_seq,
                recurrent_mask,
                reset_after,
                dy,
                dh_T,
                ctx.grad_hook,
            )
        else:
            dA, dHP, dh0 = ctx.compiled.gru_backward(
                W_h, gates, h_seq, h_rec, saved, m_seq, recurrent_mask, reset_after, dy, dh_T
            )

        # the weight gradients, once over all steps
        needs = ctx.needs_input_grad
        dA_flat = dA.view(T * N, 3 * H)
        h_rec_flat = h_rec.reshape(T * N, H)
        rh_seq = None if reset_after else saved
        dx = dW_x = dW_h = db_x = db_h = None
        if needs[0]:
            dx = batch_first(torch.mm(dA_flat, W_x.t()).view(T, N, D), ctx.go_backwards)
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
        return dx, dh0, dW_x, dW_h, db_x, db_h, None, None, None, None, None


def _forward_python(gates, h0, W_h, b_h, reset_after, m_seq, recurrent_mask):
    """The forward step loop in torch ops over ``gates`` (T, N, 3H), which holds ``a``.

    Returns ``h_seq`` (T+1, N, H), ``h_rec`` (T, N, H), ``hp_seq`` (T, N, 3H) with
    ``reset_after`` else ``rh_seq`` (T, N, H), and ``y_seq`` (T, N, H).
    """
    T, N, H3 = gates.shape
    H = H3 // 3
    h_seq = gates.new_empty(T + 1, N, H)  # h_seq[t] is h_prev of step t; h_seq[T] is h_T
    h_seq[0] = h0
    # what W_h multiplies: h_prev, or h_prev * recurrent_mask
    h_rec = h_seq[:-1] if recurrent_mask is None else gates.new_empty(T, N, H)  # (T, N, H)
    if reset_after:
        hp_seq = gates.new_empty(T, N, 3 * H)  # h_rec @ W_h + b_h
    else:
        rh_seq = gates.new_empty(T, N, H)  # r * h_rec, what W_hn multiplies
        W_hzr, W_hn = W_h[:, : 2 * H], W_h[:, 2 * H :]  # (H, 2H), (H, H)
    y_seq = h_seq[1:] if m_seq is None else gates.new_empty(T, N, H)  # (T, N, H)
    y_prev = gates.new_zeros(N, H)

    # per-step views, made once: gates[t] and hp_seq[t] are (N, 3H), the others (N, H)
    h_, h_rec_ = (buf.unbind(0) for buf in (h_seq, h_rec))
    z_, r_, n_ = (gate.unbind(0) for gate in gates.chunk(3, dim=2))
    a_zr_ = gates[..., : 2 * H].unbind(0)  # (N, 2H): z and r side by side
    if reset_after:
        hp_ = hp_seq.unbind(0)
    else:
        rh_ = rh_seq.unbind(0)
    for t in range(T):
        h_prev, h, z, r, a_n = h_[t], h_[t + 1], z_[t], r_[t], n_[t]
        if recurrent_mask is not None:
            torch.mul(h_prev, recurrent_mask, out=h_rec_[t])
        # gates[t] holds a = x_t @ W_x + b_x, (N, 3H); z and r are valid after the sigmoid
        if reset_after:
            hp = hp_[t]  # (N, 3H)
            if b_h is None:
                torch.mm(h_rec_[t], W_h, out=hp)
            else:
                torch.addmm(b_h, h_rec_[t], W_h, out=hp)  # hp = h_rec @ W_h + b_h
            a_zr_[t].add_(hp[:, : 2 * H]).sigmoid_()  # z, r
            a_n.addcmul_(r, hp[:, 2 * H :])  # a_n + r * (h_rec @ W_hn + b_hn)
        else:
            a_zr_[t].addmm_(h_rec_[t], W_hzr).sigmoid_()  # z, r
            torch.mul(r, h_rec_[t], out=rh_[t])
            a_n.addmm_(rh_[t], W_hn)  # a_n + (r * h_rec) @ W_hn
        n = tanh_into(a_n, out=a_n)  # (N, H)
        torch.lerp(n, h_prev, z, out=h)  # h = z * h_prev + (1 - z) * n
        if m_seq is not None:  # a padded step keeps the state and repeats the output
            m = m_seq[t]  # (N, 1)
            torch.where(m, h, y_prev, out=y_seq[t])
            torch.where(m, h, h_prev, out=h)
            y_prev = y_seq[t]
    return h_seq, h_rec, (hp_seq if reset_after else rh_seq), y_seq


def _backward_python(
    W_h, gates, h_seq, h_rec, saved, m_seq, recurrent_mask, reset_after, dy, dh_T, grad_hook
):
    """The backward step loop in torch ops: ``dA`` (T, N, 3H), ``dHP`` (with ``reset_after``,
    else None) and ``dh0``."""
    T, N, H3 = gates.shape
    H = H3 // 3

    # dLoss/d(pre-activations) of every step:
    dA = torch.empty_like(gates)  # (T, N, 3H): of a = x_t @ W_x + b_x, as [z | r | n]
    dHP = None
    if reset_after:
        dHP = torch.empty_like(gates)  # (T, N, 3H): of hp = h_rec @ W_h + b_h
        dhp_ = dHP.unbind(0)
        dhp_zr_, dhp_n_ = dHP[..., : 2 * H].unbind(0), dHP[..., 2 * H :].unbind(0)
        hp_n_ = saved[..., 2 * H :].unbind(0)  # (N, H): h_rec @ W_hn + b_hn
        W_hT = W_h.t()  # (3H, H)
    else:
        W_hzrT, W_hnT = W_h[:, : 2 * H].t(), W_h[:, 2 * H :].t()  # (2H, H), (H, H)
    dh = gates.new_empty(N, H)
    grads_y = OutputGrads(dy, m_seq, dh)  # dLoss/dy, routed through the mask
    dh_next = clone_contiguous(dh_T)  # dLoss/dh_t from the steps after t
    dh_rec = gates.new_empty(N, H)
    dgates_da = gates.new_empty(N, 3 * H)
    # act'(a) = (G + n_slot) * (1 - G): s * (1 - s) for z, r and (1 + n) * (1 - n) for n
    n_slot = gates.new_zeros(3 * H)
    n_slot[2 * H :] = 1.0

    # per-step views, made once: gates[t] and dA[t] are (N, 3H), the others (N, H)
    G_, h_, h_rec_ = (buf.unbind(0) for buf in (gates, h_seq, h_rec))
    z_, r_, n_ = (gate.unbind(0) for gate in gates.chunk(3, dim=2))
    da_z_, da_r_, da_n_ = (gate.unbind(0) for gate in dA.chunk(3, dim=2))
    da_zr_ = dA[..., : 2 * H].unbind(0)  # (N, 2H)
    dgates_da_zr, dgates_da_n = dgates_da[:, : 2 * H], dgates_da[:, 2 * H :]  # (N, 2H), (N, H)
    for t in reversed(range(T)):
        z, r, n, h_prev = z_[t], r_[t], n_[t], h_[t]
        da_z, da_r, da_n = da_z_[t], da_r_[t], da_n_[t]
        _m, keep = grads_y.masks(t)  # (N, 1) each, or None
        grads_y.into_h(t, dh, dh_next, grad_hook)
        torch.add(G_[t], n_slot, out=dgates_da).addcmul_(G_[t], dgates_da, value=-1.0)  # act'
        torch.sub(h_prev, n, out=da_z).mul_(dh)  # into z, through h = n + z * (h_prev - n)
        torch.addcmul(dh, dh, z, value=-1.0, out=da_n)  # into n, through (1 - z) * n
        da_n.mul_(dgates_da_n)  # into a_n, through n = tanh(a_n + ...)
        if reset_after:
            torch.mul(da_n, hp_n_[t], out=da_r)  # into r, through r * hp_n
            da_zr_[t].mul_(dgates_da_zr)  # into a_z, a_r, through the sigmoids
            dhp_zr_[t].copy_(da_zr_[t])  # into hp_z, hp_r: they add to a_z, a_r
            torch.mul(da_n, r, out=dhp_n_[t])  # into hp_n, through r * hp_n
            torch.mm(dhp_[t], W_hT, out=dh_rec)  # into h_rec, through hp = h_rec @ W_h + b_h
        else:
            torch.mm(da_n, W_hnT, out=dh_rec)  # into r * h_rec, through ... @ W_hn
            torch.mul(dh_rec, h_rec_[t], out=da_r)  # into r, through r * h_rec
            da_zr_[t].mul_(dgates_da_zr)  # into a_z, a_r, through the sigmoids
            dh_rec.mul_(r)  # into h_rec, through r * h_rec
            dh_rec.addmm_(da_zr_[t], W_hzrT)  # into h_rec, through h_rec @ W_hzr
        if recurrent_mask is not None:
            dh_rec.mul_(recurrent_mask)  # into h_prev, through h_prev * recurrent_mask
        if m_seq is not None:
            dh_next.mul_(keep)  # into h_{t-1}: straight through a padded step
            dh_next.addcmul_(dh, z).add_(dh_rec)  # ... or through z * h_prev and h_rec
        else:
            torch.mul(dh, z, out=dh_next).add_(dh_rec)  # into h_{t-1}: z * h_prev and h_rec
    return dA, dHP, dh_next
