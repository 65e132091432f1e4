"""Conv1D, MaxPooling1D and AveragePooling1D, as Keras 3 has them, on ``torch.nn.functional``.

Batch-first, channels-last like Keras: a sequence is ``(N, T, C)`` (``data_format=
'channels_first'`` reads ``(N, C, T)``). Keras's padding modes, along the time axis of length
``T`` with window ``k`` (dilated: ``k_eff = dilation * (k - 1) + 1``) and stride ``s``:

* ``'valid'``: no padding; ``floor((T - k_eff) / s) + 1`` outputs.
* ``'same'``: ``ceil(T / s)`` outputs; the padding needed, ``max((ceil(T / s) - 1) * s + k_eff
  - T, 0)``, is split with the extra step at the end (TensorFlow's rule, which Keras follows).
  Zeros for Conv1D; the padded steps are left out of a max and of an average (the average is
  over the real steps of each window).
* ``'causal'`` (Conv1D only): ``k_eff - 1`` zeros in front, none behind, so output ``t`` sees
  inputs ``<= t`` only; ``T`` outputs at stride 1.

Masks, as Keras 3: none of these layers supports masking; given a mask (from
``Embedding(mask_zero=True)`` or ``Masking``) they warn, as Keras does, that the mask is
dropped, and pass none on.
"""

from __future__ import annotations

import math
import numbers
import warnings

from torch import Tensor
from torch.nn import functional as F

from .. import _validation as V
from .. import initializers as I
from ..functional import ACTIVATIONS
from ._options import WeightOptions
from .base import Layer, check_rank
from .core import activation_name

PADDINGS = ("valid", "same", "causal")


