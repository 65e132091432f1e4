"""What the whole-sequence kernels share: argument checks, time-major layout, masks, a fast tanh.

Inside a kernel everything is time-major and in *processing order* (reversed when
``go_backwards``): step ``t`` reads and writes the contiguous ``(N, .)`` slice ``buf[t]`` of a
preallocated ``(T, N, .)`` buffer, and ``y`` (returned in processing order, as the reference
loop does) is simply ``buf.transpose(0, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._validation import fail

GradHook = Callable[[int, Tensor], None]
"""``grad_hook(t, dh_t)``, called by a kernel's backward once per step, ``t = T-1, ..., 0``.

``t`` indexes ``y`` (processing order: with ``go_backwards`` it is input step ``T-1-t``) and
``dh_t`` (N, H) is dLoss/dh_t, the gradient of the loss with respect to the hidden state after
step ``t`` (the ``h`` that step ``t+1`` reads and, on a real step, ``y[:, t]``), through every
path: the output at ``t`` and all later steps. ``dh_t`` is a fresh tensor the hook may keep.
"""


def check_shape(
    owner: str, name: str, tensor: Tensor | None, shape: tuple[int, ...], described: str
) -> None:
    """Fail with argument / expected / received unless ``tensor`` is None or has ``shape``."""
    if tensor is not None and tuple(tensor.shape) != shape:
        fail(owner, name, f"shape {described} = {shape}", tensor)


def check_sequence(
    owner: str,
    x: Tensor,
    h0: Tensor,
    mask: Tensor | None,
    recurrent_mask: Tensor | None,
    x_name: str = "x",
    x_shape: str = "(N, T, D)",
) -> tuple[int, int, int, int]:
    """Check what every kernel takes; return the sizes ``N, T, D, H``.

    ``x_name``, ``x_shape``: how the error messages name the sequence argument.
    """
    if x.dim() != 3:
        fail(owner, x_name, f"a 3-D tensor {x_shape}", x)
    N, T, D = x.shape
    if h0.dim() != 2 or h0.shape[0] != N:
        fail(owner, "h0", f"a 2-D tensor (N, H) with N = {N}", h0)
    H = h0.shape[1]
    if mask is not None:
        if mask.dtype != torch.bool:
            fail(owner, "mask", "a bool tensor (True = real step)", mask, TypeError)
        check_shape(owner, "mask", mask, (N, T), "(N, T)")
    check_shape(owner, "recurrent_mask", recurrent_mask, (N, H), "(N, H)")
    return N, T, D, H


def time_major(x: Tensor, go_backwards: bool) -> Tensor:
    """``x`` (N, T, ...) -> a contiguous (T, N, ...) copy in processing order."""
    x_seq = x.transpose(0, 1)  # (T, N, ...)
    if go_backwards:
        x_seq = x_seq.flip(0)
    return x_seq.contiguous()


def time_major_copy(x: Tensor, go_backwards: bool) -> Tensor:
    """Like :func:`time_major`, but always a fresh buffer the kernel may overwrite.

    (``contiguous()`` returns ``x`` itself where the transpose is already contiguous, N == 1 or
    T == 1; a kernel that works in place on the caller's tensor would change it.)
    """
    x_seq = x.transpose(0, 1)  # (T, N, ...)
    if go_backwards:
        return x_seq.flip(0).contiguous()  # flip copies
    return x_seq.clone(memory_format=torch.contiguous_format)


def batch_first(x_seq: Tensor, go_backwards: bool) -> Tensor:
    """Undo :func:`time_major`: (T, N, ...) in processing order -> (N, T, ...) in input order."""
    if go_backwards:
        x_seq = x_seq.flip(0)
    return x_seq.transpose(0, 1)  # (N, T, ...)


def mask_time_major(mask: Tensor | None, go_backwards: bool) -> Tensor | None:
    """``mask`` (N, T) -> (T, N, 1) bool in processing order, ready to broadcast over (N, H)."""
    if mask is None:
        return None
    return time_major(mask.unsqueeze(2), go_backwards)  # (T, N, 1)


_MINUS_ONE = torch.tensor(-1.0)


def sigmoid_to_tanh_(s: Tensor) -> Tensor:
    """``s = sigmoid(2z)`` becomes ``tanh(z) = 2s - 1``, in place and in one pass."""
    return torch.add(_MINUS_ONE, s, alpha=2.0, out=s)


def tanh_into(z: Tensor, out: Tensor) -> Tensor:
    """``out = tanh(z)`` computed as ``2 * sigmoid(2z) - 1``.

    In this CPU build ``torch.tanh`` costs about three times ``torch.sigmoid`` per element, and
    three passes still beat one ``tanh``; the result agrees with ``torch.tanh`` to about 1e-7
    (float32). ``out`` may be ``z`` itself.
    """
    return sigmoid_to_tanh_(torch.mul(z, 2.0, out=out).sigmoid_())


def clone_contiguous(t: Tensor) -> Tensor:
    """A writable, contiguous copy (incoming gradients may be expanded views with stride 0)."""
    return t.clone(memory_format=torch.contiguous_format)


class OutputGrads:
    """Routes dLoss/dy into the cells of a backward step loop, through the mask.

    ``dy`` (N, T, H) in processing order, ``m_seq`` (T, N, 1) bool or None; ``like`` is an
    (N, H) tensor giving dtype and device. A padded step passes the state on and repeats the
    previous output, so ``y_t`` also collects the gradient of the later padded steps that
    repeated it (``dy_carry``), and the cell itself gets nothing.
    """

    def __init__(self, dy: Tensor, m_seq: Tensor | None, like: Tensor):
        self.dy_ = dy.transpose(0, 1).unbind(0)  # (N, H) views per step
        self.m_seq = None if m_seq is None else m_seq.to(like.dtype)  # 1.0 on real steps
        self.keep_seq = None if m_seq is None else torch.sub(1.0, self.m_seq)  # 1.0 on padding
        if m_seq is not None:
            self.dy_carry, self.dy_t = like.new_zeros(like.shape), like.new_empty(like.shape)

    def masks(self, t: int) -> tuple[Tensor | None, Tensor | None]:
        """``(m, keep)`` of step ``t``, each (N, 1), or ``(None, None)`` without a mask."""
        return (None, None) if self.m_seq is None else (self.m_seq[t], self.keep_seq[t])

    def into_h(self, t: int, dh: Tensor, dh_next: Tensor, grad_hook: GradHook | None) -> None:
        """Write into ``dh`` the gradient reaching the cell's ``h_t`` (from ``y_t`` and from
        step ``t+1``'s ``dh_next``), then call ``grad_hook(t, dLoss/dh_t)`` if given."""
        m, keep = self.masks(t)
        if m is None:
            torch.add(dh_next, self.dy_[t], out=dh)
        else:
            torch.add(self.dy_[t], self.dy_carry, out=self.dy_t)  # into y_t and its repeats
            torch.mul(self.dy_t, keep, out=self.dy_carry)  # into y_{t-1}, which padding repeated
            torch.add(dh_next, self.dy_t, out=dh).mul_(m)  # into the cell's h_t
        if grad_hook is not None:
            grad_hook(t, dh.clone() if m is None else torch.addcmul(dh, dh_next, keep))
