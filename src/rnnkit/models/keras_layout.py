"""The layout of Keras 3 files, and the weights in and out: ``.keras`` archives and ``.weights.h5`` weights, read and written
with h5py (neither Keras nor TensorFlow is needed; h5py is imported only here, on first use).

The layout, as Keras 3 writes it (learnt from its files; ``scripts/make_keras_fixtures.py``
makes some):

- ``model.keras`` is a zip archive of ``metadata.json`` (``{"keras_version", "date_saved"}``),
  ``config.json`` (``{"class_name": "Sequential", "config": {"name", "layers": [...]}}``, each
  layer ``{"module", "class_name", "config", "registered_name"}``, the first one usually an
  ``InputLayer`` with the ``batch_shape``) and ``model.weights.h5``.
- ``model.weights.h5`` (also what ``save_weights`` writes) is an HDF5 file with one group per
  layer, addressed by the layer's *class*, not its name: ``layers/<class in snake_case>``, then
  ``_1``, ``_2``, ... for the second, third, ... layer of that class (``layers/lstm``,
  ``layers/lstm_1``, ``layers/dense``). A layer's weights are the datasets ``vars/0``,
  ``vars/1``, ... in its ``get_weights()`` order; a recurrent layer's sit in its cell,
  ``cell/vars/0..2`` (kernel, recurrent_kernel, bias); a wrapper's in the groups of the layers
  it wraps (``forward_layer/...`` and ``backward_layer/...`` for ``Bidirectional``,
  ``layer/...`` for ``TimeDistributed``). Each ``vars`` group carries the layer's ``name``.

rnnkit's layers take Keras's weight layouts in ``set_weights`` (see
:meth:`rnnkit.layers.Layer.get_weights`; the GRU's ``(2, 3H)`` bias included), so reading is:
build the rnnkit model that ``config.json`` describes, then give each layer the arrays of its
group. Which Keras class becomes which rnnkit class, where its weights sit and which Keras
arguments rnnkit implements without having them is one table, :data:`LAYERS`; a new layer is
one :func:`register` call.

Reading checks before it allocates, as :mod:`rnnkit.models.loading` does: the archive's
members and sizes, ``config.json`` (at most 1 MiB, JSON, known layers and arguments, at most
:data:`~rnnkit.models.loading.MAX_LAYERS` layers), then the model is built on PyTorch's
``meta`` device (shapes only), and every dataset must have its layer's shape, a floating-point
dtype and its bytes stored whole inside the file (contiguous, uncompressed, not external or
virtual: as Keras writes them). Only then are the weights read: what a load allocates is
bounded by the size of the file. A damaged or foreign file raises a ``ValueError`` naming the
file and what is wrong. (h5py's C library parses the file's structure; rnnkit checks what it
reports, but cannot vouch for that parser against a file crafted to attack it.)

This module holds the layout, the table and the weights in and out (``load_weights``,
``save_weights``, ``save_keras``); it does not import :class:`~rnnkit.models.Sequential`, whose
methods use it. :mod:`rnnkit.models.keras_format` builds whole models from Keras's config
(``load_keras``).

Writing goes through :mod:`rnnkit._files` (temporary file, then rename). A file rnnkit wrote
(marked ``saved_by: rnnkit ...`` in the HDF5 attributes or in ``metadata.json``, which Keras
ignores) is replaced; any other file is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, _files
from ..layers import Layer

KERAS_VERSION = "3.15.1"
"""The Keras version whose files this module was checked against (written in
``metadata.json``)."""
SAVED_BY = f"rnnkit {__version__}"
"""The mark of a file rnnkit wrote (an HDF5 root attribute ``saved_by``; a ``metadata.json``
field of a ``.keras`` archive)."""
CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE = "config.json", "metadata.json", "model.weights.h5"
MAX_LAYERS = 1000
"""The most layers a file may list (as :data:`rnnkit.models.loading.MAX_LAYERS`)."""
MAX_OBJECTS = 100_000
"""The most HDF5 groups and datasets looked at under ``layers/``."""
_FLOAT_SIZES = (2, 4, 8)


# -- the table: Keras class -> rnnkit class ----------------------------------------------------
def _same(expected) -> Callable[[Any, dict], bool]:
    return lambda value, config: value == expected


def _zero_output(value, config) -> bool:
    """rnnkit's recurrent layers carry the last output over masked steps (Keras's
    ``zero_output_for_mask=False``), which only shows with ``return_sequences``."""
    return value is False or not config.get("return_sequences", False)


@dataclass(frozen=True)
class KerasLayer:
    """How one Keras layer class is read and written.

    Attributes:
        keras: Keras's class name (``config.json``'s ``class_name``).
        group: the name of its HDF5 group: the class name in snake case, as Keras's
            ``naming.to_snake_case`` gives it (``GlobalAveragePooling1D`` ->
            ``global_average_pooling1d``, ``LeakyReLU`` -> ``leaky_re_lu``).
        rnnkit: rnnkit's class name (looked up in :func:`rnnkit.layers.get` when first used,
            so an entry may name a layer this rnnkit does not have yet); default ``keras``.
        cell: the weights sit in ``cell/vars`` (a recurrent layer) instead of ``vars``.
        wrapped: for a wrapper, the attributes holding the layers it wraps, which are also
            the HDF5 groups of their weights, in weight order (``forward_layer``,
            ``backward_layer`` for ``Bidirectional``; ``layer`` for ``TimeDistributed``).
        implied: Keras arguments rnnkit's class has no argument for, each with a check
            ``f(value, config) -> bool`` that passes for the values whose behaviour rnnkit
            implements (``activation='tanh'`` for the LSTM); when writing, ``written`` gives
            the value to write for them.
        ignored: Keras arguments that change no result rnnkit computes (``seed``, ``unroll``).
        dropped: rnnkit arguments Keras does not have (``impl``), left out when writing.
        written: Keras arguments written with a fixed value (the ``implied`` ones).
        renamed: Keras's older names of rnnkit's arguments (Keras 2's ``alpha`` of
            ``LeakyReLU`` is ``negative_slope``).
    """

    keras: str
    group: str
    rnnkit: str | None = None
    cell: bool = False
    wrapped: tuple[str, ...] = ()
    implied: Mapping[str, Callable[[Any, dict], bool]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    written: Mapping[str, Any] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)

    @property
    def rnnkit_class(self) -> str:
        return self.rnnkit or self.keras


LAYERS: dict[str, KerasLayer] = {}
"""Every Keras layer class rnnkit reads and writes, by Keras's class name."""
_BY_RNNKIT: dict[str, KerasLayer] = {}