def _one_int(owner: str, name: str, value) -> tuple[int]:
    """An integer or a tuple / list of one integer, as Keras's 1-D arguments: ``(value,)``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    expected = "a positive integer or a tuple of one"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        V.fail(owner, name, expected, value, TypeError)
    if value <= 0:
        V.fail(owner, name, expected, value)
    return (int(value),)


def _data_format(owner: str, value) -> str:
    value = "channels_last" if value is None else value
    return V.choice(owner, "data_format", value, ("channels_last", "channels_first"))


def same_padding(length: int, window: int, stride: int) -> tuple[int, int]:
    """``(front, back)`` padding of Keras's 'same' mode: ``ceil(length / stride)`` outputs,
    the extra step (if the total is odd) at the back."""
    outputs = -(-length // stride)
    total = max((outputs - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def output_length(length, window: int, stride: int, padding: str) -> int | None:
    """The number of output steps for ``length`` input steps (None: unknown)."""
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    if padding == "causal":
        length = length + window - 1  # the front padding
    return (length - window) // stride + 1


def _drop_mask(layer: Layer, mask) -> None:
    """As Keras 3: warn that a layer without masking support drops the mask it was given."""
    if mask is not None:
        warnings.warn(
            f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a "
            "mask attached to it. However, this layer does not support masking and will "
            "therefore destroy the mask information. Downstream layers will not see the mask.",
            UserWarning,
            stacklevel=3,
        )


def _sequence_input(owner: str, x) -> None:
    check_rank(owner, "inputs", x, (3,), "of shape (batch, steps, channels)")
    if not x.dtype.is_floating_point:
        V.fail(owner, "inputs", "a floating-point tensor", x, TypeError)


class Conv1D(WeightOptions, Layer):
    """1-D convolution over time: ``y[n, t] = activation(b + sum_{j, c} x[n, s*t + d*j, c]
    W[j, c, :])`` (per group of channels when ``groups > 1``), after padding.

    Args:
        filters: output channels F (a multiple of ``groups``).
        kernel_size: window K (an integer or a tuple of one).
        strides: step s between windows (> 1 not with ``dilation_rate`` > 1, as Keras).
        padding: 'valid', 'same' or 'causal' (see the module's docstring).
        data_format: 'channels_last' (default; None means it) or 'channels_first'.
        dilation_rate: d, the spacing of the window's taps.
        groups: the channels are split into ``groups`` groups, each convolved with its own
            ``F / groups`` filters (the input channels C must be a multiple of it).
        activation: 'linear' (or None), 'sigmoid', 'tanh', 'relu', 'softmax'.
        use_bias: add ``b``.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: as Keras (keyword-only; see
            :mod:`rnnkit.initializers`, :mod:`rnnkit.regularizers`, :mod:`rnnkit.constraints`).

    Shapes: ``(N, T, C)`` -> ``(N, T_out, F)``. Weights, Keras's layout: ``W`` (K, C / groups,
    F) glorot-uniform, ``b`` (F,) zeros; ``torch.nn.Conv1d``'s ``weight`` is ``W.permute(2, 1,
    0)``. Masking: not supported (a mask given is dropped with a warning, as Keras 3).

    >>> import torch
    >>> from rnnkit.layers import Conv1D
    >>> Conv1D(filters=8, kernel_size=3, padding='causal')(torch.zeros(2, 10, 4)).shape
    torch.Size([2, 10, 8])
    """

    KERAS_WEIGHTS = (("kernel", "W"), ("bias", "b"))

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate=1,
        groups: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
        *,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = "Conv1D"
        self.filters = V.positive_int(owner, "filters", filters)
        self.kernel_size = _one_int(owner, "kernel_size", kernel_size)
        self.strides = _one_int(owner, "strides", strides)
        if isinstance(padding, str):
            padding = padding.lower()
        self.padding = V.choice(owner, "padding", padding, PADDINGS)
        self.data_format = _data_format(owner, data_format)
        self.dilation_rate = _one_int(owner, "dilation_rate", dilation_rate)
        self.groups = V.positive_int(owner, "groups", groups)
        if self.filters % self.groups:
            V.fail(owner, "filters", f"a multiple of groups ({self.groups})", filters)
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            V.fail(owner, "strides", "1 when dilation_rate > 1 (as Keras)", self.strides[0])
        self.activation = activation_name(owner, activation)
        self.use_bias = V.boolean(owner, "use_bias", use_bias)
        self.kernel_initializer = I.argument(owner, "kernel_initializer", kernel_initializer)
        self.bias_initializer = I.argument(owner, "bias_initializer", bias_initializer)
        self._init_options(
            owner,
            activity_regularizer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        if input_shape is not None and self._channels((None, *input_shape)) is not None:
            self.build((None, *input_shape))

    @property
    def _window(self) -> int:
        """The dilated window ``d * (K - 1) + 1``."""
        return self.dilation_rate[0] * (self.kernel_size[0] - 1) + 1

    def _channels(self, input_shape) -> int | None:
        return input_shape[-1] if self.data_format == "channels_last" else input_shape[1]

    def build(self, input_shape: tuple) -> None:
        C = self._channels(input_shape)
        if C is None:
            raise ValueError(
                f"Conv1D: the channel axis of the input must be known to build, "
                f"received input shape {tuple(input_shape)}."
            )
        if C % self.groups:
            raise ValueError(
                f"Conv1D: `inputs` expected a number of channels divisible by groups "
                f"({self.groups}), received input shape {tuple(input_shape)}."
            )
        self.W = self._param(self.kernel_size[0], C // self.groups, self.filters)  # (K, C/g, F)
        I.fill_(self.W, self.kernel_initializer, "Conv1D", "kernel_initializer")
        if self.use_bias:
            self.b = self._param(self.filters)
            I.fill_(self.b, self.bias_initializer, "Conv1D", "bias_initializer")
        else:
            self.register_parameter("b", None)
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["kernel_initializer"] = I.config_of(self.kernel_initializer)
        config["bias_initializer"] = I.config_of(self.bias_initializer)
        for key in ("kernel_size", "strides", "dilation_rate"):
            config[key] = list(config[key])
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        steps_axis = 1 if self.data_format == "channels_last" else 2
        T = output_length(input_shape[steps_axis], self._window, self.strides[0], self.padding)
        if T is not None and T < 1:
            raise ValueError(
                f"Conv1D: `inputs` expected at least {self._window} steps for kernel_size="
                f"{self.kernel_size[0]} and dilation_rate={self.dilation_rate[0]} with "
                f"padding='valid', received input shape {tuple(input_shape)}."
            )
        if self.data_format == "channels_last":
            return (input_shape[0], T, self.filters)
        return (input_shape[0], self.filters, T)

    def compute_mask(self, inputs, mask):
        _drop_mask(self, mask)
        return None

    def forward(self, x: Tensor) -> Tensor:
        _sequence_input("Conv1D", x)
        self.maybe_build(x.shape, x.device)
        C = self._channels(x.shape)
        if C != self.W.shape[1] * self.groups:
            raise ValueError(
                f"Conv1D: `inputs` expected {self.W.shape[1] * self.groups} channels, "
                f"received shape {tuple(x.shape)}."
            )
        self.compute_output_shape(tuple(x.shape))  # too few steps: Keras's ValueError
        if self.data_format == "channels_last":
            x = x.transpose(1, 2)  # (N, C, T)
        if self.padding == "causal":
            x = F.pad(x, (self._window - 1, 0))  # (N, C, k_eff - 1 + T)
        elif self.padding == "same":
            x = F.pad(x, same_padding(x.shape[-1], self._window, self.strides[0]))
        weight = self.W.permute(2, 1, 0)  # (F, C/g, K): torch's layout
        z = F.conv1d(
            x,
            weight,
            self.b,
            stride=self.strides[0],
            dilation=self.dilation_rate[0],
            groups=self.groups,
        )  # (N, F, T_out)
        if self.data_format == "channels_last":
            z = z.transpose(1, 2)  # (N, T_out, F)
        y = ACTIVATIONS[self.activation](z)
        self._record_activity(y)
        return y


class _Pooling1D(Layer):
    """Shared by the 1-D pooling layers: arguments, shapes, 'same' padding, no masking."""

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding: str = "valid",
        data_format: str | None = None,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = type(self).__name__
        self.pool_size = _one_int(owner, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _one_int(owner, "strides", strides)
        if isinstance(padding, str):
            padding = padding.lower()
        self.padding = V.choice(owner, "padding", padding, ("valid", "same"))
        self.data_format = _data_format(owner, data_format)
        self.built = True  # no weights: built at construction, as Keras

    def build(self, input_shape: tuple) -> None:
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["pool_size"] = list(self.pool_size)
        config["strides"] = list(self.strides)
        return config

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        axis = 1 if self.data_format == "channels_last" else 2
        shape = list(input_shape)
        T = output_length(shape[axis], self.pool_size[0], self.strides[0], self.padding)
        if T is not None and T < 1:
            raise ValueError(
                f"{type(self).__name__}: `inputs` expected at least {self.pool_size[0]} steps "
                f"for pool_size={self.pool_size[0]} with padding='valid', received input "
                f"shape {tuple(input_shape)}."
            )
        shape[axis] = T
        return tuple(shape)

    def compute_mask(self, inputs, mask):
        _drop_mask(self, mask)
        return None

    def forward(self, x: Tensor) -> Tensor:
        _sequence_input(type(self).__name__, x)
        self.compute_output_shape(tuple(x.shape))  # too few steps: Keras's ValueError
        if self.data_format == "channels_last":
            x = x.transpose(1, 2)  # (N, C, T)
        front, back = (0, 0)
        if self.padding == "same":
            front, back = same_padding(x.shape[-1], self.pool_size[0], self.strides[0])
        y = self.pool(x, front, back)  # (N, C, T_out)
        return y.transpose(1, 2) if self.data_format == "channels_last" else y

    def pool(self, x: Tensor, front: int, back: int) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class MaxPooling1D(_Pooling1D):
    """The maximum of each window of ``pool_size`` steps, windows ``strides`` apart (default:
    ``pool_size``): ``y[n, t, c] = max_j x[n, s*t + j, c]``.

    ``padding='same'`` gives ``ceil(T / strides)`` outputs; the padded steps never win.
    Shapes: ``(N, T, C)`` -> ``(N, T_out, C)``. No weights; no masking (as Keras 3).

    >>> import torch
    >>> from rnnkit.layers import MaxPooling1D
    >>> MaxPooling1D(pool_size=2)(torch.tensor([[[1.0], [3.0], [2.0], [0.0]]])).flatten()
    tensor([3., 2.])
    """

    def pool(self, x: Tensor, front: int, back: int) -> Tensor:
        if front or back:
            x = F.pad(x, (front, back), value=-math.inf)  # (N, C, front + T + back)
        return F.max_pool1d(x, self.pool_size[0], self.strides[0])


class AveragePooling1D(_Pooling1D):
    """The mean of each window of ``pool_size`` steps, windows ``strides`` apart (default:
    ``pool_size``): ``y[n, t, c] = mean_j x[n, s*t + j, c]``.

    ``padding='same'`` gives ``ceil(T / strides)`` outputs and, as Keras defines it (and
    TensorFlow computes it), a window that reaches into the padding averages its real steps
    only. (Keras 3's torch backend differs where the padding is uneven, e.g. ``pool_size=4,
    strides=1``: it repeats the edge steps into the padding and counts them.)
    Shapes: ``(N, T, C)`` -> ``(N, T_out, C)``. No weights; no masking (as Keras 3).

    >>> import torch
    >>> from rnnkit.layers import AveragePooling1D
    >>> x = torch.tensor([[[1.0], [3.0], [5.0]]])
    >>> AveragePooling1D(pool_size=2, padding='same')(x).flatten()
    tensor([2., 5.])
    """

    def pool(self, x: Tensor, front: int, back: int) -> Tensor:
        k, s = self.pool_size[0], self.strides[0]
        if not (front or back):
            return F.avg_pool1d(x, k, s)
        padded = F.pad(x, (front, back))  # (N, C, front + T + back), zeros
        real = F.pad(x.new_ones(x.shape[-1]), (front, back))  # (front + T + back,)
        sums = padded.unfold(-1, k, s).sum(-1)  # (N, C, T_out)
        counts = real.unfold(-1, k, s).sum(-1)  # (T_out,)
        return sums / counts


# -- 2-D and 3-D pooling (helper "keras": the ported Keras pooling tests) -----------------------
def _n_ints(owner: str, name: str, value, rank: int) -> tuple[int, ...]:
    """An integer (the same on every axis) or a tuple / list of ``rank`` integers."""
    expected = f"a positive integer or a tuple of {rank}"
    values = list(value) if isinstance(value, (tuple, list)) else [value] * rank
    if len(values) != rank:
        V.fail(owner, name, expected, value)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            V.fail(owner, name, expected, value, TypeError)
        if v <= 0:
            V.fail(owner, name, expected, value)
    return tuple(int(v) for v in values)


class _PoolingND(Layer):
    """Shared by the 2-D / 3-D pooling layers: windows of ``pool_size`` over the ``rank``
    spatial axes, ``strides`` apart (default ``pool_size``); 'valid' or 'same' padding (as the
    1-D layers: ``ceil(S / stride)`` outputs per axis, the odd padded step at the back);
    channels last ``(N, *S, C)`` or first ``(N, C, *S)``. No weights, no masking."""

    rank = 2

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding: str = "valid",
        data_format: str | None = None,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = type(self).__name__
        self.pool_size = _n_ints(owner, "pool_size", pool_size, self.rank)
        self.strides = (
            self.pool_size if strides is None else _n_ints(owner, "strides", strides, self.rank)
        )
        if isinstance(padding, str):
            padding = padding.lower()
        self.padding = V.choice(owner, "padding", padding, ("valid", "same"))
        self.data_format = _data_format(owner, data_format)
        self.built = True  # no weights: built at construction, as Keras

    def build(self, input_shape: tuple) -> None:
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["pool_size"] = list(self.pool_size)
        config["strides"] = list(self.strides)
        return config

    @property
    def _spatial(self) -> tuple[int, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        for k, axis in enumerate(self._spatial):
            S = output_length(shape[axis], self.pool_size[k], self.strides[k], self.padding)
            if S is not None and S < 1:
                raise ValueError(
                    f"{type(self).__name__}: `inputs` expected at least {self.pool_size[k]} "
                    f"steps on axis {axis} for pool_size={self.pool_size} with "
                    f"padding='valid', received input shape {tuple(input_shape)}."
                )
            shape[axis] = S
        return tuple(shape)

    def compute_mask(self, inputs, mask):
        _drop_mask(self, mask)
        return None

    def forward(self, x: Tensor) -> Tensor:
        owner = type(self).__name__
        check_rank(owner, "inputs", x, (self.rank + 2,), f"with {self.rank} spatial axes")
        if not x.dtype.is_floating_point:
            V.fail(owner, "inputs", "a floating-point tensor", x, TypeError)
        self.compute_output_shape(tuple(x.shape))  # too few steps: Keras's ValueError
        last = self.data_format == "channels_last"
        if last:
            x = x.movedim(-1, 1)  # (N, C, *S)
        pads = []  # F.pad's order: the last axis first, (front, back) each
        for k in reversed(range(self.rank)):
            front, back = (0, 0)
            if self.padding == "same":
                front, back = same_padding(x.shape[2 + k], self.pool_size[k], self.strides[k])
            pads += [front, back]
        y = self.pool(x, pads)  # (N, C, *S_out)
        return y.movedim(1, -1) if last else y

    def pool(self, x: Tensor, pads: list[int]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class MaxPooling2D(_PoolingND):
    """The maximum of each ``pool_size`` window: ``(N, H, W, C) -> (N, H_out, W_out, C)``; the
    padded steps of 'same' never win.

    >>> import torch
    >>> from rnnkit.layers import MaxPooling2D
    >>> MaxPooling2D()(torch.arange(16.0).reshape(1, 4, 4, 1)).flatten()
    tensor([ 5.,  7., 13., 15.])
    """

    rank = 2

    def pool(self, x: Tensor, pads: list[int]) -> Tensor:
        if any(pads):
            x = F.pad(x, pads, value=-math.inf)
        fn = F.max_pool2d if self.rank == 2 else F.max_pool3d
        return fn(x, self.pool_size, self.strides)


class MaxPooling3D(MaxPooling2D):
    """The maximum of each ``pool_size`` window over three spatial axes."""

    rank = 3


class AveragePooling2D(_PoolingND):
    """The mean of each ``pool_size`` window: ``(N, H, W, C) -> (N, H_out, W_out, C)``; with
    'same', a window that reaches into the padding averages its real entries only (as
    TensorFlow; see :class:`AveragePooling1D`).

    >>> import torch
    >>> from rnnkit.layers import AveragePooling2D
    >>> AveragePooling2D()(torch.arange(16.0).reshape(1, 4, 4, 1)).flatten()
    tensor([ 2.5000,  4.5000, 10.5000, 12.5000])
    """

    rank = 2

    def pool(self, x: Tensor, pads: list[int]) -> Tensor:
        fn = F.avg_pool2d if self.rank == 2 else F.avg_pool3d
        if not any(pads):
            return fn(x, self.pool_size, self.strides)
        padded = F.pad(x, pads)  # zeros: (N, C, *S_padded)
        real = F.pad(x.new_ones((1, 1) + tuple(x.shape[2:])), pads)  # (1, 1, *S_padded)
        return fn(padded, self.pool_size, self.strides) / fn(real, self.pool_size, self.strides)


class AveragePooling3D(AveragePooling2D):
    """The mean of each ``pool_size`` window over three spatial axes."""

    rank = 3
