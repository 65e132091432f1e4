"""Layers without weights, as Keras 3 has them: activations, reshaping, masking, pooling.

``Activation``, ``LeakyReLU``, ``ReLU``, ``Flatten``, ``Reshape``, ``RepeatVector``, ``Masking``,
``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``. Batch-first, channels-last: a sequence
is ``(N, T, D)``. None holds a parameter, so each is built when it is made.

Masks follow Keras: ``Masking`` makes one (``any(x != mask_value, axis=-1)``), ``Activation``
and ``LeakyReLU`` pass theirs on, ``GlobalAveragePooling1D`` averages over the unmasked steps,
and the layers that change the time axis (``Flatten``, ``Reshape``, ``RepeatVector``, the
pooling layers) pass no mask on.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from .. import _validation as V
from ..functional import ACTIVATIONS
from .base import Layer, check_rank
from .core import activation_name


class _Stateless(Layer):
    """A layer with no parameters: built at construction, as Keras builds it."""

    def __init__(self, *, name: str | None = None, input_shape: tuple | None = None):
        super().__init__(name=name, input_shape=input_shape)
        self.built = True

    def build(self, input_shape: tuple) -> None:
        self.built = True


def _float_input(owner: str, x, ranks: tuple[int, ...], meaning: str) -> None:
    check_rank(owner, "inputs", x, ranks, meaning)
    if not x.dtype.is_floating_point:
        V.fail(owner, "inputs", "a floating-point tensor", x, TypeError)


def _data_format(owner: str, value) -> str:
    return V.choice(owner, "data_format", value, ("channels_last", "channels_first"))


class Activation(_Stateless):
    """Applies an activation function elementwise: ``y = activation(x)``.

    Args:
        activation: 'linear' (or None), 'sigmoid', 'tanh', 'relu', 'softmax' (last axis).

    Shapes: any -> the same. Passes the mask on.

    >>> import torch
    >>> from rnnkit.layers import Activation
    >>> Activation('relu')(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    supports_masking = True

    def __init__(self, activation, *, name: str | None = None, input_shape: tuple | None = None):
        super().__init__(name=name, input_shape=input_shape)
        self.activation = activation_name("Activation", activation)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        _float_input("Activation", x, tuple(range(1, 9)), "")
        return ACTIVATIONS[self.activation](x)


class LeakyReLU(_Stateless):
    """``y = x`` where ``x >= 0``, else ``negative_slope * x`` (Keras 3 default 0.3).

    Shapes: any -> the same. Passes the mask on.

    >>> import torch
    >>> from rnnkit.layers import LeakyReLU
    >>> LeakyReLU(negative_slope=0.5)(torch.tensor([-10.0, 0.0, 5.0]))
    tensor([-5.,  0.,  5.])
    """

    supports_masking = True

    def __init__(
        self,
        negative_slope: float = 0.3,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        expected = "a non-negative number"
        if negative_slope is None:
            V.fail("LeakyReLU", "negative_slope", expected, negative_slope)  # ValueError, as Keras
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            V.fail("LeakyReLU", "negative_slope", expected, negative_slope, TypeError)
        if not float(negative_slope) >= 0.0 or math.isinf(float(negative_slope)):
            V.fail("LeakyReLU", "negative_slope", expected, negative_slope)
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        _float_input("LeakyReLU", x, tuple(range(1, 9)), "")
        return torch.nn.functional.leaky_relu(x, self.negative_slope)


class ReLU(_Stateless):
    """Keras's ``ReLU`` layer: ``y = min(x, max_value)`` where ``x >= threshold``, else
    ``negative_slope * (x - threshold)``.

    Args:
        max_value: the largest output (None: no cap).
        negative_slope: the slope below ``threshold`` (default 0: the plain ReLU).
        threshold: where the slope changes (default 0).

    Shapes: any -> the same. Passes the mask on.

    >>> import torch
    >>> from rnnkit.layers import ReLU
    >>> ReLU(max_value=2.0, negative_slope=0.5, threshold=1.0)(torch.tensor([-1.0, 1.5, 5.0]))
    tensor([-1.0000,  1.5000,  2.0000])
    """

    supports_masking = True

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        for arg, value in (
            ("max_value", max_value),
            ("negative_slope", negative_slope),
            ("threshold", threshold),
        ):
            if value is None and arg == "max_value":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                V.fail("ReLU", arg, "a non-negative number", value, TypeError)
            if not float(value) >= 0.0:  # Keras's ValueError (NaN too)
                V.fail("ReLU", arg, "a non-negative number", value)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        _float_input("ReLU", x, tuple(range(1, 9)), "")
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            y = torch.relu(x)
        else:
            below = self.negative_slope * (x - self.threshold)
            y = torch.where(x >= self.threshold, x, below)
        if self.max_value is not None:
            y = y.clamp(max=self.max_value)
        return y


class Flatten(_Stateless):
    """Flattens every axis but the batch: ``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``.

    ``data_format='channels_first'`` moves axis 1 last before flattening, as Keras does; a
    rank-1 input ``(N,)`` becomes ``(N, 1)``. Passes no mask on.

    >>> import torch
    >>> from rnnkit.layers import Flatten
    >>> Flatten()(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 12])
    """

    def __init__(
        self,
        data_format: str = "channels_last",
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.data_format = _data_format("Flatten", data_format)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rest = tuple(input_shape[1:])
        if any(d is None for d in rest):
            return (input_shape[0], None)
        return (input_shape[0], math.prod(rest))

    def compute_mask(self, inputs, mask):
        return None

    def forward(self, x: Tensor) -> Tensor:
        check_rank("Flatten", "inputs", x, tuple(range(1, 9)), "with the batch axis first")
        if x.dim() == 1:
            return x.unsqueeze(-1)  # (N, 1)
        if self.data_format == "channels_first" and x.dim() > 2:
            x = x.movedim(1, -1)  # (N, d2, ..., d1)
        return x.reshape(x.shape[0], -1)  # (N, d1 * d2 * ...)


class Reshape(_Stateless):
    """Reshapes each sample to ``target_shape`` (without the batch axis); one entry may be -1,
    inferred from the others.

    Passes no mask on.

    >>> import torch
    >>> from rnnkit.layers import Reshape
    >>> Reshape((-1, 8))(torch.zeros(2, 6, 4)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, target_shape, *, name: str | None = None, input_shape: tuple | None = None):
        super().__init__(name=name, input_shape=input_shape)
        expected = "a tuple of positive integers with at most one -1"
        if not isinstance(target_shape, (tuple, list)) or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in target_shape
        ):
            V.fail("Reshape", "target_shape", expected, target_shape, TypeError)
        if not all(d > 0 or d == -1 for d in target_shape) or list(target_shape).count(-1) > 1:
            V.fail("Reshape", "target_shape", expected, tuple(target_shape))
        self.target_shape = tuple(int(d) for d in target_shape)

    def _resolve(self, size: int | None) -> tuple:
        """``target_shape`` with its -1 replaced, for samples of ``size`` elements (None:
        unknown)."""
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 not in self.target_shape:
            if size is not None and size != known:
                raise ValueError(
                    f"Reshape: `inputs` expected {known} elements per sample to reshape to "
                    f"{self.target_shape}, received {size}."
                )
            return self.target_shape
        if size is None:
            return tuple(None if d == -1 else d for d in self.target_shape)
        if size % known:
            raise ValueError(
                f"Reshape: `inputs` expected a number of elements per sample divisible by "
                f"{known} to reshape to {self.target_shape}, received {size}."
            )
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rest = tuple(input_shape[1:])
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], *self._resolve(size))

    def compute_mask(self, inputs, mask):
        return None

    def get_config(self) -> dict:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config

    def forward(self, x: Tensor) -> Tensor:
        check_rank("Reshape", "inputs", x, tuple(range(1, 9)), "with the batch axis first")
        shape = self._resolve(math.prod(x.shape[1:]))
        return x.reshape(x.shape[0], *shape)


class RepeatVector(_Stateless):
    """Repeats each input vector ``n`` times: ``(N, D) -> (N, n, D)``.

    >>> import torch
    >>> from rnnkit.layers import RepeatVector
    >>> RepeatVector(3)(torch.zeros(2, 5)).shape
    torch.Size([2, 3, 5])
    """

    def __init__(self, n: int, *, name: str | None = None, input_shape: tuple | None = None):
        super().__init__(name=name, input_shape=input_shape)
        self.n = V.positive_int("RepeatVector", "n", n)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.n, input_shape[-1])

    def compute_mask(self, inputs, mask):
        return None

    def forward(self, x: Tensor) -> Tensor:
        check_rank("RepeatVector", "inputs", x, (2,), "of shape (batch, features)")
        return x.unsqueeze(1).expand(-1, self.n, -1)  # (N, n, D)


class Masking(_Stateless):
    """Marks the time steps whose features all equal ``mask_value`` as padding.

    The mask ``any(x != mask_value, axis=-1)`` (N, T) goes to the layers after it (recurrent
    layers skip the masked steps, ``GlobalAveragePooling1D`` leaves them out) and the masked
    steps' features are set to zero, as Keras does.

    >>> import torch
    >>> from rnnkit.layers import Masking
    >>> x = torch.tensor([[[0.0, 0.0], [1.0, 2.0]]])
    >>> Masking(mask_value=0.0).compute_mask(x, None)
    tensor([[False,  True]])
    """

    supports_masking = True

    def __init__(
        self,
        mask_value: float = 0.0,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(mask_value, torch.Tensor) and mask_value.numel() == 1:
            mask_value = mask_value.item()  # a one-element tensor, as Keras accepts
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            V.fail("Masking", "mask_value", "a number", mask_value, TypeError)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs: Tensor, mask=None) -> Tensor:
        return torch.any(inputs != self.mask_value, dim=-1)  # (N, T)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        _float_input("Masking", x, (2, 3, 4, 5), "of shape (batch, steps, ..., features)")
        keep = self.compute_mask(x).unsqueeze(-1)  # (N, T, 1)
        return x * keep.to(x.dtype)


class _GlobalPooling1D(_Stateless):
    def __init__(
        self,
        data_format: str = "channels_last",
        keepdims: bool = False,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = type(self).__name__
        self.data_format = _data_format(owner, data_format)
        self.keepdims = V.boolean(owner, "keepdims", keepdims)

    @property
    def steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        if self.keepdims:
            shape[self.steps_axis] = 1
        else:
            del shape[self.steps_axis]
        return tuple(shape)

    def compute_mask(self, inputs, mask):
        return None

    def _check(self, x: Tensor) -> None:
        _float_input(type(self).__name__, x, (3,), "of shape (batch, steps, features)")


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over the time axis: ``(N, T, D) -> (N, D)`` (``keepdims``: ``(N, 1, D)``).

    Under a mask (N, T) only the real steps count: ``sum_t m_t x_t / sum_t m_t``, as Keras
    (a row with no real step gives NaN there, 0 / 0). ``data_format='channels_first'`` reads
    ``(N, D, T)``.

    >>> import torch
    >>> from rnnkit.layers import GlobalAveragePooling1D
    >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> GlobalAveragePooling1D()(x, mask=torch.tensor([[True, True, False]]))
    tensor([[2.]])
    """

    supports_masking = True

    def forward(self, x: Tensor, mask=None) -> Tensor:
        self._check(x)
        axis = self.steps_axis
        if mask is None:
            return x.mean(dim=axis, keepdim=self.keepdims)
        m = mask.to(x.dtype).unsqueeze(2 if axis == 1 else 1)  # (N, T, 1) or (N, 1, T)
        total = (x * m).sum(dim=axis, keepdim=self.keepdims)  # (N, D)
        return total / m.sum(dim=axis, keepdim=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over the time axis: ``(N, T, D) -> (N, D)`` (``keepdims``: ``(N, 1, D)``).

    As Keras, it takes no mask (masked steps count). ``data_format='channels_first'`` reads
    ``(N, D, T)``.

    >>> import torch
    >>> from rnnkit.layers import GlobalMaxPooling1D
    >>> GlobalMaxPooling1D()(torch.tensor([[[1.0, 5.0], [3.0, 2.0]]]))
    tensor([[3., 5.]])
    """

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return x.amax(dim=self.steps_axis, keepdim=self.keepdims)


class _GlobalPoolingND(_GlobalPooling1D):
    """Global pooling over ``rank`` spatial axes (2: images, 3: volumes), channels last
    (``(N, *spatial, C)``) or first (``(N, C, *spatial)``). No mask, as Keras."""

    rank = 2

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        for axis in sorted(self.spatial_axes, reverse=True):
            if self.keepdims:
                shape[axis] = 1
            else:
                del shape[axis]
        return tuple(shape)

    def _check(self, x: Tensor) -> None:
        names = {2: "(batch, rows, cols, channels)", 3: "(batch, dim1, dim2, dim3, channels)"}
        _float_input(type(self).__name__, x, (self.rank + 2,), f"of shape {names[self.rank]}")


class GlobalAveragePooling2D(_GlobalPoolingND):
    """The mean over the two spatial axes: ``(N, H, W, C) -> (N, C)`` (``keepdims``:
    ``(N, 1, 1, C)``; ``channels_first`` reads ``(N, C, H, W)``).

    >>> import torch
    >>> from rnnkit.layers import GlobalAveragePooling2D
    >>> GlobalAveragePooling2D()(torch.arange(8.0).reshape(1, 2, 2, 2))
    tensor([[3., 4.]])
    """

    supports_masking = False
    rank = 2

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return x.mean(dim=self.spatial_axes, keepdim=self.keepdims)


class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """The mean over the three spatial axes: ``(N, D1, D2, D3, C) -> (N, C)``."""

    rank = 3


class GlobalMaxPooling2D(_GlobalPoolingND):
    """The maximum over the two spatial axes: ``(N, H, W, C) -> (N, C)`` (``keepdims``:
    ``(N, 1, 1, C)``; ``channels_first`` reads ``(N, C, H, W)``).

    >>> import torch
    >>> from rnnkit.layers import GlobalMaxPooling2D
    >>> GlobalMaxPooling2D()(torch.arange(8.0).reshape(1, 2, 2, 2))
    tensor([[6., 7.]])
    """

    rank = 2

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return x.amax(dim=self.spatial_axes, keepdim=self.keepdims)


class GlobalMaxPooling3D(GlobalMaxPooling2D):
    """The maximum over the three spatial axes: ``(N, D1, D2, D3, C) -> (N, C)``."""

    rank = 3
