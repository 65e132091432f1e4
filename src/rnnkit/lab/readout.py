"""The gradient readout: dLoss/dh_t, dLoss/dc_t and dLoss/dx_t of every step, read from the same
backward pass that trains the layer.

>>> import torch
>>> from rnnkit.layers import LSTM
>>> from rnnkit.lab import record_gradients
>>> layer = LSTM(8, input_shape=(None, 3))
>>> with record_gradients(layer) as rec:
...     layer(torch.randn(4, 20, 3)).sum().backward()
>>> rec.dh.shape, rec.dc.shape, rec.dx.shape        # (T, N, H), (T, N, H), (T, N, D)
(torch.Size([20, 4, 8]), torch.Size([20, 4, 8]), torch.Size([20, 4, 3]))

How it is read
    ``record_gradients(layer)`` sets the layer's ``grad_hook`` (see
    :data:`rnnkit.kernels._common.GradHook`) for the ``with`` block. The layer then runs
    rnnkit's kernel (:mod:`rnnkit.kernels.dispatch`: asking for the readout selects it, where
    ``impl='auto'`` would otherwise pick PyTorch's fused operator), whose backward loop writes
    dLoss/dh_t of every step (and dLoss/dc_t for the LSTM) into a (T, N, H) buffer as it passes:

    * LSTM and GRU: the compiled C++ loop where it is built (``backward_row`` and the GRU's row
      loop write the record), else the Python loop; the same numbers either way;
    * SimpleRNN: the kernel's Python loop (the simple RNN has no compiled loop), every
      activation.

    dLoss/dx_t is autograd's gradient of the layer's input (``dZ @ W_x^T`` in the kernel's
    backward), caught by a hook on the input tensor of each call (``layer(x)``, or a model's
    ``layer.sequence(x)``).

What is recorded
    Per backward pass through the layer, one :class:`Record`: ``dh`` and ``dc`` (T, N, H) in
    processing order (reversed for ``go_backwards``), ``dx`` (T, N, D) in input order. Index
    ``t`` is the state *after* step ``t``: ``dh[t]`` is the gradient reaching ``h_t`` from the
    output at ``t`` and from every later step. :meth:`Recording.norms` turns them into the
    per-step norms the lab plots (mean over the batch of the per-row L2 norm).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .. import _validation as V

CELLS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}


@dataclass
class Record:
    """The readout of one backward pass: ``dh``, ``dc`` (LSTM only, else None) (T, N, H) in
    processing order, ``dx`` (T, N, D) in input order (None if the input took no gradient)."""

    dh: Tensor
    dc: Tensor | None = None
    dx: Tensor | None = None


@dataclass
class Recording:
    """What :func:`record_gradients` collected: one :class:`Record` per backward pass, in the
    order the passes ran. ``dh``, ``dc``, ``dx`` are the last pass's."""

    records: list[Record] = field(default_factory=list)
    _dx: list[Tensor] = field(default_factory=list)

    # the kernels' hook protocol (rnnkit.kernels._common.deliver): whole buffers at once
    def record(self, dh: Tensor, dc: Tensor | None) -> None:
        self.records.append(Record(dh, dc))

    def _take_dx(self, grad: Tensor) -> None:
        self._dx.append(grad.detach().transpose(0, 1))  # (T, N, D)

    def _pair_dx(self) -> None:
        """Give each record the dx of its pass (autograd calls the input's hook after the
        kernel's backward has delivered its record)."""
        for rec, dx in zip(self.records, self._dx):
            rec.dx = dx

    def _last(self) -> Record:
        if not self.records:
            raise RuntimeError(
                "record_gradients: nothing was recorded; run a backward pass through the "
                "layer inside the `with` block."
            )
        self._pair_dx()
        return self.records[-1]

    @property
    def dh(self) -> Tensor:
        return self._last().dh

    @property
    def dc(self) -> Tensor | None:
        return self._last().dc

    @property
    def dx(self) -> Tensor | None:
        return self._last().dx

    def norms(self) -> dict[str, list[float]]:
        """The last pass's per-step norms: ``{'dh': [...], 'dc': [...], 'dx': [...]}`` (T
        values each, step order as the records; ``dc``/``dx`` only where recorded), each the
        mean over the batch of the rows' L2 norms."""
        rec = self._last()
        out = {"dh": _step_norms(rec.dh)}
        if rec.dc is not None:
            out["dc"] = _step_norms(rec.dc)
        if rec.dx is not None:
            out["dx"] = _step_norms(rec.dx)
        return out


def _step_norms(g: Tensor) -> list[float]:
    """(T, N, K) -> T floats: the mean over N of ``||g[t, n]||_2``, in float64."""
    return g.double().norm(dim=2).mean(dim=1).tolist()


@contextlib.contextmanager
def record_gradients(layer, *, inputs: bool = True) -> Iterator[Recording]:
    """Record dLoss/dh_t (dLoss/dc_t for the LSTM) and dLoss/dx_t of every step of ``layer``
    for the backward passes run inside the block (see the module docstring).

    Args:
        layer: a built or unbuilt :class:`~rnnkit.layers.SimpleRNN`, :class:`~rnnkit.layers.LSTM`
            or :class:`~rnnkit.layers.GRU` with ``impl`` 'auto' or 'kernel'.
        inputs: also record dLoss/dx_t (the layer's input is made to require a gradient where
            it does not, which costs the backward one GEMM, ``dZ @ W_x^T``).

    Yields:
        a :class:`Recording`, filled as backward passes run.
    """
    owner = "record_gradients"
    name = type(layer).__name__
    if not any(isinstance(layer, _layer_class(c)) for c in CELLS):
        V.fail(owner, "layer", "a SimpleRNN, LSTM or GRU layer", layer, TypeError)
    if layer.impl not in ("auto", "kernel"):
        raise ValueError(
            f"{owner}: `layer` expected impl 'auto' or 'kernel' (the readout is read from "
            f"rnnkit's kernel), received a {name} with impl={layer.impl!r}."
        )
    if layer.grad_hook is not None:
        raise RuntimeError(f"{owner}: this {name} is already being recorded.")
    recording = Recording()
    if inputs:  # every call, layer(x) or a model's layer.sequence(x), goes through sequence
        sequence = layer.sequence

        def catch_input(x, *args, **kwargs):
            if isinstance(x, Tensor) and torch.is_grad_enabled():
                if not x.requires_grad:
                    x = x.detach().requires_grad_()
                x.register_hook(recording._take_dx)
            return sequence(x, *args, **kwargs)

        layer.sequence = catch_input
    layer.grad_hook = recording
    try:
        yield recording
    finally:
        del layer.grad_hook  # back to the class's None
        if inputs:
            del layer.sequence  # back to the class's method
        recording._pair_dx()


def _layer_class(name: str):
    from .. import layers

    return getattr(layers, name)
