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


# -- time series windows ------------------------------------------------------------------------


class TimeseriesDataset:
    """The batches of :func:`timeseries_dataset_from_array`: iterate it (again for each epoch),
    give it to ``fit`` / ``evaluate`` / ``predict``; ``len`` is the number of batches."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size, seed):
        self.data, self.targets = data, targets
        self.starts = starts  # (S,) start of each window, after the first shuffle
        self.offsets = np.arange(0, sequence_length * sampling_rate, sampling_rate)  # (L,)
        self.batch_size, self.seed = batch_size, seed
        self._passes = 0

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def _order(self) -> np.ndarray:
        """Window starts for this pass: Keras's order on the first pass, a fresh shuffle of it
        on each later one (``shuffle=True``), the same order every pass otherwise."""
        starts = self.starts
        if self.seed is not None and self._passes:
            rng = np.random.RandomState([self.seed, self._passes])  # pass k's own draw
            starts = starts[rng.permutation(len(starts))]
        self._passes += 1
        return starts

    def __iter__(self):
        starts = self._order()
        step = 1 if self.batch_size is None else self.batch_size
        for k in range(0, len(starts), step):
            chunk = starts[k : k + step]  # (B,)
            windows = torch.from_numpy(self.data[chunk[:, None] + self.offsets])  # (B, L, ...)
            targets = None
            if self.targets is not None:
                targets = torch.from_numpy(self.targets[chunk])  # (B, ...)
            if self.batch_size is None:
                windows = windows[0]
                targets = None if targets is None else targets[0]
            yield windows if targets is None else (windows, targets)


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
    format=None,
) -> TimeseriesDataset:
    """Sliding windows over a time series, in batches, as
    ``keras.utils.timeseries_dataset_from_array``.

    Window ``i`` starts at ``start_index + i * sequence_stride`` and takes ``sequence_length``
    steps ``sampling_rate`` apart: ``data[s], data[s + r], ..., data[s + (L - 1) r]``; its
    target is ``targets[start_index + i * sequence_stride]`` (``targets[i]`` is the target of the
    window that starts at ``data[i]``). Only windows that fit before ``end_index`` are made
    (and no more than ``len(targets)``). Batches are ``(windows, targets)`` tensors (windows
    alone with ``targets=None``), of ``batch_size`` windows (the last may be smaller), or single
    windows with ``batch_size=None``.

    ``shuffle``: the window starts are shuffled with ``numpy.random.RandomState(seed)``, as Keras
    (a random seed when None); each later pass over the dataset is shuffled again. (Keras
    also shuffles within a buffer of ``8 * batch_size`` windows through ``tf.data``, which
    cannot be reproduced without TensorFlow: the first pass has Keras's windows in Keras's
    start order before that buffer.) ``format`` (Keras's 'tf' / 'grain') is accepted and
    ignored: the result is rnnkit's own iterable, which ``fit`` takes.

    Errors are Keras's ``ValueError``s, e.g. "`start_index` must be 0 or greater. Received:
    start_index=-1".

    >>> ds = timeseries_dataset_from_array(np.arange(10), np.arange(10) * 2, 3, batch_size=4)
    >>> [tuple(x.shape) for x, y in ds]
    [(4, 3), (4, 3)]
    """
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(
                f"`start_index` must be 0 or greater. Received: start_index={start_index}"
            )
        if start_index >= n:
            raise ValueError(
                "`start_index` must be lower than the length of the data. Received: "
                f"start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                "`end_index` must be higher than `start_index`. Received: "
                f"start_index={start_index}, and end_index={end_index} "
            )
        if end_index >= n:
            raise ValueError(
                "`end_index` must be lower than the length of the data. Received: "
                f"end_index={end_index}, for data of length {n}"
            )
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(
            f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}"
        )
    if sampling_rate >= n:
        raise ValueError(
            "`sampling_rate` must be lower than the length of the data. Received: "
            f"sampling_rate={sampling_rate}, for data of length {n}"
        )
    if sequence_stride <= 0:
        raise ValueError(
            f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}"
        )
    if sequence_stride >= n:
        raise ValueError(
            "`sequence_stride` must be lower than the length of the data. Received: "
            f"sequence_stride={sequence_stride}, for data of length {n}"
        )
    if format not in (None, "tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if batch_size is not None:
        batch_size = int(batch_size)
    start_index = start_index or 0
    end_index = n if end_index is None else end_index
    windows = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        windows = min(windows, len(targets))
    starts = np.arange(0, max(windows, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    values = np.asarray(data)[start_index:end_index]
    labels = None if targets is None else np.asarray(targets)[start_index:end_index]
    return TimeseriesDataset(
        values,
        labels,
        starts,
        sequence_length,
        sampling_rate,
        batch_size,
        seed if shuffle else None,
    )
