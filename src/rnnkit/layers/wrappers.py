"""Bidirectional: run a recurrent layer forwards and a copy of it backwards, then merge."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _validation as V
from .base import Layer
from .recurrent import RNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Reads the sequence in both directions (Schuster & Paliwal 1997).

    ``layer`` runs forwards; a fresh copy of it with ``go_backwards`` flipped runs backwards
    (its own weights). With ``return_sequences`` the backward outputs are put back in time
    order before merging, and masked steps output zeros (as Keras).

    Args:
        layer: a :class:`SimpleRNN`, :class:`LSTM` or :class:`GRU`.
        merge_mode: 'concat' (default, 2H features), 'sum', 'mul', 'ave', or None (return a
            list ``[forward, backward]``).

    With ``return_state`` it returns ``[output, *forward_states, *backward_states]``.

    >>> from rnnkit.layers import Bidirectional, LSTM
    >>> Bidirectional(LSTM(64), input_shape=(None, 32)).count_params()
    49664
    """

    supports_masking = True

    def __init__(
        self,
        layer: RNN,
        merge_mode: str | None = "concat",
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        if not isinstance(layer, RNN):
            V.fail(
                "Bidirectional",
                "layer",
                "a recurrent layer (SimpleRNN, LSTM or GRU)",
                layer,
                TypeError,
            )
        super().__init__(name=name, input_shape=input_shape or layer.input_shape_hint)
        self.merge_mode = V.choice("Bidirectional", "merge_mode", merge_mode, MERGE_MODES)
        config = layer.get_config()
        config.pop("input_shape", None)
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{layer.name}"})
        self.backward_layer = type(layer).from_config(
            {**config, "name": f"backward_{layer.name}", "go_backwards": not layer.go_backwards}
        )
        if layer.built:
            self.build((None, None, layer.input_size))
        elif self.input_shape_hint is not None and self.input_shape_hint[-1] is not None:
            self.build((None, *self.input_shape_hint))

    @property
    def layer(self) -> RNN:
        return self.forward_layer

    def build(self, input_shape: tuple) -> None:
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)
        self.built = True

    def get_config(self) -> dict:
        layer_config = self.forward_layer.get_config()
        layer_config["name"] = layer_config["name"].removeprefix("forward_")
        config = {
            "layer": {"class_name": type(self.forward_layer).__name__, "config": layer_config},
            "merge_mode": self.merge_mode,
            "name": self.name,
        }
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        from . import get as get_layer_class

        config = dict(config)
        inner = config.pop("layer")
        layer = get_layer_class(inner["class_name"]).from_config(inner["config"])
        return cls(layer, **config)

    def _keras_weights(self) -> list[Tensor]:
        """The forward layer's weights, then the backward layer's (as Keras)."""
        return self.forward_layer._keras_weights() + self.backward_layer._keras_weights()

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        n = len(self.forward_layer._keras_weights())
        self.forward_layer._set_keras_weights(values[:n])
        self.backward_layer._set_keras_weights(values[n:])

    def extra_repr(self) -> str:
        return "" if self.merge_mode == "concat" else f"merge_mode={self.merge_mode!r}"

    def compute_output_shape(self, input_shape: tuple):
        inner = self.forward_layer.compute_output_shape(input_shape)
        out = inner[0] if self.forward_layer.return_state else inner
        if self.merge_mode == "concat":
            out = out[:-1] + (2 * self.forward_layer.units,)
        elif self.merge_mode is None:
            out = [out, out]
        if self.forward_layer.return_state:
            states = inner[1:]
            return [out, *states, *states]
        return out

    def compute_mask(self, inputs, mask):
        return mask if self.forward_layer.return_sequences else None

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
    ):
        fwd, bwd = self.forward_layer, self.backward_layer
        init_f = init_b = None
        if initial_state is not None:
            n = fwd.n_states
            initial_state = list(initial_state)
            if len(initial_state) != 2 * n:
                V.fail(
                    "Bidirectional",
                    "initial_state",
                    f"a list of {2 * n} tensors (forward states, then backward states)",
                    f"{len(initial_state)} tensor(s)",
                )
            init_f, init_b = initial_state[:n], initial_state[n:]
        out_f = fwd(x, mask=mask, initial_state=init_f, lengths=lengths)
        out_b = bwd(x, mask=mask, initial_state=init_b, lengths=lengths)
        states_f, states_b = [], []
        if fwd.return_state:
            out_f, *states_f = out_f
            out_b, *states_b = out_b
        if fwd.return_sequences:
            out_b = out_b.flip(1)  # back into time order
            if lengths is not None:
                mask = torch.arange(x.shape[1], device=x.device) < torch.as_tensor(
                    lengths, device=x.device
                ).unsqueeze(1)
            if mask is not None:
                keep = mask.unsqueeze(-1).to(out_f.dtype)  # (N, T, 1)
                out_f, out_b = out_f * keep, out_b * keep
        if self.merge_mode == "concat":
            output = torch.cat([out_f, out_b], dim=-1)
        elif self.merge_mode == "sum":
            output = out_f + out_b
        elif self.merge_mode == "mul":
            output = out_f * out_b
        elif self.merge_mode == "ave":
            output = (out_f + out_b) / 2
        else:
            output = [out_f, out_b]
        if fwd.return_state:
            return [output, *states_f, *states_b]
        return output


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step, as Keras's ``TimeDistributed``.

    The inner layer sees the steps of all rows at once, ``(N * T, ...)``, and its output is
    put back as ``(N, T, ...)``; a mask ``(N, T)`` passes on unchanged. One set of weights
    serves every step: ``TimeDistributed(Dense(V))`` after an LSTM with
    ``return_sequences=True`` gives the per-step scores of a language model.

    >>> from rnnkit.layers import Dense, TimeDistributed
    >>> TimeDistributed(Dense(8), input_shape=(10, 16)).count_params()
    136
    """

    supports_masking = True

    def __init__(self, layer: Layer, *, name: str | None = None, input_shape: tuple | None = None):
        if not isinstance(layer, Layer):
            V.fail("TimeDistributed", "layer", "an rnnkit layer", layer, TypeError)
        super().__init__(name=name, input_shape=input_shape)
        self.layer = layer
        if input_shape is not None:
            self.build((None, *input_shape))

    def _inner_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed: `inputs` expected at least 3 axes (batch, time, features), "
                f"received input shape {tuple(input_shape)}."
            )
        return (None, *input_shape[2:])  # (N * T, ...): one row per step

    def build(self, input_shape: tuple) -> None:
        inner = self._inner_shape(input_shape)
        if not self.layer.built:
            self.layer.build(inner)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        inner = self.layer.compute_output_shape(self._inner_shape(input_shape))
        return (input_shape[0], input_shape[1], *inner[1:])

    def compute_mask(self, inputs, mask):
        return mask

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor):
            V.fail("TimeDistributed", "inputs", "a torch.Tensor", x, TypeError)
        self._inner_shape(tuple(x.shape))
        self.maybe_build(tuple(x.shape), x.device)
        N, T = x.shape[:2]
        y = self.layer(x.reshape(N * T, *x.shape[2:]))  # (N * T, ...)
        return y.reshape(N, T, *y.shape[1:])  # (N, T, ...)

    def get_config(self) -> dict:
        config = {
            "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()},
            "name": self.name,
        }
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        from . import get as get_layer_class

        config = dict(config)
        inner = config.pop("layer")
        return cls(get_layer_class(inner["class_name"]).from_config(inner["config"]), **config)

    def _keras_weights(self) -> list[Tensor]:
        return self.layer._keras_weights()

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        self.layer._set_keras_weights(values)
