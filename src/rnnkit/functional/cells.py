"""One time step of each recurrent cell, written from its equations.

Batch-first row vectors throughout: ``x_t`` is ``(N, D)``, ``h_prev`` is ``(N, H)``, weights
multiply from the right (``x_t @ W_x``), as in Keras and in the lecture's notation.

Every function here is pure: tensors in, tensors out, no state and no modules. The layers in
:mod:`rnnkit.layers` own the parameters; the reference time loop in
:mod:`rnnkit.functional.recurrent` and the fast kernels in :mod:`rnnkit.kernels` call these (or
are tested against them).
"""

from __future__ import annotations

import torch
from torch import Tensor

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


def rnn_cell(
    x_t: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    activation: str = "tanh",
) -> Tensor:
    """Simple (Elman) RNN step: ``h = act(x_t @ W_x + h_prev @ W_h + b)``.

    Shapes: ``x_t`` (N, D), ``h_prev`` (N, H), ``W_x`` (D, H), ``W_h`` (H, H), ``b`` (H,).
    Returns ``h`` (N, H).
    """
    z = x_t @ W_x + h_prev @ W_h  # (N, H)
    if b is not None:
        z = z + b
    return ACTIVATIONS[activation](z)


def lstm_cell(
    x_t: Tensor, h_prev: Tensor, c_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None
) -> tuple[Tensor, Tensor]:
    """LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    .. math::
        z &= x_t W_x + h_{t-1} W_h + b  \\quad \\text{packed } [i | f | g | o] \\\\
        i, f, o &= \\sigma(z_i), \\sigma(z_f), \\sigma(z_o) \\qquad g = \\tanh(z_g) \\\\
        c_t &= f \\odot c_{t-1} + i \\odot g \\\\
        h_t &= o \\odot \\tanh(c_t)

    Shapes: ``x_t`` (N, D), ``h_prev`` and ``c_prev`` (N, H), ``W_x`` (D, 4H), ``W_h`` (H, 4H),
    ``b`` (4H,). Returns ``(h, c)``, each (N, H).
    """
    z = x_t @ W_x + h_prev @ W_h  # (N, 4H)
    if b is not None:
        z = z + b
    return lstm_update(z, c_prev)


def lstm_update(z: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM step from its pre-activations ``z`` (N, 4H), packed ``[i | f | g | o]``, and
    ``c_prev`` (N, H): the gates, the new cell state and output, ``(h, c)``. :func:`lstm_cell`
    and the bfloat16 path (:mod:`rnnkit.kernels.bf16`, its own ``z``) share it."""
    z_i, z_f, z_g, z_o = z.chunk(4, dim=1)  # 4 x (N, H)
    i = torch.sigmoid(z_i)  # input gate: how much of the candidate to write
    f = torch.sigmoid(z_f)  # forget gate: how much of the old cell to keep
    g = torch.tanh(z_g)  # candidate cell values
    o = torch.sigmoid(z_o)  # output gate: how much of the cell to show
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    return h, c


def gru_cell(
    x_t: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    reset_after: bool = True,
    h_rec: Tensor | None = None,
) -> Tensor:
    """GRU step (Cho et al. 2014), gates packed ``[z | r | n]`` as Keras (update, reset, new).

    .. math::
        z &= \\sigma(x_t W_{xz} + b_{xz} + h_{t-1} W_{hz} + b_{hz}) \\\\
        r &= \\sigma(x_t W_{xr} + b_{xr} + h_{t-1} W_{hr} + b_{hr}) \\\\
        n &= \\tanh(x_t W_{xn} + b_{xn} + r \\odot (h_{t-1} W_{hn} + b_{hn}))
             \\quad \\text{(reset\\_after=True, PyTorch's and cuDNN's form)} \\\\
        n &= \\tanh(x_t W_{xn} + b_{xn} + (r \\odot h_{t-1}) W_{hn})
             \\quad \\text{(reset\\_after=False, the original paper's form)} \\\\
        h_t &= z \\odot h_{t-1} + (1 - z) \\odot n

    Shapes: ``W_x`` (D, 3H), ``W_h`` (H, 3H), ``b_x`` and ``b_h`` (3H,). With
    ``reset_after=False`` the recurrent bias ``b_h`` must be ``None`` (one bias, as Keras).
    ``h_rec`` is the state as the recurrent products see it (``h_prev`` times a recurrent dropout
    mask); it defaults to ``h_prev``, which alone enters the final interpolation.
    Returns ``h`` (N, H).
    """
    H = h_prev.shape[1]
    if h_rec is None:
        h_rec = h_prev
    x_proj = x_t @ W_x  # (N, 3H)
    if b_x is not None:
        x_proj = x_proj + b_x
    x_z, x_r, x_n = x_proj.chunk(3, dim=1)  # 3 x (N, H)
    if reset_after:
        h_proj = h_rec @ W_h  # (N, 3H)
        if b_h is not None:
            h_proj = h_proj + b_h
        h_z, h_r, h_n = h_proj.chunk(3, dim=1)  # 3 x (N, H)
        z = torch.sigmoid(x_z + h_z)
        r = torch.sigmoid(x_r + h_r)
        n = torch.tanh(x_n + r * h_n)
    else:
        h_zr = h_rec @ W_h[:, : 2 * H]  # (N, 2H)
        h_z, h_r = h_zr.chunk(2, dim=1)
        z = torch.sigmoid(x_z + h_z)
        r = torch.sigmoid(x_r + h_r)
        n = torch.tanh(x_n + (r * h_rec) @ W_h[:, 2 * H :])
    return z * h_prev + (1.0 - z) * n
