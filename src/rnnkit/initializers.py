"""Weight initializers with Keras 3's names, arguments and defaults, on torch tensors.

An initializer is called on a shape and returns a new tensor::

    >>> from rnnkit import initializers
    >>> initializers.GlorotUniform(seed=0)((3, 4)).shape
    torch.Size([3, 4])

Layers take them as ``kernel_initializer=`` / ``recurrent_initializer=`` / ``bias_initializer=``
(``embeddings_initializer=`` for the Embedding), given as a name (``'glorot_uniform'``), a class,
an instance, a config dict ``{"class_name": ..., "config": {...}}`` or any callable
``f(shape, dtype=None)``: :func:`get` turns each into an initializer.

Shapes follow Keras: a kernel is ``(inputs, outputs)``, so for a 2-D shape ``fan_in = shape[0]``
and ``fan_out = shape[1]`` (:func:`compute_fans`).

Randomness: ``seed=None`` draws from torch's global generator (``torch.manual_seed`` makes it
reproducible, and each call draws new numbers); an integer seed draws from a generator of its
own, on the CPU, so the same initializer gives the same tensor on every call and every device
(Keras's integer seeds repeat too). Keras's unseeded initializers repeat their numbers across
calls of one instance; rnnkit's draw fresh ones, as ``torch.nn.init`` does.
"""

from __future__ import annotations

import inspect
import math
import numbers

import torch
from torch import Tensor

from . import _validation as V

