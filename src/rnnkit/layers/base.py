"""What every rnnkit layer shares: a name, lazy building from the first input, a config."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict

import torch
from torch import Tensor, nn

from .. import _validation as V
from . import symbolic

_name_counts: dict[str, int] = defaultdict(int)


def clear_names() -> None:
    """Restart automatic layer names (``lstm``, ``lstm_1``, ...) from zero, as Keras's
    ``clear_session`` does."""
    _name_counts.clear()


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """``SimpleRNN`` -> ``simple_rnn``, ``LSTM`` -> ``lstm``, ``Embedding`` -> ``embedding``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class KerasCall:
    """Keras's call for a ``torch.nn.Module``: ``module(x, ..., training=None)``.

    * ``training=None`` (the plain call): the module's current mode. rnnkit layers and models
      are made in inference mode (``self.training`` False), so a plain call is inference, as
      Keras's; ``fit`` switches to training for its steps (``model.train()``) and back.
    * ``training=True`` / ``False``: training / inference for this call only, for the module
      and all its sublayers; every mode is restored afterwards (also if the call raises).
    * NumPy arrays (also inside lists and keyword arguments) become tensors: floats float32,
      integers int64 (token ids), as Keras reads them.
    * Symbolic inputs (:class:`~rnnkit.layers.symbolic.KerasTensor`, from ``Input``) record a
      node of a functional graph and return symbolic outputs (:mod:`rnnkit.layers.symbolic`).
    """

    def __call__(self, *args, training=None, **kwargs):
        if training is None:  # the common call on tensors: straight to torch, nothing to scan
            for a in args:
                if type(a) is not Tensor:
                    break
            else:
                for v in kwargs.values():
                    if v is not None and type(v) is not Tensor:
                        break
                else:
                    return nn.Module.__call__(self, *args, **kwargs)
        return symbolic.call(self, args, kwargs, training)