# Arguments every Keras layer has that change nothing rnnkit computes (``trainable`` is applied
# as ``requires_grad``; ``dtype`` must be float32, checked apart).
# ``batch_input_shape``: Keras 2's first layer holds the input shape (read apart).
COMMON_IGNORED = ("name", "trainable", "dtype", "batch_input_shape", "batch_shape")


def register(spec: KerasLayer) -> KerasLayer:
    """Add (or replace) ``spec`` in :data:`LAYERS`."""
    LAYERS[spec.keras] = spec
    _BY_RNNKIT[spec.rnnkit_class] = spec
    return spec


# randomness of dropout; the same maths unrolled or in Keras 2's other `implementation`
_RNN_IGNORED = ("seed", "unroll", "implementation")
_GATED = {  # what LSTM and GRU compute, fixed in rnnkit
    "activation": _same("tanh"),
    "recurrent_activation": _same("sigmoid"),
    "stateful": _same(False),
    "zero_output_for_mask": _zero_output,
    "time_major": _same(False),  # Keras 2
}
_GATED_WRITTEN = {
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "stateful": False,
    "zero_output_for_mask": False,
}

for _spec in (
    KerasLayer(
        "Embedding",
        "embedding",
        implied={"quantization_config": _same(None)},
        ignored=("input_length",),  # Keras 2: the padded length, not needed to run
    ),
    KerasLayer("Dense", "dense", implied={"quantization_config": _same(None)}),
    KerasLayer("Dropout", "dropout", ignored=("seed",)),
    KerasLayer(
        "SimpleRNN",
        "simple_rnn",
        cell=True,
        implied={
            "stateful": _same(False),
            "zero_output_for_mask": _zero_output,
            "time_major": _same(False),
        },
        ignored=_RNN_IGNORED,
        dropped=("impl", "precision"),
        written={"stateful": False, "zero_output_for_mask": False},
    ),
    KerasLayer(
        "LSTM",
        "lstm",
        cell=True,
        implied=_GATED,
        ignored=_RNN_IGNORED,
        dropped=("impl", "precision"),
        written=_GATED_WRITTEN,
    ),
    KerasLayer(
        "GRU",
        "gru",
        cell=True,
        implied=_GATED,
        ignored=_RNN_IGNORED,
        dropped=("impl", "precision"),
        written=_GATED_WRITTEN,
    ),
    KerasLayer("Bidirectional", "bidirectional", wrapped=("forward_layer", "backward_layer")),
    KerasLayer("TimeDistributed", "time_distributed", wrapped=("layer",)),
    KerasLayer("Masking", "masking"),
    KerasLayer("Flatten", "flatten"),
    KerasLayer("Reshape", "reshape"),
    KerasLayer("RepeatVector", "repeat_vector"),
    KerasLayer("GlobalAveragePooling1D", "global_average_pooling1d"),
    KerasLayer("GlobalMaxPooling1D", "global_max_pooling1d"),
    KerasLayer("Activation", "activation"),
    KerasLayer("LeakyReLU", "leaky_re_lu", renamed={"alpha": "negative_slope"}),
    # Layers being added to rnnkit: read and written once rnnkit.layers has them (their
    # weights in Keras's get_weights order, as every rnnkit layer's set_weights takes them).
    KerasLayer("Conv1D", "conv1d"),
    KerasLayer("MaxPooling1D", "max_pooling1d"),
    KerasLayer("BatchNormalization", "batch_normalization"),
    KerasLayer("LayerNormalization", "layer_normalization"),
    # No weights; a functional model lists its inputs among its layers (a group each).
    KerasLayer("InputLayer", "input_layer"),
):
    register(_spec)
