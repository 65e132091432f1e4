"""What ``fit`` / ``evaluate`` / ``predict`` accept as data, turned into tensors and batches.

Two kinds of input, as Keras 3:

* **Arrays**: NumPy arrays, torch tensors, nested lists of numbers (:func:`to_tensor`), or,
  for a model with several inputs, a list / tuple / dict of them (:func:`to_inputs`; a dict is
  keyed by input name). ``fit`` cuts them into batches itself (shuffled, ``batch_size``).
* **Streams of batches** (:class:`Stream`): a Python generator or any iterable yielding
  ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` batches (Keras's generator contract;
  a list is taken as a tuple, as Keras's ``unpack_x_y_sample_weight``), a
  ``torch.utils.data.DataLoader``, or a ``torch.utils.data.Dataset`` (rnnkit batches it with
  ``batch_size``, shuffled each epoch when ``fit``'s ``shuffle``). ``steps_per_epoch`` /
  ``validation_steps`` / ``steps`` count batches as in Keras (:meth:`Stream.epoch`).

Ragged input (a list of sequences of unequal lengths) is refused with the hint to pad it with
``rnnkit.text.pad_sequences``; bool arrays become float32 (0.0 / 1.0), as Keras casts them.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from .. import _validation as V
from .graph_inputs import GraphInputs

# Keras's warning when an input runs out of batches before the steps asked for.
RAN_OUT = (
    "Your input ran out of data; interrupting training. Make sure that your dataset or "
    "generator can generate at least `steps_per_epoch * epochs` batches. You may need to use "
    "the `.repeat()` function when building your dataset."
)

_INFINITE = (itertools.count, itertools.cycle)  # iterators known never to run out


# -- arrays ---------------------------------------------------------------------------------------


def _ragged(owner: str, name: str) -> ValueError:
    return ValueError(
        f"{owner}: `{name}` expected a rectangular array, received ragged sequences "
        f"(sequences of different lengths); pad them first with rnnkit.text.pad_sequences."
    )


def to_tensor(data, name: str, owner: str, device: torch.device | None = None) -> Tensor:
    """Array-like -> tensor on ``device``: integers as int64, floats and bools in the default
    float dtype (float32; float64 under ``torch.set_default_dtype``, as Keras's floatx).

    A tensor is used as it is (only its dtype and device may change); anything else goes
    through ``numpy.asarray``, which must give a rectangular array of numbers (ragged
    sequences get the hint to pad them).
    """
    if isinstance(data, GraphInputs):  # a functional model's several inputs, converted already
        return data if device is None else data.to(device)
    if data is None:
        raise ValueError(f"{owner}: `{name}` expected an array or tensor, received None.")
    if isinstance(data, Tensor):
        t = data
    else:
        try:
            arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        except ValueError as error:  # NumPy >= 1.24 refuses ragged nested lists
            if "inhomogeneous" in str(error):
                raise _ragged(owner, name) from None
            raise
        if arr.dtype == object:
            raise _ragged(owner, name)
        if arr.dtype.kind not in "biuf":
            V.fail(owner, name, "an array of numbers", arr, TypeError)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    floatx = torch.get_default_dtype()  # float32, float64 under torch.set_default_dtype
    if (t.dtype.is_floating_point and t.dtype != floatx) or t.dtype == torch.bool:
        t = t.to(floatx)
    elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
        t = t.long()
    return t if device is None else t.to(device)


def input_count(model) -> int:
    """How many inputs ``model`` takes: ``len(model.inputs)`` where it has such a list (a
    functional model), else 1."""
    inputs = getattr(model, "inputs", None)
    return len(inputs) if isinstance(inputs, (list, tuple)) and inputs else 1


def to_inputs(data, name: str, owner: str, device=None, several: bool = False):
    """``x`` as the model takes it: one tensor, or (``several`` inputs) a list of tensors in
    input order, or a dict ``{input name: tensor}``."""
    if isinstance(data, dict):
        return {k: to_tensor(v, f"{name}['{k}']", owner, device) for k, v in data.items()}
    if several and isinstance(data, (list, tuple)):
        return [to_tensor(v, f"{name}[{i}]", owner, device) for i, v in enumerate(data)]
    return to_tensor(data, name, owner, device)


def leaves(x) -> list[Tensor]:
    """The tensors of a structure (a tensor, a list / tuple of them, a dict of them)."""
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def take(x, idx):
    """Rows ``idx`` of every tensor of the structure ``x``."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [v[idx] for v in x]
    return x[idx]


def num_samples(x, owner: str, name: str = "x") -> int:
    """The number of samples of ``x``: the first axis, the same for every tensor of it."""
    sizes = {len(t) if t.dim() else 1 for t in leaves(x)}
    if len(sizes) != 1:
        raise ValueError(
            f"{owner}: `{name}` expected the same number of samples in every input, "
            f"received {sorted(sizes)}."
        )
    return sizes.pop()


# -- streams of batches ---------------------------------------------------------------------------


def _is_batch(item) -> bool:
    """Whether ``item`` looks like one batch ``(x, ...)``: a tuple of 1 to 3 whose ``x`` is an
    array, a dict of arrays or a list / tuple of arrays."""
    if not isinstance(item, tuple) or not 1 <= len(item) <= 3:
        return False
    x = item[0]
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(v, (Tensor, np.ndarray)) for v in x)
    return isinstance(x, (Tensor, np.ndarray, dict))


