"""Reproducibility and session helpers."""

from __future__ import annotations

import random

import numpy as np
import torch

from .layers.base import clear_names
from .text import pad_sequences

__all__ = [
    "clear_session",
    "get_rng_state",
    "pad_sequences",  # keras.utils.pad_sequences
    "plot_model",
    "set_random_seed",
    "set_rng_state",
    "timeseries_dataset_from_array",
    "to_categorical",
]


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

    def take(self, count: int):
        """The first ``count`` batches of a pass (all of them for ``count=-1``), as
        ``tf.data.Dataset.take``: ``for x, y in dataset.take(1): ...``."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < -1:
            raise ValueError(
                f"TimeseriesDataset.take: `count` expected an integer >= -1, received {count!r}."
            )
        return _Take(self, int(count))

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


class _Take:
    """``dataset.take(count)``: an iterable of the first ``count`` batches of each pass."""

    def __init__(self, dataset: TimeseriesDataset, count: int):
        self.dataset, self.count = dataset, count

    def __len__(self) -> int:
        n = len(self.dataset)
        return n if self.count == -1 else min(n, self.count)

    def __iter__(self):
        for k, batch in enumerate(self.dataset):
            if k == len(self):
                return
            yield batch


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


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows of class ids, as ``keras.utils.to_categorical``: ``x`` of shape ``S`` gives
    ``S + (num_classes,)`` float32 (a trailing axis of size 1 is dropped first, as Keras);
    ``num_classes`` defaults to ``max(x) + 1``.

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    x = np.asarray(x, dtype="int64")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(
            f"to_categorical: `x` expected class ids in [0, {num_classes}), "
            f"received ids from {int(x.min())} to {int(x.max())}."
        )
    out = np.zeros(x.shape + (num_classes,), dtype="float32")  # S + (C,)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out


def _graph(model) -> tuple[list, list[tuple[int, int]]]:
    """The layers of ``model`` and the edges (from, to) between them: a functional model's
    calls (each layer's inbound nodes within the model), else the chain of ``model.layers``."""
    layers = list(model.layers)
    ids = {id(la): k for k, la in enumerate(layers)}
    edges = []
    for k, layer in enumerate(layers):
        for node in layer.__dict__.get("_inbound_nodes", []):
            for kt in node.input_tensors:
                source = kt._keras_history[0]
                if id(source) in ids and (ids[id(source)], k) not in edges:
                    edges.append((ids[id(source)], k))
    if not edges:  # a Sequential model: one after the other
        edges = [(k, k + 1) for k in range(len(layers) - 1)]
    return layers, edges


def _output_shape(layer):
    nodes = layer.__dict__.get("_inbound_nodes", [])
    if nodes:
        shapes = [kt.shape for kt in nodes[-1].outputs]
        return shapes[0] if len(shapes) == 1 else shapes
    return getattr(layer, "output_shape", None)


def model_to_dot_source(
    model, show_shapes: bool = False, show_layer_names: bool = True, rankdir: str = "TB"
) -> str:
    """The model's graph in Graphviz's DOT language: one box per layer ("name (Class)", and
    its output shape with ``show_shapes``), one arrow per connection."""
    layers, edges = _graph(model)
    lines = [f"digraph {_dot_quote(getattr(model, 'name', 'model'))} {{"]
    lines.append(f"  rankdir={rankdir};")
    lines.append("  node [shape=record];")
    for k, layer in enumerate(layers):
        label = type(layer).__name__
        if show_layer_names:
            label = f"{layer.name} ({label})"
        if show_shapes:
            label += f"\\n{_output_shape(layer)}"
        lines.append(f"  n{k} [label={_dot_quote(label)}];")
    lines += [f"  n{a} -> n{b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + str(text).replace('"', '\\"').replace("{", "\\{").replace("}", "\\}") + '"'


def plot_model(
    model,
    to_file: str = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    **kwargs,
) -> None:
    """Draw the model's graph, as ``keras.utils.plot_model``.

    The graph is written in Graphviz's DOT language (:func:`model_to_dot_source`). With a
    ``.dot`` ``to_file`` that text is the file; otherwise Graphviz's ``dot`` program renders it
    to ``to_file`` (png, svg, pdf, ... by the extension). Without Graphviz installed (Keras
    then raises an ImportError asking for pydot and graphviz), the DOT text is written beside
    it as ``<to_file without extension>.dot`` with a warning, so a program that only draws its
    model for a reader goes on running. ``show_dtype``, ``expand_nested``, ``dpi`` and Keras's
    other drawing options are accepted and change nothing here.
    """
    import shutil
    import subprocess
    import warnings
    from pathlib import Path

    from ._files import write_bytes, write_text

    source = model_to_dot_source(model, show_shapes, show_layer_names, rankdir)
    path = Path(to_file)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt == "dot":
        write_text(path, source)
        return None
    dot = shutil.which("dot")
    if dot is None:
        fallback = path.with_suffix(".dot")
        write_text(fallback, source)
        warnings.warn(
            f"plot_model: Graphviz's `dot` program was not found, so {str(path)!r} was not "
            f"drawn; the graph is in {str(fallback)!r} (DOT language).",
            stacklevel=2,
        )
        return None
    image = subprocess.run(
        [dot, f"-T{fmt}", f"-Gdpi={int(dpi)}"],
        input=source.encode(),
        capture_output=True,
        check=True,
    ).stdout
    write_bytes(path, image)
    return None