_BY_RNNKIT["Input"] = LAYERS["InputLayer"]  # rnnkit's Sequential input declaration


def spec_of(layer: Layer, owner: str = "save_weights") -> KerasLayer:
    """The :class:`KerasLayer` of an rnnkit layer, or a ValueError naming it."""
    spec = _BY_RNNKIT.get(type(layer).__name__)
    if spec is None:
        listed = ", ".join(sorted(_BY_RNNKIT))
        raise ValueError(
            f"{owner}: `model` expected layers Keras files can hold ({listed}), received "
            f"layer {layer.name!r} of class {type(layer).__name__}."
        )
    return spec


def layer_groups(layers, owner: str = "save_weights") -> list[tuple[str, Layer]]:
    """``[(group, layer)]``: the HDF5 group of each layer, as Keras names them (by class,
    ``_1``, ``_2``, ... for repeats)."""
    used: dict[str, int] = {}
    groups = []
    for layer in layers:
        base = spec_of(layer, owner).group
        if base in used:
            used[base] += 1
            name = f"{base}_{used[base]}"
        else:
            used[base] = 0
            name = base
        groups.append((f"layers/{name}", layer))
    return groups


def weight_slots(layer: Layer, group: str, owner: str = "save_weights") -> list[tuple[str, Layer]]:
    """``[(vars group, layer)]``: where the weights of ``layer`` and of the layers it wraps sit,
    in the order of ``layer.get_weights()``."""
    spec = spec_of(layer, owner)
    if spec.wrapped:
        slots = []
        for attr in spec.wrapped:
            slots += weight_slots(getattr(layer, attr), f"{group}/{attr}", owner)
        return slots
    return [(f"{group}/cell/vars" if spec.cell else f"{group}/vars", layer)]


# -- errors ------------------------------------------------------------------------------------
class FileError(ValueError):
    """The ValueError of a damaged or unsupported file (told apart from h5py's own)."""


def bad(owner: str, path, what: str, expected: str = "a Keras 3 file") -> ValueError:
    return FileError(f"{owner}: `path` expected {expected}, received {str(path)!r}: {what}.")


H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError)
"""What h5py raises on a damaged file (each becomes the documented ValueError)."""


def h5py_module(owner: str):
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ImportError(
            f"{owner}: reading and writing Keras files needs h5py (pip install h5py)."
        ) from None
    return h5py


# -- rnnkit model -> config.json ---------------------------------------------------------------
def _keras_value(value):
    if isinstance(value, tuple):
        return [_keras_value(v) for v in value]
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        return {"module": "keras.initializers", "registered_name": None, **value}
    return value


