"""Whole-sequence recurrent kernels and the dispatch between them (see :mod:`.dispatch`).

Kernels work on raw tensors ``(x, h0, c0, W_x, W_h, b)`` and never import a layer. Each has
two step loops computing the same thing: the Python loops (the equations in torch ops:
:mod:`._lstm_loops`, and in :mod:`.gru` and :mod:`.simple_rnn`) and the compiled loops
(C++, :mod:`._ext`). "The reference loop" is :mod:`rnnkit.functional`'s, which both are tested
against.
"""

from . import dispatch, native
from .dispatch import IMPLS

__all__ = ["IMPLS", "dispatch", "native"]
