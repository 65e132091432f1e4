"""Weight and activity penalties with Keras 3's names, arguments and defaults, on torch tensors.

A regularizer is called on a tensor and returns a scalar tensor, the penalty::

    >>> import torch
    >>> from rnnkit import regularizers
    >>> regularizers.L2(2.0)(torch.ones(5, 5))
    tensor(50.)

Layers take them as ``kernel_regularizer=`` / ``recurrent_regularizer=`` /
``bias_regularizer=`` (``embeddings_regularizer=`` for the Embedding, ``gamma_regularizer=`` /
``beta_regularizer=`` for the normalization layers) on the weight in Keras's layout, and
``activity_regularizer=`` on the layer's output (divided by the batch size, as Keras). Given as
a name (``'l1'``, ``'l2'``, ``'l1l2'``, ``'orthogonal_regularizer'``), a class, an instance, a
config dict ``{"class_name": ..., "config": {...}}`` or any callable ``f(weight) -> scalar``:
:func:`get` turns each into a regularizer.

The penalties of a model's layers (:func:`layer_losses`, the layer's ``losses``, Keras's
``model.losses``) are added to the loss that ``fit`` minimises and that ``fit`` / ``evaluate``
report (:func:`add_penalties`), as Keras does.

Names as Keras 3: ``'l1'`` is ``L1(0.01)``, ``'l2'`` is ``L2(0.01)``, ``'l1l2'`` is
``L1L2()`` (both factors 0, as Keras 3). ``'l1_l2'``, which Keras 3's ``get`` refuses although
its docstring shows it, is ``L1L2(l1=0.01, l2=0.01)`` as that docstring (and Keras 2) say.
"""

from __future__ import annotations

import inspect
import math
import numbers

import torch
from torch import Tensor

from . import _validation as V

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "NAMES",
    "OrthogonalRegularizer",
    "Regularizer",
    "add_penalties",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "layer_losses",
    "orthogonal_regularizer",
    "serialize",
    "validate_float_arg",
]


def validate_float_arg(value, name: str) -> float:
    """``value`` as a float if it is a finite, non-negative number, else a ``ValueError``
    (Keras's check of a penalty factor)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        V.fail("regularizers", name, "a non-negative float", value)
    return float(value)


class Regularizer:
    """Base class: ``reg(x)`` returns the penalty of tensor ``x`` (a scalar tensor, 0 here).

    Subclasses implement :meth:`__call__` and :meth:`get_config` (the constructor arguments).
    Two regularizers are equal when they are of the same class with the same config.
    """

    def __call__(self, x: Tensor) -> Tensor:
        return torch.zeros((), dtype=x.dtype, device=x.device)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Regularizer):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)`` (Keras's defaults: both 0; None means 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, "l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, "l2")

    def __call__(self, x: Tensor) -> Tensor:
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)`` (Keras's default ``l1=0.01``; None means the default)."""

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, "l1")

    def __call__(self, x: Tensor) -> Tensor:
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)`` (Keras's default ``l2=0.01``; None means the default).

    Note: Keras's L2 has no factor 1/2, so ``L2(l)`` adds ``2 * l * x`` to the gradient, the
    same as ``torch.optim.SGD(weight_decay=2 * l)``.
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2")

    def __call__(self, x: Tensor) -> Tensor:
        return self.l2 * x.square().sum()

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode='rows'``) or columns (``'columns'``) of a 2-D weight towards
    being orthogonal: with ``u_i`` the unit-length rows, ``n`` of them,

        penalty = factor * 0.5 * sum_{i != j} |u_i . u_j| / (n (n - 1) / 2)

    i.e. ``factor`` times the mean absolute cosine between distinct rows (Keras's default
    ``factor=0.01``).
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, "factor")
        self.mode = V.choice("OrthogonalRegularizer", "mode", mode, ("rows", "columns"))

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            V.fail("OrthogonalRegularizer", "inputs", "a tensor of rank 2", x)
        rows = x if self.mode == "rows" else x.t()  # (n, d): the vectors to decorrelate
        unit = torch.nn.functional.normalize(rows, dim=1, eps=1e-12)  # (n, d)
        cosines = unit @ unit.t()  # (n, n)
        n = rows.shape[0]
        off_diagonal = cosines * (1.0 - torch.eye(n, dtype=x.dtype, device=x.device))
        pairs = n * (n - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal.abs().sum() / pairs

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# Keras's function-style aliases
l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer


def l1_l2(l1=0.01, l2=0.01) -> L1L2:
    """``L1L2(l1, l2)`` with both defaults 0.01 (Keras 2's ``l1_l2``; the string ``'l1_l2'``)."""
    return L1L2(l1=l1, l2=l2)


_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)


