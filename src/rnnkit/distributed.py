"""Data-parallel training on torch.distributed: what ``fit(..., distributed=True)`` does.

Every process (a *rank*) holds the whole model. Each global batch (the ``batch_size`` of
``fit``) is cut into one contiguous shard per rank; each rank computes the loss and gradients
of its shard; the gradients are summed over the ranks, each weighted by its shard's share of
the batch (``n_rank / n_batch``): the gradient of the global batch's mean loss, exactly what
one process computes on the whole batch (to rounding), so every rank takes the same step and
the weights stay equal. This is DistributedDataParallel's algorithm (parameters broadcast from
rank 0 at the start, gradients all-reduced after each backward) written as two collectives in
the training loop, so that the model object stays the one the user built.

The loss and the metrics are those of the global batch on every rank (the losses summed, the
outputs gathered before the metrics are updated), so callbacks decide the same on every rank;
only rank 0 prints and runs the callbacks that write files (:data:`WRITERS`).

Launch with ``torchrun --nproc-per-node N script.py`` (several machines: ``--nnodes``,
``--node-rank``, ``--rdzv-endpoint``), or spawn processes that call
``torch.distributed.init_process_group``; ``fit`` starts the process group from torchrun's
environment (``gloo`` on the CPU, ``nccl`` on CUDA) when none is started.

Exact where the loss is a mean over samples (every rnnkit loss, with sample weights too: the
``sum_over_batch_size`` reduction); a sequence output with masked steps divides each shard's
loss by its own count of kept steps, which differs slightly from the global count.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor

from . import _validation as V

WRITERS = ("ModelCheckpoint", "CSVLogger", "BackupAndRestore", "TensorBoard", "ProgbarLogger")
"""Callbacks that write files or print: run on rank 0 only."""


class Group:
    """The process group a ``fit`` runs in: its rank, its size and the collectives of the
    training loop."""

    def __init__(self, rank: int, size: int):
        self.rank, self.size = rank, size

    @property
    def writes(self) -> bool:
        """Whether this rank writes files and prints (rank 0)."""
        return self.rank == 0

    def broadcast_parameters(self, model) -> None:
        """Rank 0's parameters and buffers to every rank (the common start)."""
        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                dist.broadcast(t.data, src=0)

    def synchronize_random(self) -> None:
        """Rank 0's state of PyTorch's generator on every rank, so that all shuffle alike
        (each rank then cuts the same global batches)."""
        state = torch.get_rng_state()
        dist.broadcast(state, src=0)
        torch.set_rng_state(state)

    def shard(self, batch):
        """This rank's contiguous part of a batch (a tensor, or nested lists of them, split
        on axis 0; None stays None)."""
        if batch is None:
            return None
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.shard(b) for b in batch)
        return torch.tensor_split(batch, self.size)[self.rank]

    def reduce_gradients(self, weights: list[Tensor], n: int, n_batch: int) -> None:
        """Sum of every rank's gradients times its share ``n / n_batch`` of the batch."""
        grads = [w.grad for w in weights if w.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]) * (n / n_batch)  # one collective
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean_loss(self, value: float, n: int, n_batch: int, like: Tensor) -> float:
        """The global batch's loss from each rank's ``value`` over ``n`` samples."""
        total = torch.tensor([value * n / n_batch], dtype=torch.float64, device=like.device)
        dist.all_reduce(total)
        return float(total)

    def send_module(self, module, info, source: int):
        """``source``'s parameters and buffers of ``module`` and its JSON-able ``info`` to
        every rank; returns the info."""
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=source)
        box = [info]
        dist.broadcast_object_list(box, src=source)
        return box[0]

    def decide(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (a decision taken on one clock, such as a time
        budget, that every rank must take alike)."""
        return bool(self.share(1.0 if flag else 0.0))

    def share(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (a number read from one clock, such as the
        fraction of a time budget a learning-rate schedule follows)."""
        t = torch.tensor([float(value)], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.broadcast(t, src=0)
        return float(t.item())

    def gather(self, t: Tensor | None, n_batch: int) -> Tensor | None:
        """Every rank's shard of ``t`` (rows on axis 0), concatenated in rank order: the
        global batch's tensor."""
        if t is None:
            return None
        if t.dtype == torch.bool:  # (gloo gathers no bool tensors)
            return self.gather(t.to(torch.uint8), n_batch).bool()
        sizes = [len(s) for s in torch.tensor_split(torch.empty(n_batch), self.size)]
        parts = [t.new_empty((k, *t.shape[1:])) for k in sizes]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)


def torch_device(owner: str, device) -> torch.device:
    """``device`` (a name or a torch.device) checked: a CPU, or a CUDA device that exists
    (the argument / expected / received message otherwise)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        V.fail(owner, "device", "a torch device such as 'cpu' or 'cuda:0'", device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{owner}: `device` expected an available device, received {str(device)!r} "
            "(torch.cuda.is_available() is False)."
        )
    return device


def group_of(owner: str, distributed: bool, device: torch.device) -> Group | None:
    """The process group for ``distributed=True`` (started from torchrun's environment if
    none is), or None for ``False``."""
    V.boolean(owner, "distributed", distributed)
    if not distributed:
        return None
    if not dist.is_available():
        raise RuntimeError(f"{owner}: `distributed` needs torch.distributed, absent here.")
    if not dist.is_initialized():
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise ValueError(
                f"{owner}: `distributed` expected a torch.distributed process group (launch "
                "with torchrun, or call torch.distributed.init_process_group first), "
                "received none."
            )
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Group(dist.get_rank(), dist.get_world_size())
