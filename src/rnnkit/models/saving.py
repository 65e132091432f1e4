"""Save and load models as a directory: ``config.json`` (architecture, compile settings) and
``model.safetensors`` (weights). No pickle anywhere: loading runs no code from the file.

Tensor names are ``<layer name>.<parameter>``, e.g. ``lstm.W_x`` (D, 4H), ``lstm.W_h`` (H, 4H),
``lstm.b`` (4H,), ``embedding.E`` (V, D), ``dense.W`` (D, units), ``dense.b``;
``bidirectional.forward_layer.W_x`` for wrapped layers. Layouts are documented on each layer.

Writes are atomic: everything goes to a temporary directory beside ``path`` which is renamed
into place at the end, so an interrupted save never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..layers import get as get_layer_class
from . import optimizers as optimizers_module

FORMAT = "rnnkit.Sequential"
FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


def _tensor_names(model) -> dict[str, torch.Tensor]:
    tensors = {}
    for layer in model.layers:
        for pname, p in layer.named_parameters():
            tensors[f"{layer.name}.{pname}"] = p
    return tensors


def write_atomic_dir(path, write) -> None:
    """Call ``write(tmp_dir)`` then move ``tmp_dir`` to ``path`` (replacing an old one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        write(tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / "model")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_model(model, path) -> None:
    """Save ``model`` to the directory ``path`` (created or replaced atomically)."""
    if not model.built:
        raise ValueError(
            "save_model: `model` expected a built model (call it, fit it or give "
            "the first layer an input_shape), received an unbuilt one."
        )
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "model": model.get_config(),
        "compile": model.compile_config(),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in _tensor_names(model).items()}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    write_atomic_dir(path, write)


def _bad(path, what: str) -> ValueError:
    return ValueError(
        f"load_model: `path` expected an rnnkit model directory, received {str(path)!r}: {what}."
    )


def read_config(path) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise _bad(path, "no such directory")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise _bad(path, f"{name} is missing")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _bad(path, f"{CONFIG_FILE} is not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _bad(path, f'{CONFIG_FILE} has no "format": "{FORMAT}"')
    if config.get("format_version") != FORMAT_VERSION:
        raise _bad(path, f"format_version {config.get('format_version')!r} is not {FORMAT_VERSION}")
    return config


def model_from_config(config: dict, path="<config>"):
    from .sequential import Sequential

    try:
        spec = config["model"]
        model = Sequential(name=spec["name"])
        if spec.get("input_shape") is not None:
            model.input_shape_hint = tuple(spec["input_shape"])
        for entry in spec["layers"]:
            cfg = dict(entry["config"])
            if "input_shape" in cfg:
                cfg["input_shape"] = tuple(cfg["input_shape"])
            model.add(get_layer_class(entry["class_name"]).from_config(cfg))
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(
            path, f"{CONFIG_FILE} does not describe a valid model ({type(e).__name__}: {e})"
        ) from None
    return model


def load_model(path, compile: bool = True):
    """Load a model saved by :meth:`Sequential.save`.

    Everything is checked before any weight is used: the config must describe valid layers, and
    the weights file must hold exactly the expected tensors with the expected shapes; otherwise
    a ``ValueError`` says what differs, and nothing is loaded.
    """
    config = read_config(path)
    model = model_from_config(config, path)
    if not model.built:
        raise _bad(path, "the layers cannot be built from the config alone (no input shape)")
    try:
        weights = load_file(str(Path(path) / WEIGHTS_FILE))
    except (SafetensorError, OSError) as e:
        raise _bad(path, f"{WEIGHTS_FILE} is not a readable safetensors file ({e})") from None
    expected = _tensor_names(model)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise _bad(
            path,
            f"{WEIGHTS_FILE} tensors do not match the config (missing: {missing}, "
            f"unexpected: {extra})",
        )
    for name, p in expected.items():
        if tuple(weights[name].shape) != tuple(p.shape):
            raise _bad(
                path,
                f"tensor {name!r} expected shape {tuple(p.shape)}, found "
                f"{tuple(weights[name].shape)}",
            )
    with torch.no_grad():
        for name, p in expected.items():
            p.copy_(weights[name])
    compile_config = config.get("compile")
    if compile and compile_config:
        model.compile(
            optimizer=optimizers_module.from_config(compile_config["optimizer"]),
            loss=compile_config["loss"],
            metrics=compile_config["metrics"],
        )
    model.eval()
    return model
