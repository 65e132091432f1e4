"""Merge layers, as Keras 3 has them: ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum``, ``Concatenate``, ``Dot``, and their functional forms ``add``,
``subtract``, ... (``add([x1, x2])`` is ``Add()([x1, x2])``).

Each is called on a list of tensors (batch axis first) and holds no weights. Shapes are checked
as Keras checks them, with Keras's ``ValueError`` messages. Masks (``mask=[m1, m2]``, one per
input, None where an input has none; a functional model passes them itself) merge as Keras
merges them:

* ``Add``, ``Subtract``, ``Average``: the values are merged as they are; the output mask is the
  OR of the masks when every input has one, else None.
* ``Multiply``: a masked position counts as 1 (the product's identity); with every input masked,
  positions masked everywhere give 0 and the output mask is the OR.
* ``Maximum``, ``Minimum``: a masked position takes the other input's value; the output mask is
  the OR when every input has one.
* ``Concatenate``: masks are concatenated (an unmasked input counts as all True) along ``axis``;
  the output mask is ``any`` over the last axis.
* ``Dot``: no mask.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _validation as V
from .base import Layer


def _shape_list(shapes) -> list:
    return [tuple(s) for s in shapes]


class Merge(Layer):
    """Base of the elementwise merge layers (Keras's ``Merge``)."""

    supports_masking = True

    def __init__(self, *, name: str | None = None, input_shape=None, **kwargs):
        _keras_only(type(self).__name__, kwargs)
        super().__init__(name=name)
        self.built = False

    # -- shapes ---------------------------------------------------------------------------------
    @staticmethod
    def _elementwise_shape(shape1, shape2):
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return Merge._elementwise_shape(shape2, shape1)
        if not shape2:
            return tuple(shape1)
        output = list(shape1[: -len(shape2)])
        for i, j in zip(shape1[-len(shape2) :], shape2):
            if i is None or j is None:
                output.append(None)
            elif i == 1:
                output.append(j)
            elif j == 1:
                output.append(i)
            else:
                if i != j:
                    raise ValueError(
                        "Inputs have incompatible shapes. "
                        f"Received shapes {tuple(shape1)} and {tuple(shape2)}"
                    )
                output.append(i)
        return tuple(output)

    def _check_list(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(s, (tuple, list)) for s in input_shape
        ):
            raise ValueError(
                "A merge layer should be called on a list of inputs. "
                f"Received: input_shape={input_shape} (not a list of shapes)"
            )
        if len(input_shape) < 1:
            raise ValueError(
                "A merge layer should be called on a list of at least 1 input. "
                f"Received {len(input_shape)} inputs. Full input_shape received: {input_shape}"
            )

    def build(self, input_shape) -> None:
        self._check_list(input_shape)
        shapes = _shape_list(input_shape)
        batch_sizes = {s[0] for s in shapes if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"Cannot merge tensors with different batch sizes. Received tensors with "
                f"shapes {shapes}"
            )
        self.compute_output_shape(shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = _shape_list(input_shape)
        output = shapes[0][1:]
        for shape in shapes[1:]:
            output = self._elementwise_shape(output, shape[1:])
        batch_sizes = {s[0] for s in shapes} - {None}
        batch = next(iter(batch_sizes)) if len(batch_sizes) == 1 else None
        return (batch, *output)

    # -- the call -------------------------------------------------------------------------------
    def _inputs(self, inputs) -> list[Tensor]:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                "A merge layer should be called on a list of inputs. "
                f"Received: inputs={inputs} (not a list of tensors)"
            )
        inputs = list(inputs)
        self.maybe_build([tuple(x.shape) for x in inputs], inputs[0].device)
        ranks = {x.dim() for x in inputs}
        if len(ranks) > 1:  # as Keras: expand the smaller ones at axis 1 until the ranks agree
            top = max(ranks)
            inputs = [x.reshape(x.shape[0], *([1] * (top - x.dim())), *x.shape[1:]) for x in inputs]
        return inputs

    def _masks(self, inputs, mask) -> list:
        if mask is None:
            return [None] * len(inputs)
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received: mask={mask}")
        if len(mask) != len(inputs):
            raise ValueError(
                "The lists `inputs` and `mask` should have the same length. "
                f"Received: inputs={inputs} of length {len(inputs)}, and "
                f"mask={mask} of length {len(mask)}"
            )
        return list(mask)

    def forward(self, inputs, mask=None) -> Tensor:
        inputs = self._inputs(inputs)
        masks = self._masks(inputs, mask)
        return self._merge(inputs, masks)

    def _merge(self, inputs: list[Tensor], masks: list) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The OR of the input masks when every input has one (Keras's rule), else None."""
        if mask is None:
            return None
        if not isinstance(mask, (tuple, list)):
            raise ValueError(f"`mask` should be a list. Received: mask={mask}")
        if not isinstance(inputs, (tuple, list)):
            raise ValueError(f"`inputs` should be a list. Received: inputs={inputs}")
        if len(mask) != len(inputs):
            raise ValueError(
                "The lists `inputs` and `mask` should have the same length. "
                f"Received: inputs={inputs} of length {len(inputs)}, and "
                f"mask={mask} of length {len(mask)}"
            )
        if any(m is None for m in mask):
            return None
        out = _as_bool(mask[0])
        for m in mask[1:]:
            out = out | _as_bool(m)
        return out

    def get_config(self) -> dict:
        return {"name": self.name}

    def extra_repr(self) -> str:
        return ""


def _as_bool(m) -> Tensor:
    m = torch.as_tensor(m)
    return m if m.dtype == torch.bool else m != 0


def _expand(mask, x) -> Tensor:
    """A mask (N, T) broadcast to ``x``'s shape (N, T, D); ``x`` may be symbolic (its open
    axes then take the mask's sizes)."""
    m = _as_bool(mask).to(getattr(x, "device", None) or torch.as_tensor(mask).device)
    shape = _concrete(x, m)
    while m.dim() < len(shape):
        m = m.unsqueeze(-1)
    return m.expand(shape)


def _concrete(x, like: Tensor) -> tuple:
    """``x``'s shape, with the open axes of a symbolic ``x`` taken from ``like``."""
    return tuple(
        (like.shape[i] if i < like.dim() else 1) if d is None else d for i, d in enumerate(x.shape)
    )


def _keras_only(owner: str, kwargs: dict) -> None:
    """Keras's base-layer keywords rnnkit accepts and ignores (``dtype``, ``trainable``)."""
    unknown = set(kwargs) - {"dtype", "trainable"}
    if unknown:
        raise TypeError(f"{owner}: unexpected keyword argument(s) {sorted(unknown)}.")


class Add(Merge):
    """Adds a list of inputs of the same shape: ``y = x_1 + x_2 + ...``.

    >>> import torch
    >>> from rnnkit.layers import Add
    >>> Add()([torch.ones(2, 3), torch.ones(2, 3)]).sum().item()
    12.0
    """

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(Merge):
    """Subtracts two inputs: ``y = x_1 - x_2`` (exactly two)."""

    def _check_two(self, n: int, what: str) -> None:
        if n != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs. Received: {what}"
            )

    def build(self, input_shape) -> None:
        self._check_list(input_shape)
        self._check_two(len(input_shape), f"input_shape={_shape_list(input_shape)}")
        super().build(input_shape)

    def _merge(self, inputs, masks):
        self._check_two(len(inputs), f"inputs of length {len(inputs)}")
        return inputs[0] - inputs[1]


class Average(Merge):
    """Averages a list of inputs of the same shape."""

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Multiply(Merge):
    """Multiplies a list of inputs of the same shape elementwise; a masked position counts as 1
    (see the module docstring)."""

    def _merge(self, inputs, masks):
        every = all(m is not None for m in masks)
        out = out_mask = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expand(m, x)
                x = torch.where(m, x, torch.ones((), dtype=x.dtype, device=x.device))
                if every:
                    out_mask = m if out_mask is None else out_mask | m
            out = x if out is None else out * x
        if every:
            out = torch.where(out_mask, out, torch.zeros((), dtype=out.dtype, device=out.device))
        return out


class _OrderMerge(Merge):
    """``Maximum`` / ``Minimum``: a masked position takes the other input's value."""

    op = staticmethod(torch.maximum)

    def _merge(self, inputs, masks):
        out = out_mask = None
        for x, m in zip(inputs, masks):
            m = None if m is None else _expand(m, x)
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = torch.where(m, x, out)
            if out_mask is not None:
                out = torch.where(out_mask, out, x)
            out_mask = out_mask | m if (m is not None and out_mask is not None) else None
            out = self.op(out, x)
        return out


class Maximum(_OrderMerge):
    """The elementwise maximum of a list of inputs of the same shape."""

    op = staticmethod(torch.maximum)


class Minimum(_OrderMerge):
    """The elementwise minimum of a list of inputs of the same shape."""

    op = staticmethod(torch.minimum)


class Concatenate(Merge):
    """Concatenates a list of inputs along ``axis`` (default -1: the features); the other
    axes must match.

    >>> import torch
    >>> from rnnkit.layers import Concatenate
    >>> Concatenate()([torch.ones(2, 3), torch.ones(2, 5)]).shape
    torch.Size([2, 8])
    """

    def __init__(self, axis: int = -1, *, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            V.fail("Concatenate", "axis", "an integer", axis, TypeError)
        self.axis = axis

    def _error(self, input_shape):
        return ValueError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis. Received: input_shape={_shape_list(input_shape)}"
        )

    def build(self, input_shape) -> None:
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) < 1
            or not isinstance(input_shape[0], (tuple, list))
        ):
            raise ValueError(
                "A `Concatenate` layer should be called on a list of at least 1 input. "
                f"Received: input_shape={input_shape}"
            )
        self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(s, (tuple, list)) for s in input_shape
        ):
            raise ValueError(
                "A `Concatenate` layer should be called on a list of inputs. "
                f"Received: input_shape={input_shape}"
            )
        shapes = _shape_list(input_shape)
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise self._error(shapes)
        (rank,) = ranks
        axis = self.axis % rank if rank else 0
        for d in range(rank):
            if d == axis:
                continue
            sizes = {s[d] for s in shapes} - {None}
            if len(sizes) > 1:
                raise self._error(shapes)
        output = list(shapes[0])
        for d in range(rank):
            if d != axis:
                known = [s[d] for s in shapes if s[d] is not None]
                output[d] = known[0] if known else None
        sizes = [s[axis] for s in shapes]
        output[axis] = None if any(v is None for v in sizes) else sum(sizes)
        return tuple(output)

    def forward(self, inputs, mask=None) -> Tensor:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                "A `Concatenate` layer should be called on a list of inputs. "
                f"Received: input_shape={inputs}"
            )
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        self.built = True
        return torch.cat(list(inputs), dim=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (tuple, list)):
            raise ValueError(f"`mask` should be a list. Received mask={mask}")
        if not isinstance(inputs, (tuple, list)):
            raise ValueError(f"`inputs` should be a list. Received: inputs={inputs}")
        if len(mask) != len(inputs):
            raise ValueError(
                "The lists `inputs` and `mask` should have the same length. "
                f"Received: inputs={inputs} of length {len(inputs)}, and "
                f"mask={mask} of length {len(mask)}"
            )
        if all(m is None for m in mask):
            return None
        known = _as_bool(next(m for m in mask if m is not None))
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                shape = _concrete(x, known)
                masks.append(torch.ones(shape, dtype=torch.bool, device=known.device))
            else:
                masks.append(_expand(m, x))
        return torch.cat(masks, dim=self.axis).any(dim=-1)

    def get_config(self) -> dict:
        return {"axis": self.axis, "name": self.name}

    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"


