"""Keras's cell API: ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell`` (one time step each) and
``StackedRNNCells``; and the weights they share with the ``SimpleRNN`` / ``LSTM`` / ``GRU`` layers.

A cell computes one step, ``cell(inputs, states) -> (output, new_states)`` with the equations of
:mod:`rnnkit.functional.cells`; :class:`rnnkit.layers.RNN` owns time, masking and state and runs
any cell, a stock cell on the same compiled kernel as the matching layer (``RNN(LSTMCell(n))``
and ``LSTM(n)`` compute the same numbers, by the same code).

The weight mixins (:class:`CellWeights`, :class:`LSTMWeights`, :class:`GRUWeights`) hold what a
stock cell and its layer share: ``W_x`` (D, G*H) (Keras's ``kernel``), ``W_h`` (H, G*H)
(``recurrent_kernel``) and the bias, built and initialised as Keras does, and the one place
that runs the whole sequence on :mod:`rnnkit.kernels.dispatch` (:meth:`CellWeights.
kernel_sequence`), with Keras's dropout: one input mask and one recurrent mask for all steps.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .. import _validation as V
from .. import initializers as I
from ..functional import gru_cell, lstm_cell, rnn_cell
from ..kernels import IMPLS, dispatch
from .base import Layer


def keras_units(owner: str, name: str, value) -> int:
    """A positive integer, refused as Keras refuses it: a ValueError (for a non-integer one that
    is also a TypeError, rnnkit's type for it, so both ``except`` clauses catch it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        V.fail(owner, name, "a positive integer", value, ArgumentError)
    return V.positive_int(owner, name, value)  # ValueError for 0 or less, as before


class ArgumentError(ValueError, TypeError):
    """A bad argument Keras refuses with ValueError and rnnkit, by its type, with TypeError."""


def seed_generator(owner: str, seed) -> torch.Generator | None:
    """A generator for the dropout masks (Keras's ``seed``), or None (PyTorch's global one)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        V.fail(owner, "seed", "an integer or None", seed, TypeError)
    return torch.Generator().manual_seed(int(seed))


def keep_mask(like: Tensor, shape: tuple, rate: float, generator) -> Tensor:
    """A dropout mask of ``shape``: 0 with probability ``rate``, else ``1 / (1 - rate)``."""
    if generator is None:
        keep = like.new_empty(shape).bernoulli_(1.0 - rate)
    else:  # drawn on the CPU generator, so the same seed gives the same masks everywhere
        keep = torch.empty(shape, dtype=like.dtype).bernoulli_(1.0 - rate, generator=generator)
        keep = keep.to(like.device)
    return keep / (1.0 - rate)


class CellWeights:
    """``W_x``, ``W_h``, ``b`` of a simple RNN (``gates = 1``); the LSTM and GRU mixins change
    the gates and the bias. The class using it sets ``units``, ``use_bias``, ``dropout``,
    ``recurrent_dropout``, ``impl``, ``_generator`` and the three initializers
    (:meth:`_weight_options`)."""

    family = "simple_rnn"  # the kernel family in rnnkit.kernels.dispatch
    gates = 1
    n_states = 1
    grad_hook = None  # the gradient readout, set by rnnkit.lab.record_gradients (kernel path)
    precision = None  # the GEMMs' precision (None: the process's, rnnkit.set_precision)

    def _weight_options(
        self,
        owner,
        units,
        use_bias,
        dropout,
        recurrent_dropout,
        impl,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        seed,
        precision=None,
    ):
        self.units = keras_units(owner, "units", units)
        self.use_bias = V.boolean(owner, "use_bias", use_bias)
        self.dropout = V.rate(owner, "dropout", dropout)
        self.recurrent_dropout = V.rate(owner, "recurrent_dropout", recurrent_dropout)
        self.impl = V.choice(owner, "impl", impl, IMPLS)
        self.precision = dispatch.check_precision(owner, precision, self.impl)
        self.kernel_initializer = I.argument(owner, "kernel_initializer", kernel_initializer)
        self.recurrent_initializer = I.argument(
            owner, "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = I.argument(owner, "bias_initializer", bias_initializer)
        self.seed = seed
        self._generator = seed_generator(owner, seed)

    INITIALIZERS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")

    def get_config(self) -> dict:
        config = super().get_config()
        for key in self.INITIALIZERS:
            config[key] = I.config_of(getattr(self, key))
        return config

    def build(self, input_shape: tuple) -> None:
        D, H, G = input_shape[-1], self.units, self.gates
        if D is None:
            raise ValueError(
                f"{type(self).__name__}: the feature axis of the input must be known "
                f"to build, received input shape {tuple(input_shape)}."
            )
        owner = type(self).__name__
        self.W_x = self._param(D, G * H)  # Keras's `kernel`
        self.W_h = self._param(H, G * H)  # Keras's `recurrent_kernel`: one (H, G*H) matrix
        I.fill_(self.W_x, self.kernel_initializer, owner, "kernel_initializer")
        I.fill_(self.W_h, self.recurrent_initializer, owner, "recurrent_initializer")
        self._build_bias()
        self.built = True

    def _build_bias(self) -> None:
        if self.use_bias:
            self.b = self._param(self.gates * self.units, device=self.W_x.device)
            I.fill_(self.b, self.bias_initializer, type(self).__name__, "bias_initializer")
        else:
            self.register_parameter("b", None)

    # Keras's names for the weights
    @property
    def kernel(self) -> Tensor:
        return self.W_x

    @property
    def recurrent_kernel(self) -> Tensor:
        return self.W_h

    @property
    def input_size(self) -> int | None:
        return self.W_x.shape[0] if self.built else None

    # -- the whole sequence on the kernels ------------------------------------------------------
    def draws_masks(self, training: bool) -> bool:
        """Whether a call in this mode draws dropout masks."""
        return training and (self.dropout > 0 or self.recurrent_dropout > 0)

    def recurrent_keep(self, like: Tensor, N: int, training: bool) -> Tensor | None:
        """The recurrent dropout mask ``(N, H)`` for one sequence, None outside training."""
        if not (training and self.recurrent_dropout > 0):
            return None
        return keep_mask(like, (N, self.units), self.recurrent_dropout, self._generator)

    def kernel_sequence(self, x, states, mask, go_backwards, training, owner):
        """Every step's output ``(N, T, H)`` and the final states, on the kernels of
        :mod:`rnnkit.kernels.dispatch`: one input mask and one recurrent mask for all steps
        when training with dropout (Gal & Ghahramani 2016, as Keras)."""
        N, _, D = x.shape
        if training and self.dropout > 0:
            x = x * keep_mask(x, (N, 1, D), self.dropout, self._generator)  # one mask, all steps
        recurrent_mask = self.recurrent_keep(x, N, training)
        return self.run(x, states, mask, recurrent_mask, go_backwards, owner)

    def run(self, x, states, mask, recurrent_mask, go_backwards, owner):
        return dispatch.simple_rnn(
            x,
            states[0],
            self.W_x,
            self.W_h,
            self.b,
            activation=self.activation,
            mask=mask,
            go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner=owner,
            grad_hook=self.grad_hook,
            precision=self.precision,
        )

    def step(self, x_t, states, recurrent_mask=None):
        """One step from :func:`rnnkit.functional.rnn_cell`: the new states."""
        (h_prev,) = states
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return (rnn_cell(x_t, h_in, self.W_x, self.W_h, self.b, self.activation),)


class LSTMWeights(CellWeights):
    """LSTM weights, gates packed ``[i | f | g | o]``; the bias's forget slice is 1 when
    ``unit_forget_bias`` (Jozefowicz et al. 2015), as Keras."""

    family = "lstm"
    gates = 4
    n_states = 2

    def _build_bias(self) -> None:
        if not (self.use_bias and self.unit_forget_bias):
            return super()._build_bias()
        # As Keras: the bias initializer fills the i slice and the g, o slices (two calls),
        # the forget slice is 1 (the gate starts open: remember by default).
        H, init, owner = self.units, self.bias_initializer, type(self).__name__
        self.b = self._param(4 * H, device=self.W_x.device)
        if not self.b.is_meta:
            b = self.b
            i = I.values(init, (H,), b.dtype, b.device, owner, "bias_initializer")
            go = I.values(init, (2 * H,), b.dtype, b.device, owner, "bias_initializer")
            with torch.no_grad():
                b.copy_(torch.cat([i, torch.ones_like(i), go]))

    def run(self, x, states, mask, recurrent_mask, go_backwards, owner):
        h0, c0 = states
        return dispatch.lstm(
            x,
            h0,
            c0,
            self.W_x,
            self.W_h,
            self.b,
            mask=mask,
            go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner=owner,
            grad_hook=self.grad_hook,
            precision=self.precision,
        )

    def step(self, x_t, states, recurrent_mask=None):
        """One step from :func:`rnnkit.functional.lstm_cell`: ``(h, c)``."""
        h_prev, c_prev = states
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return lstm_cell(x_t, h_in, c_prev, self.W_x, self.W_h, self.b)


class GRUWeights(CellWeights):
    """GRU weights, gates packed ``[z | r | n]`` as Keras; ``reset_after=True`` has two biases
    ``b_x`` and ``b_h`` (Keras's one ``(2, 3H)`` bias), ``reset_after=False`` one."""

    family = "gru"
    gates = 3

    def _build_bias(self) -> None:
        owner = type(self).__name__
        if not self.use_bias:
            self.register_parameter("b_x", None)
            self.register_parameter("b_h", None)
            return
        size = 3 * self.units
        self.b_x = self._param(size, device=self.W_x.device)
        if not self.reset_after:
            self.register_parameter("b_h", None)
            I.fill_(self.b_x, self.bias_initializer, owner, "bias_initializer")
            return
        # Keras holds the two biases as one (2, 3H) weight, initialised as one: same here.
        self.b_h = self._param(size, device=self.W_x.device)
        if not self.b_x.is_meta:
            b = self.b_x
            both = I.values(
                self.bias_initializer, (2, size), b.dtype, b.device, owner, "bias_initializer"
            )
            with torch.no_grad():
                self.b_x.copy_(both[0])
                self.b_h.copy_(both[1])

    def _keras_weights(self) -> list[Tensor]:
        """Keras's ``[kernel (D, 3H), recurrent_kernel (H, 3H), bias]``: the bias is
        ``(2, 3H)`` with rows ``[b_x, b_h]`` when ``reset_after``, ``b_x`` (3H,) otherwise, and
        absent without ``use_bias``."""
        if not self.built:
            return []
        weights = [self.W_x, self.W_h]
        if self.b_x is not None:
            weights.append(torch.stack([self.b_x, self.b_h]) if self.reset_after else self.b_x)
        return weights

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        W_x, W_h, *bias = values
        self.W_x.copy_(W_x)
        self.W_h.copy_(W_h)
        if bias and self.reset_after:
            self.b_x.copy_(bias[0][0])  # row 0: the input bias
            self.b_h.copy_(bias[0][1])  # row 1: the recurrent bias
        elif bias:
            self.b_x.copy_(bias[0])

    def run(self, x, states, mask, recurrent_mask, go_backwards, owner):
        return dispatch.gru(
            x,
            states[0],
            self.W_x,
            self.W_h,
            self.b_x,
            self.b_h,
            reset_after=self.reset_after,
            mask=mask,
            go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner=owner,
            grad_hook=self.grad_hook,
            precision=self.precision,
        )

    def step(self, x_t, states, recurrent_mask=None):
        """One step from :func:`rnnkit.functional.gru_cell`: ``(h,)``."""
        (h_prev,) = states
        h_rec = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        W_x, W_h, b_x, b_h = self.W_x, self.W_h, self.b_x, self.b_h
        return (gru_cell(x_t, h_prev, W_x, W_h, b_x, b_h, self.reset_after, h_rec),)


# -- the cells -----------------------------------------------------------------------------------
class StockCell(Layer):
    """What the three stock cells share: Keras's call ``cell(inputs, states, training=None)
    -> (output, new_states)``, ``state_size``, ``output_size``, ``get_initial_state`` and
    dropout masks kept for a whole sequence (Keras's ``DropoutRNNCell``: drawn on first use,
    dropped by ``reset_dropout_mask`` / ``reset_recurrent_dropout_mask``)."""

    def _cell_init(self):
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    @property
    def state_size(self):
        return [self.units] * self.n_states if self.n_states > 1 else self.units

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size=None) -> list[Tensor]:
        dtype = self.W_x.dtype if self.built else torch.get_default_dtype()
        device = self.W_x.device if self.built else None
        return [
            torch.zeros(batch_size, self.units, dtype=dtype, device=device)
            for _ in range(self.n_states)
        ]

    def get_dropout_mask(self, step_inputs: Tensor) -> Tensor | None:
        if self.dropout == 0:
            return None
        if self._dropout_mask is None:
            shape = tuple(step_inputs.shape)
            self._dropout_mask = keep_mask(step_inputs, shape, self.dropout, self._generator)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_state: Tensor) -> Tensor | None:
        if self.recurrent_dropout == 0:
            return None
        if self._recurrent_dropout_mask is None:
            N = step_state.shape[0]
            self._recurrent_dropout_mask = self.recurrent_keep(step_state, N, True)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def forward(self, inputs, states, training: bool | None = None):
        """One step: ``inputs`` (N, D), ``states`` a list of (N, H) tensors (or one tensor);
        returns ``(h, [new states])``. ``training`` (default: the module's mode) applies the
        cell's dropout masks."""
        owner = type(self).__name__
        inputs = torch.as_tensor(inputs)
        if not inputs.dtype.is_floating_point:
            inputs = inputs.to(torch.get_default_dtype())
        if isinstance(states, Tensor) or not isinstance(states, (list, tuple)):
            states = [states]
        states = [torch.as_tensor(s).to(inputs.dtype) for s in states]
        if len(states) != self.n_states:
            V.fail(owner, "states", f"a list of {self.n_states} tensor(s)", states)
        self.maybe_build(tuple(inputs.shape), inputs.device)
        training = self.training if training is None else bool(training)
        recurrent_mask = None
        if training:
            keep = self.get_dropout_mask(inputs)
            inputs = inputs if keep is None else inputs * keep
            recurrent_mask = self.get_recurrent_dropout_mask(states[0])
        new_states = list(self.step(inputs, states, recurrent_mask))
        return new_states[0], new_states


