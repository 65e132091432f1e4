"""PyTorch's own fused recurrent operators (oneDNN on CPU, cuDNN on GPU) behind rnnkit's layout.

rnnkit keeps Keras's layout (``W_x`` of shape (D, 4H), one bias ``b``); ``torch.lstm`` wants
PyTorch's (``weight_ih`` (4H, D), ``bias_ih`` + ``bias_hh``). These wrappers convert on every
call (transposes are views; the GRU's gate reorder is one small copy), so gradients flow back
to rnnkit's parameters through autograd.

The native path covers the common case only: no mask, no recurrent dropout, tanh or relu simple
RNNs, GRU with ``reset_after=True``. :func:`supports` says whether it applies.
"""

from __future__ import annotations

import torch
from torch import Tensor


def supports(cell: str, *, mask=None, recurrent_mask=None, activation="tanh", reset_after=True):
    """Whether the native fused operator computes exactly what the reference loop does."""
    if mask is not None or recurrent_mask is not None:
        return False
    if cell == "simple_rnn":
        return activation in ("tanh", "relu")
    if cell == "gru":
        return reset_after
    return cell == "lstm"


def _bias_or_zeros(b: Tensor | None, size: int, like: Tensor) -> Tensor:
    return like.new_zeros(size) if b is None else b


def _time_flip(x: Tensor, go_backwards: bool) -> Tensor:
    return x.flip(1) if go_backwards else x


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    go_backwards: bool = False,
):
    H = h0.shape[1]
    params = [W_x.t(), W_h.t(), _bias_or_zeros(b, 4 * H, W_x), W_x.new_zeros(4 * H)]
    y, h_T, c_T = torch.lstm(
        _time_flip(x, go_backwards),
        (h0.unsqueeze(0), c0.unsqueeze(0)),
        params,
        True,
        1,
        0.0,
        False,
        False,
        True,
    )
    return y, (h_T[0], c_T[0])


def _zrn_to_rzn(w: Tensor, H: int) -> Tensor:
    """Reorder packed GRU gates from Keras's [z | r | n] to PyTorch's [r | z | n] (last axis)."""
    return torch.cat([w[..., H : 2 * H], w[..., :H], w[..., 2 * H :]], dim=-1)


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    go_backwards: bool = False,
):
    H = h0.shape[1]
    params = [
        _zrn_to_rzn(W_x, H).t(),
        _zrn_to_rzn(W_h, H).t(),
        _zrn_to_rzn(_bias_or_zeros(b_x, 3 * H, W_x), H),
        _zrn_to_rzn(_bias_or_zeros(b_h, 3 * H, W_x), H),
    ]
    y, h_T = torch.gru(
        _time_flip(x, go_backwards), h0.unsqueeze(0), params, True, 1, 0.0, False, False, True
    )
    return y, (h_T[0],)


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    activation: str = "tanh",
    go_backwards: bool = False,
):
    H = h0.shape[1]
    op = torch.rnn_tanh if activation == "tanh" else torch.rnn_relu
    params = [W_x.t(), W_h.t(), _bias_or_zeros(b, H, W_x), W_x.new_zeros(H)]
    y, h_T = op(
        _time_flip(x, go_backwards), h0.unsqueeze(0), params, True, 1, 0.0, False, False, True
    )
    return y, (h_T[0],)