__all__ = [
    "Chrono",
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "IdentityInitializer",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "OrthogonalInitializer",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "argument",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

# Keras's `VarianceScaling` divides the standard deviation by this constant for its
# 'truncated_normal' distribution: the standard deviation of a standard normal truncated to
# [-2, 2], so that the truncated values have the standard deviation asked for.
TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, as Keras: ``(1, 1)`` for a scalar,
    ``(n, n)`` for ``(n,)``, ``(shape[0], shape[1])`` for a matrix, and for more axes
    ``(shape[-2] * r, shape[-1] * r)`` with ``r`` the product of the leading axes."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive = math.prod(shape[:-2])
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


def _shape(owner: str, shape) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        V.fail(owner, "shape", "a tuple of non-negative integers", shape)
    return tuple(shape)


def _target(dtype, device) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of a new tensor: the defaults (a ``torch.device`` context
    included) where not given."""
    dtype = torch.get_default_dtype() if dtype is None else dtype
    device = torch.get_default_device() if device is None else torch.device(device)
    return dtype, device


def _number(owner: str, name: str, value, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        V.fail(owner, name, "a number", value, TypeError)
    if not math.isfinite(value) or (positive and value <= 0):
        V.fail(owner, name, "a positive number" if positive else "a finite number", value)
    return value


class Initializer:
    """Base class: ``init(shape, dtype=None, device=None)`` returns a new tensor of ``shape``
    (dtype: torch's default; device: the default device). Subclasses implement
    :meth:`__call__` and :meth:`get_config` (the constructor arguments, JSON-serialisable).

    Two initializers are equal when they are of the same class with the same config; an
    initializer also equals the name :func:`get` turns into it (``GlorotUniform() ==
    'glorot_uniform'``).
    """

    def __call__(self, shape, dtype=None, device=None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = get(other)
            except ValueError:
                return False
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# -- constants ----------------------------------------------------------------------------------
class Constant(Initializer):
    """Every element equal to ``value`` (a number)."""

    def __init__(self, value=0.0):
        self.value = _number("Constant", "value", value)

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        dtype, device = _target(dtype, device)
        return torch.full(
            _shape(type(self).__name__, shape), self.value, dtype=dtype, device=device
        )

    def get_config(self) -> dict:
        return {"value": self.value}


class Zeros(Constant):
    """Every element 0."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self) -> dict:
        return {}


class Ones(Constant):
    """Every element 1."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self) -> dict:
        return {}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; a rectangular shape gets ones on
    its main diagonal)."""

    def __init__(self, gain=1.0):
        self.gain = _number("Identity", "gain", gain)

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        shape = _shape("Identity", shape)
        if len(shape) != 2:
            V.fail("Identity", "shape", "a 2-D shape (rows, columns)", str(shape))
        dtype, device = _target(dtype, device)
        return self.gain * torch.eye(*shape, dtype=dtype, device=device)

    def get_config(self) -> dict:
        return {"gain": self.gain}


IdentityInitializer = Identity


# -- random -------------------------------------------------------------------------------------
class RandomInitializer(Initializer):
    """Base of the random initializers: ``seed`` None (torch's global generator) or an
    integer (a CPU generator of its own, the same numbers on every call and device)."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            V.fail(type(self).__name__, "seed", "an integer or None", seed)
        self.seed = seed

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        shape = _shape(type(self).__name__, shape)
        dtype, device = _target(dtype, device)
        if not dtype.is_floating_point:
            V.fail(type(self).__name__, "dtype", "a floating-point dtype", str(dtype), TypeError)
        if device.type == "meta":  # shapes only: nothing to draw
            return torch.empty(shape, dtype=dtype, device=device)
        if self.seed is None:
            return self.draw(torch.empty(shape, dtype=dtype, device=device), None)
        generator = torch.Generator().manual_seed(self.seed)
        out = self.draw(torch.empty(shape, dtype=dtype), generator)
        return out.to(device)

    def draw(self, out: Tensor, generator) -> Tensor:  # pragma: no cover - abstract
        """Fill ``out`` in place from ``generator`` (None: torch's global one); return it."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal with ``mean`` and ``stddev`` (Keras's defaults 0 and 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _number("RandomNormal", "mean", mean)
        self.stddev = _number("RandomNormal", "stddev", stddev, positive=True)
        super().__init__(seed)

    def draw(self, out, generator):
        return out.normal_(self.mean, self.stddev, generator=generator)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(RandomInitializer):
    """Uniform on ``[minval, maxval)`` (Keras's defaults -0.05 and 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _number("RandomUniform", "minval", minval)
        self.maxval = _number("RandomUniform", "maxval", maxval)
        if self.maxval < self.minval:
            V.fail("RandomUniform", "maxval", f"a number >= minval ({self.minval})", maxval)
        super().__init__(seed)

    def draw(self, out, generator):
        return out.uniform_(self.minval, self.maxval, generator=generator)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal_(out: Tensor, mean: float, stddev: float, generator) -> Tensor:
    """A normal with ``mean`` and ``stddev`` truncated to ``mean +- 2 stddev``."""
    return torch.nn.init.trunc_normal_(
        out, mean, stddev, mean - 2 * stddev, mean + 2 * stddev, generator=generator
    )


class TruncatedNormal(RandomInitializer):
    """Normal with ``mean`` and ``stddev``, values more than two ``stddev`` from the mean
    left out (Keras's defaults 0 and 0.05). The values' standard deviation is about
    ``0.88 * stddev``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _number("TruncatedNormal", "mean", mean)
        self.stddev = _number("TruncatedNormal", "stddev", stddev, positive=True)
        super().__init__(seed)

    def draw(self, out, generator):
        return _truncated_normal_(out, self.mean, self.stddev, generator)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Scales to the weight's shape: with ``n`` = fan_in, fan_out or their mean (``mode``;
    :func:`compute_fans`), values of variance ``scale / n``:

    - 'truncated_normal' (Keras's default; 'normal' means it too): a normal of standard
      deviation ``sqrt(scale / n) / 0.8796...`` cut at two of those standard deviations,
      which leaves ``sqrt(scale / n)``;
    - 'untruncated_normal': a normal of standard deviation ``sqrt(scale / n)``;
    - 'uniform': uniform on ``[-limit, limit)`` with ``limit = sqrt(3 * scale / n)``.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        owner = type(self).__name__
        self.scale = _number(owner, "scale", scale, positive=True)
        self.mode = V.choice(owner, "mode", mode, MODES)
        if isinstance(distribution, str):
            distribution = distribution.lower()
            distribution = "truncated_normal" if distribution == "normal" else distribution
        self.distribution = V.choice(owner, "distribution", distribution, DISTRIBUTIONS)
        super().__init__(seed)

    def _variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        return self.scale / max(1.0, n[self.mode])

    def draw(self, out, generator):
        variance = self._variance(out.shape)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / TRUNCATED_STDDEV
            return _truncated_normal_(out, 0.0, stddev, generator)
        if self.distribution == "untruncated_normal":
            return out.normal_(0.0, math.sqrt(variance), generator=generator)
        limit = math.sqrt(3.0 * variance)
        return out.uniform_(-limit, limit, generator=generator)

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed arguments; only ``seed`` is its own."""

    preset: tuple[float, str, str]

    def __init__(self, seed=None):
        super().__init__(*self.preset, seed=seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform on ``[-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))`` (Xavier)."""

    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal leaving standard deviation ``sqrt(2 / (fan_in + fan_out))``."""

    preset = (1.0, "fan_avg", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform on ``[-limit, limit)``, ``limit = sqrt(3 / fan_in)``."""

    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal leaving standard deviation ``sqrt(1 / fan_in)``."""

    preset = (1.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """Uniform on ``[-limit, limit)``, ``limit = sqrt(6 / fan_in)``."""

    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal leaving standard deviation ``sqrt(2 / fan_in)``."""

    preset = (2.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """``gain`` times a (semi-)orthogonal matrix: the Q of the QR decomposition of a standard
    normal matrix, signs fixed by R's diagonal. The shape is seen as a matrix of
    ``prod(shape[:-1])`` rows and ``shape[-1]`` columns (as Keras); with fewer rows than
    columns the rows are orthonormal (``W @ W.T = gain**2 I``), else the columns are. So an
    LSTM's recurrent kernel ``(H, 4H)`` is one matrix with orthonormal rows, as in Keras.

    For 2-D shapes the numbers drawn are those of ``torch.nn.init.orthogonal_``.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _number("Orthogonal", "gain", gain)
        super().__init__(seed)

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        shape = _shape("Orthogonal", shape)
        if len(shape) < 2:
            V.fail("Orthogonal", "shape", "a shape of at least 2 axes", str(shape))
        return super().__call__(shape, dtype, device)

    def draw(self, out, generator):
        if out.numel() == 0:
            return out
        rows, cols = math.prod(out.shape[:-1]), out.shape[-1]
        a = out.new_empty(rows, cols).normal_(0.0, 1.0, generator=generator)
        if rows < cols:
            a = a.t()
        q, r = torch.linalg.qr(a)
        q = q * torch.diag(r, 0).sign()  # makes Q uniform over the orthogonal matrices
        if rows < cols:
            q = q.t()
        q = q.reshape(out.shape)
        return out.copy_(q if self.gain == 1.0 else self.gain * q)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Chrono(RandomInitializer):
    """The chrono initialisation of a gated cell's bias (Tallec & Ollivier 2018, "Can recurrent
    neural networks warp time?"): each unit's keep gate starts open by ``log(u)`` with ``u``
    drawn uniformly from ``[1, max_length - 1]``, so the units start with memories spread over
    time scales of 1 to ``max_length`` steps instead of all forgetting at the same rate.

    * ``cell='lstm'``, shape ``(4H,)`` (gates ``[i | f | g | o]``): ``b_f = log(u)``,
      ``b_i = -log(u)``, ``b_g = b_o = 0``. Give it with ``unit_forget_bias=False`` (Keras's
      forget bias of 1 would overwrite the forget slice).
    * ``cell='gru'``, shape ``(3H,)`` or ``(2, 3H)`` (``reset_after``: rows ``[b_x, b_h]``),
      gates ``[z | r | n]``: ``b_z = log(u)`` in the input bias (``h = z * h_prev + (1 - z) *
      n``: ``z`` near 1 keeps the state), the rest 0.

    >>> from rnnkit.layers import LSTM
    >>> LSTM(64, unit_forget_bias=False, bias_initializer=Chrono(200))  # doctest: +SKIP
    """

    def __init__(self, max_length=100, cell="lstm", seed=None):
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
            V.fail("Chrono", "max_length", "an integer >= 3", max_length)
        V.choice("Chrono", "cell", cell, ("lstm", "gru"))
        self.max_length = max_length
        self.cell = cell
        super().__init__(seed)

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        shape = _shape("Chrono", shape)
        if self.cell == "lstm":
            fits = len(shape) == 1 and shape[0] % 4 == 0
            expected = "an LSTM bias shape (4 * units,)"
        else:
            fits = (len(shape) == 1 or (len(shape) == 2 and shape[0] == 2)) and shape[-1] % 3 == 0
            expected = "a GRU bias shape (3 * units,) or (2, 3 * units)"
        if not fits:
            V.fail("Chrono", "shape", expected, str(shape))
        return super().__call__(shape, dtype, device)

    def draw(self, out, generator):
        H = out.shape[-1] // (4 if self.cell == "lstm" else 3)
        u = out.new_empty(H).uniform_(1.0, self.max_length - 1, generator=generator)  # (H,)
        keep = torch.log(u)  # (H,) the keep gate's bias: a time scale of about u steps
        out.zero_()
        row = out if out.dim() == 1 else out[0]  # the GRU's input bias b_x when (2, 3H)
        if self.cell == "lstm":
            row[0:H] = -keep  # b_i
            row[H : 2 * H] = keep  # b_f
        else:
            row[0:H] = keep  # b_z
        return out

    def get_config(self) -> dict:
        return {"max_length": self.max_length, "cell": self.cell, "seed": self.seed}


OrthogonalInitializer = Orthogonal


# -- look-up ------------------------------------------------------------------------------------
_CLASSES = (
    Chrono,
    Constant,
    Zeros,
    Ones,
    Identity,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    GlorotUniform,
    GlorotNormal,
    LecunUniform,
    LecunNormal,
    HeUniform,
    HeNormal,
    Orthogonal,
)


def _snake(name: str) -> str:
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out += "_"
        out += ch.lower()
    return out


NAMES: dict[str, type[Initializer]] = {cls.__name__: cls for cls in _CLASSES}
NAMES.update({_snake(cls.__name__): cls for cls in _CLASSES})
NAMES.update(  # Keras's aliases
    {
        "uniform": RandomUniform,
        "normal": RandomNormal,
        "one": Ones,
        "zero": Zeros,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
    }
)


def serialize(initializer) -> dict:
    """``{"class_name": ..., "config": {...}}`` of an :class:`Initializer` (what :func:`get`
    and layer configs read back)."""
    if not isinstance(initializer, Initializer):
        V.fail("serialize", "initializer", "an rnnkit.initializers.Initializer", initializer)
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config: dict) -> Initializer:
    """The initializer a :func:`serialize` dict (or Keras's, with ``module`` and
    ``registered_name``) describes."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        V.fail("initializers.get", "identifier", '{"class_name": ..., "config": {...}}', config)
    name = config["class_name"]
    if name not in NAMES:
        V.fail(
            "initializers.get",
            "identifier",
            "an initializer name (see rnnkit.initializers.NAMES)",
            name,
        )
    args = config.get("config") or {}
    if not isinstance(args, dict):
        V.fail("initializers.get", "identifier['config']", "a dict of arguments", args)
    return NAMES[name].from_config(args)


def _get(owner: str, name: str, identifier):
    if isinstance(identifier, str):
        if identifier not in NAMES:
            V.fail(owner, name, "an initializer name (see rnnkit.initializers.NAMES)", identifier)
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier) and not inspect.isclass(identifier):
        return identifier
    return V.fail(
        owner, name, "an initializer name, config dict, Initializer or callable", identifier
    )


def get(identifier):
    """An initializer from ``identifier``: None (returned as is), a name in :data:`NAMES`
    (``'glorot_uniform'``, ``'GlorotUniform'``, ``'uniform'``, ...), a config dict, an
    :class:`Initializer` class (instantiated with its defaults), an instance or any other
    callable (returned as is; it is called as ``f(shape, dtype=...)``)."""
    if identifier is None:
        return None
    return _get("initializers.get", "identifier", identifier)


def argument(owner: str, name: str, identifier):
    """:func:`get` for a layer's argument ``name`` (None refused), errors naming both."""
    if identifier is None:
        V.fail(owner, name, "an initializer name, config dict, Initializer or callable", None)
    return _get(owner, name, identifier)


def config_of(initializer):
    """What a layer's config holds for ``initializer``: the :func:`serialize` dict of an
    :class:`Initializer`; any other callable as it is (a config with one cannot be saved as
    JSON)."""
    return serialize(initializer) if isinstance(initializer, Initializer) else initializer


def values(initializer, shape, dtype, device, owner: str, name: str) -> Tensor:
    """``initializer(shape)`` as a tensor of ``dtype`` on ``device``, its shape checked
    (a plain callable is called as Keras calls one: ``f(shape, dtype=dtype)``)."""
    shape = tuple(shape)
    if isinstance(initializer, Initializer):
        out = initializer(shape, dtype=dtype, device=device)
    else:
        out = torch.as_tensor(initializer(shape, dtype=dtype), dtype=dtype, device=device)
    if tuple(out.shape) != shape:
        V.fail(owner, name, f"an initializer returning a tensor of shape {shape}", out)
    return out


def fill_(param: Tensor, initializer, owner: str, name: str) -> Tensor:
    """Fill ``param`` in place with ``initializer``'s values (nothing to do on the meta
    device); returns it."""
    if not param.is_meta:
        with torch.no_grad():
            param.copy_(values(initializer, param.shape, param.dtype, param.device, owner, name))
    return param