class SimpleRNNCell(CellWeights, StockCell):
    """One step of a simple RNN, ``h = activation(x_t @ W_x + h_prev @ W_h + b)``
    (:func:`rnnkit.functional.rnn_cell`), Keras's ``SimpleRNNCell``.

    >>> import torch
    >>> from rnnkit.layers import SimpleRNNCell
    >>> cell = SimpleRNNCell(4)
    >>> out, states = cell(torch.ones(2, 3), [torch.zeros(2, 4)])
    >>> tuple(out.shape), len(states)
    ((2, 4), 1)
    """

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        impl: str = "auto",
        *,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self._weight_options(
            "SimpleRNNCell",
            units,
            use_bias,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            seed,
        )
        self.activation = V.choice(
            "SimpleRNNCell", "activation", activation, ("tanh", "relu", "sigmoid")
        )
        self._cell_init()


class LSTMCell(LSTMWeights, StockCell):
    """One LSTM step (:func:`rnnkit.functional.lstm_cell`), Keras's ``LSTMCell``:
    ``state_size = [H, H]`` (``[h, c]``), weights ``kernel`` (D, 4H), ``recurrent_kernel``
    (H, 4H), ``bias`` (4H,), gates ``[i | f | g | o]``."""

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        impl: str = "auto",
        *,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self._weight_options(
            "LSTMCell",
            units,
            use_bias,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            seed,
        )
        self.unit_forget_bias = V.boolean("LSTMCell", "unit_forget_bias", unit_forget_bias)
        self._cell_init()


