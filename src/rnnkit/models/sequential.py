"""Sequential: a stack of layers with Keras's summary / compile / fit / evaluate / predict.

It stays a plain ``torch.nn.Module``: ``model(x)`` runs the layers (in inference mode, as
Keras's plain call; ``model(x, training=True)`` trains for that call, see
:class:`rnnkit.layers.base.KerasCall`), ``model.parameters()`` feeds any PyTorch training loop.
The methods it shares with the functional :class:`~rnnkit.models.Model` (``summary``,
``compile``, ``fit``, ...) live in :mod:`rnnkit.models.model_api`. The table of ``summary`` is printed by
:mod:`rnnkit.models.summary`; ``fit`` / ``evaluate`` / ``predict`` run the loop of
:mod:`rnnkit.models.training`, which uses only what a model shows to its users.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import _validation as V
from ..layers import Embedding, InputLayer, Layer
from ..layers.base import KerasCall, unique_name
from ..layers.symbolic import KerasTensor
from . import execution
from .model_api import ModelAPI


class Sequential(ModelAPI, KerasCall, nn.Module):
    """A linear stack of layers.

    >>> from rnnkit.models import Sequential
    >>> from rnnkit.layers import Embedding, LSTM, Dense
    >>> model = Sequential()
    >>> model.add(Embedding(input_dim=10000, output_dim=128))
    >>> model.add(LSTM(units=128))
    >>> model.add(Dense(units=1, activation='sigmoid'))
    >>> model.count_params()
    1411713
    """

    lean_predict = True  # predict may take rnnkit.models.lean's path (this class, not subclasses)

    def __init__(self, layers: list[Layer] | None = None, name: str | None = None):
        super().__init__()
        self.training = False  # Keras's plain call is inference; fit trains
        self.name = name or unique_name("sequential")
        self.layers = nn.ModuleList()
        self.input_shape_hint: tuple | None = None  # without the batch axis
        self.stop_training = False
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    # -- building -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append ``layer``; build it now if the shape of its input is already known.

        An ``Input(shape=...)`` (or an ``InputLayer``) first declares the input shape. A layer
        added takes the model's mode (inference unless the model is training)."""
        if isinstance(layer, KerasTensor) and isinstance(
            (layer._keras_history or (None,))[0], InputLayer
        ):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            V.fail("Sequential.add", "layer", "an rnnkit layer", layer, TypeError)
        if isinstance(layer, InputLayer):
            if len(self.layers):
                raise ValueError("Sequential.add: an `Input` must come before every other layer.")
            self.input_shape_hint = layer.shape
            return
        layer.train(self.training)
        if not len(self.layers) and layer.input_shape_hint is not None:
            self.input_shape_hint = layer.input_shape_hint
        names = {existing.name for existing in self.layers}
        if layer.name in names:
            raise ValueError(
                f"Sequential.add: layer names must be unique; a layer named "
                f"{layer.name!r} is already in the model."
            )
        shape = self.output_shape
        self.layers.append(layer)
        if not layer.built and shape is not None and shape[-1] is not None:
            layer.build(shape)

    def pop(self) -> Layer:
        return self.layers.pop(-1) if len(self.layers) else None

    def _input_shape(self) -> tuple | None:
        """The model's input shape with the batch axis, where known."""
        if self.input_shape_hint is not None:
            return (None, *self.input_shape_hint)
        if len(self.layers) and isinstance(self.layers[0], Embedding):
            return (None, None)
        return None

    def _shapes(self) -> list:
        """Output shape of every layer, or None from the first unknown one on."""
        shape, shapes = self._input_shape(), []
        for layer in self.layers:
            shape = (
                layer.compute_output_shape(shape)
                if shape is not None and (layer.built or shape[-1] is not None)
                else None
            )
            shapes.append(shape)
        return shapes

    @property
    def output_shape(self):
        if not len(self.layers):
            return self._input_shape()
        return self._shapes()[-1]

    @property
    def built(self) -> bool:
        return len(self.layers) > 0 and all(layer.built for layer in self.layers)

    def build(self, input_shape: tuple) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        self.input_shape_hint = tuple(input_shape[1:])
        dummy_shape = [2 if d is None else d for d in input_shape]
        if not self.built:
            first = self.layers[0]
            dummy = (
                torch.zeros(dummy_shape, dtype=torch.long)
                if isinstance(first, Embedding)
                else torch.zeros(dummy_shape)
            )
            with torch.no_grad():
                self.eval()
                self(dummy)

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- the call -----------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, logits: bool = False) -> Tensor:
        """Run the layers in order, passing each one's mask to the next (as Keras).

        With ``logits=True`` a final sigmoid / softmax ``Dense`` returns its pre-activation.
        Columns of token ids that are padding in every row are skipped where that gives
        exactly the same result (see :mod:`rnnkit.models.execution`).
        """
        if self.input_shape_hint is None and isinstance(x, Tensor) and x.dim() >= 2:
            # as Keras, the first call fixes the input shape (time axes left open), so that a
            # model built by calling it saves a config that rebuilds it
            features = () if not x.dtype.is_floating_point else (x.shape[-1],)
            self.input_shape_hint = (None,) * (x.dim() - 1 - len(features)) + features
        return execution.forward(self, x, mask, logits)

    # -- saving -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "input_shape": None if self.input_shape_hint is None else list(self.input_shape_hint),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """The model :meth:`get_config` describes (new weights), e.g. nested in a functional
        model's config."""
        from ..layers import get as get_layer_class

        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model.input_shape_hint = tuple(config["input_shape"])
        for entry in config["layers"]:
            cfg = dict(entry["config"])
            if isinstance(cfg.get("input_shape"), list):
                cfg["input_shape"] = tuple(cfg["input_shape"])
            model.add(get_layer_class(entry["class_name"]).from_config(cfg))
        return model
