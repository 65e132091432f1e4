"""The reference time loop: one cell step after another, in plain PyTorch ops.

This is the readable definition of what every recurrent layer computes. It is slow (one Python
iteration per time step) but obviously right, and every fast kernel in :mod:`rnnkit.kernels`
is tested against it. Autograd differentiates it; nothing here is hand-derived.

Conventions shared by all sequence functions:

* ``x`` is batch-first ``(N, T, D)``; states are ``(N, H)``.
* ``mask`` is an optional boolean ``(N, T)``: ``True`` where a step is real. A masked step
  carries the previous state forward unchanged and repeats the previous output (Keras's
  behaviour), so padding, wherever it is, never changes the result.
* ``go_backwards`` processes the sequence from the last step to the first and returns the
  outputs in processing order (reversed), as Keras does; :class:`rnnkit.layers.Bidirectional`
  flips them back.
* ``recurrent_mask`` is an optional ``(N, H)`` dropout mask (already scaled) applied to
  ``h_prev`` inside the recurrent matrix product only, the same mask at every step (Gal &
  Ghahramani 2016, as Keras's ``recurrent_dropout``). Input dropout is applied by the caller to
  ``x`` before the loop, since it too uses one mask for all steps.

Each returns ``(y, states)`` where ``y`` is ``(N, T, H)`` and ``states`` is a tuple of final
states (``(h_T,)`` or ``(h_T, c_T)``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .cells import gru_cell, lstm_cell, rnn_cell

Step = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]


def scan(
    step: Step,
    x: Tensor,
    state0: tuple[Tensor, ...],
    mask: Tensor | None = None,
    go_backwards: bool = False,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``step`` over the time axis of ``x``; the first element of the state is the output.

    ``step(x_t, state) -> new_state`` where ``state[0]`` is the hidden state ``h``.
    """
    N, T, _ = x.shape
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    state = state0
    y_prev = torch.zeros_like(state0[0])
    ys = []
    for t in steps:
        new_state = step(x[:, t], state)
        if mask is not None:
            m = mask[:, t].unsqueeze(1)  # (N, 1)
            new_state = tuple(
                torch.where(m, s_new, s_old) for s_new, s_old in zip(new_state, state)
            )
            y_t = torch.where(m, new_state[0], y_prev)
        else:
            y_t = new_state[0]
        ys.append(y_t)
        y_prev = y_t
        state = new_state
    if not ys:
        return x.new_zeros(N, 0, state0[0].shape[1]), state
    return torch.stack(ys, dim=1), state  # (N, T, H)


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
) -> tuple[Tensor, tuple[Tensor]]:
    """Simple RNN over a whole sequence. See :func:`rnnkit.functional.cells.rnn_cell`."""

    def step(x_t, state):
        (h_prev,) = state
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return (rnn_cell(x_t, h_in, W_x, W_h, b, activation),)

    return scan(step, x, (h0,), mask, go_backwards)


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
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM over a whole sequence. See :func:`rnnkit.functional.cells.lstm_cell`."""

    def step(x_t, state):
        h_prev, c_prev = state
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return lstm_cell(x_t, h_in, c_prev, W_x, W_h, b)

    return scan(step, x, (h0, c0), mask, go_backwards)


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
) -> tuple[Tensor, tuple[Tensor]]:
    """GRU over a whole sequence. See :func:`rnnkit.functional.cells.gru_cell`.

    With ``recurrent_mask``, the dropped ``h_prev`` enters the recurrent product while the
    undropped ``h_prev`` is interpolated in ``h = z * h_prev + (1 - z) * n``.
    """

    def step(x_t, state):
        (h_prev,) = state
        h_rec = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return (gru_cell(x_t, h_prev, W_x, W_h, b_x, b_h, reset_after, h_rec),)

    return scan(step, x, (h0,), mask, go_backwards)