class GRUCell(GRUWeights, StockCell):
    """One GRU step (:func:`rnnkit.functional.gru_cell`), Keras's ``GRUCell``: gates
    ``[z | r | n]``; ``reset_after=True`` keeps Keras's ``(2, 3H)`` bias."""

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        reset_after: bool = True,
        seed: int | None = None,
        impl: str = "auto",
        *,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self._weight_options(
            "GRUCell",
            units,
            use_bias,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            seed,
        )
        self.reset_after = V.boolean("GRUCell", "reset_after", reset_after)
        self._cell_init()


def call_cell(cell, inputs: Tensor, states: list, training: bool):
    """``cell(inputs, states)`` for a stock cell or a user's cell (Keras's ``call``, taking
    ``training`` if its signature has it); returns ``(output, [new states])``."""
    fn = cell.forward if isinstance(cell, StockCell) else getattr(cell, "call", None) or cell
    kwargs = {}
    if _takes_training(fn):
        kwargs["training"] = training
    output, new_states = fn(inputs, states, **kwargs)
    if isinstance(new_states, Tensor):
        new_states = [new_states]
    return output, list(new_states)


def _takes_training(fn) -> bool:
    import inspect

    try:
        return "training" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def state_sizes(cell) -> list:
    """``cell.state_size`` as a list (one entry per state tensor)."""
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