def keras_layer_config(layer: Layer) -> dict:
    """``{"module", "class_name", "config", "registered_name"}`` of ``layer`` as Keras writes
    it (rnnkit-only arguments left out, Keras's fixed ones written)."""
    spec = spec_of(layer, "save")
    if spec.keras == "Bidirectional":
        inner = keras_layer_config(layer.forward_layer)
        inner["config"]["name"] = layer.forward_layer.name
        backward = keras_layer_config(layer.backward_layer)
        config = {
            "name": layer.name,
            "merge_mode": layer.merge_mode,
            "layer": inner,
            "backward_layer": backward,
        }
    elif spec.wrapped:
        config = {"name": layer.name, "layer": keras_layer_config(layer.layer)}
    else:
        config = {}
        for key, value in layer.get_config().items():
            if key in spec.dropped or key == "input_shape":
                continue
            if callable(value) and not isinstance(value, (dict, list)):
                continue  # an initializer given as a plain function: Keras's default is used
            config[key] = _keras_value(value)
        config.update(spec.written)
    trainable = any(p.requires_grad for p in layer.parameters()) or not list(layer.parameters())
    config["trainable"] = trainable
    return {
        "module": "keras.layers",
        "class_name": spec.keras,
        "config": config,
        "registered_name": None,
    }


def keras_config(model) -> dict:
    """Keras's ``config.json`` for ``model`` (a built Sequential)."""
    from ..layers import Embedding

    shape = model._input_shape()
    layers = []
    if shape is not None:
        dtype = "int32" if isinstance(model.layers[0], Embedding) else "float32"
        layers.append(
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {"batch_shape": list(shape), "dtype": dtype, "name": "input_layer"},
                "registered_name": None,
            }
        )
    layers += [keras_layer_config(layer) for layer in model.layers]
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": model.name, "trainable": True, "layers": layers},
        "registered_name": None,
    }
    if shape is not None:
        config["build_config"] = {"input_shape": list(shape)}
    return config


