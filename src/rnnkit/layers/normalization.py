"""BatchNormalization and LayerNormalization, as Keras 3 has them.

Both normalise ``x`` to zero mean and unit variance, then scale and shift it:
``y = (x - mean) / sqrt(var + epsilon) * gamma + beta``. They differ in what the statistics
are taken over: BatchNormalization over every axis but ``axis`` (the batch, and the time
steps of a sequence), per feature; LayerNormalization over ``axis`` (the features), per
sample and step. Variances are the biased ones (divided by the count, not count - 1), as Keras.
"""

from __future__ import annotations

import numbers
import warnings

import torch
from torch import Tensor
from torch.nn import functional as F

from .. import _validation as V
from .. import initializers as I
from ._options import WeightOptions
from .base import Layer, check_rank

EPSILON = 1e-7  # Keras's backend.epsilon(): guards the masked mean's division


def _number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        V.fail(owner, name, "a number", value, TypeError)
    return float(value)


def _normalize(x: Tensor, mean: Tensor, variance: Tensor, gamma, beta, epsilon: float):
    """``(x - mean) * (gamma / sqrt(variance + epsilon)) + beta`` (all broadcast to ``x``)."""
    inv = torch.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    y = (x - mean) * inv
    return y + beta if beta is not None else y


class BatchNormalization(WeightOptions, Layer):
    """Normalises each feature (the ``axis`` channel) with statistics over the batch.

    Training (the module in training mode, as in ``fit``, or ``training=True``): the mean and
    variance over every axis but ``axis`` of this batch, and the moving statistics move towards
    them (Keras's momentum: ``moving = moving * momentum + batch * (1 - momentum)``).
    Inference (eval mode, as in ``predict`` / ``evaluate``, or ``training=False``): the moving
    mean and variance.

    Masks, as Keras 3: under a mask (N, T) of a sequence (N, T, C) the batch statistics are
    taken over the real steps only (``sum(m x) / (sum(m) + 1e-7)``); every step is normalised
    and the mask is passed on.

    Args:
        axis: the feature axis (default -1).
        momentum, epsilon: Keras's 0.99 and 1e-3.
        center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: defaults zeros, ones, zeros, ones.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: as Keras.
        renorm, renorm_clipping, renorm_momentum: batch renormalisation (Ioffe 2017) as
            Keras: in training the normalised batch is corrected by ``r = std_batch /
            renorm_std`` and ``d = (mean_batch - renorm_mean) / renorm_std`` (no gradient,
            clipped by ``{'rmax', 'rmin', 'dmax'}``), and moving standard deviations are kept.
        synchronized: False only (there is no distributed training here; as Keras on torch).

    Weights, Keras's order: ``gamma``, ``beta`` (trainable), ``moving_mean``,
    ``moving_variance`` (``requires_grad=False``; with renorm also ``moving_stddev``,
    ``renorm_mean``, ``renorm_stddev``), each of shape (C,).

    >>> import torch
    >>> from rnnkit.layers import BatchNormalization
    >>> bn = BatchNormalization(momentum=0.0)
    >>> y = bn(torch.tensor([[1.0], [3.0]]), training=True)
    >>> bn.moving_mean, bn.moving_variance
    (Parameter containing:
    tensor([2.]), Parameter containing:
    tensor([1.]))
    """

    supports_masking = True
    KERAS_WEIGHTS = (("gamma", "gamma"), ("beta", "beta"))

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm: bool = False,
        renorm_clipping: dict | None = None,
        renorm_momentum: float = 0.99,
        synchronized: bool = False,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = "BatchNormalization"
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            V.fail(owner, "axis", "an integer", axis, TypeError)
        self.axis = int(axis)
        self.momentum = _number(owner, "momentum", momentum)
        self.epsilon = _number(owner, "epsilon", epsilon)
        self.center = V.boolean(owner, "center", center)
        self.scale = V.boolean(owner, "scale", scale)
        for key, value in (
            ("beta_initializer", beta_initializer),
            ("gamma_initializer", gamma_initializer),
            ("moving_mean_initializer", moving_mean_initializer),
            ("moving_variance_initializer", moving_variance_initializer),
        ):
            setattr(self, key, I.argument(owner, key, value))
        self._init_options(
            owner,
            None,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        self.renorm = V.boolean(owner, "renorm", renorm)
        self.renorm_clipping = self._clipping(renorm_clipping) if renorm else renorm_clipping
        self.renorm_momentum = _number(owner, "renorm_momentum", renorm_momentum)
        if synchronized is not False:
            V.fail(owner, "synchronized", "False (no distributed training in rnnkit)", synchronized)
        self.synchronized = False
        if input_shape is not None and input_shape[self.axis] is not None:
            self.build((None, *input_shape))

    @staticmethod
    def _clipping(clipping) -> dict:
        owner = "BatchNormalization"
        clipping = {} if clipping is None else clipping
        if not isinstance(clipping, dict) or set(clipping) - {"rmax", "rmin", "dmax"}:
            V.fail(
                owner, "renorm_clipping", "a dict with keys among 'rmax', 'rmin', 'dmax'", clipping
            )
        rmax, rmin, dmax = (clipping.get(k) for k in ("rmax", "rmin", "dmax"))
        if rmax is not None and rmin is not None and rmax < rmin:
            V.fail(owner, "renorm_clipping['rmax']", f"a number >= rmin ({rmin})", rmax)
        if dmax is not None and dmax < 0:
            V.fail(owner, "renorm_clipping['dmax']", "a non-negative number", dmax)
        return dict(clipping)

    # -- building ---------------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        owner = "BatchNormalization"
        if not -len(input_shape) <= self.axis < len(input_shape):
            V.fail(owner, "axis", f"an axis of inputs of rank {len(input_shape)}", self.axis)
        C = input_shape[self.axis]
        if C is None:
            raise ValueError(
                f"BatchNormalization: the axis {self.axis} of the input must be known to "
                f"build, received input shape {tuple(input_shape)}."
            )
        self.rank = len(input_shape)

        def weight(initializer, key, trainable=True):
            p = self._param(C)
            I.fill_(p, initializer, owner, key)
            p.requires_grad_(trainable)
            return p

        self.gamma = weight(self.gamma_initializer, "gamma_initializer") if self.scale else None
        self.beta = weight(self.beta_initializer, "beta_initializer") if self.center else None
        self.moving_mean = weight(self.moving_mean_initializer, "moving_mean_initializer", False)
        self.moving_variance = weight(
            self.moving_variance_initializer, "moving_variance_initializer", False
        )
        if self.renorm:
            with torch.no_grad():
                self.moving_stddev = weight(torch.ones, "", False)
                self.moving_stddev.copy_(self.moving_variance.sqrt())
                self.renorm_mean = weight(torch.zeros, "", False)
                self.renorm_mean.copy_(self.moving_mean)
                self.renorm_stddev = weight(torch.ones, "", False)
                self.renorm_stddev.copy_(self.moving_variance.sqrt())
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        for key in (
            "beta_initializer",
            "gamma_initializer",
            "moving_mean_initializer",
            "moving_variance_initializer",
        ):
            config[key] = I.config_of(getattr(self, key))
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if not -len(input_shape) <= self.axis < len(input_shape):
            V.fail(
                "BatchNormalization",
                "axis",
                f"an axis of inputs of rank {len(input_shape)}",
                self.axis,
            )
        return tuple(input_shape)

    # -- the call ---------------------------------------------------------------------------------
    def _shape(self, x: Tensor) -> list[int]:
        """The shape that broadcasts a (C,) statistic along ``axis`` of ``x``."""
        shape = [1] * x.dim()
        shape[self.axis] = x.shape[self.axis]
        return shape

    def _moments(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """The batch's mean and (biased) variance per feature, (C,) each; under a mask, over
        the real steps only (Keras's formula, 1e-7 guarding an all-masked batch)."""
        axes = [d for d in range(x.dim()) if d != self.axis % x.dim()]
        if mask is None:
            variance, mean = torch.var_mean(x, dim=axes, correction=0)
            return mean, variance
        m = mask.to(x.dtype).unsqueeze(-1).expand_as(x)  # (N, T, C): 1 on real steps
        count = m.sum(dim=axes, keepdim=True) + EPSILON  # (1, 1, C)
        mean = (x * m).sum(dim=axes, keepdim=True) / count  # (1, 1, C)
        variance = ((x - mean) * m).square().sum(dim=axes, keepdim=True) / count
        return mean.reshape(-1), variance.reshape(-1)

    def forward(self, x: Tensor, mask: Tensor | None = None, training: bool | None = None):
        owner = "BatchNormalization"
        check_rank(owner, "inputs", x, tuple(range(2, 9)), "with the batch axis first")
        if not x.dtype.is_floating_point:
            V.fail(owner, "inputs", "a floating-point tensor", x, TypeError)
        self.maybe_build(x.shape, x.device)
        if x.dim() != self.rank or x.shape[self.axis] != self.moving_mean.shape[0]:
            raise ValueError(
                f"BatchNormalization: `inputs` expected rank {self.rank} with "
                f"{self.moving_mean.shape[0]} features on axis {self.axis}, received shape "
                f"{tuple(x.shape)}."
            )
        if mask is not None and (not isinstance(mask, Tensor) or mask.dim() != x.dim() - 1):
            V.fail(owner, "mask", f"a tensor of rank {x.dim() - 1} (one less than inputs)", mask)
        training = self.training if training is None else bool(training)
        shape = self._shape(x)
        gamma = None if self.gamma is None else self.gamma.reshape(shape)
        beta = None if self.beta is None else self.beta.reshape(shape)
        if not (training and getattr(self, "trainable", True)):
            mean, variance = self.moving_mean, self.moving_variance
            return _normalize(
                x, mean.reshape(shape), variance.reshape(shape), gamma, beta, self.epsilon
            )
        mean, variance = self._moments(x, mask)  # (C,), (C,)
        if self.renorm:
            gamma, beta = self._renorm(mean, variance, shape, gamma, beta)
        else:
            self._update(self.moving_mean, mean, self.momentum)
            self._update(self.moving_variance, variance, self.momentum)
        return _normalize(
            x, mean.reshape(shape), variance.reshape(shape), gamma, beta, self.epsilon
        )

    @staticmethod
    @torch.no_grad()
    def _update(moving: Tensor, batch: Tensor, momentum: float) -> None:
        moving.copy_(moving * momentum + batch.detach() * (1.0 - momentum))

    def _renorm(self, mean, variance, shape, gamma, beta):
        """Batch renormalisation: the corrected ``(gamma, beta)`` of this batch, and the
        renorm and moving statistics updated (Keras's formulas)."""
        stddev = torch.sqrt(variance + self.epsilon)  # (C,)
        floor = stddev.new_tensor(self.epsilon).sqrt()  # on the input's device
        renorm_stddev = torch.maximum(self.renorm_stddev, floor)
        r = (stddev / renorm_stddev).detach()  # (C,)
        d = ((mean - self.renorm_mean) / renorm_stddev).detach()  # (C,)
        rmin, rmax, dmax = (self.renorm_clipping.get(k) for k in ("rmin", "rmax", "dmax"))
        if rmin is not None:
            r = r.clamp(min=rmin)
        if rmax is not None:
            r = r.clamp(max=rmax)
        if dmax is not None:
            d = d.clamp(-dmax, dmax)
        r, d = r.reshape(shape), d.reshape(shape)
        new_gamma = r if gamma is None else r * gamma  # (x_hat * r + d) * gamma + beta
        new_beta = d if gamma is None else d * gamma
        new_beta = new_beta if beta is None else new_beta + beta
        self._update(self.renorm_mean, mean, self.renorm_momentum)
        self._update(self.renorm_stddev, stddev, self.renorm_momentum)
        self._update(self.moving_mean, mean, self.momentum)
        self._update(self.moving_stddev, stddev, self.momentum)
        with torch.no_grad():
            self.moving_variance.copy_((self.moving_stddev.square() - self.epsilon).relu())
        return new_gamma, new_beta


class LayerNormalization(WeightOptions, Layer):
    """Normalises each sample (and step) over ``axis``: ``y = (x - mean) / sqrt(var + eps) *
    gamma + beta`` with the mean and (biased) variance over ``axis`` (default -1, the features;
    a list of axes normalises over all of them).

    ``rms_scaling=True`` (deprecated in Keras 3, with the same warning here) computes, as
    Keras, ``x / sqrt(var + eps) * gamma``: the input is not centred, no ``beta``.

    Args:
        axis: an integer or a list of integers, counting the batch axis as Keras (-1: the
            last).
        epsilon: Keras's 1e-3. center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer (zeros, ones), beta_regularizer,
        gamma_regularizer, beta_constraint, gamma_constraint: as Keras.

    Weights: ``gamma``, ``beta`` of the shape of the normalised axes. Passes the mask on.

    >>> import torch
    >>> from rnnkit.layers import LayerNormalization
    >>> LayerNormalization(epsilon=0.0)(torch.tensor([[1.0, 3.0]]))
    tensor([[-1.,  1.]], grad_fn=<NativeLayerNormBackward0>)
    """

    supports_masking = True
    KERAS_WEIGHTS = (("gamma", "gamma"), ("beta", "beta"))

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling: bool = False,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = "LayerNormalization"
        ok_int = isinstance(axis, numbers.Integral) and not isinstance(axis, bool)
        ok_list = isinstance(axis, (list, tuple)) and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis
        )
        if not (ok_int or ok_list):
            V.fail(owner, "axis", "an int or a list/tuple of ints", axis, TypeError)
        self.axis = int(axis) if ok_int else [int(a) for a in axis]
        self.epsilon = _number(owner, "epsilon", epsilon)
        self.center = V.boolean(owner, "center", center)
        self.scale = V.boolean(owner, "scale", scale)
        self.rms_scaling = V.boolean(owner, "rms_scaling", rms_scaling)
        if self.rms_scaling:
            warnings.warn(
                "You passed `rms_scaling=True`, which is deprecated. This argument "
                "incorrectly scales the input by the variance, not the root mean square.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.beta_initializer = I.argument(owner, "beta_initializer", beta_initializer)
        self.gamma_initializer = I.argument(owner, "gamma_initializer", gamma_initializer)
        self._init_options(
            owner,
            None,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        if input_shape is not None:
            full = (None, *input_shape)
            if all(full[a] is not None for a in self._axes(len(full))):
                self.build(full)

    def _axes(self, rank: int) -> list[int]:
        """``axis`` as sorted non-negative axes of an input of ``rank``."""
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        for a in axes:
            if not -rank <= a < rank:
                V.fail("LayerNormalization", "axis", f"axes of inputs of rank {rank}", self.axis)
        return sorted(a % rank for a in axes)

    def build(self, input_shape: tuple) -> None:
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"LayerNormalization: the normalised axes of the input must be known to "
                f"build, received input shape {tuple(input_shape)}."
            )
        self.normalized_shape = shape
        owner = "LayerNormalization"
        if self.scale or self.rms_scaling:
            self.gamma = self._param(*shape)
            I.fill_(self.gamma, self.gamma_initializer, owner, "gamma_initializer")
        else:
            self.register_parameter("gamma", None)
        if self.center and not self.rms_scaling:
            self.beta = self._param(*shape)
            I.fill_(self.beta, self.beta_initializer, owner, "beta_initializer")
        else:
            self.register_parameter("beta", None)
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["beta_initializer"] = I.config_of(self.beta_initializer)
        config["gamma_initializer"] = I.config_of(self.gamma_initializer)
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._axes(len(input_shape))
        return tuple(input_shape)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        owner = "LayerNormalization"
        check_rank(owner, "inputs", x, tuple(range(1, 9)), "")
        if not x.dtype.is_floating_point:
            V.fail(owner, "inputs", "a floating-point tensor", x, TypeError)
        self.maybe_build(x.shape, x.device)
        axes = self._axes(x.dim())
        shape = tuple(x.shape[a] for a in axes)
        if shape != self.normalized_shape:  # any rank, as Keras: only these sizes matter
            raise ValueError(
                f"LayerNormalization: `inputs` expected sizes {self.normalized_shape} on axes "
                f"{self.axis}, received shape {tuple(x.shape)}."
            )
        broadcast = [x.shape[d] if d in axes else 1 for d in range(x.dim())]
        gamma = None if self.gamma is None else self.gamma.reshape(broadcast)
        if self.rms_scaling:
            variance = x.var(dim=axes, correction=0, keepdim=True)
            y = x * torch.rsqrt(variance + self.epsilon)
            return y * gamma if gamma is not None else y
        if axes == list(range(x.dim() - len(axes), x.dim())):  # trailing axes: torch's kernel
            return F.layer_norm(x, shape, self.gamma, self.beta, self.epsilon)
        variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
        beta = None if self.beta is None else self.beta.reshape(broadcast)
        return _normalize(x, mean, variance, gamma, beta, self.epsilon)
