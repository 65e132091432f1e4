"""Reproducibility and session helpers."""

from __future__ import annotations

import random

import numpy as np
import torch

from .layers.base import clear_names


def set_random_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators, as ``keras.utils.set_random_seed``.

    With the same seed, building and training a model on the CPU gives the same weights and
    the same losses, run after run.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"set_random_seed: `seed` expected a non-negative integer, received {seed!r}."
        )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def clear_session() -> None:
    """Restart automatic layer names, as ``keras.backend.clear_session``."""
    clear_names()


def get_rng_state() -> dict:
    """Every random generator rnnkit's training draws from, as a dict of tensors and numbers.

    ``{"python": random.getstate(), "numpy": (name, keys, pos, has_gauss, cached_gaussian),
    "torch": torch.get_rng_state(), "cuda": [one state per CUDA device]}`` (``"cuda"`` is empty
    while CUDA is not initialised). NumPy's keys are a ``torch.int64`` tensor, so the whole dict
    can be written with ``torch.save`` and read back with ``torch.load(..., weights_only=True)``.
    :func:`set_rng_state` puts it back; the draws that follow are then the same as after the
    moment it was taken (``fit`` uses the torch generator to shuffle and for dropout).
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (
            str(name),
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore the generators from a :func:`get_rng_state` dict."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
