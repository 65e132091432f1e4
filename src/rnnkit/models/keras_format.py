"""Keras models in: a Keras 3 ``.keras`` archive (or Keras 2 ``.h5`` file) becomes an rnnkit
:class:`~rnnkit.models.Sequential`, built from Keras's ``config.json`` and given Keras's weights.

The files' layout, the table of layers and the weights in and out are
:mod:`rnnkit.models.keras_layout`'s (which does not import :class:`Sequential`, so that
:meth:`Sequential.save_weights` / :meth:`~Sequential.load_weights` can use it); this module
builds models, and :func:`rnnkit.models.load_model` hands ``.keras`` and ``.h5`` files to it.
Checks before allocation as described there: ``config.json`` at most 1 MiB and
:data:`MAX_LAYERS` layers, each a layer rnnkit has with arguments rnnkit supports (an error
names the layer, the argument and the value), the model built on the ``meta`` device, every
dataset checked against it, and only then the weights read.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from .. import _validation as V
from .. import initializers
from ..layers import Layer
from ..layers import get as get_layer_class
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .keras_layout import (
    COMMON_IGNORED,
    CONFIG_FILE,
    H5_ERRORS,
    LAYERS,
    MAX_LAYERS,
    WEIGHTS_FILE,
    Archive,
    FileError,
    KerasLayer,
    assign,
    bad,
    h5py_module,
    open_file,
    open_h5,
    read_weights,
    text,
)
from .saving import MAX_CONFIG_BYTES
from .sequential import Sequential

_TUPLES = ("target_shape", "noise_shape", "kernel_size", "strides", "pool_size", "dilation_rate")


# -- config.json -> rnnkit model ---------------------------------------------------------------
class _Config:
    """Turns Keras's ``config.json`` into rnnkit layers; every error names the file and the
    layer."""

    def __init__(self, owner: str, path):
        self.owner, self.path = owner, path
        self.frozen: list[Layer] = []  # layers saved with trainable=False

    def fail(self, what: str) -> ValueError:
        return bad(self.owner, self.path, f"{CONFIG_FILE}: {what}")

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
            elif key in spec.ignored or key in COMMON_IGNORED or value is None:
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
    with open_file(path, owner, "a .keras file") as f:
        archive = Archive(f, owner, path)
        config = archive.read_json(CONFIG_FILE, MAX_CONFIG_BYTES)
        model = model_from_keras_config(config, path, device="meta", owner=owner)
        if not model.built:
            raise bad(
                owner,
                path,
                f"{CONFIG_FILE}: the layers cannot be built from the config alone (no input shape)",
            )
        weights, size = archive.open_weights()
        with weights:
            values = read_weights(model, weights, size, owner, path, f"{WEIGHTS_FILE}: ")
    return _finish(model, values, config.get("compile_config") if compile else None, path)


def _finish(model, values, compile_config, path) -> Sequential:
    """Allocate the meta-device ``model`` and give it ``values`` (checked), then compile."""
    model.to_empty(device="cpu")  # the only allocation, bounded by the file's size
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assign(model, values, "load_keras", path)
    _compile(model, compile_config, path)
    model.eval()
    return model


def _load_legacy(path: Path, compile: bool) -> Sequential:
    """A Keras 2 ``model.save("x.h5")`` file: the config in the root attribute
    ``model_config``, the weights under ``model_weights`` (see :meth:`_Weights.legacy_plan`)."""
    owner = "load_keras"
    h5py = h5py_module(owner)
    with open_file(path, owner, "a Keras file") as fileobj:
        size = os.fstat(fileobj.fileno()).st_size
        f = open_h5(h5py, fileobj, owner, path, "")
        try:
            if "model_config" not in f.attrs:
                raise bad(owner, path, "a Keras 2 .h5 file without `model_config` (weights only?)")
            stored = f.attrs.get_id("model_config").get_storage_size()
            if stored > MAX_CONFIG_BYTES:
                raise bad(
                    owner, path, f"`model_config` has {stored} bytes, more than {MAX_CONFIG_BYTES}"
                )
            raw = text(f.attrs["model_config"])
            if not isinstance(raw, str) or len(raw) > MAX_CONFIG_BYTES:
                raise bad(
                    owner, path, f"`model_config` is not JSON of at most {MAX_CONFIG_BYTES} bytes"
                )
            try:
                config = json.loads(raw)
            except (json.JSONDecodeError, RecursionError) as e:
                raise bad(
                    owner, path, f"`model_config` is not valid JSON ({type(e).__name__})"
                ) from None
            model = model_from_keras_config(config, path, device="meta", owner=owner)
            if not model.built:
                raise bad(
                    owner, path, "the layers cannot be built from `model_config` (no input shape)"
                )
            compile_config = None
            if compile and "training_config" in f.attrs:
                try:
                    compile_config = json.loads(text(f.attrs["training_config"]))
                except (json.JSONDecodeError, TypeError, RecursionError):
                    compile_config = None
        except FileError:
            f.close()
            raise
        except H5_ERRORS as e:
            f.close()
            raise bad(owner, path, f"it is damaged ({type(e).__name__}: {e})") from None
        f.close()
        fileobj.seek(0)
        values = read_weights(model, fileobj, size, owner, path, "")
    return _finish(model, values, compile_config, path)


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
