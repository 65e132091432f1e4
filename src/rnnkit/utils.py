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
