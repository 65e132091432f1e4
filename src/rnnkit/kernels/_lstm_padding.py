"""The shared padding in front of :func:`rnnkit.kernels.lstm.lstm_lookup`'s rows: the order
that sorts the rows by their first real step, and back.

With ``pad_row`` (the table row that padding reads, token 0's) and an initial state all rows
share, the padded steps in front of every row are the same computation: the compiled loops run
them once, on one row, and each row joins from the shared state at its first real step
(``start``). Rows sorted by ``start`` let each thread's active rows be the first of its share.
"""

from __future__ import annotations

import torch
from torch import Tensor


def padding_order(
    where: Tensor,
    pad_row: int | None,
    mask: Tensor | None,
    go_backwards: bool,
    recurrent_mask: Tensor | None,
) -> tuple[Tensor | None, Tensor | None]:
    """Each row's first step that is not ``pad_row`` (T for all padding), sorted, and the order
    that sorts the rows: ``(start, order)``; ``(None, None)`` where it does not apply (masks,
    ``go_backwards``, no rows) or no row starts with padding."""
    if pad_row is None or mask is not None or go_backwards or recurrent_mask is not None:
        return None, None
    N, T = where.shape
    if N == 0:
        return None, None
    padded = where == pad_row  # (N, T)
    start = torch.where(padded.all(1), T, (~padded).int().argmax(1))  # (N,)
    if not bool(start.any()):
        return None, None
    start, order = torch.sort(start.long(), stable=True)
    return start.contiguous(), order


def unsort(t: Tensor, order: Tensor) -> Tensor:
    """Rows of ``t`` (in the order ``order`` gave them) back in the caller's order."""
    out = torch.empty_like(t, memory_format=torch.contiguous_format)
    out[order] = t
    return out