class Layer(KerasCall, nn.Module):
    """Base class: a ``torch.nn.Module`` with a Keras-style name, build and config.

    A layer creates its parameters in :meth:`build` once it knows its input's feature size,
    either from ``input_shape=`` (without the batch axis, as Keras), from the layer before it in
    a :class:`~rnnkit.models.Sequential`, from a call on a symbolic ``Input``, or from its first
    call. A layer is made in inference mode: ``layer(x)`` is Keras's plain call (dropout off),
    ``layer(x, training=True)`` trains (see :class:`KerasCall`).
    """

    supports_masking = False
    reads_token_ids = False  # integer NumPy inputs become float32 (True: int64 ids, Embedding)

    def __init__(self, *, name: str | None = None, input_shape: tuple | None = None):
        super().__init__()
        self.training = False  # Keras's plain call is inference
        owner = type(self).__name__
        if name is not None and not isinstance(name, str):
            V.fail(owner, "name", "a string", name, TypeError)
        if input_shape is not None:
            if not isinstance(input_shape, (tuple, list)) or not all(
                d is None or (isinstance(d, int) and d > 0) for d in input_shape
            ):
                V.fail(
                    owner,
                    "input_shape",
                    "a tuple of positive integers or None (without the batch axis)",
                    input_shape,
                )
            input_shape = tuple(input_shape)
        self.name = name or unique_name(snake_case(owner))
        self.input_shape_hint = input_shape
        self.built = False

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Create parameters for inputs of ``input_shape`` (batch axis first, may be None)."""
        self.built = True

    def maybe_build(self, input_shape: tuple, device=None) -> None:
        """Build from the first input's shape, on its device."""
        if not self.built:
            self.build(tuple(input_shape))
            if device is not None:
                self.to(device)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    @classmethod
    def defines_output_shape(cls) -> bool:
        """Whether the class says its output shape (else a symbolic call infers it by running
        the layer on zeros, :mod:`rnnkit.layers.symbolic`)."""
        return (
            cls.compute_output_shape is not Layer.compute_output_shape
            or cls.compute_output_shape_of_call is not Layer.compute_output_shape_of_call
        )

    def compute_output_shape_of_call(self, input_shape, call_kwargs: dict):
        """The output shape(s) of a call with keyword arguments ``call_kwargs`` (symbolic
        calls use it; layers whose outputs depend on a call argument override it)."""
        return self.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask):
        """The mask this layer passes on to the next one (None: no mask)."""
        return mask

    # -- the functional API ---------------------------------------------------------------------
    @property
    def output(self):
        """The symbolic output of this layer's only call on symbolic tensors (Keras's
        ``layer.output``)."""
        nodes = self.__dict__.get("_inbound_nodes", [])
        if len(nodes) != 1:
            raise AttributeError(
                f"Layer {self.name!r} has {len(nodes)} inbound nodes: `output` is defined "
                "for a layer called exactly once on symbolic tensors."
            )
        outputs = nodes[0].outputs
        return outputs[0] if nodes[0].single else list(outputs)

    @property
    def input(self):
        """The symbolic input of this layer's only call (Keras's ``layer.input``)."""
        nodes = self.__dict__.get("_inbound_nodes", [])
        if len(nodes) != 1:
            raise AttributeError(
                f"Layer {self.name!r} has {len(nodes)} inbound nodes: `input` is defined "
                "for a layer called exactly once on symbolic tensors."
            )
        return nodes[0].args[0]

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- weights, as Keras's get_weights / set_weights ---------------------------------------
    @property
    def weights(self) -> list[nn.Parameter]:
        """The parameters this layer holds, in Keras's order (``[]`` before it is built).

        These are rnnkit's tensors: where Keras packs two of them into one array (the GRU's
        ``(2, 3H)`` bias is rnnkit's ``b_x`` and ``b_h``) the list is one longer than
        Keras's; :meth:`get_weights` gives Keras's exact layout.
        """
        return list(self.parameters())

    @property
    def trainable(self) -> bool:
        """Keras's ``layer.trainable`` (default True). Setting it False freezes every weight of
        the layer and of the layers inside it (``requires_grad`` off: ``fit`` leaves them as
        they are; ``trainable_weights`` is empty) and runs ``BatchNormalization`` in inference
        mode even under ``training=True``, as Keras; setting it True again unfreezes them,
        except the weights that are never trained (a batch norm's moving statistics)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool):
            V.fail(type(self).__name__, "trainable", "True or False", value, TypeError)
        for layer in self.modules():
            if not isinstance(layer, Layer):
                continue
            always = layer.__dict__.setdefault("_never_trained", set())
            for key, p in layer.named_parameters(recurse=False):
                if layer.__dict__.get("_trainable", True) and not p.requires_grad:
                    always.add(key)  # frozen while the layer was trainable: never trained
                p.requires_grad_(value and key not in always)
            layer.__dict__["_trainable"] = value

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        """The :attr:`weights` an optimizer updates (``requires_grad``)."""
        return [p for p in self.weights if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        """The :attr:`weights` with ``requires_grad`` off."""
        return [p for p in self.weights if not p.requires_grad]

    def get_weights(self) -> list:
        """The weights as NumPy arrays (copies) in Keras's order and shapes, e.g. for an
        LSTM ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]``."""
        return [w.detach().cpu().clone().numpy() for w in self._keras_weights()]

    def set_weights(self, weights) -> None:
        """Set the weights from arrays (NumPy or tensors) in :meth:`get_weights`'s layout.

        Every shape is checked before anything is written, so a bad list changes nothing.
        Messages as Keras's: ``Layer lstm weight shape (4, 16) is not compatible with
        provided weight shape (3, 16).``
        """
        values = self._check_weights(weights)
        self._assign_weights(values)

    def _keras_weights(self) -> list[torch.Tensor]:
        """The weights in Keras's layout; layers whose layout differs from :attr:`weights`
        override this and :meth:`_set_keras_weights`."""
        return self.weights

    def _set_keras_weights(self, values: list[torch.Tensor]) -> None:
        """Copy ``values`` (checked, in Keras's layout) into the parameters (no grad)."""
        for p, v in zip(self.weights, values, strict=True):
            p.copy_(v)

    def _check_weights(self, weights) -> list[torch.Tensor]:
        """``weights`` as tensors of the parameters' dtype and device, or a Keras-worded error
        for a wrong length or shape."""
        if isinstance(weights, (str, bytes, torch.Tensor)) or not isinstance(
            weights, (list, tuple)
        ):
            V.fail(
                f"{type(self).__name__}.set_weights",
                "weights",
                "a list of arrays",
                weights,
                TypeError,
            )
        expected = self._keras_weights()
        if len(weights) != len(expected):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight "
                f"list of length {len(weights)}, but the layer was expecting "
                f"{len(expected)} weights."
            )
        values = []
        for i, (w, v) in enumerate(zip(expected, weights)):
            t = _as_tensor(v)
            if t is None or t.dtype.is_complex:
                V.fail(
                    f"{type(self).__name__}.set_weights",
                    f"weights[{i}]",
                    "a real-valued array",
                    v,
                    TypeError,
                )
            if tuple(t.shape) != tuple(w.shape):
                raise ValueError(
                    f"Layer {self.name} weight shape {tuple(w.shape)} is not compatible "
                    f"with provided weight shape {tuple(t.shape)}."
                )
            values.append(t.to(device=w.device, dtype=w.dtype))
        return values

    def _assign_weights(self, values: list[torch.Tensor]) -> None:
        if not values:  # an unbuilt layer (or one without weights): nothing to write
            return
        with torch.no_grad():
            self._set_keras_weights(values)

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (JSON-serialisable)."""
        params = inspect.signature(type(self).__init__).parameters
        config = {
            k: getattr(self, k)
            for k in params
            if k not in ("self", "input_shape")
            and params[k].kind is not inspect.Parameter.VAR_KEYWORD
        }
        config["name"] = self.name
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        """Show only the arguments that differ from their defaults, as PyTorch does."""
        params = inspect.signature(type(self).__init__).parameters
        parts = []
        for k, p in params.items():
            if k in ("self", "name", "input_shape") or p.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            value = getattr(self, k, None)
            if p.default is inspect.Parameter.empty or value != p.default:
                parts.append(f"{k}={value!r}")
        return ", ".join(parts)

    def add_weight(
        self,
        shape=(),
        initializer=None,
        dtype=None,
        trainable: bool = True,
        name: str | None = None,
        **_keras_only,
    ) -> nn.Parameter:
        """Keras's ``add_weight`` (for a user's layer or cell, helper "recurrent"): a parameter
        of ``shape`` filled by ``initializer`` (default 'glorot_uniform', as Keras for floating
        weights), frozen unless ``trainable``, registered under ``name``."""
        from .. import initializers as I

        owner = type(self).__name__
        param = self._param(*tuple(shape), dtype=dtype)
        initializer = I.argument(owner, "initializer", initializer or "glorot_uniform")
        I.fill_(param, initializer, owner, "initializer")
        param.requires_grad_(bool(trainable))
        base = name or "weight"
        key, n = base, 0
        while key in self._parameters or hasattr(type(self), key):
            n += 1
            key = f"{base}_{n}"
        self.register_parameter(key, param)
        return param

    @staticmethod
    def _param(*shape: int, device=None, dtype=None) -> nn.Parameter:
        return nn.Parameter(
            torch.empty(shape, device=device, dtype=dtype or torch.get_default_dtype())
        )


def _as_tensor(value) -> torch.Tensor | None:
    """``value`` (array, tensor, nested list) as a tensor, or None if it is not numeric."""
    try:
        return torch.as_tensor(value)
    except ValueError:  # a NumPy view with negative strides, e.g. a[:, ::-1]
        copy = getattr(value, "copy", None)
        return _as_tensor(copy()) if callable(copy) and hasattr(value, "strides") else None
    except (TypeError, RuntimeError):
        return None


def check_rank(owner: str, name: str, x, ranks: tuple[int, ...], meaning: str) -> None:
    if not isinstance(x, torch.Tensor):
        V.fail(owner, name, f"a torch.Tensor {meaning}", x, TypeError)
    if x.dim() not in ranks:
        V.fail(owner, name, f"a tensor of rank {' or '.join(map(str, ranks))} {meaning}", x)


_BINARY_OPS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
}


class Operation(Layer):
    """An operation on symbolic tensors written with Python operators, as Keras records its ops:
    ``x + y``, ``x - 1``, ``2 * x``, ``x / y``, ``-x``, ``x[:, 0]``. Built by
    :class:`~rnnkit.layers.symbolic.KerasTensor`'s operators; its shape is inferred by a run
    on zeros. Not saved in a config (an error names it)."""

    def __init__(self, op: str, index=None, *, name: str | None = None):
        super().__init__(name=name or unique_name(op))
        self.op = op
        self.index = index
        self.built = True

    def forward(self, inputs):
        if self.op == "getitem":
            return inputs[self.index]
        if self.op == "negative":
            return -inputs
        a, b = inputs
        return _BINARY_OPS[self.op](a, b)

    def get_config(self) -> dict:
        raise ValueError(
            f"Operation {self.name!r} ({self.op}) on symbolic tensors cannot be saved in a "
            "config; use layers (Add, Subtract, Multiply, ...) for a model you save."
        )

    def extra_repr(self) -> str:
        return f"op={self.op!r}"


symbolic.operation_layer = Operation
