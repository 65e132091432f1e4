"""Embedding, Dense and Dropout (``Input`` lives in :mod:`.input_layer`)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from .. import _tracing
from .. import _validation as V
from .. import initializers as I
from ..functional import ACTIVATIONS
from ._options import WeightOptions
from .base import Layer, check_rank
from .cells import keep_mask, keras_units, seed_generator
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
        weights: Keras 2's initial table, ``weights=[matrix]`` (or the matrix itself) of shape
            ``(input_dim, output_dim)``, e.g. pretrained word vectors (keyword-only).
        input_length: Keras 2's argument, accepted with a warning and ignored (as Keras 3).

    Shapes: ids ``(N, T)`` integer -> ``(N, T, output_dim)``.
    Weight: ``E`` of shape ``(input_dim, output_dim)``.

    >>> from rnnkit.layers import Embedding
    >>> Embedding(input_dim=10000, output_dim=128).count_params()
    1280000
    """

    supports_masking = True
    KERAS_WEIGHTS = (("embeddings", "E"),)

    reads_token_ids = True  # integer NumPy inputs stay int64 ids

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
        # Keras 2's initial weights and input length (helper "recurrent")
        weights=None,
        input_length: int | None = None,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.input_dim = keras_units("Embedding", "input_dim", input_dim)
        self.output_dim = keras_units("Embedding", "output_dim", output_dim)
        self.mask_zero = V.boolean("Embedding", "mask_zero", mask_zero)
        self.supports_masking = self.mask_zero  # as Keras: it makes a mask only with mask_zero
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
        self.input_length = None  # ignored, as Keras 3
        if input_length is not None:
            warnings.warn(
                "Embedding: `input_length` is deprecated (as in Keras 3) and ignored; remove it.",
                stacklevel=2,
            )
        if weights is not None:
            if not isinstance(weights, (list, tuple)):
                weights = [weights]  # Keras 3 also takes the matrix itself
            self.set_weights(weights)

    @property
    def embeddings(self) -> nn.Parameter:
        """Keras's name for the table ``E`` (with Keras's ``.constraint`` attribute)."""
        return self.keras_variable("embeddings")

    def build(self, input_shape: tuple | None = None) -> None:
        if self.built:
            return
        self.E = self._param(self.input_dim, self.output_dim)
        I.fill_(self.E, self.embeddings_initializer, "Embedding", "embeddings_initializer")
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("weights")  # an initial value, not a setting (Keras leaves it out too)
        config.pop("input_length")  # ignored
        config["embeddings_initializer"] = I.config_of(self.embeddings_initializer)
        return self._options_config(config)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def check_ids(self, ids: Tensor) -> None:
        check_rank("Embedding", "inputs", ids, (1, 2, 3), "of token ids")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            V.fail(
                "Embedding", "inputs", "integer token ids (torch.long or torch.int)", ids, TypeError
            )
        if ids.numel() and not _tracing.active():  # (export mode: no decision on the data)
            lo, hi = (int(v) for v in torch.aminmax(ids))
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"Embedding: `inputs` expected token ids in [0, {self.input_dim}) "
                    f"(input_dim={self.input_dim}), received id {bad}."
                )

    def compute_mask(self, inputs: Tensor, mask=None):
        return as_input(inputs) != 0 if self.mask_zero else None

    def forward(self, ids: Tensor, mask=None) -> Tensor:
        ids = as_input(ids)
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
        self.units = keras_units("Dense", "units", units)
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
        D = input_shape[-1]
        if self.built and D is not None and D != self.W.shape[0]:  # Keras's InputSpec check
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis '
                f"-1 of input shape to have value {self.W.shape[0]}, but received input with "
                f"shape {tuple(input_shape)}"
            )
        return tuple(input_shape[:-1]) + (self.units,)

    # Keras's names for the weights
    kernel = property(lambda self: self.keras_variable("kernel"))
    bias = property(lambda self: self.keras_variable("bias"))

    def logits(self, x: Tensor) -> Tensor:
        """The pre-activation ``x @ W + b`` (losses use it for numerically stable gradients)."""
        x = as_input(x)
        check_rank("Dense", "inputs", x, tuple(range(1, 9)), "with features on the last axis")
        if not x.dtype.is_floating_point:
            V.fail("Dense", "inputs", "a floating-point tensor", x, TypeError)
        self.maybe_build(x.shape, x.device)
        if x.shape[-1] != self.W.shape[0]:
            raise ValueError(
                f"Dense: `inputs` expected {self.W.shape[0]} features on the last "
                f"axis, received shape {tuple(x.shape)}."
            )
        z = nn.functional.linear(x, self.W.t(), self.b)  # x @ W + b, the bias fused (one addmm)
        if self.activity_regularizer is not None:  # on the output, also when logits are used
            self._record_activity(ACTIVATIONS[self.activation](z))
        return z

    def forward(self, x: Tensor, mask=None) -> Tensor:
        return ACTIVATIONS[self.activation or "linear"](self.logits(x))


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to zero during training and scales the rest by
    ``1 / (1 - rate)``; does nothing at inference.

    Args:
        rate: the fraction dropped, in [0, 1).
        noise_shape: Keras's shape of the mask, broadcast over the input: ``None`` entries take
            the input's size, e.g. ``(None, 1, None)`` drops whole features for all steps.
            Each entry must be None, 1 or the input's size on that axis.
        seed: seeds the masks: the same seed gives the same masks (Keras's ``seed``).

    Call: ``layer(x, training=None)``; ``training`` overrides the module's mode for the call.

    >>> import torch
    >>> from rnnkit.layers import Dropout
    >>> Dropout(0.5, seed=1)(torch.ones(2, 3), training=False).sum().item()
    6.0
    """

    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: tuple | None = None,
        seed: int | None = None,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.rate = V.rate("Dropout", "rate", rate)
        self.noise_shape = _noise_shape(noise_shape)
        self.seed = seed
        self._generator = seed_generator("Dropout", seed)
        self.built = True  # no weights: built from the start, as Keras

    def get_config(self) -> dict:
        config = super().get_config()
        if config["noise_shape"] is not None:
            config["noise_shape"] = list(config["noise_shape"])
        return config

    @classmethod
    def from_config(cls, config: dict) -> Dropout:
        config = dict(config)
        if config.get("noise_shape") is not None:
            config["noise_shape"] = tuple(config["noise_shape"])
        return cls(**config)

    def _mask_shape(self, x: Tensor) -> tuple:
        """``noise_shape`` against ``x``: None entries take x's size; each entry must be 1 or
        x's size so that the mask broadcasts."""
        if len(self.noise_shape) != x.dim():
            V.fail("Dropout", "noise_shape", f"{x.dim()} entries (one per input axis)", x)
        shape = []
        for axis, (d, n) in enumerate(zip(self.noise_shape, x.shape)):
            if d is not None and d not in (1, n):
                raise ValueError(
                    f"Dropout: `noise_shape` expected None, 1 or {n} on axis {axis} (inputs of "
                    f"shape {tuple(x.shape)}), received {tuple(self.noise_shape)}."
                )
            shape.append(n if d is None else d)
        return tuple(shape)

    def forward(self, x: Tensor, mask=None, training: bool | None = None) -> Tensor:
        x = as_input(x)
        training = self.training if training is None else bool(training)
        if not training or self.rate == 0.0:
            return x
        if self.noise_shape is None and self._generator is None:
            return nn.functional.dropout(x, self.rate, training=True)
        shape = tuple(x.shape) if self.noise_shape is None else self._mask_shape(x)
        return x * keep_mask(x, shape, self.rate, self._generator)  # the mask broadcasts


def _noise_shape(noise_shape) -> tuple | None:
    """Keras's checks of ``noise_shape``: None, or a tuple / list of positive integers or None."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, (str, bytes)) or not isinstance(noise_shape, (tuple, list)):
        V.fail("Dropout", "noise_shape", "a tuple or list of integers", noise_shape)
    for d in noise_shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)):
            V.fail("Dropout", "noise_shape", "all elements to be integers or None", noise_shape)
        if d is not None and d <= 0:
            V.fail(
                "Dropout",
                "noise_shape",
                "all dimensions to be positive integers or None",
                noise_shape,
            )
    return tuple(None if d is None else int(d) for d in noise_shape)


def as_input(x):
    """A NumPy array (or nested list) as a tensor, floats in the default dtype (as Keras casts
    to its compute dtype); anything else unchanged."""
    if isinstance(x, (np.ndarray, np.generic, list)):
        t = torch.as_tensor(np.asarray(x))
        return t.to(torch.get_default_dtype()) if t.dtype.is_floating_point else t
    return x