def output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else state_sizes(cell)[0]


class StackedRNNCells(Layer):
    """Keras's ``StackedRNNCells``: several cells run as one, each cell's output the next one's
    input; the states are the cells' states in order (nested, one list per cell).

    >>> from rnnkit.layers import LSTMCell, RNN, StackedRNNCells
    >>> layer = RNN(StackedRNNCells([LSTMCell(8), LSTMCell(4)]))
    """

    def __init__(self, cells, *, name: str | None = None):
        super().__init__(name=name)
        if not isinstance(cells, (list, tuple)) or not cells:
            V.fail("StackedRNNCells", "cells", "a non-empty list of cells", cells, TypeError)
        for cell in cells:
            if not hasattr(cell, "call") and not isinstance(cell, StockCell):
                raise ValueError(
                    "All cells must have a `call` method. "
                    f"Received cell without a `call` method: {cell}"
                )
        self.cells = torch.nn.ModuleList(cells)

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None) -> list:
        """Each cell's zero states, as Keras nests them: the cell's own ``get_initial_state``
        where it has one, else one tensor for an integer ``state_size``, a list otherwise."""
        states = []
        for cell in self.cells:
            get = getattr(cell, "get_initial_state", None)
            if get is not None:
                states.append(get(batch_size=batch_size))
            elif isinstance(cell.state_size, int):
                states.append(torch.zeros(batch_size, cell.state_size))
            else:
                states.append([torch.zeros(batch_size, d) for d in cell.state_size])
        return states

    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
            shape = (shape[0], output_size(cell))
        self.built = True

    def forward(self, inputs, states, training: bool | None = None):
        training = self.training if training is None else bool(training)
        if len(self.cells) == 1:
            states = [states]
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            is_list = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if is_list else [cell_states]
            inputs, cell_new = call_cell(cell, inputs, cell_states, training)
            new_states.append(cell_new if is_list or len(cell_new) != 1 else cell_new[0])
        return inputs, new_states[0] if len(new_states) == 1 else new_states

    def call(self, inputs, states, training: bool | None = None):
        return self.forward(inputs, states, training)

    def get_config(self) -> dict:
        return {
            "cells": [
                {"class_name": type(c).__name__, "config": c.get_config()} for c in self.cells
            ],
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict) -> StackedRNNCells:
        config = dict(config)
        cells = [deserialize_cell(c) for c in config.pop("cells")]
        return cls(cells, **config)

    def _keras_weights(self) -> list[Tensor]:
        return [w for c in self.cells for w in c._keras_weights()]

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        for cell in self.cells:
            n = len(cell._keras_weights())
            cell._set_keras_weights(values[:n])
            values = values[n:]


def deserialize_cell(config: dict):
    """A cell from ``{"class_name", "config"}``: rnnkit's cells, or a user's ``Layer``
    subclass of that name (found among the subclasses defined so far)."""
    name = config["class_name"]
    known = {c.__name__: c for c in (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)}
    cls = known.get(name) or _subclass_named(Layer, name)
    if cls is None:
        raise ValueError(
            f"RNN: `cell` expected a known cell class (SimpleRNNCell, LSTMCell, GRUCell, "
            f"StackedRNNCells or a Layer subclass defined before loading), received {name!r}."
        )
    return cls.from_config(dict(config["config"]))


def _subclass_named(base: type, name: str) -> type | None:
    found = None
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__name__ == name:
            found = cls
        stack.extend(cls.__subclasses__())
    return found
