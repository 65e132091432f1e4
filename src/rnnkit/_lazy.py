"""Names of a task package imported on first use (PEP 562), so that the CLI, which reads only a
task's config to build its options, starts without importing torch, scikit-learn or statsmodels.

    __getattr__, __dir__ = lazy(__name__, {"Forecaster": ".forecaster", ...})
"""

from __future__ import annotations

import sys
from importlib import import_module


def lazy(package: str, table: dict[str, str]):
    """``(__getattr__, __dir__)`` for the package ``package``: ``table`` maps each lazy name to
    the module (relative to ``package``) that defines it; a name is imported once, then kept."""

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(table[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
