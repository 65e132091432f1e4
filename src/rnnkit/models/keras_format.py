"""Keras 3 files in and out: ``.keras`` archives and ``.weights.h5`` weights, read and written
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

Writing goes through :mod:`rnnkit._files` (temporary file, then rename). A file rnnkit wrote
(marked ``saved_by: rnnkit ...`` in the HDF5 attributes or in ``metadata.json``, which Keras
ignores) is replaced; any other file is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__, _files, initializers
from .. import _validation as V
from ..layers import Layer
from ..layers import get as get_layer_class
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .loading import MAX_LAYERS
from .saving import MAX_CONFIG_BYTES
from .sequential import Sequential

KERAS_VERSION = "3.15.1"
"""The Keras version whose files this module was checked against (written in
``metadata.json``)."""
SAVED_BY = f"rnnkit {__version__}"
"""The mark of a file rnnkit wrote (an HDF5 root attribute ``saved_by``; a ``metadata.json``
field of a ``.keras`` archive)."""
CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE = "config.json", "metadata.json", "model.weights.h5"
MAX_OBJECTS = 100_000
"""The most HDF5 groups and datasets looked at under ``layers/``."""
_FLOAT_SIZES = (2, 4, 8)
_TUPLES = ("target_shape", "noise_shape", "kernel_size", "strides", "pool_size", "dilation_rate")


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
        wrapped: the config keys of the layers this one wraps (``"layer"``), which are also
            the attributes that hold them in rnnkit and the HDF5 groups of their weights
            (``forward_layer``, ``backward_layer`` for ``Bidirectional``), in weight order.
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
_COMMON_IGNORED = ("name", "trainable", "dtype", "batch_input_shape", "batch_shape")


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
        dropped=("impl",),
        written={"stateful": False, "zero_output_for_mask": False},
    ),
    KerasLayer(
        "LSTM",
        "lstm",
        cell=True,
        implied=_GATED,
        ignored=_RNN_IGNORED,
        dropped=("impl",),
        written=_GATED_WRITTEN,
    ),
    KerasLayer(
        "GRU",
        "gru",
        cell=True,
        implied=_GATED,
        ignored=_RNN_IGNORED,
        dropped=("impl",),
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
):
    register(_spec)


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
class _FileError(ValueError):
    """The ValueError of a damaged or unsupported file (told apart from h5py's own)."""


def _bad(owner: str, path, what: str, expected: str = "a Keras 3 file") -> ValueError:
    return _FileError(f"{owner}: `path` expected {expected}, received {str(path)!r}: {what}.")


_H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError)
"""What h5py raises on a damaged file (each becomes the documented ValueError)."""


def _h5py(owner: str):
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ImportError(
            f"{owner}: reading and writing Keras files needs h5py (pip install h5py)."
        ) from None
    return h5py


