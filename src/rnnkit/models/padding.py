"""Padding in batches of token ids: where it lies, and batches that gather rows of similar
length so that padding costs no compute.

A batch of token ids padded to ``maxlen`` often has columns that are padding in every row: the
front of a batch of short reviews padded ``'pre'`` (Keras's default), or the back of one padded
``'post'``. :mod:`rnnkit.models.execution` skips them where that is exact; the functions here
find them (:func:`leading_padding`, :func:`trailing_padding`, :func:`spans`) and make epochs
whose batches have wide all-padding margins (:func:`length_batches`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def leading_padding(ids: Tensor) -> int:
    """Number of leading columns of ``ids`` (N, T) that are padding (id 0) in every row."""
    real = (ids != 0).any(dim=0)  # (T,)
    first = int(real.to(torch.int8).argmax()) if bool(real.any()) else ids.shape[1]
    return first


def trailing_padding(ids: Tensor) -> int:
    """Number of trailing columns of ``ids`` (N, T) that are padding in every row."""
    return leading_padding(ids.flip(1))


def spans(ids: Tensor) -> Tensor:
    """Per row of ``ids`` (N, T), the number of columns from its first to its last real
    (non-zero) id: the width the row needs once padding at either end is cut (0 if empty)."""
    real = ids != 0
    T = ids.shape[1]
    first = real.to(torch.int8).argmax(dim=1)
    last = T - 1 - real.flip(1).to(torch.int8).argmax(dim=1)
    return torch.where(real.any(dim=1), last - first + 1, 0)


def length_batches(
    ids: Tensor, batch_size: int, pool: int = 50, generator: torch.Generator | None = None
) -> list[Tensor]:
    """Index batches of rows of similar length, for an epoch over ``ids`` (N, T).

    The rows are shuffled, cut into pools of ``pool`` batches, sorted by :func:`spans`
    within each pool and cut into batches of ``batch_size`` (only the last may be smaller);
    the order of the batches is shuffled again. A batch of short rows then has long all-padding
    margins, which :func:`rnnkit.models.execution.forward_without_padding` skips exactly.
    """
    N = ids.shape[0]
    order = torch.randperm(N, generator=generator)
    width = spans(ids)
    pools = []
    for start in range(0, N, batch_size * pool):
        chunk = order[start : start + batch_size * pool]
        pools.append(chunk[torch.argsort(width[chunk], stable=True)])
    batches = list(torch.cat(pools).split(batch_size))
    return [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()]
