"""Weight constraints with Keras 3's names, arguments and defaults, on torch tensors.

A constraint maps a weight to its projection onto an allowed set::

    >>> import torch
    >>> from rnnkit import constraints
    >>> constraints.NonNeg()(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])

Layers take them as ``kernel_constraint=`` / ``recurrent_constraint=`` / ``bias_constraint=``
(``embeddings_constraint=`` for the Embedding, ``gamma_constraint=`` / ``beta_constraint=``
for the normalization layers), given as a name (``'max_norm'``, ``'min_max_norm'``,
``'non_neg'``, ``'unit_norm'``), a class, an instance, a config dict or any callable
``f(weight) -> weight``. As Keras, ``fit`` (and ``train_on_batch``) applies them to the weights
in Keras's layout after each optimizer step (:func:`apply`).

The norms are taken over ``axis`` (default 0: for a Dense kernel ``(D, units)``, the vector of
weights coming into each unit; for a Conv1D kernel ``(K, C, filters)`` use ``axis=[0, 1]``);
``w / (1e-7 + norm)`` avoids a division by zero, as Keras.
"""

from __future__ import annotations

import inspect
import numbers

import torch
from torch import Tensor

from . import _validation as V

__all__ = [
    "NAMES",
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "apply",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

EPSILON = 1e-7  # Keras's backend.epsilon(), added to a norm before dividing by it


def _axis(owner: str, axis):
    ok_int = isinstance(axis, numbers.Integral) and not isinstance(axis, bool)
    ok_list = isinstance(axis, (list, tuple)) and all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis
    )
    if not (ok_int or ok_list):
        V.fail(owner, "axis", "an integer or a list of integers", axis, TypeError)
    return int(axis) if ok_int else list(int(a) for a in axis)


def _number(owner: str, name: str, value) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        V.fail(owner, name, "a number", value, TypeError)
    return value


def _as_tensor(w) -> Tensor:
    if isinstance(w, Tensor):
        return w
    t = torch.as_tensor(w)
    return t if t.dtype.is_floating_point else t.to(torch.get_default_dtype())


class Constraint:
    """Base class: ``c(w)`` returns the projected weight (``w`` itself here). Subclasses
    implement :meth:`__call__` and :meth:`get_config`."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Constraint):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _norms(w: Tensor, axis) -> Tensor:
    return w.square().sum(dim=axis, keepdim=True).sqrt()  # 1 along `axis`


class MaxNorm(Constraint):
    """Rescales each weight vector (over ``axis``) whose L2 norm exceeds ``max_value`` to that
    norm: ``w * clip(n, 0, max_value) / (1e-7 + n)`` (Keras's defaults ``max_value=2``,
    ``axis=0``)."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def __call__(self, w):
        w = _as_tensor(w)
        norms = _norms(w, self.axis)
        desired = norms.clamp(0, self.max_value)
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets the negative weights to 0: ``max(w, 0)``."""

    def __call__(self, w):
        return _as_tensor(w).clamp(min=0)


class UnitNorm(Constraint):
    """Rescales each weight vector (over ``axis``, default 0) to unit L2 norm:
    ``w / (1e-7 + n)``."""

    def __init__(self, axis=0):
        self.axis = _axis("UnitNorm", axis)

    def __call__(self, w):
        w = _as_tensor(w)
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each weight vector's norm ``n`` (over ``axis``) into ``[min_value, max_value]``
    at ``rate``: the new norm is ``rate * clip(n, min_value, max_value) + (1 - rate) * n``
    (Keras's defaults 0, 1, rate 1 = strict, axis 0)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number("MinMaxNorm", "min_value", min_value)
        self.max_value = _number("MinMaxNorm", "max_value", max_value)
        self.rate = _number("MinMaxNorm", "rate", rate)
        self.axis = _axis("MinMaxNorm", axis)

    def __call__(self, w):
        w = _as_tensor(w)
        norms = _norms(w, self.axis)
        clipped = norms.clamp(self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras's function-style aliases
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
NAMES: dict[str, type[Constraint]] = {cls.__name__: cls for cls in _CLASSES}
NAMES.update(
    {
        "constraint": Constraint,
        "max_norm": MaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
        "min_max_norm": MinMaxNorm,
    }
)


def serialize(constraint) -> dict | None:
    """``{"class_name": ..., "config": {...}}`` of a :class:`Constraint` (None for None)."""
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        V.fail("constraints.serialize", "constraint", "an rnnkit Constraint", constraint)
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def deserialize(config: dict) -> Constraint:
    """The constraint a :func:`serialize` dict (or Keras's, with ``module``) describes."""
    owner = "constraints.get"
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        V.fail(owner, "identifier", '{"class_name": ..., "config": {...}}', config)
    name = config["class_name"]
    if name not in NAMES:
        V.fail(owner, "identifier", "a constraint name (see rnnkit.constraints.NAMES)", name)
    args = config.get("config") or {}
    if not isinstance(args, dict):
        V.fail(owner, "identifier['config']", "a dict of arguments", args)
    return NAMES[name].from_config(args)


def argument(owner: str, name: str, identifier):
    """A constraint from ``identifier`` for a layer's argument ``name``: None (none), a name
    in :data:`NAMES`, a config dict, a :class:`Constraint` class (its defaults) or instance,
    or any other callable ``f(weight) -> weight`` (kept as it is)."""
    if identifier is None:
        return None
    expected = "a constraint name, config dict, Constraint or callable"
    if isinstance(identifier, str):
        if identifier not in NAMES:
            V.fail(owner, name, "a constraint name (see rnnkit.constraints.NAMES)", identifier)
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        if issubclass(identifier, Constraint):
            return identifier()
        V.fail(owner, name, expected, identifier)
    if callable(identifier):
        return identifier
    return V.fail(owner, name, expected, identifier)


def get(identifier):
    """A constraint from ``identifier`` (see :func:`argument`); None gives None, as Keras."""
    return argument("constraints.get", "identifier", identifier)


def config_of(constraint):
    """What a layer's config holds for ``constraint``: None, the :func:`serialize` dict of a
    :class:`Constraint`, any other callable as it is (such a config is not JSON)."""
    return serialize(constraint) if isinstance(constraint, Constraint) else constraint


def apply(model) -> None:
    """Project every constrained weight of the rnnkit layers inside ``model`` (itself
    included), as Keras does after each optimizer step; nothing to do without constraints."""
    for m in model.modules():
        project = getattr(m, "apply_constraints", None)
        if callable(project):
            project()
