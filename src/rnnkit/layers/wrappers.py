"""Bidirectional: run a recurrent layer forwards and a copy of it backwards, then merge."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _validation as V
from .base import Layer
from .cells import ArgumentError
from .recurrent import RNN
from .recurrent import _as_input as as_input

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Reads the sequence in both directions (Schuster & Paliwal 1997).

    ``layer`` runs forwards; ``backward_layer`` (default: a fresh copy of ``layer`` with
    ``go_backwards`` flipped, its own weights) runs backwards. With ``return_sequences`` the
    backward outputs are put back in time order before merging, and masked steps output zeros
    (Keras sets ``zero_output_for_mask`` on both layers).

    Args:
        layer: a recurrent layer (:class:`SimpleRNN`, :class:`LSTM`, :class:`GRU`, or
            ``RNN(cell)``).
        merge_mode: 'concat' (default, 2H features), 'sum', 'mul', 'ave', or None (return a
            list ``[forward, backward]``).
        backward_layer: the recurrent layer to run backwards, used as given (Keras's checks:
            ``go_backwards`` must differ from ``layer``'s; ``stateful``, ``return_sequences``
            and ``return_state`` must be the same).
        weights: Keras's initial weights: the forward layer's, then the backward layer's, as
            :meth:`set_weights` takes them (applied once built).

    With ``return_state`` it returns ``[output, *forward_states, *backward_states]``, and
    with ``merge_mode=None`` Keras's flat list ``[out_fw, out_bw, *forward_states,
    *backward_states]``. Stateful layers: :meth:`reset_state` resets both directions.

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
        backward_layer: RNN | None = None,
        weights=None,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        if not isinstance(layer, RNN):
            V.fail(
                "Bidirectional",
                "layer",
                "a recurrent layer (SimpleRNN, LSTM, GRU or RNN(cell))",
                layer,
                ArgumentError,
            )
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            V.fail(
                "Bidirectional",
                "backward_layer",
                "a recurrent layer (SimpleRNN, LSTM, GRU or RNN(cell))",
                backward_layer,
                ArgumentError,
            )
        super().__init__(name=name, input_shape=input_shape or layer.input_shape_hint)
        self.merge_mode = V.choice("Bidirectional", "merge_mode", merge_mode, MERGE_MODES)
        config = layer.get_config()
        config.pop("input_shape", None)
        base = layer.name.removeprefix("forward_")
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{base}"})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {
                    **config,
                    "name": f"backward_{layer.name.removeprefix('backward_')}",
                    "go_backwards": not layer.go_backwards,
                }
            )
        else:
            self.backward_layer = backward_layer
        self._given_backward = backward_layer is not None
        self._check_pair()
        for inner in (self.forward_layer, self.backward_layer):
            inner.zero_output_for_mask = inner.return_sequences  # as Keras
        self._initial_weights = list(weights) if weights is not None else None
        if layer.built:
            self.build((None, None, layer.input_size))
        elif self.input_shape_hint is not None and self.input_shape_hint[-1] is not None:
            self.build((None, *self.input_shape_hint))

    def _check_pair(self) -> None:
        """Keras's checks of a forward and a backward layer (Keras's messages)."""
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` value. "
                f"Received: forward_layer.go_backwards {fwd.go_backwards}, "
                f"backward_layer.go_backwards={bwd.go_backwards}"
            )
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError(
                    "Forward layer and backward layer are expected to have the same value "
                    f'for attribute "{a}", got "{getattr(fwd, a)}" for forward layer and '
                    f'"{getattr(bwd, a)}" for backward layer'
                )

    @property
    def layer(self) -> RNN:
        return self.forward_layer

    @property
    def stateful(self) -> bool:
        return self.forward_layer.stateful

    @property
    def return_sequences(self) -> bool:
        return self.forward_layer.return_sequences

    @property
    def return_state(self) -> bool:
        return self.forward_layer.return_state

    @property
    def states(self):
        """Both directions' carried states (forward then backward), or None."""
        f, b = self.forward_layer.states, self.backward_layer.states
        return tuple(f + b) if f and b else None

    def reset_state(self) -> None:
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        """Keras's alias of :meth:`reset_state`."""
        self.reset_state()

    def build(self, input_shape: tuple) -> None:
        if not self.forward_layer.built:
            self.forward_layer.build(input_shape)
        if not self.backward_layer.built:
            self.backward_layer.build(input_shape)
        self.built = True
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def get_config(self) -> dict:
        def entry(inner, prefix):
            config = inner.get_config()
            config["name"] = config["name"].removeprefix(prefix)
            config.pop("zero_output_for_mask", None)  # Bidirectional sets it
            return {"class_name": type(inner).__name__, "config": config}

        config = {"layer": entry(self.forward_layer, "forward_"), "merge_mode": self.merge_mode}
        if self._given_backward:
            config["backward_layer"] = entry(self.backward_layer, "")
        config["name"] = self.name
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        from . import get as get_layer_class

        config = dict(config)
        inner = config.pop("layer")
        layer = get_layer_class(inner["class_name"]).from_config(inner["config"])
        backward = config.pop("backward_layer", None)
        if backward is not None:
            config["backward_layer"] = get_layer_class(backward["class_name"]).from_config(
                backward["config"]
            )
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
        back = self.backward_layer.compute_output_shape(input_shape)
        out = inner[0] if self.return_state else inner
        out_b = back[0] if self.return_state else back
        if self.merge_mode == "concat":
            out = out[:-1] + (out[-1] + out_b[-1],)
        elif self.merge_mode is None:
            out = [out, out_b]
        if self.return_state:
            states = [*inner[1:], *back[1:]]
            return [*out, *states] if self.merge_mode is None else [out, *states]
        return out

    def compute_mask(self, inputs, mask):
        return mask if self.forward_layer.return_sequences else None

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
        training: bool | None = None,
    ):
        fwd, bwd = self.forward_layer, self.backward_layer
        x = as_input(x)
        if isinstance(x, Tensor) and x.dim() == 3:
            self.maybe_build(tuple(x.shape), x.device)  # applies `weights=` once built
        init_f = init_b = None
        if initial_state is not None:
            n = fwd.n_states
            initial_state = list(initial_state)
            if len(initial_state) != n + bwd.n_states:
                V.fail(
                    "Bidirectional",
                    "initial_state",
                    f"a list of {n + bwd.n_states} tensors (forward states, then backward states)",
                    f"{len(initial_state)} tensor(s)",
                )
            init_f, init_b = initial_state[:n], initial_state[n:]
        out_f = fwd(x, mask=mask, initial_state=init_f, lengths=lengths, training=training)
        out_b = bwd(x, mask=mask, initial_state=init_b, lengths=lengths, training=training)
        states_f, states_b = [], []
        if fwd.return_state:
            out_f, *states_f = out_f
            out_b, *states_b = out_b
        if fwd.return_sequences:
            out_b = out_b.flip(1)  # back into time order (masked steps are zeros: see above)
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
            if self.merge_mode is None:
                return [*output, *states_f, *states_b]  # Keras's flat list
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