def _snake(name: str) -> str:
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out += "_"
        out += ch.lower()
    return out


NAMES: dict[str, object] = {cls.__name__: cls for cls in _CLASSES}
NAMES.update({_snake(cls.__name__): cls for cls in _CLASSES})  # l1, l2, l1l2, ...
NAMES["l1_l2"] = l1_l2


def serialize(regularizer) -> dict | None:
    """``{"class_name": ..., "config": {...}}`` of a :class:`Regularizer` (None for None)."""
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        V.fail("regularizers.serialize", "regularizer", "an rnnkit Regularizer", regularizer)
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config: dict) -> Regularizer:
    """The regularizer a :func:`serialize` dict (or Keras's, with ``module``) describes."""
    owner = "regularizers.get"
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        V.fail(owner, "identifier", '{"class_name": ..., "config": {...}}', config)
    name = config["class_name"]
    if name not in NAMES or not inspect.isclass(NAMES[name]):
        V.fail(owner, "identifier", "a regularizer name (see rnnkit.regularizers.NAMES)", name)
    args = config.get("config") or {}
    if not isinstance(args, dict):
        V.fail(owner, "identifier['config']", "a dict of arguments", args)
    return NAMES[name].from_config(args)


def argument(owner: str, name: str, identifier):
    """A regularizer from ``identifier`` for a layer's argument ``name``: None (none), a name
    in :data:`NAMES`, a config dict, a :class:`Regularizer` class (its defaults) or instance,
    or any other callable ``f(weight) -> scalar`` (kept as it is)."""
    if identifier is None:
        return None
    expected = "a regularizer name, config dict, Regularizer or callable"
    if isinstance(identifier, str):
        if identifier not in NAMES:
            V.fail(owner, name, "a regularizer name (see rnnkit.regularizers.NAMES)", identifier)
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        if issubclass(identifier, Regularizer):
            return identifier()
        V.fail(owner, name, expected, identifier)
    if callable(identifier):
        return identifier
    return V.fail(owner, name, expected, identifier)


def get(identifier):
    """A regularizer from ``identifier`` (see :func:`argument`); None gives None, as Keras."""
    return argument("regularizers.get", "identifier", identifier)


def config_of(regularizer):
    """What a layer's config holds for ``regularizer``: None, the :func:`serialize` dict of a
    :class:`Regularizer`, any other callable as it is (such a config is not JSON)."""
    return serialize(regularizer) if isinstance(regularizer, Regularizer) else regularizer


# -- penalties of a model ---------------------------------------------------------------------
def layer_losses(module) -> list[Tensor]:
    """The penalties of every rnnkit layer inside ``module`` (a layer or a model, itself
    included), as Keras's ``model.losses``: for each layer, the activity penalties of its last
    call, then its weight penalties on the current weights (the layer's ``penalties()``)."""
    out = []
    for m in module.modules():
        penalties = getattr(m, "penalties", None)
        if callable(penalties):
            out += penalties()
    return out


def add_penalties(model, loss: Tensor) -> Tensor:
    """``loss`` plus every penalty of ``model``'s layers (:func:`layer_losses`); ``loss``
    itself, untouched, when no layer has a regularizer."""
    penalties = layer_losses(model)
    if not penalties:
        return loss
    return loss + torch.stack([p.to(loss.dtype).reshape(()) for p in penalties]).sum()