# -- config.json -> rnnkit model ---------------------------------------------------------------
class _Config:
    """Turns Keras's ``config.json`` into rnnkit layers; every error names the file and the
    layer."""

    def __init__(self, owner: str, path):
        self.owner, self.path = owner, path
        self.frozen: list[Layer] = []  # layers saved with trainable=False

    def fail(self, what: str) -> ValueError:
        return _bad(self.owner, self.path, f"{CONFIG_FILE}: {what}")

    def check_dtype(self, where: str, value) -> None:
        name = value
        if isinstance(value, dict):
            name = (value.get("config") or {}).get("name") if value.get("config") else None
        if value is not None and name != "float32":
            raise self.fail(f"{where} has dtype {V.describe(name)}; rnnkit reads float32 models")

    def model(self, config) -> Sequential:
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise self.fail(
                f"expected a JSON object with a model config, found {V.describe(config)}"
            )
        kind = config.get("class_name")
        if kind != "Sequential":
            raise self.fail(
                f"the model is a {V.describe(kind)}; rnnkit reads Sequential models "
                "(the functional API's Model is not read yet)"
            )
        spec = config["config"]
        layers = spec.get("layers")
        if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
            raise self.fail(f"`layers` expected a list of at most {MAX_LAYERS} layers")
        self.check_dtype("the model", spec.get("dtype"))
        name = spec.get("name")
        model = Sequential(name=name if isinstance(name, str) else None)
        shape = self.input_shape(config, layers)
        if shape is not None:
            model.input_shape_hint = shape
        for i, entry in enumerate(layers):
            if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
                continue
            layer = self.layer(entry, f"layer {i}")
            try:
                model.add(layer)
            except (ValueError, TypeError, RuntimeError) as e:
                raise self.fail(
                    f"layer {i} {layer.name!r} cannot follow the layers before it ({e})"
                ) from None
        return model

    def input_shape(self, config: dict, layers: list) -> tuple | None:
        """The input shape without the batch axis: from the InputLayer, else the model's
        ``build_config``."""
        shape = None
        first = layers[0] if layers else None
        if isinstance(first, dict) and isinstance(first.get("config"), dict):
            cfg = first["config"]  # an InputLayer, or Keras 2's first layer
            shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
        if shape is None:
            build = config.get("build_config") or {}
            shape = build.get("input_shape") if isinstance(build, dict) else None
        if shape is None:
            return None
        if (
            not isinstance(shape, list)
            or not shape
            or not all(d is None or (type(d) is int and d > 0) for d in shape)
        ):
            raise self.fail(f"the input shape {V.describe(shape)} is not a list of sizes")
        return tuple(shape[1:])

    def layer(self, entry, where: str, inside: str | None = None) -> Layer:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise self.fail(f'{where} is not {{"class_name": ..., "config": {{...}}}}')
        kind, cfg = entry.get("class_name"), entry["config"]
        name = cfg.get("name")
        label = f"{where} {name!r} ({kind})" if isinstance(name, str) else f"{where} ({kind})"
        registered = entry.get("registered_name")
        module = entry.get("module", "keras.layers")
        spec = LAYERS.get(kind) if isinstance(kind, str) else None
        if (
            spec is None
            or (registered is not None and registered != kind)
            or not (module is None or str(module).startswith("keras"))
        ):
            listed = ", ".join(sorted(k for k in LAYERS if self.available(LAYERS[k])))
            raise self.fail(f"{label} is not a Keras layer rnnkit has (it has: {listed})")
        if not self.available(spec):
            raise self.fail(f"{label}: this rnnkit has no {spec.rnnkit_class} layer yet")
        cls = get_layer_class(spec.rnnkit_class)
        params = inspect.signature(cls.__init__).parameters
        kwargs: dict[str, Any] = {}
        self.check_dtype(label, cfg.get("dtype"))
        for key, value in cfg.items():
            if key in spec.wrapped or (key == "layer" and spec.wrapped):
                continue
            if key == "name":
                if isinstance(value, str):
                    kwargs["name"] = value
                continue
            key = spec.renamed.get(key, key)
            if key in params and key not in ("self", "layer", "input_shape"):
                kwargs[key] = self.value(key, value, label)
            elif key in spec.implied:
                if inside == "Bidirectional" and key == "zero_output_for_mask":
                    continue  # Bidirectional zeroes masked steps, in Keras and in rnnkit
                if not spec.implied[key](value, cfg):
                    raise self.fail(
                        f"{label} has `{key}`={V.describe(value)}, which rnnkit's "
                        f"{spec.rnnkit_class} does not support"
                    )
            elif key in spec.ignored or key in _COMMON_IGNORED or value is None:
                continue
            else:
                raise self.fail(
                    f"{label} has the argument `{key}`={V.describe(value)}, which rnnkit's "
                    f"{spec.rnnkit_class} does not take"
                )
        args = []
        if spec.keras == "Bidirectional":
            args = [self.bidirectional(cfg, kwargs, label, params)]
        elif spec.wrapped:
            args = [self.layer(cfg.get("layer"), f"{label}'s wrapped layer", spec.keras)]
        try:
            layer = cls(*args, **kwargs)
        except (ValueError, TypeError, RuntimeError, NotImplementedError) as e:
            raise self.fail(f"{label} is not valid for rnnkit ({e})") from None
        if cfg.get("trainable") is False:
            self.frozen.append(layer)
        return layer

    def bidirectional(self, cfg: dict, kwargs: dict, label: str, params) -> Layer:
        """The forward layer of a Bidirectional (its backward layer put in ``kwargs`` where
        rnnkit takes one, else checked to be the forward one run backwards)."""
        forward = self.layer(cfg.get("layer"), f"{label}'s layer", "Bidirectional")
        forward.name = forward.name.removeprefix("forward_")
        backward = cfg.get("backward_layer")
        if backward is not None and "backward_layer" in params:
            kwargs["backward_layer"] = self.layer(
                backward, f"{label}'s backward layer", "Bidirectional"
            )
        elif backward is not None:
            a = self.comparable(cfg.get("layer"))
            b = self.comparable(backward)
            if (
                a is None
                or b is None
                or a[1] == b[1]
                or {**a[0], "go_backwards": None} != {**b[0], "go_backwards": None}
            ):
                raise self.fail(
                    f"{label} has a `backward_layer` that is not its layer run backwards, "
                    "which rnnkit's Bidirectional does not support"
                )
        return forward

    @staticmethod
    def comparable(entry) -> tuple[dict, Any] | None:
        """A wrapped layer's config without what differs between the two directions."""
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            return None
        cfg = {
            k: v
            for k, v in entry["config"].items()
            if k not in ("name", "zero_output_for_mask", "go_backwards")
            and not k.endswith("_initializer")
        }
        return {"class_name": entry.get("class_name"), **cfg}, entry["config"].get("go_backwards")

    def value(self, key: str, value, label: str):
        """A Keras argument as rnnkit's constructor takes it."""
        if key.endswith("_initializer") and isinstance(value, dict):
            return self.initializer(key, value, label)
        if isinstance(value, list) and key in _TUPLES:
            return tuple(value)
        return value

    def initializer(self, key: str, value: dict, label: str) -> dict:
        """Keras's initializer config without the arguments rnnkit's initializer lacks when
        they hold their default None (Keras 3.15's ``input_axes`` / ``output_axes``)."""
        cls = initializers.NAMES.get(value.get("class_name"))
        args = value.get("config")
        if cls is None or not isinstance(args, dict):
            return value  # the layer's constructor names what is wrong
        params = inspect.signature(cls.__init__).parameters
        kept = {}
        for k, v in args.items():
            if k in params:
                kept[k] = v
            elif v is not None:
                raise self.fail(
                    f"{label} has `{key}` {value.get('class_name')} with "
                    f"`{k}`={V.describe(v)}, which rnnkit's initializer does not take"
                )
        return {"class_name": value["class_name"], "config": kept}

    @staticmethod
    def available(spec: KerasLayer) -> bool:
        try:
            get_layer_class(spec.rnnkit_class)
        except ValueError:
            return False
        return True


