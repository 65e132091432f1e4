"""Export mode: whether rnnkit's layers must take their plain-op path.

Exporters and compilers (``torch.onnx.export``, ``torch.export.export``, ``torch.jit.trace``,
``torch.compile``) record the operations a call runs; rnnkit's fast paths would record
data-dependent Python decisions (the padding trim, the vocabulary table, the lookup of the
input projection) or opaque compiled loops. In export mode every layer takes the plain-op
path instead: PyTorch's fused operator where it computes the same thing (no mask, no recurrent
dropout, a tanh / relu SimpleRNN, a ``reset_after=True`` GRU), else a time loop of plain ops
(:mod:`rnnkit.kernels.traceable`). Export mode is on while one of those tools runs, and
inside :func:`exporting` (``rnnkit.export.exporting``).
"""

from __future__ import annotations

import contextlib
import threading

import torch

_local = threading.local()


def active() -> bool:
    """Whether this call is being exported, traced or compiled (or runs inside
    :func:`exporting`). About a microsecond: a few checks per recurrent call."""
    if getattr(_local, "depth", 0) > 0:
        return True
    if torch.jit.is_tracing():  # (scripting never runs this Python code)
        return True
    return torch.compiler.is_compiling()  # torch.compile and torch.export (is_exporting)


@contextlib.contextmanager
def exporting():
    """Run the calls inside on the plain-op path, as an exporter would see them."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
