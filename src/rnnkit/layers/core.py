"""Embedding, Dense and Dropout (``Input`` lives in :mod:`.input_layer`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import _validation as V
from .. import initializers as I
from ..functional import ACTIVATIONS
from ._options import WeightOptions
from .base import Layer, check_rank
from .input_layer import Input, InputLayer  # noqa: F401 - the old home of Input


def activation_name(owner: str, activation) -> str:
    """Validate an activation given by name (None means linear)."""
    if activation is None:
        return "linear"
    if not isinstance(activation, str):
        V.fail(owner, "activation", "an activation name", activation, TypeError)
    return V.choice(owner, "activation", activation, ACTIVATIONS)


class Embedding(WeightOptions, Layer):
    """Turns token ids into dense vectors: ``y[n, t] = E[ids[n, t]]``.

    Args:
        input_dim: vocabulary size; ids must lie in ``[0, input_dim)``.
        output_dim: size of each vector.
        mask_zero: id 0 is padding; the layer passes a mask ``ids != 0`` to the layers after
            it, so recurrent layers skip the padded steps.
        embeddings_initializer: how ``E`` is first filled (keyword-only; see
            :mod:`rnnkit.initializers`); default 'uniform', uniform(-0.05, 0.05) as Keras.
        embeddings_regularizer, activity_regularizer, embeddings_constraint: as Keras
            (keyword-only; see :mod:`rnnkit.regularizers`, :mod:`rnnkit.constraints`).

    Shapes: ids ``(N, T)`` integer -> ``(N, T, output_dim)``.
    Weight: ``E`` of shape ``(input_dim, output_dim)``.

    >>> from rnnkit.layers import Embedding
    >>> Embedding(input_dim=10000, output_dim=128).count_params()
    1280000
    """

    supports_masking = True
    KERAS_WEIGHTS = (("embeddings", "E"),)

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        mask_zero: bool = False,
        *,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        activity_regularizer=None,
        embeddings_constraint=None,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.input_dim = V.positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = V.positive_int("Embedding", "output_dim", output_dim)
        self.mask_zero = V.boolean("Embedding", "mask_zero", mask_zero)
        self.embeddings_initializer = I.argument(
            "Embedding", "embeddings_initializer", embeddings_initializer
        )
        self._init_options(
            "Embedding",
            activity_regularizer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
        )
        self.build((None, None))

    def build(self, input_shape: tuple) -> None:
        if self.built:
            return
        self.E = self._param(self.input_dim, self.output_dim)
        I.fill_(self.E, self.embeddings_initializer, "Embedding", "embeddings_initializer")
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["embeddings_initializer"] = I.config_of(self.embeddings_initializer)
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs: Tensor, mask=None):
        return inputs != 0 if self.mask_zero else None

    def check_ids(self, ids: Tensor) -> None:
        check_rank("Embedding", "inputs", ids, (1, 2, 3), "of token ids")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            V.fail(
                "Embedding", "inputs", "integer token ids (torch.long or torch.int)", ids, TypeError
            )
        if ids.numel():
            lo, hi = (int(v) for v in torch.aminmax(ids))
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"Embedding: `inputs` expected token ids in [0, {self.input_dim}) "
                    f"(input_dim={self.input_dim}), received id {bad}."
                )

    def forward(self, ids: Tensor, mask=None) -> Tensor:
        self.check_ids(ids)
        y = nn.functional.embedding(ids.long(), self.E)
        self._record_activity(y)
        return y


class Dense(WeightOptions, Layer):
    """A fully connected layer: ``y = activation(x @ W + b)`` on the last axis.

    Args:
        units: output size.
        activation: 'linear' (or None), 'sigmoid', 'tanh', 'relu', 'softmax'.
        use_bias: add ``b``.
        kernel_initializer, bias_initializer: how ``W`` and ``b`` are first filled
            (keyword-only; see :mod:`rnnkit.initializers`).
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint: as Keras (keyword-only; see :mod:`rnnkit.regularizers`,
            :mod:`rnnkit.constraints`).

    Shapes: ``(..., D)`` -> ``(..., units)``. Weights: ``W`` (D, units) glorot-uniform, ``b``
    (units,) zeros by default, as Keras.

    >>> from rnnkit.layers import Dense
    >>> Dense(units=1, activation='sigmoid', input_shape=(128,)).count_params()
    129
    """

    supports_masking = True
    KERAS_WEIGHTS = (("kernel", "W"), ("bias", "b"))

    def __init__(
        self,
        units: int,
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
        self.units = V.positive_int("Dense", "units", units)
        self.activation = activation_name("Dense", activation)
        self.use_bias = V.boolean("Dense", "use_bias", use_bias)
        self.kernel_initializer = I.argument("Dense", "kernel_initializer", kernel_initializer)
        self.bias_initializer = I.argument("Dense", "bias_initializer", bias_initializer)
        self._init_options(
            "Dense",
            activity_regularizer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        if input_shape is not None and input_shape[-1] is not None:
            self.build((None, *input_shape))

    def build(self, input_shape: tuple) -> None:
        D = input_shape[-1]
        if D is None:
            raise ValueError(
                f"Dense: the last axis of the input must be known to build, "
                f"received input shape {tuple(input_shape)}."
            )
        self.W = self._param(D, self.units)
        I.fill_(self.W, self.kernel_initializer, "Dense", "kernel_initializer")
        if self.use_bias:
            self.b = self._param(self.units)
            I.fill_(self.b, self.bias_initializer, "Dense", "bias_initializer")
        else:
            self.register_parameter("b", None)
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config["kernel_initializer"] = I.config_of(self.kernel_initializer)
        config["bias_initializer"] = I.config_of(self.bias_initializer)
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)

    def logits(self, x: Tensor) -> Tensor:
        """The pre-activation ``x @ W + b`` (losses use it for numerically stable gradients)."""
        check_rank("Dense", "inputs", x, tuple(range(1, 9)), "with features on the last axis")
        if not x.dtype.is_floating_point:
            V.fail("Dense", "inputs", "a floating-point tensor", x, TypeError)
        self.maybe_build(x.shape, x.device)
        if x.shape[-1] != self.W.shape[0]:
            raise ValueError(
                f"Dense: `inputs` expected {self.W.shape[0]} features on the last "
                f"axis, received shape {tuple(x.shape)}."
            )
        z = x @ self.W
        z = z + self.b if self.b is not None else z
        if self.activity_regularizer is not None:  # on the output, also when logits are used
            self._record_activity(ACTIVATIONS[self.activation](z))
        return z

    def forward(self, x: Tensor, mask=None) -> Tensor:
        return ACTIVATIONS[self.activation](self.logits(x))


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to zero during training and scales the rest by
    ``1 / (1 - rate)``; does nothing at inference.

    ``noise_shape`` as Keras: e.g. ``(None, 1, None)`` drops whole features for all steps.
    """

    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: tuple | None = None,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.rate = V.rate("Dropout", "rate", rate)
        self.noise_shape = None if noise_shape is None else list(noise_shape)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        if self.noise_shape is None:
            return nn.functional.dropout(x, self.rate, training=True)
        shape = [x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.rate)
        return x * keep / (1.0 - self.rate)
