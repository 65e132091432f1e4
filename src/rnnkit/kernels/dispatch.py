"""Choose how to run a recurrent layer over a sequence: ``impl='auto' | 'native' | 'kernel' | 'reference'``.

* ``'reference'``: the readable time loop of :mod:`rnnkit.functional` (autograd backward).
* ``'kernel'``: rnnkit's whole-sequence kernels with hand-written BPTT (:mod:`rnnkit.kernels`).
  They serve every option: masks, recurrent dropout, every activation.
* ``'native'``: PyTorch's fused operators (oneDNN / cuDNN), where the options allow
  (:func:`rnnkit.kernels.native.supports`).
* ``'auto'``: the fastest path that computes exactly the same thing: rnnkit's kernel for the
  GRU when its compiled loops are available (measured faster than PyTorch's fused GRU,
  ``benchmarks/kernels_quick.py``);
  otherwise native where it applies, else the kernel, else the reference loop. (An LSTM fed by
  an Embedding takes the lookup path of :meth:`rnnkit.layers.LSTM.sequence_ids`.)

``grad_hook(t, dh_t)`` (for measuring how gradients vanish over time) is served by rnnkit's
kernel only, from its own backward loop; asking for it selects the kernel.

Asking for ``'native'`` where it cannot apply raises an error that says why and what to use.
"""

from __future__ import annotations

import importlib

from torch import Tensor

from .. import functional as F
from . import native

IMPLS = ("auto", "native", "kernel", "reference")


def _kernel(cell: str):
    """rnnkit's own kernel for ``cell``, or None where it is not available."""
    try:
        module = importlib.import_module(f"rnnkit.kernels.{cell}")
    except ImportError:
        return None
    return getattr(module, cell, None)


def _resolve(cell: str, impl: str, owner: str, grad_hook=None, **options) -> str:
    if grad_hook is not None:
        if impl not in ("auto", "kernel") or _kernel(cell) is None:
            raise ValueError(
                f"{owner}: `grad_hook` is read from rnnkit's kernel only, received "
                f"impl={impl!r}. Use impl='auto' or 'kernel'."
            )
        return "kernel"
    if impl == "reference":
        return impl
    if impl == "native":
        if not native.supports(cell, **options):
            why = _native_refusal(cell, **options)
            raise ValueError(
                f"{owner}: `impl` 'native' cannot run this layer: {why}. "
                "Use impl='auto' (or 'kernel') to let rnnkit's own kernel run it."
            )
        return impl
    if impl == "kernel":
        if _kernel(cell) is None:
            raise ValueError(
                f"{owner}: `impl` 'kernel' is not available for {cell} in this "
                "installation. Use impl='auto' or 'reference'."
            )
        return impl
    if cell == "gru" and _compiled():
        return "kernel"  # the compiled GRU loop beats PyTorch's fused GRU (benchmarks/)
    if native.supports(cell, **options):
        return "native"
    return "kernel" if _kernel(cell) is not None else "reference"


def _compiled() -> bool:
    """Whether rnnkit's compiled step loops are available (built, or buildable, here)."""
    from . import _ext

    return _ext.load() is not None


def _native_refusal(cell, *, mask=None, recurrent_mask=None, activation="tanh", reset_after=True):
    if mask is not None:
        return "PyTorch's fused operator takes no mask"
    if recurrent_mask is not None:
        return "PyTorch's fused operator has no recurrent dropout"
    if cell == "simple_rnn":
        return f"PyTorch's fused operator has no {activation!r} activation (only 'tanh', 'relu')"
    return "PyTorch's fused GRU only has reset_after=True"


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "LSTM",
    grad_hook=None,
):
    path = _resolve("lstm", impl, owner, grad_hook, mask=mask, recurrent_mask=recurrent_mask)
    if path == "native":
        return native.lstm(x, h0, c0, W_x, W_h, b, go_backwards)
    if path == "reference":
        return F.lstm(
            x,
            h0,
            c0,
            W_x,
            W_h,
            b,
            mask=mask,
            go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
        )
    return _kernel("lstm")(
        x,
        h0,
        c0,
        W_x,
        W_h,
        b,
        mask=mask,
        go_backwards=go_backwards,
        recurrent_mask=recurrent_mask,
        grad_hook=grad_hook,
    )


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    *,
    reset_after: bool = True,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "GRU",
    grad_hook=None,
):
    path = _resolve(
        "gru",
        impl,
        owner,
        grad_hook,
        mask=mask,
        recurrent_mask=recurrent_mask,
        reset_after=reset_after,
    )
    if path == "native":
        return native.gru(x, h0, W_x, W_h, b_x, b_h, go_backwards)
    options = dict(
        reset_after=reset_after, mask=mask, go_backwards=go_backwards, recurrent_mask=recurrent_mask
    )
    if path == "reference":
        return F.gru(x, h0, W_x, W_h, b_x, b_h, **options)
    return _kernel("gru")(x, h0, W_x, W_h, b_x, b_h, **options, grad_hook=grad_hook)


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    activation: str = "tanh",
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "SimpleRNN",
    grad_hook=None,
):
    path = _resolve(
        "simple_rnn",
        impl,
        owner,
        grad_hook,
        mask=mask,
        recurrent_mask=recurrent_mask,
        activation=activation,
    )
    if path == "native":
        return native.simple_rnn(x, h0, W_x, W_h, b, activation, go_backwards)
    options = dict(
        activation=activation, mask=mask, go_backwards=go_backwards, recurrent_mask=recurrent_mask
    )
    if path == "reference":
        return F.simple_rnn(x, h0, W_x, W_h, b, **options)
    return _kernel("simple_rnn")(x, h0, W_x, W_h, b, **options, grad_hook=grad_hook)
