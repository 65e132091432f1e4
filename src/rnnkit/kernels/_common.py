"""What the whole-sequence kernels share: argument checks, time-major layout, masks, the plan.

Inside a kernel everything is time-major and in *processing order* (reversed when
``go_backwards``): step ``t`` reads and writes the contiguous ``(N, .)`` slice ``buf[t]`` of a
preallocated ``(T, N, .)`` buffer, and ``y`` (returned in processing order, as the reference
loop does) is simply ``buf.transpose(0, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from .._validation import fail

GradHook = Callable[[int, Tensor], None]
"""``grad_hook(t, dh_t)``, called by a kernel's backward once per step, ``t = T-1, ..., 0``.

``t`` indexes ``y`` (processing order: with ``go_backwards`` it is input step ``T-1-t``) and
``dh_t`` (N, H) is dLoss/dh_t, the gradient of the loss with respect to the hidden state after
step ``t`` (the ``h`` that step ``t+1`` reads and, on a real step, ``y[:, t]``), through every
path: the output at ``t`` and all later steps. ``dh_t`` is a fresh tensor the hook may keep.

The backward loop (compiled or Python) writes dLoss/dh_t of every step into a (T, N, H) record
as it passes (and, for the LSTM, dLoss/dc_t into a second one); when it is done,
:func:`deliver` hands the records over: to ``grad_hook.record(dh, dc)`` in one call if the
hook has such a method (``dc`` None but for the LSTM), else to ``grad_hook(t, dh_t)`` per step.
"""


def records(grad_hook: GradHook | None, like: Tensor, cell: bool = False):
    """The (T, N, H) buffers a backward loop writes the gradient readout into, ``(dh, dc)``:
    both None without a ``grad_hook``, ``dc`` None unless ``cell`` (the LSTM). ``like`` is a
    (T, N, H) tensor of the loop's dtype and device."""
    if grad_hook is None:
        return None, None
    return torch.empty_like(like), (torch.empty_like(like) if cell else None)


def deliver(grad_hook: GradHook | None, dh: Tensor | None, dc: Tensor | None = None) -> None:
    """Hand the readout of a finished backward loop to ``grad_hook`` (see :data:`GradHook`)."""
    if grad_hook is None:
        return
    record = getattr(grad_hook, "record", None)
    if record is not None:
        record(dh, dc)
        return
    for t in reversed(range(dh.shape[0])):
        grad_hook(t, dh[t])  # a view of a fresh buffer: the hook may keep it


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


class OutputGrads:
    """Routes dLoss/dy into the cells of a backward step loop, through the mask.

    ``dy`` (N, T, H) in processing order, ``m_seq`` (T, N, 1) bool or None. A padded step
    passes the state on and repeats the previous output, so ``y_t`` also collects the gradient
    of the later padded steps that repeated it (``dy_carry``), and the cell itself gets nothing.
    Selections are ``torch.where``, not products with a 0/1 mask, so a NaN or infinite
    gradient on a padded step stays where the reference loop's ``torch.where`` keeps it.
    """

    def __init__(self, dy: Tensor, m_seq: Tensor | None):
        self.dy_ = dy.transpose(0, 1).unbind(0)  # (N, H) views per step
        self.m_seq = m_seq
        self.dy_carry = None if m_seq is None else torch.zeros_like(self.dy_[0])  # (N, H)

    def mask(self, t: int) -> Tensor | None:
        """``m`` of step ``t``, (N, 1) bool (True on real rows), or None without a mask."""
        return None if self.m_seq is None else self.m_seq[t]

    def into_h(self, t: int, dh_next: Tensor, record: Tensor | None = None) -> Tensor:
        """The gradient reaching the cell's ``h_t`` (N, H), from ``y_t`` and from step
        ``t+1``'s ``dh_next``, zero on padded rows; writes dLoss/dh_t into ``record[t]``
        (the gradient readout, (T, N, H)) if given."""
        m = self.mask(t)
        if m is None:
            dh = dh_next + self.dy_[t]  # (N, H)
            if record is not None:
                record[t] = dh
            return dh
        dy_t = self.dy_[t] + self.dy_carry  # into y_t, and the later padded repeats of it
        self.dy_carry = torch.where(m, 0.0, dy_t)  # into y_{t-1}, which this padding repeats
        dh = torch.where(m, dh_next + dy_t, 0.0)  # into the cell's h_t (real rows only)
        if record is not None:  # the state h_t: the cell's, or h_{t-1} passed on
            torch.where(m, dh, dh_next, out=record[t])
        return dh


@dataclass(frozen=True)
class LoopPlan:
    """How a kernel's step loop runs a call: everything but the tensors it computes on.

    Made once per call by :meth:`make` and handed from the public entry point to the autograd
    Function and on to the loops (in place of a dozen positional arguments).

    Attributes:
        m_seq: the mask time-major, (T, N, 1) bool in processing order, or None.
        go_backwards: process ``t = T-1, ..., 0``.
        recurrent_mask: (N, H), multiplied into ``h_prev`` where it enters ``h_prev @ W_h``.
        grad_hook: see :data:`GradHook`.
        compiled: the compiled loops' op namespace (:func:`rnnkit.kernels._ext.load`), or None
            for the Python loops.
        start: LSTM lookup only: each row's first step past the shared padding in front,
            (N,) int64 sorted (see :func:`rnnkit.kernels.lstm.lstm_lookup`), or None.
        pad_row: LSTM lookup only: the table row the shared padding reads.
        sequences: LSTM lookup without gradients only: write the per-step outputs ``y``.
    """

    m_seq: Tensor | None
    go_backwards: bool
    recurrent_mask: Tensor | None
    grad_hook: GradHook | None
    compiled: object | None
    start: Tensor | None = None
    pad_row: int = 0
    sequences: bool = True

    @classmethod
    def make(
        cls,
        mask: Tensor | None,
        go_backwards: bool,
        recurrent_mask: Tensor | None,
        grad_hook: GradHook | None,
        compiled: object | None,
        **lookup,
    ) -> LoopPlan:
        """The plan of a call given its mask (N, T) in input order."""
        m_seq = mask_time_major(mask, go_backwards)  # (T, N, 1) or None
        return cls(m_seq, go_backwards, recurrent_mask, grad_hook, compiled, **lookup)

    def with_(self, **changes) -> LoopPlan:
        """A copy with ``changes`` (the plan itself is frozen)."""
        return replace(self, **changes)