def is_stream(data) -> bool:
    """Whether ``data`` is a stream of batches rather than arrays: a generator or other
    iterator, a torch ``Dataset`` / ``DataLoader``, or a list whose items are all batch tuples
    ``(x, y)`` of arrays (a list of numbers or of arrays stays an array, and so does anything
    with ``__array__``, such as a pandas DataFrame)."""
    if data is None or isinstance(data, (Tensor, np.ndarray, dict, str, bytes)):
        return False
    if isinstance(data, (DataLoader, Dataset)):
        return True
    if hasattr(data, "__array__"):  # pandas, xarray ...: arrays, though iterable
        return False
    if isinstance(data, (list, tuple)):
        return len(data) > 0 and all(_is_batch(item) for item in data)
    return hasattr(data, "__iter__")


def unsupported(owner: str, name: str, kind: str) -> None:
    """Keras's error for ``y`` / ``sample_weight`` / ``class_weight`` given beside a stream."""
    if name == "class_weight":
        raise ValueError(
            f"Argument `class_weight` is not supported for {kind} inputs. "
            "Put the weights in the batches as (x, y, sample_weight) instead."
        )
    what = "the targets" if name == "y" else "the sample weights"
    raise ValueError(
        f"When providing `x` as a {kind}, `{name}` should not be passed. Instead, {what} "
        f"should be included as part of the {kind}."
    )


class Stream:
    """Batches drawn from a generator, an iterable of batches, a torch Dataset or DataLoader.

    Each batch is unpacked as Keras does (:meth:`unpack`); ``num_batches`` is the length of
    one pass where known (a DataLoader over a sized dataset, a list), else None.

    Args:
        owner: 'fit', 'evaluate' or 'predict' (for messages).
        source: the stream.
        batch_size: the batch size for a ``torch.utils.data.Dataset`` (other streams come
            batched).
        shuffle: for a ``Dataset`` (map-style), draw its items in a new random order each pass.
    """

    def __init__(self, owner: str, source, batch_size: int = 32, shuffle: bool = False):
        self.owner = owner
        self.source = source
        self.infinite = isinstance(source, _INFINITE)
        if isinstance(source, DataLoader):
            self.kind, self.loader = "torch DataLoader", source
        elif isinstance(source, Dataset):
            map_style = not isinstance(source, IterableDataset)
            self.kind = "torch Dataset"
            self.loader = DataLoader(source, batch_size=batch_size, shuffle=shuffle and map_style)
        else:
            self.kind, self.loader = "generator", source
        self.one_shot = self.kind == "generator" and iter(source) is source
        self.num_batches = None if self.one_shot else _sized(self.loader)
        self._it: Iterator | None = None
        self._peeked: list = []
        self.ran_out = False  # an epoch found no batch left: training stops

    def _iter(self) -> Iterator:
        if self.one_shot:
            return self.source
        return iter(self.loader)

    def peek(self):
        """The first batch, put back so that the first epoch still starts with it."""
        if not self._peeked:
            if self._it is None:
                self._it = self._iter()
            try:
                self._peeked.append(next(self._it))
            except StopIteration:
                raise ValueError(
                    f"{self.owner}: `x` expected a {self.kind} that yields at least one batch, "
                    "received an empty one."
                ) from None
        return self._peeked[0]

    def _next(self):
        if self._peeked:
            return self._peeked.pop(0)
        return next(self._it)

    def epoch(self, steps: int | None, warn: bool = True):
        """Raw batches for one epoch (or one evaluation), as Keras's ``EpochIterator``.

        * ``steps`` None: one whole pass (a re-iterable source starts a new pass; a generator
          goes on where it was, so after it is exhausted it yields nothing).
        * ``steps`` given: up to ``steps`` batches, going on from where the previous epoch
          stopped; a source that runs out first ends the epoch early with Keras's
          "Your input ran out of data" warning (a re-iterable one starts again next epoch).

        An epoch that finds no batch at all sets ``ran_out`` (``fit`` then stops training).
        """
        if steps is None and self.infinite:
            raise ValueError(
                f"{self.owner}: `{'steps' if self.owner != 'fit' else 'steps_per_epoch'}` "
                f"expected a positive integer for an infinite {self.kind} (it never runs out), "
                "received None."
            )
        if self._it is None or (steps is None and not self.one_shot and not self._peeked):
            self._it = self._iter()
        drawn = 0
        while steps is None or drawn < steps:
            try:
                batch = self._next()
            except StopIteration:
                if not self.one_shot:
                    self._it = None
                if (steps is not None or drawn == 0) and warn:
                    warnings.warn(RAN_OUT, UserWarning, stacklevel=4)
                break
            drawn += 1
            yield batch
        if drawn == 0:
            self.ran_out = True

    def unpack(self, batch, device, several: bool, with_y: bool = True):
        """``(x, y, sample_weight)`` tensors of one batch (``y`` / ``sample_weight`` None when
        the batch has none), as Keras's ``unpack_x_y_sample_weight``."""
        if isinstance(batch, list):
            batch = tuple(batch)
        if not isinstance(batch, tuple):
            batch = (batch,)
        if not 1 <= len(batch) <= 3:
            V.fail(
                self.owner,
                "x",
                f"a {self.kind} of batches (x,), (x, y) or (x, y, sample_weight)",
                batch,
            )
        x, y, w = (*batch, None, None)[:3]
        nested = isinstance(x, (list, tuple)) and all(isinstance(v, Tensor) for v in x)
        x = to_inputs(x, "x", self.owner, device, several or nested)
        if not with_y:
            return x, None, None
        y = None if y is None else to_tensor(y, "y", self.owner, device)
        w = None if w is None else to_tensor(w, "sample_weight", self.owner, device).float()
        return x, y, w


def _sized(source) -> int | None:
    try:
        return len(source)
    except TypeError:
        return None
