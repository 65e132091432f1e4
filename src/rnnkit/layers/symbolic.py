"""Symbolic tensors and the call of a layer, as Keras 3's functional API has them.

``Input(shape=...)`` gives a :class:`KerasTensor`: a shape (None for the batch axis and any
axis left open), a dtype and a name, no values. Calling a layer on symbolic tensors records a
:class:`Node` (the layer, the call's arguments with their symbolic tensors, its outputs) and
returns symbolic outputs; :class:`rnnkit.models.Model` later runs those nodes on real tensors.

What a symbolic call does, in order:

1. build the layer for the input shape(s) (``layer.maybe_build``), as Keras builds on the first
   symbolic call, so that a functional model has its weights before it sees data;
2. the output shape(s): ``layer.compute_output_shape_of_call(shapes, kwargs)`` when the layer
   defines its output shape (every rnnkit layer that changes shapes does), otherwise a
   shape-inference run: the layer on zeros twice, with the open axes at two different sizes; an
   axis whose size differs between the runs is open (None);
3. a :class:`Node` appended to ``layer._inbound_nodes``; each output remembers
   ``(layer, node_index, tensor_index)`` in ``_keras_history`` (Keras's names).

:func:`call` is every rnnkit layer's ``__call__``: ``training=`` (True / False switches the
layer and its sublayers to training / inference for this call only; None keeps the current
mode), NumPy arrays turned into tensors, and symbolic inputs routed to the steps above.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import torch
from torch import Tensor, nn

from .. import _validation as V

_tensor_ids = itertools.count()
operation_layer = None
"""The layer class that records ``x + y``, ``x[:, 0]``, ... on symbolic tensors (set by
:mod:`rnnkit.layers.base`: :class:`~rnnkit.layers.base.Operation`)."""


def dtype_name(dtype) -> str:
    """``torch.float32`` / ``"float32"`` / ``np.int32`` -> ``"float32"`` / ``"int32"``."""
    if dtype is None:
        return str(torch.get_default_dtype()).removeprefix("torch.")
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            V.fail("Input", "dtype", "a dtype name such as 'float32' or 'int32'", dtype, TypeError)
    if name == "bool":
        return "bool"
    if not isinstance(getattr(torch, name, None), torch.dtype):
        V.fail("Input", "dtype", "a dtype name such as 'float32' or 'int32'", dtype)
    return name


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


class KerasTensor:
    """A symbolic tensor: ``shape`` (None for the batch axis and open axes), ``dtype`` (a name,
    as Keras: ``'float32'``), ``name``; ``_keras_history`` is ``(layer, node_index,
    tensor_index)`` of the call that made it.

    It holds no values; calling layers on it builds a graph that
    :class:`rnnkit.models.Model` runs.
    """

    def __init__(self, shape, dtype="float32", name: str | None = None, history=None):
        self.shape = tuple(shape)
        self.dtype = dtype_name(dtype)
        self.name = name or ("keras_tensor" + _suffix(next(_tensor_ids)))
        self._keras_history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch_dtype(self.dtype)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError(
            "A KerasTensor is symbolic: it has no length; use .shape "
            f"(received a KerasTensor of shape {self.shape})."
        )

    def __bool__(self):
        raise TypeError(
            "A KerasTensor is symbolic: it cannot be used as a Python bool "
            f"(received a KerasTensor of shape {self.shape})."
        )

    # -- operators: each records a node of an operation layer (Keras's ops on KerasTensors) -----
    def _op(self, name: str, *operands):
        if operation_layer is None:  # pragma: no cover - set by rnnkit.layers.base
            raise RuntimeError("rnnkit.layers.base is not loaded")
        return operation_layer(name)(list(operands) if len(operands) > 1 else operands[0])

    def __add__(self, other):
        return self._op("add", self, other)

    def __radd__(self, other):
        return self._op("add", other, self)

    def __sub__(self, other):
        return self._op("subtract", self, other)

    def __rsub__(self, other):
        return self._op("subtract", other, self)

    def __mul__(self, other):
        return self._op("multiply", self, other)

    def __rmul__(self, other):
        return self._op("multiply", other, self)

    def __truediv__(self, other):
        return self._op("divide", self, other)

    def __rtruediv__(self, other):
        return self._op("divide", other, self)

    def __neg__(self):
        return self._op("negative", self)

    def __getitem__(self, index):
        return operation_layer("getitem", index=index)(self)

    def __iter__(self):
        raise TypeError(
            "A KerasTensor is symbolic: it cannot be iterated; a layer with several outputs "
            "returns a list of KerasTensors."
        )


def _suffix(n: int) -> str:
    return "" if n == 0 else f"_{n}"


class Node:
    """One call of ``layer`` in a graph: its arguments (with symbolic tensors in place), its
    outputs, and the ``training`` it was called with (None: the model's mode at run time)."""

    def __init__(self, layer, args, kwargs, outputs: list[KerasTensor], single: bool, training):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.single = single  # one output (not a list of them)
        self.training = training

    @property
    def input_tensors(self) -> list[KerasTensor]:
        """The symbolic tensors the call read: positional arguments first, then keywords."""
        return flatten((self.args, self.kwargs))

    @property
    def is_input(self) -> bool:
        return not self.input_tensors and getattr(self.layer, "is_input_layer", False)


# -- structures of tensors -------------------------------------------------------------------
def flatten(structure) -> list:
    """The KerasTensors in ``structure`` (lists, tuples, dicts), in order."""
    out = []
    _walk(structure, out)
    return out


def _walk(s, out):
    if isinstance(s, KerasTensor):
        out.append(s)
    elif isinstance(s, (list, tuple)):
        for v in s:
            _walk(v, out)
    elif isinstance(s, dict):
        for v in s.values():
            _walk(v, out)


def map_structure(fn, s):
    """``s`` with every leaf ``v`` replaced by ``fn(v)`` (lists, tuples and dicts kept)."""
    if isinstance(s, list):
        return [map_structure(fn, v) for v in s]
    if isinstance(s, tuple):
        return tuple(map_structure(fn, v) for v in s)
    if isinstance(s, dict):
        return {k: map_structure(fn, v) for k, v in s.items()}
    return fn(s)


def _scan(s) -> tuple[bool, bool]:
    """(holds a KerasTensor, holds a NumPy array) for the structure ``s``."""
    if isinstance(s, Tensor) or s is None:
        return False, False
    if isinstance(s, KerasTensor):
        return True, False
    if isinstance(s, np.ndarray):
        return False, True
    if isinstance(s, (list, tuple)):
        sym = arr = False
        for v in s:
            a, b = _scan(v)
            sym, arr = sym or a, arr or b
        return sym, arr
    if isinstance(s, dict):
        return _scan(list(s.values()))
    return False, False


def array_to_tensor(value, integers: bool = True):
    """A NumPy array as Keras reads it: floats as float32, integers as int64 (token ids) for a
    module that reads them (``integers``), else float32 (Keras casts a layer's inputs to its
    float compute dtype), bools kept."""
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f" or (value.dtype.kind in "iu" and not integers):
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if value.dtype.kind in "iu":
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.int64))
    if value.dtype.kind == "b":
        return torch.from_numpy(np.ascontiguousarray(value))
    V.fail("Layer", "inputs", "an array of numbers", value, TypeError)


