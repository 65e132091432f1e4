"""Load a model saved by :func:`rnnkit.models.save_model`, checking the files before anything
is allocated.

What is checked, in order, each failure a ``ValueError`` that names the file and the field:

1. ``config.json``: at most :data:`~rnnkit.models.saving.MAX_CONFIG_BYTES`, UTF-8 JSON, the
   format and its version, then every section: ``model`` (name, input shape, at most
   :data:`MAX_LAYERS` layers, each a known class with arguments its constructor accepts) and
   ``compile`` (a known optimizer with valid settings, a known loss, known metrics).
2. ``model.safetensors``'s header, read without the data: at most :data:`MAX_HEADER_BYTES`,
   every tensor's dtype, shape and byte range consistent with each other and with the file size.
3. The tensors against the config: the layers are built on PyTorch's ``meta`` device (shapes
   only, no memory, no random initialisation), and the file must hold exactly their tensors,
   with their shapes, in float32 or float64 (rnnkit saves floating-point weights only; integer,
   boolean and half-precision tensors are refused).

Only then is memory allocated: the parameters, uninitialised, each filled straight from the
file. So what a load allocates is bounded by the size of the weights file: a config that claims
huge sizes is refused by step 3 at no cost.

The directory is opened once and both files through it, so a concurrent save (which swaps in a
whole new directory) never mixes two versions; if the directory was swapped out between the two
opens, the load starts again.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import sys
import time
from pathlib import Path

import torch

from .. import _files
from .. import _validation as V
from ..layers import get as get_layer_class
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .functional import Model
from .saving import CONFIG_FILE, FORMAT, FORMAT_VERSION, MAX_CONFIG_BYTES, WEIGHTS_FILE
from .saving import tensor_names as _tensor_names
from .sequential import Sequential

MAX_LAYERS = 1000
"""The most layers a saved model may list."""
MAX_HEADER_BYTES = 1 << 20
"""The largest safetensors header read (1 MiB: some 10,000 tensors)."""

WEIGHT_DTYPES = {"F32": torch.float32, "F64": torch.float64}
"""The dtypes a weights file may hold (safetensors names)."""
_ITEMSIZE = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
_RETRIES = 10
# What interpreting a damaged config may raise from a layer's constructor (torch's meta device
# included); each becomes the documented ValueError.
_CONFIG_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
)


class _Replaced(Exception):
    """The directory was swapped out by a concurrent save while it was being opened."""


def _bad(path, what: str) -> ValueError:
    return ValueError(
        f"load_model: `path` expected an rnnkit model directory, received {str(path)!r}: {what}."
    )


def _field(path, file: str, field: str, expected: str, value) -> ValueError:
    return _bad(path, f"{file} field `{field}` expected {expected}, received {V.describe(value)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- opening ------------------------------------------------------------------------------------
def _open_dir(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        if _being_replaced(path):
            raise _Replaced from None
        raise _bad(path, "no such directory") from None
    except NotADirectoryError:
        raise _bad(path, "not a directory") from None
    except OSError as e:
        raise _bad(path, f"cannot be opened ({e.strerror})") from None


def _being_replaced(path: Path) -> bool:
    """True while a save without an atomic exchange has the old directory renamed aside."""
    prefix = f".{path.name}{_files.TEMP_MARK}-old-"
    try:
        return any(e.startswith(prefix) for e in os.listdir(path.parent))
    except OSError:
        return False


def _same_dir(dfd: int, path: Path) -> bool:
    try:
        now, held = os.stat(path), os.fstat(dfd)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _open_in(dfd: int, name: str, path: Path):
    """Open the regular file ``name`` of the directory held by ``dfd``, for reading."""
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), dir_fd=dfd)
    except FileNotFoundError:
        if not _same_dir(dfd, path):
            raise _Replaced from None
        raise _bad(path, f"{name} is missing") from None
    except OSError as e:
        raise _bad(path, f"{name} cannot be opened ({e.strerror})") from None
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise _bad(path, f"{name} is not a regular file")
    return f


# -- config.json --------------------------------------------------------------------------------
def _parse_json(path, name: str, data: bytes):
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _bad(path, f"{name} is not valid JSON (not UTF-8: {e.reason})") from None
    except json.JSONDecodeError as e:
        raise _bad(path, f"{name} is not valid JSON ({e})") from None
    except RecursionError:
        raise _bad(path, f"{name} is not valid JSON (nested too deeply)") from None


def _read_config_file(f, path) -> dict:
    size = os.fstat(f.fileno()).st_size
    if size > MAX_CONFIG_BYTES:
        raise _bad(
            path, f"{CONFIG_FILE} has {size} bytes, more than the {MAX_CONFIG_BYTES} allowed"
        )
    return check_config(_parse_json(path, CONFIG_FILE, f.read(MAX_CONFIG_BYTES + 1)), path)


def check_config(config, path="<config>") -> dict:
    """Check every section of a parsed ``config.json``; returns it, or raises ``ValueError``."""
    C = CONFIG_FILE
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _bad(path, f'{C} has no "format": "{FORMAT}"')
    version = config.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        raise _bad(path, f"format_version {version!r} is not {FORMAT_VERSION}")
    if "rnnkit_version" in config and not isinstance(config["rnnkit_version"], str):
        raise _field(path, C, "rnnkit_version", "a string", config["rnnkit_version"])
    spec = config.get("model")
    if not isinstance(spec, dict):
        raise _field(path, C, "model", "a JSON object", spec)
    if not isinstance(spec.get("name"), str):
        raise _field(path, C, "model.name", "a string", spec.get("name"))
    shape = spec.get("input_shape")
    if shape is not None and (
        not isinstance(shape, list) or not all(d is None or (_is_int(d) and d > 0) for d in shape)
    ):
        raise _field(path, C, "model.input_shape", "null or a list of positive integers", shape)
    layers = spec.get("layers")
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise _field(path, C, "model.layers", f"a list of 1 to {MAX_LAYERS} layers", layers)
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            raise _field(path, C, f"model.layers[{i}]", '{"class_name": ..., "config": ...}', entry)
        if not isinstance(entry.get("config"), dict):
            raise _field(path, C, f"model.layers[{i}].config", "a JSON object", entry.get("config"))
    _check_compile(config.get("compile"), path)
    return config


def _check_compile(spec, path) -> optimizers_module.Optimizer | None:
    """The optimizer of a valid ``compile`` section (None when there is none)."""
    C = CONFIG_FILE
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise _field(path, C, "compile", "null or a JSON object", spec)
    opt = spec.get("optimizer")
    classes = {cls.__name__: cls for cls in optimizers_module.OPTIMIZERS.values()}
    if not isinstance(opt, dict) or not isinstance(opt.get("config"), dict):
        raise _field(path, C, "compile.optimizer", '{"class_name": ..., "config": {...}}', opt)
    if not isinstance(opt.get("class_name"), str) or opt["class_name"] not in classes:
        listed = ", ".join(repr(c) for c in sorted(classes))
        raise _field(
            path, C, "compile.optimizer.class_name", f"one of {listed}", opt.get("class_name")
        )
    try:
        optimizer = classes[opt["class_name"]](**opt["config"])
    except (TypeError, ValueError) as e:
        raise _bad(path, f"{C} field `compile.optimizer.config` is not valid ({e})") from None
    loss = spec.get("loss")
    if not isinstance(loss, str) or loss not in losses_module.LOSSES:
        listed = ", ".join(repr(name) for name in losses_module.LOSSES)
        raise _field(path, C, "compile.loss", f"one of {listed}", loss)
    metrics = spec.get("metrics")
    if not isinstance(metrics, list):
        raise _field(path, C, "compile.metrics", "a list of metric names", metrics)
    for i, name in enumerate(metrics):
        try:
            if not isinstance(name, str):
                raise TypeError("not a string")
            metrics_module.get(name, loss)
        except (TypeError, ValueError):
            raise _field(path, C, f"compile.metrics[{i}]", "a metric name", name) from None
    return optimizer


def read_config(path) -> dict:
    """The checked ``config.json`` of the model directory ``path``."""
    path = Path(path)
    dfd = _open_dir(path)
    try:
        with _open_in(dfd, CONFIG_FILE, path) as f:
            return _read_config_file(f, path)
    except _Replaced:
        return read_config(path)
    finally:
        os.close(dfd)


def model_from_config(config: dict, path="<config>", *, device=None) -> Sequential:
    """The model a checked config describes (``device="meta"``: shapes only, no memory)."""
    config = check_config(config, path)
    spec = config["model"]
    if "input_layers" in spec:  # a functional model (rnnkit.models.Model)
        with torch.device(device) if device is not None else _nothing():
            try:
                return Model.from_config(spec)
            except (*_CONFIG_ERRORS, LookupError) as e:
                raise _bad(
                    path,
                    f"{CONFIG_FILE} does not describe a valid functional model "
                    f"({type(e).__name__}: {e})",
                ) from None
    with torch.device(device) if device is not None else _nothing():
        try:
            model = Sequential(name=spec["name"])
            if spec.get("input_shape") is not None:
                model.input_shape_hint = tuple(spec["input_shape"])
        except _CONFIG_ERRORS as e:
            raise _bad(path, f"{CONFIG_FILE} does not describe a valid model: {e}") from None
        for i, entry in enumerate(spec["layers"]):
            try:
                cfg = dict(entry["config"])
                if isinstance(cfg.get("input_shape"), list):
                    cfg["input_shape"] = tuple(cfg["input_shape"])
                model.add(get_layer_class(entry["class_name"]).from_config(cfg))
            except _CONFIG_ERRORS as e:
                raise _bad(
                    path,
                    f"{CONFIG_FILE} does not describe a valid model: field `model.layers[{i}]` "
                    f"({type(e).__name__}: {e})",
                ) from None
    return model


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- model.safetensors --------------------------------------------------------------------------
def read_header(f, path="<weights>") -> dict[str, tuple[str, tuple[int, ...], int, int]]:
    """The tensors a safetensors file holds, ``{name: (dtype, shape, start, end)}`` with byte
    offsets from the start of the file, checked against each other and the file size without
    reading any tensor data."""

    def bad(what: str) -> ValueError:
        return _bad(path, f"{WEIGHTS_FILE} is not a readable safetensors file ({what})")

    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        raise bad(f"{size} bytes, too short for a header")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER_BYTES or 8 + n > size:
        raise bad(f"a header of {n} bytes in a file of {size}, limit {MAX_HEADER_BYTES}")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise bad(f"the header is not JSON: {type(e).__name__}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and (
        not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())
    ):
        raise bad("__metadata__ is not an object of strings")
    tensors, data_size = {}, size - 8 - n
    for name, info in header.items():
        if not isinstance(info, dict) or sorted(info) != ["data_offsets", "dtype", "shape"]:
            raise bad(f"tensor {name!r} is not {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
            raise bad(f"tensor {name!r} has an unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r} has shape {shape!r}, not a list of sizes")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise bad(f"tensor {name!r} has data_offsets {offsets!r} outside the data")
        if offsets[1] - offsets[0] != math.prod(shape) * _ITEMSIZE[dtype]:
            raise bad(f"tensor {name!r} has {offsets[1] - offsets[0]} bytes for shape {shape}")
        tensors[name] = (dtype, tuple(shape), 8 + n + offsets[0], 8 + n + offsets[1])
    end = 8 + n
    for name, (_, _, start, stop) in sorted(tensors.items(), key=lambda kv: kv[1][2:]):
        if start != end:
            raise bad(f"tensor {name!r} does not start where the previous one ends")
        end = stop
    if end != size:
        raise bad(f"{size - end} bytes after the last tensor")
    return tensors


def _check_tensors(model, header: dict, path) -> dict:
    """``{name: parameter}``, after checking that ``header`` holds exactly these tensors."""
    expected = _tensor_names(model)
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        raise _bad(
            path,
            f"{WEIGHTS_FILE} tensors do not match the config (missing: {missing}, "
            f"unexpected: {extra})",
        )
    for name, p in expected.items():
        dtype, shape = header[name][:2]
        if dtype not in WEIGHT_DTYPES:
            raise _bad(
                path,
                f"tensor {name!r} expected dtype F32 or F64 (rnnkit saves floating-point "
                f"weights only), found {dtype}",
            )
        if shape != tuple(p.shape):
            raise _bad(path, f"tensor {name!r} expected shape {tuple(p.shape)}, found {shape}")
    return expected


def _read_into(f, target: torch.Tensor, start: int, stop: int, path, name: str) -> None:
    """Fill the contiguous CPU tensor ``target`` with the bytes ``[start, stop)`` of ``f``."""
    array = target.numpy()
    view = memoryview(array).cast("B") if array.size else memoryview(b"")
    f.seek(start)
    got = 0
    while got < stop - start:
        k = f.readinto(view[got:])
        if not k:
            raise _bad(path, f"{WEIGHTS_FILE} ended inside tensor {name!r}")
        got += k
    if sys.byteorder == "big":
        array.byteswap(inplace=True)  # safetensors is little-endian


# -- the whole load -----------------------------------------------------------------------------
def load_model(path, compile: bool = True) -> Sequential:
    """Load a model saved by :meth:`Sequential.save`.

    Everything is checked before anything is allocated (see this module's docstring); a
    damaged or foreign directory raises a ``ValueError`` naming the file and the field, and
    nothing is loaded. Safe to call while another process saves to ``path``: the old model or
    the new one is loaded, never a mixture. A ``.keras`` file (Keras 3's archive) or ``.h5``
    file (Keras 2's) is read by :func:`rnnkit.models.keras_format.load_keras`.
    """
    if str(path).endswith((".keras", ".h5", ".hdf5")) and not Path(path).is_dir():
        from .keras_format import load_keras

        return load_keras(path, compile=compile)
    path = Path(path)
    for attempt in range(_RETRIES):
        try:
            return _load(path, compile)
        except _Replaced:
            time.sleep(min(0.001 * 2**attempt, 0.1))  # about 0.4 s in all
    if not os.path.lexists(path):
        raise _bad(path, "no such directory")
    raise _bad(path, "it was replaced by another save at every attempt to read it")


def _load(path: Path, compile: bool) -> Sequential:
    dfd = _open_dir(path)
    try:
        config_file = _open_in(dfd, CONFIG_FILE, path)
        try:
            weights_file = _open_in(dfd, WEIGHTS_FILE, path)
        except BaseException:
            config_file.close()
            raise
    finally:
        os.close(dfd)
    with config_file, weights_file:
        config = _read_config_file(config_file, path)
        optimizer = _check_compile(config.get("compile"), path)
        header = read_header(weights_file, path)
        model = model_from_config(config, path, device="meta")
        if not model.built:
            raise _bad(path, "the layers cannot be built from the config alone (no input shape)")
        _check_tensors(model, header, path)
        model.to_empty(device="cpu")  # the only allocation: at most the weights file's size
        with torch.no_grad():
            for name, p in _tensor_names(model).items():
                dtype, shape, start, stop = header[name]
                if WEIGHT_DTYPES[dtype] == p.dtype:
                    _read_into(weights_file, p.detach(), start, stop, path, name)
                else:
                    staged = torch.empty(shape, dtype=WEIGHT_DTYPES[dtype])
                    _read_into(weights_file, staged, start, stop, path, name)
                    p.copy_(staged)
    compile_config = config.get("compile")
    if compile and compile_config:
        model.compile(
            optimizer=optimizer,
            loss=compile_config["loss"],
            metrics=compile_config["metrics"],
        )
    model.eval()
    return model