# -- reading HDF5 ------------------------------------------------------------------------------
class _Weights:
    """Reads a model's weights from an open Keras HDF5 file, checking everything first."""

    def __init__(self, h5py, f, size: int, owner: str, path, where: str):
        self.h5py, self.f, self.size = h5py, f, size
        self.owner, self.path, self.where = owner, path, where

    def fail(self, what: str) -> ValueError:
        return bad(self.owner, self.path, f"{self.where}{what}")

    def plan(self, model) -> list[tuple[Layer, list]]:
        """``[(layer, [dataset, ...])]`` after every check; nothing read yet."""
        plan, seen = [], set()
        for group, layer in layer_groups(model.layers, self.owner):
            datasets = []
            for slot, leaf in weight_slots(layer, group, self.owner):
                expected = [tuple(w.shape) for w in leaf._keras_weights()]
                datasets += self.slot(slot, leaf, expected)
                seen.update(f"{slot}/{i}" for i in range(len(expected)))
            plan.append((layer, datasets))
        self.check_unused(seen)
        return plan

    def slot(self, slot: str, layer: Layer, expected: list[tuple]) -> list:
        obj = self.get(slot)
        keys = [] if obj is None else list(obj.keys()) if isinstance(obj, self.h5py.Group) else None
        wanted = [str(i) for i in range(len(expected))]
        if keys is None or sorted(keys) != sorted(wanted):
            found = (
                "nothing"
                if obj is None
                else f"{sorted(keys)}"
                if keys is not None
                else "not a group"
            )
            raise self.fail(
                f"the weights of layer {layer.name!r} ({type(layer).__name__}, "
                f"{len(expected)} arrays) expected at {slot!r} {wanted}, found {found} "
                "(the file holds a different model)"
            )
        return [self.dataset(obj, f"{slot}/{k}", shape) for k, shape in zip(wanted, expected)]

    def get(self, name: str):
        try:
            return self.f.get(name)
        except H5_ERRORS as e:
            raise self.fail(f"{name!r} cannot be read ({e})") from None

    def dataset(self, group, name: str, shape: tuple):
        ds = self.get(name)
        if not isinstance(ds, self.h5py.Dataset):
            raise self.fail(f"{name!r} is not a dataset")
        dtype = ds.dtype
        if dtype.kind != "f" or dtype.itemsize not in _FLOAT_SIZES:
            raise self.fail(f"{name!r} has dtype {dtype}, not floating point")
        if ds.shape != shape:
            raise self.fail(f"{name!r} has shape {ds.shape}, the layer expects {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        if ds.is_virtual or ds.external is not None or ds.chunks is not None or ds.compression:
            raise self.fail(
                f"{name!r} is stored chunked, compressed, external or virtual; rnnkit reads "
                "datasets stored whole in the file, as Keras writes them"
            )
        if nbytes:
            offset = ds.id.get_offset()
            if offset is None or offset < 0 or offset + nbytes > self.size:
                raise self.fail(
                    f"{name!r} claims {nbytes} bytes at offset {offset}, outside the "
                    f"{self.size} bytes of the file (truncated or damaged)"
                )
        return ds

    def check_unused(self, seen: set) -> None:
        layers = self.get("layers")
        if layers is None:
            return
        if not isinstance(layers, self.h5py.Group):
            raise self.fail("'layers' is not a group")
        unused, count = [], [0]

        def visit(name, obj):
            count[0] += 1
            if count[0] > MAX_OBJECTS:
                return True
            if isinstance(obj, self.h5py.Dataset) and f"layers/{name}" not in seen:
                unused.append(f"layers/{name}")
            return None

        try:
            layers.visititems(visit)
        except H5_ERRORS as e:
            raise self.fail(f"its groups cannot be read ({e})") from None
        if count[0] > MAX_OBJECTS:
            raise self.fail(f"more than {MAX_OBJECTS} objects under 'layers'")
        if unused:
            shown = ", ".join(repr(u) for u in sorted(unused)[:5])
            raise self.fail(
                f"it holds weights the model has no layer for ({shown}"
                f"{', ...' if len(unused) > 5 else ''}; the file holds a different model)"
            )

    def legacy_plan(self, model, root) -> list[tuple[Layer, list]]:
        """The plan for Keras 2's layout: ``layer_names`` in order, each group's
        ``weight_names`` in ``get_weights`` order; layers with weights matched in order."""
        names = [text(n) for n in root.attrs.get("layer_names", [])]
        if len(names) > MAX_LAYERS or not all(isinstance(n, str) for n in names):
            raise self.fail(f"`layer_names` is not a list of at most {MAX_LAYERS} names")
        stored = []
        for n in names:
            group = self.get(f"{root.name.rstrip('/')}/{n}")
            if not isinstance(group, self.h5py.Group):
                raise self.fail(f"layer {n!r} is listed but has no group")
            weights = [text(w) for w in group.attrs.get("weight_names", [])]
            if weights:
                stored.append((n, weights))
        layers = [layer for layer in model.layers if layer._keras_weights()]
        if len(stored) != len(layers):
            raise self.fail(
                f"it holds the weights of {len(stored)} layers, the model has {len(layers)} "
                "layers with weights (the file holds a different model)"
            )
        plan = []
        for layer, (n, weights) in zip(layers, stored):
            expected = [tuple(w.shape) for w in layer._keras_weights()]
            if len(weights) != len(expected):
                raise self.fail(
                    f"layer {n!r} holds {len(weights)} weights, layer {layer.name!r} "
                    f"({type(layer).__name__}) has {len(expected)}"
                )
            datasets = [
                self.dataset(None, f"{root.name.rstrip('/')}/{n}/{w}", shape)
                for w, shape in zip(weights, expected)
            ]
            plan.append((layer, datasets))
        return plan

    def read(self, plan) -> list[tuple[Layer, list]]:
        out = []
        for layer, datasets in plan:
            arrays = []
            for ds in datasets:
                array = np.empty(ds.shape, dtype=ds.dtype.newbyteorder("="))
                try:
                    if array.size:
                        ds.read_direct(array)
                except H5_ERRORS as e:
                    raise self.fail(f"{ds.name!r} cannot be read ({e})") from None
                arrays.append(array)
            out.append((layer, arrays))
        return out


def text(value):
    """An HDF5 string attribute (bytes or str) as str; anything else as it is."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def open_h5(h5py, fileobj, owner: str, path, where: str):
    try:
        return h5py.File(fileobj, "r")
    except H5_ERRORS as e:
        raise bad(owner, path, f"{where}is not a readable HDF5 file ({e})") from None


def assign(model, values: list[tuple[Layer, list]], owner: str, path) -> None:
    for layer, arrays in values:
        try:
            layer.set_weights(arrays)
        except (ValueError, TypeError) as e:  # pragma: no cover - shapes were checked
            raise bad(owner, path, f"layer {layer.name!r}: {e}") from None


# -- opening files -----------------------------------------------------------------------------
def open_file(path: Path, owner: str, expected: str):
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise bad(owner, path, "no such file", expected) from None
    except IsADirectoryError:
        raise bad(owner, path, "a folder, not a file", expected) from None
    except OSError as e:
        raise bad(owner, path, f"it cannot be opened ({e.strerror})", expected) from None
    return f


class Archive:
    """A ``.keras`` zip archive, its members checked before they are read."""

    def __init__(self, fileobj, owner: str, path):
        self.owner, self.path = owner, path
        try:
            self.zip = zipfile.ZipFile(fileobj)
            self.members = {info.filename: info for info in self.zip.infolist()}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise bad(owner, path, f"not a .keras archive (not a zip file: {e})") from None

    def member(self, name: str) -> zipfile.ZipInfo:
        info = self.members.get(name)
        if info is None:
            raise bad(self.owner, self.path, f"the archive has no {name}")
        return info

    def read_json(self, name: str, limit: int):
        info = self.member(name)
        if info.file_size > limit:
            raise bad(
                self.owner,
                self.path,
                f"{name} has {info.file_size} bytes, more than the {limit} allowed",
            )
        try:
            with self.zip.open(info) as f:
                data = f.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise bad(self.owner, self.path, f"{name} cannot be read ({e})") from None
        if len(data) > limit:
            raise bad(self.owner, self.path, f"{name} is longer than the {limit} bytes allowed")
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise bad(
                self.owner, self.path, f"{name} is not valid JSON ({type(e).__name__})"
            ) from None

    def open_weights(self):
        info = self.member(WEIGHTS_FILE)
        try:
            return self.zip.open(info), info.file_size
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
            raise bad(self.owner, self.path, f"{WEIGHTS_FILE} cannot be read ({e})") from None


def read_weights(model, fileobj, size: int, owner: str, path, where: str):
    """Check, then read, the weights of ``model`` from the HDF5 file ``fileobj``."""
    h5py = h5py_module(owner)
    f = open_h5(h5py, fileobj, owner, path, where)
    reader = _Weights(h5py, f, size, owner, path, where)
    try:
        if "layers" not in f and ("model_weights" in f or "layer_names" in f.attrs):
            root = f["model_weights"] if "model_weights" in f else f
            return reader.read(reader.legacy_plan(model, root))
        return reader.read(reader.plan(model))
    except FileError:
        raise
    except H5_ERRORS as e:
        raise reader.fail(f"it is damaged ({type(e).__name__}: {e})") from None
    finally:
        try:
            f.close()
        except H5_ERRORS:
            pass


def load_weights(model, path) -> None:
    """Set ``model``'s weights from a Keras 3 ``.weights.h5`` file or the weights of a
    ``.keras`` archive (a model of the same layers: same classes in the same order, same
    sizes). Everything is checked first; on any error the model is left unchanged."""
    owner, path = "load_weights", Path(path)
    if not model.built:
        raise ValueError(
            "load_weights: `model` expected a built model (call it, fit it or give the first "
            "layer an input_shape), received an unbuilt one."
        )
    name = str(path)
    if not name.endswith((".keras", ".h5", ".hdf5")):
        raise bad(
            owner, path, "the name ends in neither .weights.h5 nor .keras", "a Keras weights file"
        )
    with open_file(path, owner, "a Keras weights file") as f:
        if name.endswith(".keras"):
            weights, size = Archive(f, owner, path).open_weights()
            with weights:
                values = read_weights(model, weights, size, owner, path, f"{WEIGHTS_FILE}: ")
        else:
            values = read_weights(model, f, os.fstat(f.fileno()).st_size, owner, path, "")
    assign(model, values, owner, path)


# -- public: write -----------------------------------------------------------------------------
def _is_ours_h5(path: Path) -> bool:
    try:
        h5py = h5py_module("save_weights")
        with open(path, "rb") as f, h5py.File(f, "r") as h5:
            mark = h5.attrs.get("saved_by")
    except Exception:  # anything unreadable is not ours
        return False
    if isinstance(mark, bytes):
        mark = mark.decode("utf-8", "replace")
    return isinstance(mark, str) and mark.startswith("rnnkit")


def _is_ours_keras(path: Path) -> bool:
    try:
        with open(path, "rb") as f, zipfile.ZipFile(f) as z:
            info = z.getinfo(METADATA_FILE)
            if info.file_size > 1 << 16:
                return False
            meta = json.loads(z.read(info).decode("utf-8"))
    except Exception:  # anything unreadable is not ours
        return False
    return isinstance(meta, dict) and str(meta.get("saved_by", "")).startswith("rnnkit")


def _check_replace(path: Path, owner: str, is_ours, overwrite: bool) -> None:
    """Refuse to replace what rnnkit did not write, unless ``overwrite``."""
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        raise FileExistsError(
            f"{owner}: `path` expected a new path or a file rnnkit wrote, received "
            f"{str(path)!r}, a folder."
        )
    if overwrite or (not path.is_symlink() and is_ours(path)):
        return
    what = "a symbolic link" if path.is_symlink() else "a file that rnnkit did not write"
    raise FileExistsError(
        f"{owner}: `path` expected a new path or a file rnnkit wrote, received "
        f"{str(path)!r}, {what}; pass overwrite=True to replace it."
    )


def _check_built(model, owner: str) -> None:
    if not model.built:
        raise ValueError(
            f"{owner}: `model` expected a built model (call it, fit it or give the first "
            "layer an input_shape), received an unbuilt one."
        )


def weights_bytes(model, owner: str = "save_weights") -> bytes:
    """The ``.weights.h5`` file of ``model``, as bytes (Keras 3's layout, see the module)."""
    h5py = h5py_module(owner)
    groups = layer_groups(model.layers, owner)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["saved_by"] = SAVED_BY
        for group, layer in groups:
            _write_layer(f, group, layer, owner)
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def _write_layer(f, group: str, layer: Layer, owner: str) -> None:
    spec = spec_of(layer, owner)
    f.create_group(f"{group}/vars").attrs["name"] = layer.name
    if spec.wrapped:
        for attr in spec.wrapped:
            _write_layer(f, f"{group}/{attr}", getattr(layer, attr), owner)
        return
    if spec.cell:
        target = f.create_group(f"{group}/cell/vars")
        target.attrs["name"] = f"{spec.group}_cell"
    else:
        target = f[f"{group}/vars"]
    for i, w in enumerate(layer.get_weights()):
        target.create_dataset(str(i), data=w)


def save_weights(model, path, overwrite: bool = False) -> None:
    """Write ``model``'s weights as a Keras 3 ``.weights.h5`` file (``keras.Model.load_weights``
    reads it into the same model built with Keras).

    The name must end in ``.weights.h5``, as Keras requires. A file rnnkit wrote is replaced
    atomically; any other file is refused with a ``FileExistsError`` unless ``overwrite=True``
    (Keras overwrites by default; rnnkit never replaces what it did not write unless asked).
    """
    owner, path = "save_weights", Path(path)
    if not str(path).endswith(".weights.h5"):
        raise ValueError(
            f"save_weights: `filepath` expected a name ending in .weights.h5 (as Keras), "
            f"received {str(path)!r}."
        )
    _check_built(model, owner)
    data = weights_bytes(model, owner)
    _check_replace(path, owner, _is_ours_h5, overwrite)
    _files.write_bytes(path, data)


def writes_keras_archive(model) -> bool:
    """Whether :func:`save_keras` can write ``model`` (a Sequential; not yet a functional
    Model)."""
    return any(c.__name__ == "Sequential" for c in type(model).__mro__)


def save_keras(model, path, overwrite: bool = False) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive (``keras.models.load_model`` reads it).

    The archive holds ``config.json`` (the layers with the arguments Keras knows; rnnkit-only
    ones such as ``impl`` are left out), ``metadata.json`` and ``model.weights.h5``; the
    compile settings are not written. Replacing follows :func:`save_weights`.
    """
    owner, path = "save", Path(path)
    if not writes_keras_archive(model):
        raise ValueError(
            f"save: `model` expected a Sequential model for a .keras file (the functional "
            f"Model's config is not written yet; save_weights writes its weights), received "
            f"{type(model).__name__}."
        )
    _check_built(model, owner)
    config = keras_config(model)
    weights = weights_bytes(model, owner)
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "saved_by": SAVED_BY,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # stored, not compressed, as Keras writes them
        z.writestr(METADATA_FILE, json.dumps(metadata))
        z.writestr(CONFIG_FILE, json.dumps(config))
        z.writestr(WEIGHTS_FILE, weights)
    _check_replace(path, owner, _is_ours_keras, overwrite)
    _files.write_bytes(path, buf.getvalue())


def is_keras_path(path) -> bool:
    """True for a name Keras 3 saves a whole model to (``*.keras``)."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith(".keras")