# -- training= ---------------------------------------------------------------------------------
@contextlib.contextmanager
def training_mode(module: nn.Module, training: bool):
    """``module`` and its sublayers in training (True) or inference (False) mode; every mode
    is restored afterwards, also when the call raises."""
    saved = [(m, m.training) for m in module.modules()]
    module.train(training)
    try:
        yield
    finally:
        for m, mode in saved:
            m.training = mode


def _training_flag(owner: str, training):
    if training is None or isinstance(training, bool):
        return training
    if isinstance(training, (int, np.bool_)) and training in (0, 1):
        return bool(training)
    V.fail(owner, "training", "True, False or None", training, TypeError)


def call(module: nn.Module, args, kwargs, training):
    """The call of an rnnkit layer or model (see the module docstring)."""
    training = _training_flag(type(module).__name__, training)
    symbolic, arrays = _scan((args, kwargs))
    if symbolic:
        return symbolic_call(module, args, kwargs, training)
    if arrays:
        integers = getattr(module, "reads_token_ids", True)
        args = map_structure(lambda v: array_to_tensor(v, integers), args)
        kwargs = map_structure(array_to_tensor, kwargs)
    if training is None:
        return nn.Module.__call__(module, *args, **kwargs)
    with training_mode(module, training):
        return nn.Module.__call__(module, *args, **kwargs)


# -- the symbolic call -------------------------------------------------------------------------
def _shapes(s):
    return map_structure(lambda v: v.shape if isinstance(v, KerasTensor) else v, s)


