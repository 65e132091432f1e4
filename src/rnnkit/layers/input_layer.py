"""``Input`` and ``InputLayer``: where a model's data enters, as Keras 3 has them.

``Input(shape=(None, 8))`` returns a symbolic tensor (:class:`~rnnkit.layers.symbolic.
KerasTensor`) to call layers on (the functional API); its ``InputLayer`` is the layer a
functional model lists first. In a :class:`~rnnkit.models.Sequential` either declares the input
shape: ``Sequential([Input(shape=(None,)), Embedding(...), ...])``.
"""

from __future__ import annotations

from torch import Tensor

from .. import _validation as V
from .base import Layer
from .symbolic import KerasTensor, Node, dtype_name


def _shape(owner: str, name: str, shape) -> tuple:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape
    ):
        V.fail(owner, name, "a tuple of non-negative integers or None", shape)
    return tuple(shape)


class InputLayer(Layer):
    """The layer behind ``Input``: holds the input's shape (without the batch axis), its
    batch size (None: any), dtype and name, and the symbolic tensor :attr:`output`.

    >>> from rnnkit.layers import InputLayer
    >>> InputLayer(shape=(None,), dtype="int32").output
    <KerasTensor shape=(None, None), dtype=int32, name=input_layer>
    """

    is_input_layer = True

    def __init__(
        self,
        shape=None,
        batch_size: int | None = None,
        dtype=None,
        sparse: bool | None = None,
        batch_shape=None,
        input_tensor=None,
        optional: bool = False,
        name: str | None = None,
        **kwargs,
    ):
        if "input_shape" in kwargs and shape is None and batch_shape is None:
            shape = kwargs.pop("input_shape")  # Keras 2's name
        if kwargs:
            V.fail("InputLayer", "keyword arguments", "Keras's InputLayer arguments", kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "InputLayer: pass `shape` or `batch_shape`, not both "
                f"(received shape={shape!r}, batch_shape={batch_shape!r})."
            )
        if batch_shape is not None:
            batch_shape = _shape("InputLayer", "batch_shape", batch_shape)
            if not batch_shape:
                V.fail("InputLayer", "batch_shape", "a shape with a batch axis", batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        elif shape is None:
            raise ValueError("InputLayer: `shape` expected the input's shape, received None.")
        shape = _shape("InputLayer", "shape", shape)
        if batch_size is not None:
            batch_size = V.positive_int("InputLayer", "batch_size", batch_size)
        if sparse:
            V.fail("InputLayer", "sparse", "False (rnnkit has no sparse tensors)", sparse)
        super().__init__(name=name or _input_name(), input_shape=None)
        self.shape = shape
        self.batch_size = batch_size
        self.dtype = dtype_name(dtype)
        self.input_shape_hint = shape if all(d is None or d > 0 for d in shape) else None
        self.built = True
        kt = KerasTensor((batch_size, *shape), self.dtype, name=self.name, history=(self, 0, 0))
        self._inbound_nodes = [Node(self, (), {}, [kt], True, None)]

    @property
    def batch_shape(self) -> tuple:
        return (self.batch_size, *self.shape)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        return x

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self) -> dict:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> InputLayer:
        config = dict(config)
        if "shape" in config or "input_shape" in config:  # the config of rnnkit's old `Input`
            config["shape"] = tuple(config.pop("shape", None) or config.pop("input_shape"))
        if isinstance(config.get("batch_shape"), list):
            config["batch_shape"] = tuple(config["batch_shape"])
        return cls(**config)

    def extra_repr(self) -> str:
        return f"shape={self.shape!r}" + (
            "" if self.dtype == "float32" else f", dtype={self.dtype!r}"
        )


def _input_name() -> str:
    from .base import unique_name

    return unique_name("input_layer")


def Input(
    shape=None,
    batch_size: int | None = None,
    dtype=None,
    sparse: bool | None = None,
    batch_shape=None,
    name: str | None = None,
    tensor=None,
    optional: bool = False,
) -> KerasTensor:
    """A symbolic input of ``shape`` (without the batch axis; None for an axis of any size),
    as ``keras.Input``: call layers on it, then ``Model(inputs, outputs)``.

    Args:
        shape: e.g. ``(None,)`` for token ids of any length, ``(None, 8)`` for sequences of
            8 features.
        batch_size: a fixed batch size (None: any).
        dtype: 'float32' (default), 'int32', 'int64', ... (a model casts its inputs to it).
        batch_shape: the shape with the batch axis, instead of ``shape`` and ``batch_size``.
        name: the input's name (the keys of a dict of inputs to ``fit`` / ``predict``).

    >>> from rnnkit.layers import Input
    >>> x = Input(shape=(None, 8), name="x")
    >>> x.shape, x.dtype
    ((None, None, 8), 'float32')
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        name=name,
        optional=optional,
    )
    return layer.output