class Dot(Merge):
    """The dot product of two inputs along ``axes``, sample by sample (Keras's ``Dot``).

    Args:
        axes: an axis (the same for both inputs) or a pair ``(axis_1, axis_2)``; never the
            batch axis 0.
        normalize: L2-normalise both inputs along the axes first (the output is then the
            cosine similarity); the norm is bounded below by 1e-7, as Keras.

    Shapes: ``x_1`` without its axis, followed by ``x_2`` without its batch axis and its axis;
    a result of one axis becomes ``(N, 1)``. E.g. ``(N, 4)`` and ``(N, 4)`` with ``axes=-1``
    give ``(N, 1)``; ``(N, T, H)`` and ``(N, S, H)`` with ``axes=2`` give ``(N, T, S)``
    (Luong's dot scores).
    """

    def __init__(self, axes, normalize: bool = False, *, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(
                    "Invalid format for argument `axes`: it should contain two elements. "
                    f"Received: axes={axes}"
                )
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(
                    "Invalid format for argument `axes`: list elements should be integers. "
                    f"Received: axes={axes}"
                )
            axes = list(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(
                "Invalid type for argument `axes`: it should be a list or an int. "
                f"Received: axes={axes}"
            )
        self.axes = axes
        self.normalize = V.boolean("Dot", "normalize", normalize)

    def _axes(self, rank1: int, rank2: int) -> list[int]:
        if isinstance(self.axes, int):
            return [self.axes % rank1, self.axes % rank2] if self.axes < 0 else [self.axes] * 2
        return [a % r if a < 0 else a for a, r in zip(self.axes, (rank1, rank2))]

    def _check_two(self, input_shape):
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) != 2
            or not isinstance(input_shape[0], (tuple, list))
        ):
            raise ValueError(
                f"A `Dot` layer should be called on a list of 2 inputs. "
                f"Received: input_shape={input_shape}"
            )

    def build(self, input_shape) -> None:
        self._check_two(input_shape)
        shape1, shape2 = (tuple(s) for s in input_shape)
        a1, a2 = self._axes(len(shape1), len(shape2))
        if shape1[a1] is not None and shape2[a2] is not None and shape1[a1] != shape2[a2]:
            raise ValueError(
                f"Incompatible input shapes: axis values {shape1[a1]} (at axis {a1}) != "
                f"{shape2[a2]} (at axis {a2}). Full input shapes: {shape1}, {shape2}"
            )
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_two(input_shape)
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = self._axes(len(shape1), len(shape2))
        shape1.pop(a1)
        shape2.pop(a2)
        shape2.pop(0)
        output = shape1 + shape2
        if len(output) == 1:
            output += [1]
        return tuple(output)

    def forward(self, inputs, mask=None) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            n = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                f"A `Dot` layer should be called on exactly 2 inputs. Received: {n} input(s)"
            )
        x, y = inputs
        self.maybe_build([tuple(x.shape), tuple(y.shape)], x.device)
        a1, a2 = self._axes(x.dim(), y.dim())
        if 0 in (a1, a2):
            raise ValueError(
                "Cannot perform batch_dot over axis 0. If your inputs are not batched, add a "
                "dummy batch dimension to your inputs."
            )
        if x.shape[a1] != y.shape[a2]:
            raise ValueError(
                f"Cannot do batch_dot on inputs with shapes {tuple(x.shape)} and "
                f"{tuple(y.shape)} with axes={[a1, a2]}. x.shape[{a1}] != y.shape[{a2}] "
                f"({x.shape[a1]} != {y.shape[a2]})."
            )
        if self.normalize:
            x = torch.nn.functional.normalize(x, dim=a1, eps=1e-7)
            y = torch.nn.functional.normalize(y, dim=a2, eps=1e-7)
        N = x.shape[0]
        xm = x.movedim(a1, -1)  # (N, ..., d)
        ym = y.movedim(a2, 1)  # (N, d, ...)
        x_rest, y_rest = xm.shape[1:-1], ym.shape[2:]
        out = torch.bmm(xm.reshape(N, -1, xm.shape[-1]), ym.reshape(N, ym.shape[1], -1))
        out = out.reshape(N, *x_rest, *y_rest)  # (N, x's other axes, y's other axes)
        return out.reshape(N, 1) if out.dim() == 1 else out

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {"axes": self.axes, "normalize": self.normalize, "name": self.name}

    def extra_repr(self) -> str:
        return f"axes={self.axes!r}" + (", normalize=True" if self.normalize else "")


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the sum of a list of inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: the difference of two inputs."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product of a list of inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the mean of a list of inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum of a list of inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum of a list of inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize: bool = False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
