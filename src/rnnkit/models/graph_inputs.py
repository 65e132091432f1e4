"""Several input arrays that share the sample axis, as one thing the training loop can batch.

A functional :class:`~rnnkit.models.Model` with several inputs wraps what ``fit`` /
``evaluate`` / ``predict`` receive (a list, or a dict keyed by input names) in
:class:`GraphInputs`: ``len``, row indexing ``x[idx]`` and ``.to(device)`` act on every array
at once, so :mod:`rnnkit.models.training` batches it as it batches one tensor.
"""

from __future__ import annotations

import torch
from torch import Tensor


class GraphInputs:
    """The model's inputs in its input order (``tensors``), each ``(N, ...)``."""

    def __init__(self, tensors: list[Tensor]):
        self.tensors = list(tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, idx) -> GraphInputs:
        return GraphInputs([t[idx] for t in self.tensors])

    def to(self, device) -> GraphInputs:
        return GraphInputs([t.to(device) for t in self.tensors])

    def dim(self) -> int:
        """The rank of the first input (the loop asks it only for token-id bucketing)."""
        return self.tensors[0].dim()

    @property
    def dtype(self) -> torch.dtype:
        return self.tensors[0].dtype

    @property
    def shape(self) -> torch.Size:
        return self.tensors[0].shape

    def __repr__(self) -> str:
        return f"GraphInputs({[tuple(t.shape) for t in self.tensors]})"
