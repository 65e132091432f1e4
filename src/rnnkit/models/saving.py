"""Save a model as a directory: ``config.json`` (architecture, compile settings) and
``model.safetensors`` (weights). No pickle anywhere: loading runs no code from the file.

This module writes; :mod:`rnnkit.models.loading` reads (and is the only one of the two that
imports :class:`~rnnkit.models.Sequential`, so :meth:`Sequential.save` can use this one
without an import cycle).

Tensor names are ``<layer name>.<parameter>``, e.g. ``lstm.W_x`` (D, 4H), ``lstm.W_h`` (H, 4H),
``lstm.b`` (4H,), ``embedding.E`` (V, D), ``dense.W`` (D, units), ``dense.b``;
``bidirectional.forward_layer.W_x`` for wrapped layers. Layouts are documented on each layer.
Weights are floating point (float32, or float64 under ``torch.set_default_dtype``).

Saving never loses data (see :func:`rnnkit._files.write_dir`): the new directory is written
whole beside ``path``, fsync-ed, then swapped in atomically, so a reader always finds a complete
model (the old one or the new one); an existing rnnkit model directory is replaced, while a file,
a symbolic link or a folder of other things is refused unless ``overwrite=True``; files a user
put inside a model directory are kept; leftovers of interrupted saves are removed by the next
save of the same path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save_file

from .. import __version__, _files

FORMAT = "rnnkit.Sequential"
FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE)
MAX_CONFIG_BYTES = 1 << 20
"""The largest ``config.json`` read (1 MiB; a model's is a few KB)."""


def tensor_names(model) -> dict:
    """``{"<layer name>.<parameter>": parameter}`` for every parameter of ``model``."""
    tensors = {}
    for layer in model.layers:
        for pname, p in layer.named_parameters():
            tensors[f"{layer.name}.{pname}"] = p
    return tensors


_tensor_names = tensor_names  # the old private name


def is_model_dir(path) -> bool:
    """True if ``path`` is a folder holding an rnnkit model's ``config.json``."""
    config = Path(path) / CONFIG_FILE
    try:
        if not config.is_file() or config.stat().st_size > MAX_CONFIG_BYTES:
            return False
        data = json.loads(config.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def save_model(model, path, *, overwrite: bool = False) -> None:
    """Save ``model`` to the directory ``path`` (created, or replaced atomically).

    An existing rnnkit model directory at ``path`` is replaced (files a user added to it are
    kept); a file, a symbolic link or any other non-empty folder is refused with a
    ``FileExistsError`` unless ``overwrite=True``.
    """
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
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensor_names(model).items()}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        os.chmod(tmp / WEIGHTS_FILE, _files.file_mode())
        _files.write_json(tmp / CONFIG_FILE, config)

    _files.write_dir(
        path,
        write,
        owner="save_model",
        is_ours=is_model_dir,
        managed=MODEL_FILES,
        overwrite=overwrite,
    )
