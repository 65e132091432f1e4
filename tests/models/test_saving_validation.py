"""load_model checks everything before it allocates: dtypes, shapes against the config, every
config section with the file and field named (issue #11, finding 2), and the writer / loader
split that removed the saving <-> sequential import cycle (finding 4)."""

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import rnnkit.layers.base as layers_base
from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Sequential, load_model

MODELS = Path(__file__).resolve().parents[2] / "src" / "rnnkit" / "models"


def saved(tmp_path, compiled=True):
    model = Sequential([Embedding(20, 4, input_shape=(None,)), LSTM(3), Dense(1)])
    if compiled:
        model.compile("adam", "binary_crossentropy", ["accuracy"])
    model.save(tmp_path / "m")
    return tmp_path / "m"


def refused(path, what):
    return re.escape(
        f"load_model: `path` expected an rnnkit model directory, received {str(path)!r}: {what}."
    )


# 1. Integer, boolean and half-precision weights are refused (the old code loaded them
#    silently, converting to float32).
@pytest.mark.parametrize(
    "dtype, name", [(torch.int64, "I64"), (torch.bool, "BOOL"), (torch.float16, "F16")]
)
def test_non_float32_weights_are_refused(tmp_path, dtype, name):
    path = saved(tmp_path)
    weights = load_file(str(path / "model.safetensors"))
    save_file({k: v.to(dtype) for k, v in weights.items()}, str(path / "model.safetensors"))
    what = (
        f"tensor 'embedding.E' expected dtype F32 or F64 (rnnkit saves floating-point weights "
        f"only), found {name}"
    )
    with pytest.raises(ValueError, match=refused(path, what)):
        load_model(path)


# 2. float64 weights (a model saved under torch.set_default_dtype(float64)) load, converted.
def test_float64_weights_load(tmp_path):
    path = saved(tmp_path)
    weights = load_file(str(path / "model.safetensors"))
    save_file({k: v.double() for k, v in weights.items()}, str(path / "model.safetensors"))
    loaded = load_model(path)
    assert torch.equal(loaded.layers[1].W_h, weights["lstm.W_h"])


# 3. A config that claims huge sizes is refused before any parameter memory is allocated: the
#    layers are built on the meta device (the old code allocated 2-3 GB first).
@pytest.mark.parametrize(
    "layer, field, value, what",
    [
        (1, "units", 6000, "tensor 'lstm.W_x' expected shape (4, 24000), found (4, 12)"),
        (
            0,
            "input_dim",
            50_000_000,
            "tensor 'embedding.E' expected shape (50000000, 4), found (20, 4)",
        ),
    ],
)
def test_huge_config_is_refused_before_allocating(tmp_path, monkeypatch, layer, field, value, what):
    path = saved(tmp_path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["layers"][layer]["config"][field] = value
    (path / "config.json").write_text(json.dumps(cfg))
    real = layers_base.Layer._param

    def watched(*shape, device=None, dtype=None):
        p = real(*shape, device=device, dtype=dtype)
        assert p.device.type == "meta" or p.numel() < 10_000, f"allocated {shape}"
        return p

    monkeypatch.setattr(layers_base.Layer, "_param", staticmethod(watched))
    with pytest.raises(ValueError, match=refused(path, what)):
        load_model(path)


# 4. A weights header that claims more data than the file holds is refused before reading.
def test_header_larger_than_file_is_refused(tmp_path):
    path = saved(tmp_path)
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[:-4])
    with pytest.raises(ValueError, match=r"model\.safetensors is not a readable safetensors file"):
        load_model(path)


def damage_config(path, edit):
    cfg = json.loads((path / "config.json").read_text())
    edit(cfg)
    (path / "config.json").write_text(json.dumps(cfg))


# 5. Every config section is checked with the file and field named (the old code raised
#    KeyError: 'os.system' for a damaged optimizer, TypeError for others).
@pytest.mark.parametrize(
    "edit, what",
    [
        (
            lambda c: c["compile"]["optimizer"].update(class_name="os.system"),
            "config.json field `compile.optimizer.class_name` expected one of 'Adam', "
            "'RMSprop', 'SGD', received 'os.system'",
        ),
        (
            lambda c: c["compile"]["optimizer"]["config"].update(learning_rate=-1),
            "config.json field `compile.optimizer.config` is not valid (Adam: `learning_rate` "
            "expected a positive number, received -1 (int).)",
        ),
        (
            lambda c: c["compile"]["optimizer"]["config"].update(rm="-rf"),
            "config.json field `compile.optimizer.config` is not valid (Adam.__init__() got "
            "an unexpected keyword argument 'rm')",
        ),
        (
            lambda c: c["compile"].update(loss="hinge"),
            "config.json field `compile.loss` expected one of 'binary_crossentropy', "
            "'categorical_crossentropy', 'sparse_categorical_crossentropy', 'mse', "
            "'mean_squared_error', 'mae', 'mean_absolute_error', received 'hinge'",
        ),
        (
            lambda c: c["compile"].update(metrics="accuracy"),
            "config.json field `compile.metrics` expected a list of metric names, "
            "received 'accuracy'",
        ),
        (
            lambda c: c["compile"].update(metrics=[3]),
            "config.json field `compile.metrics[0]` expected a metric name, received 3 (int)",
        ),
        (
            lambda c: c.update(compile=[]),
            "config.json field `compile` expected null or a JSON object, received list",
        ),
        (
            lambda c: c["model"].update(layers={}),
            "config.json field `model.layers` expected a list of 1 to 1000 layers, received dict",
        ),
        (
            lambda c: c["model"]["layers"][1].update(config=[]),
            "config.json field `model.layers[1].config` expected a JSON object, received list",
        ),
        (
            lambda c: c["model"].update(name=None),
            "config.json field `model.name` expected a string, received None (NoneType)",
        ),
        (
            lambda c: c.update(format_version=True),
            "format_version True is not 1",
        ),
        (
            lambda c: c["model"]["layers"][1]["config"].update(units=-3),
            "config.json does not describe a valid model: field `model.layers[1]` "
            "(ValueError: LSTM: `units` expected a positive integer, received -3 (int).)",
        ),
    ],
)
def test_damaged_config_sections_name_the_field(tmp_path, edit, what):
    path = saved(tmp_path)
    damage_config(path, edit)
    with pytest.raises(ValueError, match=refused(path, what)):
        load_model(path)


def module_imports(module: Path) -> set[str]:
    """rnnkit.models modules that ``module`` imports anywhere (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("rnnkit.models.")
        ):
            found.add(node.module.split(".")[2])
    return found


# 6. The writer imports neither Sequential nor the loader, at module level or in a function
#    (the old saving.py imported sequential inside model_from_config, and sequential imported
#    saving inside save: a cycle).
def test_writer_and_loader_have_no_import_cycle():
    assert module_imports(MODELS / "saving.py") & {"sequential", "loading"} == set()
    assert "loading" not in module_imports(MODELS / "sequential.py")
    assert "sequential" in module_imports(MODELS / "loading.py")
