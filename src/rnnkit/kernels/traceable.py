"""The plain-op paths of export mode (:mod:`rnnkit._tracing`): what a recurrent layer runs
while it is exported, traced or compiled.

* PyTorch's fused operator (:mod:`rnnkit.kernels.native`) where it computes the same thing
  (no mask, no recurrent dropout, a tanh / relu SimpleRNN, a ``reset_after=True`` GRU): one op
  whatever the batch size and length (ONNX's ``LSTM`` / ``GRU`` / ``RNN``).
* Otherwise, under ``torch.jit.trace`` (which the ONNX exporter uses): the time loops below,
  compiled by TorchScript, so the trace keeps a loop over the length it is given (ONNX's
  ``Loop``) instead of the steps of the example input.
* Otherwise (``torch.export``, ``torch.compile``, :func:`rnnkit.export.exporting`): the
  readable loop of :mod:`rnnkit.functional` (``torch.export`` records one copy per step, so
  a masked layer's length is fixed to the example's).

Every loop here computes a step as :mod:`rnnkit.functional.cells` does, in the same order; a
masked step carries the states and repeats the previous output (zeros before the first).
"""

import functools
import warnings

import torch
from torch import Tensor

from .. import functional as F
from ..functional.cells import gru_cell, lstm_cell  # scriptable: the loops below call them
from . import native


def lstm(x, h0, c0, W_x, W_h, b, *, mask=None, go_backwards=False, recurrent_mask=None):
    if native.supports("lstm", mask=mask, recurrent_mask=recurrent_mask):
        return native.lstm(x, h0, c0, W_x, W_h, b, go_backwards)
    if torch.jit.is_tracing():
        x, mask, keep = _filled(x, h0, mask, go_backwards, recurrent_mask)
        y, h, c = _scripted(_lstm_steps)(x, h0, c0, W_x, W_h, _bias(b, W_x), mask, keep)
        return y, (h, c)
    options = dict(mask=mask, go_backwards=go_backwards, recurrent_mask=recurrent_mask)
    return F.lstm(x, h0, c0, W_x, W_h, b, **options)


def gru(
    x, h0, W_x, W_h, b_x, b_h, *, reset_after=True, mask=None, go_backwards=False,
    recurrent_mask=None,
):  # fmt: skip
    options = dict(mask=mask, recurrent_mask=recurrent_mask, reset_after=reset_after)
    if native.supports("gru", **options):
        return native.gru(x, h0, W_x, W_h, b_x, b_h, go_backwards)
    if torch.jit.is_tracing():
        x, mask, keep = _filled(x, h0, mask, go_backwards, recurrent_mask)
        b_x, b_h = _bias(b_x, W_x), _bias(b_h, W_h)
        y, h = _scripted(_gru_steps)(x, h0, W_x, W_h, b_x, b_h, reset_after, mask, keep)
        return y, (h,)
    return F.gru(x, h0, W_x, W_h, b_x, b_h, **options, go_backwards=go_backwards)


def simple_rnn(
    x, h0, W_x, W_h, b, *, activation="tanh", mask=None, go_backwards=False, recurrent_mask=None
):
    options = dict(mask=mask, recurrent_mask=recurrent_mask, activation=activation)
    if native.supports("simple_rnn", **options):
        return native.simple_rnn(x, h0, W_x, W_h, b, activation, go_backwards)
    if torch.jit.is_tracing():
        x, mask, keep = _filled(x, h0, mask, go_backwards, recurrent_mask)
        y, h = _scripted(_rnn_steps)(x, h0, W_x, W_h, _bias(b, W_x), activation, mask, keep)
        return y, (h,)
    return F.simple_rnn(x, h0, W_x, W_h, b, **options, go_backwards=go_backwards)


def _filled(x: Tensor, h0: Tensor, mask, go_backwards: bool, recurrent_mask):
    """``x`` (N, T, D) and the mask (N, T) in processing order, with an all-True mask for
    None, and the recurrent mask (N, H) with ones for None: the loops take no optional
    tensor (ONNX cannot type a None carried through a ``Loop``). Exact: ``where(True, a, b)``
    is ``a`` and ``h * 1`` is ``h``."""
    if mask is None:
        mask = torch.ones_like(x[:, :, 0], dtype=torch.bool)  # (N, T)
    if go_backwards:
        x, mask = x.flip(1), mask.flip(1)
    keep = torch.ones_like(h0) if recurrent_mask is None else recurrent_mask
    return x, mask, keep


def _bias(b: Tensor | None, W: Tensor) -> Tensor:
    """The bias, zeros for None (adding zeros is exact)."""
    return W.new_zeros(W.shape[1]) if b is None else b


@functools.cache
def _scripted(fn):
    """``fn`` compiled by TorchScript, once, on first use (not at import)."""
    with warnings.catch_warnings():  # torch.jit.script's deprecation notice
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(fn)


# -- TorchScript loops (kept to TorchScript's subset of Python; the LSTM and GRU steps are
# rnnkit.functional's cells, which TorchScript compiles with the loop) ---------------------
def _lstm_steps(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor,
    mask: Tensor,
    keep: Tensor,
):
    y_prev = torch.zeros_like(h)
    ys: list[Tensor] = []
    for t in range(x.size(1)):
        h_in = h * keep  # recurrent dropout (ones without)
        h_new, c_new = lstm_cell(x[:, t], h_in, c, W_x, W_h, b)  # (N, H) each
        m = mask[:, t].unsqueeze(1)  # (N, 1): a masked step carries the states
        h_new = torch.where(m, h_new, h)
        c_new = torch.where(m, c_new, c)
        y_prev = torch.where(m, h_new, y_prev)  # and repeats the previous output
        ys.append(y_prev)
        h, c = h_new, c_new
    return torch.stack(ys, dim=1), h, c


def _gru_steps(
    x: Tensor,
    h: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor,
    b_h: Tensor,
    reset_after: bool,
    mask: Tensor,
    keep: Tensor,
):
    y_prev = torch.zeros_like(h)
    ys: list[Tensor] = []
    for t in range(x.size(1)):
        h_rec = h * keep  # recurrent dropout (ones without)
        h_new = gru_cell(x[:, t], h, W_x, W_h, b_x, b_h, reset_after, h_rec)  # (N, H)
        m = mask[:, t].unsqueeze(1)  # (N, 1): a masked step carries the state
        h_new = torch.where(m, h_new, h)
        y_prev = torch.where(m, h_new, y_prev)  # and repeats the previous output
        ys.append(y_prev)
        h = h_new
    return torch.stack(ys, dim=1), h


def _rnn_steps(
    x: Tensor,
    h: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor,
    activation: str,
    mask: Tensor,
    keep: Tensor,
):
    y_prev = torch.zeros_like(h)
    ys: list[Tensor] = []
    for t in range(x.size(1)):
        h_in = h * keep  # recurrent dropout (ones without)
        z = x[:, t] @ W_x + h_in @ W_h + b  # (N, H)
        if activation == "tanh":
            h_new = torch.tanh(z)
        elif activation == "relu":
            h_new = torch.relu(z)
        else:  # 'sigmoid' (the layer checked the name)
            h_new = torch.sigmoid(z)
        m = mask[:, t].unsqueeze(1)  # (N, 1): a masked step carries the state
        h_new = torch.where(m, h_new, h)
        y_prev = torch.where(m, h_new, y_prev)  # and repeats the previous output
        ys.append(y_prev)
        h = h_new
    return torch.stack(ys, dim=1), h