def _defines_output_shape(layer) -> bool:
    defines = getattr(layer, "defines_output_shape", None)
    return bool(defines()) if callable(defines) else False


def symbolic_call(layer, args, kwargs, training):
    """Record ``layer(*args, **kwargs)`` on symbolic tensors; returns symbolic outputs."""
    if not args:
        V.fail(type(layer).__name__, "inputs", "the inputs as first argument", None, TypeError)
    inputs = args[0]
    shapes = _shapes(inputs)
    maybe_build = getattr(layer, "maybe_build", None)
    device = _device_of(layer)
    if maybe_build is not None and not getattr(layer, "built", True):
        maybe_build(shapes if isinstance(shapes, tuple) else list(shapes), device)
    template = None  # the structure of the outputs when it is not one tensor or a list
    if _defines_output_shape(layer):
        out_shapes = _as_structure(layer.compute_output_shape_of_call(shapes, kwargs))
        default = dtype_name(None)
        out_dtypes = [default] * len(out_shapes) if isinstance(out_shapes, list) else default
    else:
        out_shapes, out_dtypes, template = _inferred_shapes(layer, args, kwargs, device)
    single = not isinstance(out_shapes, list)
    shape_list = [out_shapes] if single else list(out_shapes)
    dtype_list = [out_dtypes] if single else list(out_dtypes)
    nodes = layer.__dict__.setdefault("_inbound_nodes", [])
    outputs = [
        KerasTensor(s, d, history=(layer, len(nodes), i))
        for i, (s, d) in enumerate(zip(shape_list, dtype_list))
    ]
    nodes.append(Node(layer, args, kwargs, outputs, single, training))
    if template is not None:
        it = iter(outputs)
        return map_structure(lambda _: next(it), template)
    return outputs[0] if single else list(outputs)


def _as_structure(shapes):
    """A shape is a tuple of ints / None; several outputs are a list of shapes."""
    if isinstance(shapes, list):
        return [tuple(s) for s in shapes]
    if isinstance(shapes, tuple) and shapes and isinstance(shapes[0], (tuple, list)):
        return [tuple(s) for s in shapes]
    return tuple(shapes)


def _device_of(layer):
    p = next(layer.parameters(), None)
    return p.device if p is not None else None


def _dummy(kt: KerasTensor, sizes: tuple[int, int], device):
    shape = [(sizes[0] if i == 0 else sizes[1]) if d is None else d for i, d in enumerate(kt.shape)]
    if kt.dtype == "bool":
        return torch.ones(shape, dtype=torch.bool, device=device)
    return torch.zeros(shape, dtype=kt.torch_dtype, device=device)


def _inferred_shapes(layer, args, kwargs, device):
    """Output shapes and dtypes from two runs on zeros with the open axes at different sizes."""
    runs = []
    for sizes in ((2, 3), (4, 7)):

        def fill(v, sizes=sizes):
            return _dummy(v, sizes, device) if isinstance(v, KerasTensor) else v

        try:
            out = _run_on(layer, map_structure(fill, args), map_structure(fill, kwargs))
        except TypeError:
            # a float Input feeding token ids (an Embedding first, as Keras allows): ids of 0
            def ids(v):
                return v.long() if isinstance(v, Tensor) and v.dtype.is_floating_point else v

            filled = map_structure(ids, map_structure(fill, args))
            out = _run_on(layer, filled, map_structure(fill, kwargs))
        runs.append(out)
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
            layer.reset_states()  # the dummy run must leave no state behind
    a, b = runs
    if isinstance(a, Tensor):
        return _merge_shapes(a, b), dtype_name(a.dtype), None
    flat_a, flat_b = _tensors(a), _tensors(b)
    shapes = [_merge_shapes(x, y) for x, y in zip(flat_a, flat_b)]
    template = None if isinstance(a, list) and len(flat_a) == len(a) else a
    return shapes, [dtype_name(x.dtype) for x in flat_a], template


def _run_on(layer, args, kwargs):
    with torch.no_grad(), training_mode(layer, False):
        return nn.Module.__call__(layer, *args, **kwargs)


def _tensors(s) -> list[Tensor]:
    out = []

    def take(v):
        if isinstance(v, Tensor):
            out.append(v)
        return v

    map_structure(take, s)
    return out


def _merge_shapes(a: Tensor, b: Tensor) -> tuple:
    return tuple(None if da != db else da for da, db in zip(a.shape, b.shape))