def model_from_keras_config(
    config: dict, path="<config>", *, device=None, owner="load_keras"
) -> Sequential:
    """The rnnkit model Keras's ``config.json`` (parsed) describes, unbuilt layers built when
    the input shape is known (``device="meta"``: shapes only, no memory)."""
    reader = _Config(owner, path)
    with torch.device(device) if device is not None else _nothing():
        model = reader.model(config)
    for layer in reader.frozen:
        for p in layer.parameters():
            p.requires_grad_(False)
    return model


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


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
        return _bad(self.owner, self.path, f"{self.where}{what}")

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
        except _H5_ERRORS as e:
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
        except _H5_ERRORS as e:
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
        names = [_text(n) for n in root.attrs.get("layer_names", [])]
        if len(names) > MAX_LAYERS or not all(isinstance(n, str) for n in names):
            raise self.fail(f"`layer_names` is not a list of at most {MAX_LAYERS} names")
        stored = []
        for n in names:
            group = self.get(f"{root.name.rstrip('/')}/{n}")
            if not isinstance(group, self.h5py.Group):
                raise self.fail(f"layer {n!r} is listed but has no group")
            weights = [_text(w) for w in group.attrs.get("weight_names", [])]
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
                except _H5_ERRORS as e:
                    raise self.fail(f"{ds.name!r} cannot be read ({e})") from None
                arrays.append(array)
            out.append((layer, arrays))
        return out


