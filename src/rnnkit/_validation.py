"""Argument checks shared by every layer, model and pipeline.

Every message has the same three parts: who is complaining and about which argument, what was
expected, and what was received, e.g.::

    LSTM: `units` expected a positive integer, received 0.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any


def describe(value: Any) -> str:
    """A short, unambiguous rendering of a received value for error messages."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (bool, numbers.Number)) or value is None:
        return f"{value!r} ({type(value).__name__})"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(value).__name__}"


def fail(owner: str, name: str, expected: str, value: Any, exc: type[Exception] = ValueError):
    raise exc(f"{owner}: `{name}` expected {expected}, received {describe(value)}.")


def positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(owner, name, "a positive integer", value, TypeError)
    if value <= 0:
        fail(owner, name, "a positive integer", value)
    return int(value)


def rate(owner: str, name: str, value: Any) -> float:
    """A dropout rate: a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(owner, name, "a number in [0, 1)", value, TypeError)
    if not 0.0 <= float(value) < 1.0:
        fail(owner, name, "a number in [0, 1)", value)
    return float(value)


def choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        fail(owner, name, f"one of {listed}", value)
    return value


def boolean(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        fail(owner, name, "True or False", value, TypeError)
    return value
