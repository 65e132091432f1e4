"""Whole-sequence recurrent kernels and the dispatch between them (see :mod:`.dispatch`).

Kernels work on raw tensors ``(x, h0, c0, W_x, W_h, b)`` and never import a layer.
"""

from . import dispatch, native
from .dispatch import IMPLS

__all__ = ["IMPLS", "dispatch", "native"]