def _text(value):
    """An HDF5 string attribute (bytes or str) as str; anything else as it is."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _open_h5(h5py, fileobj, owner: str, path, where: str):
    try:
        return h5py.File(fileobj, "r")
    except _H5_ERRORS as e:
        raise _bad(owner, path, f"{where}is not a readable HDF5 file ({e})") from None


def _assign(model, values: list[tuple[Layer, list]], owner: str, path) -> None:
    for layer, arrays in values:
        try:
            layer.set_weights(arrays)
        except (ValueError, TypeError) as e:  # pragma: no cover - shapes were checked
            raise _bad(owner, path, f"layer {layer.name!r}: {e}") from None


# -- opening files -----------------------------------------------------------------------------
def _open_file(path: Path, owner: str, expected: str):
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise _bad(owner, path, "no such file", expected) from None
    except IsADirectoryError:
        raise _bad(owner, path, "a folder, not a file", expected) from None
    except OSError as e:
        raise _bad(owner, path, f"it cannot be opened ({e.strerror})", expected) from None
    return f


class _Archive:
    """A ``.keras`` zip archive, its members checked before they are read."""

    def __init__(self, fileobj, owner: str, path):
        self.owner, self.path = owner, path
        try:
            self.zip = zipfile.ZipFile(fileobj)
            self.members = {info.filename: info for info in self.zip.infolist()}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise _bad(owner, path, f"not a .keras archive (not a zip file: {e})") from None

    def member(self, name: str) -> zipfile.ZipInfo:
        info = self.members.get(name)
        if info is None:
            raise _bad(self.owner, self.path, f"the archive has no {name}")
        return info

    def read_json(self, name: str, limit: int):
        info = self.member(name)
        if info.file_size > limit:
            raise _bad(
                self.owner,
                self.path,
                f"{name} has {info.file_size} bytes, more than the {limit} allowed",
            )
        try:
            with self.zip.open(info) as f:
                data = f.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise _bad(self.owner, self.path, f"{name} cannot be read ({e})") from None
        if len(data) > limit:
            raise _bad(self.owner, self.path, f"{name} is longer than the {limit} bytes allowed")
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise _bad(
                self.owner, self.path, f"{name} is not valid JSON ({type(e).__name__})"
            ) from None

    def open_weights(self):
        info = self.member(WEIGHTS_FILE)
        try:
            return self.zip.open(info), info.file_size
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
            raise _bad(self.owner, self.path, f"{WEIGHTS_FILE} cannot be read ({e})") from None


def _read_weights(model, fileobj, size: int, owner: str, path, where: str):
    """Check, then read, the weights of ``model`` from the HDF5 file ``fileobj``."""
    h5py = _h5py(owner)
    f = _open_h5(h5py, fileobj, owner, path, where)
    reader = _Weights(h5py, f, size, owner, path, where)
    try:
        if "layers" not in f and ("model_weights" in f or "layer_names" in f.attrs):
            root = f["model_weights"] if "model_weights" in f else f
            return reader.read(reader.legacy_plan(model, root))
        return reader.read(reader.plan(model))
    except _FileError:
        raise
    except _H5_ERRORS as e:
        raise reader.fail(f"it is damaged ({type(e).__name__}: {e})") from None
    finally:
        try:
            f.close()
        except _H5_ERRORS:
            pass


# -- public: read ------------------------------------------------------------------------------
def load_keras(path, compile: bool = True) -> Sequential:
    """Load a Keras 3 ``.keras`` file as an rnnkit :class:`~rnnkit.models.Sequential`.

    The model is built from Keras's ``config.json`` (layer classes and the constructor
    arguments rnnkit has; anything else raises a ``ValueError`` naming the layer and the
    argument), then given Keras's weights. ``compile=True`` also compiles it when Keras's
    ``compile_config`` names an optimizer, a loss and metrics rnnkit has (a warning says so
    otherwise). The model is returned in inference mode (``eval()``).

    >>> model = load_keras("model.keras")       # doctest: +SKIP
    >>> model.predict(x)                        # doctest: +SKIP
    """
    owner, path = "load_keras", Path(path)
    if str(path).endswith((".h5", ".hdf5")):
        return _load_legacy(path, compile)
    with _open_file(path, owner, "a .keras file") as f:
        archive = _Archive(f, owner, path)
        config = archive.read_json(CONFIG_FILE, MAX_CONFIG_BYTES)
        model = model_from_keras_config(config, path, device="meta", owner=owner)
        if not model.built:
            raise _bad(
                owner,
                path,
                f"{CONFIG_FILE}: the layers cannot be built from the config alone (no input shape)",
            )
        weights, size = archive.open_weights()
        with weights:
            values = _read_weights(model, weights, size, owner, path, f"{WEIGHTS_FILE}: ")
    return _finish(model, values, config.get("compile_config") if compile else None, path)


def _finish(model, values, compile_config, path) -> Sequential:
    """Allocate the meta-device ``model`` and give it ``values`` (checked), then compile."""
    model.to_empty(device="cpu")  # the only allocation, bounded by the file's size
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    _assign(model, values, "load_keras", path)
    _compile(model, compile_config, path)
    model.eval()
    return model


def _load_legacy(path: Path, compile: bool) -> Sequential:
    """A Keras 2 ``model.save("x.h5")`` file: the config in the root attribute
    ``model_config``, the weights under ``model_weights`` (see :meth:`_Weights.legacy_plan`)."""
    owner = "load_keras"
    h5py = _h5py(owner)
    with _open_file(path, owner, "a .keras file") as fileobj:
        size = os.fstat(fileobj.fileno()).st_size
        f = _open_h5(h5py, fileobj, owner, path, "")
        try:
            text = f.attrs.get("model_config")
            if text is None:
                raise _bad(owner, path, "a Keras 2 .h5 file without `model_config` (weights only?)")
            text = _text(text)
            if not isinstance(text, str) or len(text) > MAX_CONFIG_BYTES:
                raise _bad(
                    owner, path, f"`model_config` is not JSON of at most {MAX_CONFIG_BYTES} bytes"
                )
            try:
                config = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as e:
                raise _bad(
                    owner, path, f"`model_config` is not valid JSON ({type(e).__name__})"
                ) from None
            model = model_from_keras_config(config, path, device="meta", owner=owner)
            if not model.built:
                raise _bad(
                    owner, path, "the layers cannot be built from `model_config` (no input shape)"
                )
            compile_config = None
            if compile and "training_config" in f.attrs:
                try:
                    compile_config = json.loads(_text(f.attrs["training_config"]))
                except (json.JSONDecodeError, TypeError, RecursionError):
                    compile_config = None
        except _FileError:
            f.close()
            raise
        except _H5_ERRORS as e:
            f.close()
            raise _bad(owner, path, f"it is damaged ({type(e).__name__}: {e})") from None
        f.close()
        fileobj.seek(0)
        values = _read_weights(model, fileobj, size, owner, path, "")
    return _finish(model, values, compile_config, path)


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
        raise _bad(
            owner, path, "the name ends in neither .weights.h5 nor .keras", "a Keras weights file"
        )
    with _open_file(path, owner, "a Keras weights file") as f:
        if name.endswith(".keras"):
            weights, size = _Archive(f, owner, path).open_weights()
            with weights:
                values = _read_weights(model, weights, size, owner, path, f"{WEIGHTS_FILE}: ")
        else:
            values = _read_weights(model, f, os.fstat(f.fileno()).st_size, owner, path, "")
    _assign(model, values, owner, path)


def _compile(model, spec, path) -> None:
    """Compile ``model`` as Keras's ``compile_config`` says, where rnnkit has what it names."""
    if not spec or not isinstance(spec, dict):
        return
    if "optimizer_config" in spec:  # Keras 2's training_config
        spec = {**spec, "optimizer": spec["optimizer_config"]}
    try:
        optimizer = spec.get("optimizer")
        if isinstance(optimizer, dict):
            classes = {cls.__name__: cls for cls in optimizers_module.OPTIMIZERS.values()}
            cls = classes[optimizer["class_name"]]
            params = inspect.signature(cls).parameters
            args = {k: v for k, v in (optimizer.get("config") or {}).items() if k in params}
            optimizer = cls(**args)
        loss = spec.get("loss")
        if isinstance(loss, dict):
            loss = (loss.get("config") or {}).get("name") or loss.get("class_name")
        metrics = spec.get("metrics") or []
        metrics = [m.get("config", {}).get("name") if isinstance(m, dict) else m for m in metrics]
        losses_module.get(loss)
        for m in metrics:
            metrics_module.get(m, loss)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        warnings.warn(
            f"load_keras: {str(path)!r} was loaded uncompiled: its compile_config names "
            f"something rnnkit does not have ({e}); call model.compile(...) before fit.",
            stacklevel=3,
        )


# -- public: write -----------------------------------------------------------------------------
def _is_ours_h5(path: Path) -> bool:
    try:
        h5py = _h5py("save_weights")
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
    h5py = _h5py(owner)
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


def save_keras(model, path, overwrite: bool = False) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive (``keras.models.load_model`` reads it).

    The archive holds ``config.json`` (the layers with the arguments Keras knows; rnnkit-only
    ones such as ``impl`` are left out), ``metadata.json`` and ``model.weights.h5``; the
    compile settings are not written. Replacing follows :func:`save_weights`.
    """
    owner, path = "save", Path(path)
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
