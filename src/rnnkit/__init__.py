"""rnnkit: recurrent neural networks written from their equations, with a Keras-style API."""

__version__ = "0.1.0"

# Keras's top-level names, loaded on first use (``import rnnkit`` stays light for the CLI):
# rnnkit.Input, rnnkit.Model, rnnkit.Sequential, rnnkit.layers, rnnkit.models.
_LAZY = {"Input": "rnnkit.layers", "Model": "rnnkit.models", "Sequential": "rnnkit.models"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
