"""rnnkit: recurrent neural networks written from their equations, with a Keras-style API."""

__version__ = "0.1.0"

# Keras's top-level names, loaded on first use (``import rnnkit`` stays light for the CLI):
# rnnkit.Input, rnnkit.Model, rnnkit.Sequential, rnnkit.layers, rnnkit.models.
_LAZY = {"Input": "rnnkit.layers", "Model": "rnnkit.models", "Sequential": "rnnkit.models"}
# the recurrent layers' precision for the whole process (helper "bf16"; rnnkit.runtime)
_LAZY |= {"set_precision": "rnnkit.runtime", "get_precision": "rnnkit.runtime"}


_SUBMODULES = ("layers", "models", "initializers", "utils", "text", "datasets")
# Keras's other import paths, so `import rnnkit as keras; keras.optimizers.Adam(...)` works
# (helper "keras": the keras-io examples use them without importing them first)
_SUBMODULES += (
    "optimizers",
    "losses",
    "metrics",
    "callbacks",
    "preprocessing",
    "regularizers",
    "constraints",
)


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:  # `import rnnkit as keras; keras.layers.LSTM`
        return importlib.import_module(f"rnnkit.{name}")
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
