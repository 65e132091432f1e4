"""SimpleRNN, LSTM and GRU layers: parameters, options and state; the maths lives in
:mod:`rnnkit.functional` (reference loop) and :mod:`rnnkit.kernels` (fast paths)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import Tensor

from .. import _tracing
from .. import _validation as V
from .. import initializers as I
from ..kernels import dispatch
from . import cells as C
from ._options import WeightOptions
from .base import Layer, check_rank


class RNN(Layer):
    """Keras's ``RNN``: runs a cell over time; owns time, masking, state and statefulness.

    ``RNN(cell)`` runs any cell: a stock cell (:class:`~rnnkit.layers.SimpleRNNCell`,
    :class:`~rnnkit.layers.LSTMCell`, :class:`~rnnkit.layers.GRUCell`) on the same compiled
    kernel as the matching layer (``RNN(LSTMCell(n))`` and ``LSTM(n)`` give the same numbers);
    a list of cells or a :class:`~rnnkit.layers.StackedRNNCells`, or a user's cell (a layer
    with ``state_size`` and ``call(inputs, states) -> (output, new_states)``) in a Python time
    loop. :class:`SimpleRNN`, :class:`LSTM` and :class:`GRU` are subclasses that hold their
    weights themselves (as before the cell API; their saved files keep their keys).

    Arguments (as Keras):
        return_sequences: return the output of every step ``(N, T, H)`` instead of the last
            ``(N, H)``.
        return_state: also return the final state(s): ``[output, h]`` (``[output, h, c]`` for
            the LSTM).
        go_backwards: process the sequence from its end; with ``return_sequences`` the
            outputs come back in reversed order.
        stateful: the final states of a batch are the initial states of the next one (sample
            ``k`` to sample ``k``), carried detached from the graph (truncated BPTT, Zaremba et
            al. 2014) until :meth:`reset_state`. The batch size is fixed by the first call;
            another raises Keras's ValueError. Train with ``fit(shuffle=False)``.
        unroll: accepted for Keras; a no-op (the kernels loop in C++, the Python loop is
            unrolled by nature): the numbers are the same either way.
        zero_output_for_mask: masked steps output zeros instead of repeating the previous
            output (the last output too, when the last step processed is masked), as Keras.

    Call: ``layer(x, mask=None, initial_state=None, lengths=None, training=None)`` with ``x``
    of shape ``(N, T, D)`` (a tensor or a NumPy array); ``mask`` boolean ``(N, T)`` (True =
    real step) or ``lengths`` ``(N,)`` (the first ``lengths[n]`` steps of row n are real). A
    masked step carries the previous state forward. ``training`` overrides the module's mode
    for this call.
    """

    supports_masking = True

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        *,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        if isinstance(cell, (list, tuple)):
            cell = C.StackedRNNCells(cell)
        if not isinstance(cell, C.StockCell) and "call" not in dir(cell):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")
        if "state_size" not in dir(cell):
            raise ValueError(
                "The RNN cell should have a `state_size` attribute (single integer or list "
                f"of integers, one integer per RNN state). Received: cell={cell}"
            )
        size = cell.state_size
        if not isinstance(size, (list, tuple, int)):
            raise ValueError(
                "state_size must be an integer, or a list/tuple of integers "
                "(one for each state tensor)."
            )
        super().__init__(name=name, input_shape=input_shape)
        self.cell = cell
        self._sequence_options(
            "RNN", return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask,
        )  # fmt: skip
        if input_shape is not None and input_shape[-1] is not None:
            self.build((None, *input_shape))

    def _sequence_options(
        self, owner, return_sequences, return_state, go_backwards, stateful, unroll, zero_output
    ) -> None:
        self.return_sequences = V.boolean(owner, "return_sequences", return_sequences)
        self.return_state = V.boolean(owner, "return_state", return_state)
        self.go_backwards = V.boolean(owner, "go_backwards", go_backwards)
        self.stateful = V.boolean(owner, "stateful", stateful)
        self.unroll = V.boolean(owner, "unroll", unroll)
        self.zero_output_for_mask = V.boolean(owner, "zero_output_for_mask", zero_output)
        self.states: list[Tensor] | None = None  # the carried states of a stateful layer

    # -- what the cell says ---------------------------------------------------------------------
    @property
    def state_size(self) -> list:
        return C.state_sizes(self.cell)

    @property
    def n_states(self) -> int:
        return len(self.state_size)

    @property
    def units(self) -> int:
        return C.output_size(self.cell)

    def _stock(self):
        """The stock cell the kernels run, or None (a user's cell, stacked cells)."""
        return self.cell if isinstance(self.cell, C.StockCell) else None

    @property
    def fused(self) -> bool:
        """Whether the compiled kernels run this layer (a stock cell, or SimpleRNN / LSTM /
        GRU); False for a user's cell or stacked cells (the Python time loop)."""
        return self._stock() is not None

    @property
    def input_size(self) -> int | None:
        return self._input_size if self.built else None

    def build(self, input_shape: tuple) -> None:
        step = (input_shape[0], *tuple(input_shape)[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step)
            self.cell.built = True
        self._input_size = input_shape[-1]
        self.built = True

    def get_config(self) -> dict:
        config = {
            "cell": {"class_name": type(self.cell).__name__, "config": self.cell.get_config()},
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "name": self.name,
        }
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config: dict) -> RNN:
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, dict):
            cell = C.deserialize_cell(cell)
        return cls(cell, **config)

    def _keras_weights(self) -> list[Tensor]:
        return self.cell._keras_weights() if isinstance(self.cell, Layer) else []

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        self.cell._set_keras_weights(values)

    def compute_output_shape(self, input_shape: tuple) -> tuple | list:
        N, T = input_shape[0], input_shape[1]
        H = self.units
        out = (N, T, H) if self.return_sequences else (N, H)
        if self.return_state:
            return [out] + [_state_shape(N, size) for size in self.state_size]
        return out

    def compute_mask(self, inputs, mask):
        return mask if self.return_sequences else None

    # -- state of a stateful layer --------------------------------------------------------------
    def reset_state(self) -> None:
        """Zero the carried states of a stateful layer (keeping its batch size), as Keras."""
        if self.states is not None:
            self.states = _map(torch.zeros_like, self.states)

    def reset_states(self, states=None) -> None:
        """Keras's alias of :meth:`reset_state`; ``states`` (Keras 2): the values to carry
        instead of zeros, one ``(N, H)`` array per state (N: the batch size)."""
        if states is None:
            return self.reset_state()
        owner = type(self).__name__
        if not self.stateful:
            raise AttributeError(f"{owner}: `reset_states(states=...)` needs stateful=True.")
        if self.states is None and not self.built:
            raise ValueError(f"{owner}: build the layer (call it once) before setting its states.")
        N = None if self.states is None else _flatten(self.states)[0][0].shape[0]
        given = self._as_states(states, N, self._like())
        self.states = _map(Tensor.detach, list(given))

    def _like(self) -> Tensor:
        p = next(self.parameters(), None)
        return p if p is not None else torch.empty(0)

    # -- the call -----------------------------------------------------------------------------
    def forward(
        self,
        x,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
        training: bool | None = None,
    ):
        with _mode(self, training):
            y, final = self.sequence(x, mask, initial_state, lengths)
        if self.return_sequences:
            output = y
        elif self.zero_output_for_mask and (mask is not None or lengths is not None):
            output = y[:, -1]  # the last step processed: zeros where it is masked
        else:  # a stock cell's output is its state h; a user's cell says its own
            output = final[0] if self.fused else y[:, -1]
        if self.return_state:
            output = [output, *final]
        record = getattr(self, "_record_activity", None)  # LSTM / GRU / SimpleRNN's option
        if record is not None:
            record(output)
        return output

    def sequence(
        self,
        x,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The outputs of every step ``(N, T, H)`` and the final states, whatever
        ``return_sequences`` / ``return_state`` say (models use it to carry state)."""
        owner = type(self).__name__
        x = _as_input(x)
        check_rank(owner, "inputs", x, (3,), "of shape (batch, time, features)")
        if not x.dtype.is_floating_point:
            V.fail(
                owner,
                "inputs",
                "a floating-point tensor (use an Embedding for token ids)",
                x,
                TypeError,
            )
        mask, states = self._prepare(x.shape, x, mask, lengths, initial_state)
        y, final = self._run_sequence(x, states, mask)
        return self._finish(y, final, mask)

    def _run_sequence(self, x, states, mask):
        """Every step's output and the final states of the cell over ``x``."""
        stock = self._stock()
        if stock is not None:
            return stock.kernel_sequence(
                x, states, mask, self.go_backwards, self.training, type(self).__name__
            )
        return self._loop(x, states, mask)

    def _loop(self, x, states, mask):
        """The Python time loop for a user's cell (or stacked cells): masked steps carry the
        states and repeat the previous output, as :func:`rnnkit.functional.recurrent.scan`."""
        T = x.shape[1]
        steps = range(T - 1, -1, -1) if self.go_backwards else range(T)
        training = self.training
        flat, structure = _flatten(states)
        y_prev, ys = None, []
        try:
            for t in steps:
                output, new = C.call_cell(self.cell, x[:, t], _unflatten(flat, structure), training)
                new_flat, _ = _flatten(new)
                if mask is not None:
                    m = mask[:, t].unsqueeze(1)  # (N, 1)
                    new_flat = [torch.where(m, a, b) for a, b in zip(new_flat, flat)]
                    prev = torch.zeros_like(output) if y_prev is None else y_prev
                    output = torch.where(m, output, prev)
                ys.append(output)
                y_prev, flat = output, new_flat
        finally:
            _reset_masks(self.cell)
        if not ys:
            return x.new_zeros(x.shape[0], 0, self.units), tuple(flat)
        return torch.stack(ys, dim=1), tuple(_unflatten(flat, structure))

    def _finish(self, y, final, mask):
        """Keras's ``zero_output_for_mask`` on the outputs, and the states a stateful layer
        carries to its next call (detached: truncated BPTT)."""
        if self.zero_output_for_mask and mask is not None and y is not None:
            m = mask.flip(1) if self.go_backwards else mask  # in processing order, as y
            y = y * m.unsqueeze(-1).to(y.dtype)
        if self.stateful:
            self.states = _map(Tensor.detach, list(final))
        return y, final

    def _prepare(self, shape, like: Tensor, mask, lengths, initial_state):
        """For a call on inputs of ``shape`` (N, T, D): build if needed, check D, and return the
        mask (None when every step is real) and the initial states (given, carried by a
        stateful layer, or zeros). ``like`` gives the dtype and device."""
        self.maybe_build(shape, like.device)
        N, T, D = shape
        if D != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: `inputs` expected {self.input_size} "
                f"features on the last axis, received shape {tuple(shape)}."
            )
        mask = self._mask(mask, lengths, N, T, like.device)
        if initial_state is not None:
            states = self._as_states(initial_state, N, like)
        elif self.stateful and self.states is not None:
            carried = _flatten(self.states)[0][0].shape[0]
            if carried != N:
                raise ValueError(
                    "If an RNN is stateful, the batch size of the input sequences must be "
                    "the same as the batch size of the initial state. \n"
                    f"- Expected batch size: {carried}\n"
                    f"- Received batch size: {N}"
                )
            states = self._as_states(self.states, N, like)
        else:
            states = self._zero_states(N, like)
        return mask, states

    def _zero_states(self, N, like):
        get = getattr(self.cell, "get_initial_state", None) if self._stock() is None else None
        if get is not None:
            states = get(batch_size=N)
            states = [states] if isinstance(states, Tensor) else list(states)
            return tuple(_to(states, like))
        return tuple(like.new_zeros(N, size) for size in self.state_size)

    def _as_states(self, initial_state, N, like) -> tuple:
        """``initial_state`` checked against the state sizes (N rows each; any N when None)."""
        owner = type(self).__name__
        if isinstance(initial_state, Tensor) or not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        sizes = self.state_size
        if isinstance(self.cell, C.StackedRNNCells):  # nested as the cells nest them
            if len(sizes) == 1:
                initial_state = [initial_state if len(initial_state) > 1 else initial_state[0]]
            return tuple(_to(initial_state, like))
        if len(initial_state) != len(sizes):
            shapes = ", ".join(f"({N}, {s})" for s in sizes)
            V.fail(
                owner,
                "initial_state",
                f"a list of {len(sizes)} tensor(s) of shape {shapes}",
                f"{len(initial_state)} tensor(s)",
            )
        out = []
        for s, size in zip(initial_state, sizes):
            if isinstance(size, (list, tuple)):  # stacked cells: one nested list per cell
                out.append(list(_to(s if isinstance(s, (list, tuple)) else [s], like)))
                continue
            s = _as_input(s)
            rows = N if N is not None else (s.shape[0] if isinstance(s, Tensor) else None)
            if not isinstance(s, Tensor) or tuple(s.shape) != (rows, size):
                V.fail(owner, "initial_state", f"tensors of shape ({N}, {size})", s)
            out.append(s.to(dtype=like.dtype, device=like.device))
        return tuple(out)

    # -- token ids straight from an Embedding ---------------------------------------------------
    def takes_ids_from(self, embedding, ids: Tensor | None = None) -> bool:
        """Whether :meth:`sequence_ids` looks this layer's input projection up in
        ``embedding`` (for the token ``ids``, if given) rather than run
        ``sequence(embedding(ids))``: :func:`rnnkit.kernels.dispatch.lookup_applies`."""
        return False

    def sequence_ids(
        self,
        embedding,
        ids: Tensor,
        mask: Tensor | None = None,
        initial_state=None,
        sequences: bool = True,
        table: Tensor | None = None,
    ) -> tuple[Tensor | None, tuple[Tensor, ...]]:
        """``sequence(embedding(ids), mask, initial_state)``; layers that can (see
        :meth:`takes_ids_from`) compute it with the input projection as a row lookup.
        ``sequences=False`` says only the final states are wanted: ``y`` may then be None;
        ``table``: a vocabulary table for the lookup (:class:`rnnkit.kernels.dispatch.
        VocabularyTable`), ignored by layers that do not look up."""
        return self.sequence(embedding(ids), mask, initial_state)

    @property
    def stochastic(self) -> bool:
        """Whether a call draws random dropout masks (training with a dropout rate)."""
        cell = self._stock() if self.fused else self
        return self.training and (
            getattr(cell, "dropout", 0) > 0 or getattr(cell, "recurrent_dropout", 0) > 0
        )

    def _mask(self, mask, lengths, N, T, device):
        owner = type(self).__name__
        if mask is not None and lengths is not None:
            raise ValueError(f"{owner}: pass either `mask` or `lengths`, not both.")
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=device)
            if lengths.dim() != 1 or lengths.shape[0] != N or lengths.dtype.is_floating_point:
                V.fail(owner, "lengths", f"integer lengths of shape ({N},)", lengths)
            if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > T):
                bad = int(lengths.min()) if int(lengths.min()) < 0 else int(lengths.max())
                raise ValueError(
                    f"{owner}: `lengths` expected values in [0, {T}] (the number of "
                    f"time steps), received {bad}."
                )
            mask = torch.arange(T, device=device) < lengths.unsqueeze(1)  # (N, T)
        if mask is None:
            return None
        mask = _as_input(mask, floats=False)
        if not isinstance(mask, Tensor) or mask.shape != (N, T):
            V.fail(owner, "mask", f"a boolean tensor of shape ({N}, {T})", mask)
        if mask.dtype != torch.bool:
            mask = mask != 0
        mask = mask.to(device)
        if _tracing.active():  # export mode: no decision on the data
            return mask
        return None if bool(mask.all()) else mask  # an all-True mask changes nothing


class _KernelRNN(C.CellWeights, WeightOptions, RNN):
    """What :class:`SimpleRNN`, :class:`LSTM` and :class:`GRU` share: the layer is its own
    cell (its weights on itself, run by :meth:`~rnnkit.layers.cells.CellWeights.
    kernel_sequence`), with the kernel-only arguments:

        units: size H of the hidden state.
        use_bias: add a bias to the pre-activations.
        dropout: fraction of the inputs dropped (one mask for all steps) during training.
        recurrent_dropout: fraction of ``h_prev`` dropped inside the recurrent product (one
            mask for all steps) during training.
        impl: 'auto' (fastest exact path), 'native' (PyTorch's fused operator), 'kernel'
            (rnnkit's hand-written BPTT), 'reference' (the readable time loop).
        kernel_initializer, recurrent_initializer, bias_initializer: how ``W_x`` (D, G*H),
            ``W_h`` (H, G*H) and the bias are first filled, as Keras (keyword-only): a name, a
            class, an instance of :mod:`rnnkit.initializers`, a config dict or a callable
            ``f(shape, dtype=None)``; defaults 'glorot_uniform', 'orthogonal', 'zeros'.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as Keras, on ``W_x``,
            ``W_h`` and the bias in Keras's layout (keyword-only; see
            :mod:`rnnkit.regularizers`, :mod:`rnnkit.constraints`).
        stateful, unroll, zero_output_for_mask: as :class:`RNN` (keyword-only).
        implementation: Keras's 1 or 2 (0 in old configs), accepted and recorded; a no-op:
            both compute the same numbers, and rnnkit picks its path by ``impl``.
        use_cudnn (LSTM and GRU): Keras's 'auto', True or False, accepted and recorded; a
            no-op: ``impl`` picks the path (PyTorch's fused operator is ``impl='native'``).
        seed: seeds the dropout masks (reproducible masks), as Keras.
        precision: the precision of the layer's matrix products (keyword-only): None (the
            default: the process's, :func:`rnnkit.set_precision`, 'float32' unless set),
            'float32', or 'bf16': the input and recurrent GEMMs take bfloat16 operands and
            accumulate in float32; the cell state, the gates, the parameters (master
            weights) and their gradients stay float32 (:mod:`rnnkit.kernels.bf16`; outputs
            within about 1e-2 of float32's: bfloat16 keeps 8 bits of mantissa). Fast where
            the hardware multiplies bfloat16 (CUDA, x86 CPUs with AVX512_BF16 or AMX), where
            ``impl='auto'`` lets the autotuner keep float32 if that is faster; on other CPUs
            the bf16 GEMMs are emulated with float32 GEMMs on rounded operands: the same
            numbers, slower than float32 (a Python time loop). Needs ``impl`` 'auto' or 'reference' (rnnkit's compiled kernel and
            PyTorch's fused operator are float32); an LSTM in bf16 skips the embedding
            lookup; generation steps (``lstm_step``) and exported graphs stay float32.
            Saved with the layer's config.
    """

    def _kernel_options(
        self,
        owner,
        units,
        use_bias,
        return_sequences,
        return_state,
        go_backwards,
        dropout,
        recurrent_dropout,
        impl,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        stateful,
        unroll,
        zero_output_for_mask,
        implementation,
        seed,
        name,
        input_shape,
        options: dict,
        precision=None,
    ) -> None:
        Layer.__init__(self, name=name, input_shape=input_shape)  # no cell object to hold
        self._weight_options(
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
            precision,
        )
        self._sequence_options(
            owner, return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask,
        )  # fmt: skip
        self.implementation = V.choice(owner, "implementation", implementation, (0, 1, 2))
        unknown = sorted(set(options) - {*self.OPTIONS, "activity_regularizer"})
        if unknown:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {unknown[0]!r}")
        self._init_options(
            owner,
            options.get("activity_regularizer"),
            **{key: options.get(key) for key in self.OPTIONS},
        )

    # Keras's weights (kernel, recurrent_kernel, bias) by the prefix of their options
    KERAS_WEIGHTS = (("kernel", "W_x"), ("recurrent", "W_h"), ("bias", "b"))
    OPTIONS = (
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
    )

    def keras_weight(self, name: str) -> Tensor | None:
        """Keras's ``kernel``, ``recurrent`` (kernel) or ``bias`` (:meth:`_keras_weights`)."""
        weights = self._keras_weights() if self.built else []
        index = [w for w, _ in self.KERAS_WEIGHTS].index(name)
        return weights[index] if index < len(weights) else None

    def _set_keras_weight(self, name: str, value: Tensor) -> None:
        weights = [w.detach().clone() for w in self._keras_weights()]
        weights[[w for w, _ in self.KERAS_WEIGHTS].index(name)] = value
        self._set_keras_weights(weights)

    cell = None
    units = None  # set by _weight_options (shadows RNN.units, which asks the cell)
    state_size = property(lambda self: [self.units] * self.n_states)

    def _stock(self):
        return self

    def _run_sequence(self, x, states, mask):
        return self.kernel_sequence(
            x, states, mask, self.go_backwards, self.training, type(self).__name__
        )

    def _build_when_known(self, input_shape):
        if input_shape is not None and input_shape[-1] is not None:
            self.build((None, *input_shape))

    def get_config(self) -> dict:
        config = Layer.get_config(self)
        for key in self.INITIALIZERS:
            config[key] = I.config_of(getattr(self, key))
        for key in (*self.OPTIONS, "activity_regularizer"):  # taken as **options
            config[key] = getattr(self, key)
        return self._options_config(config)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def _keras_weights(self) -> list[Tensor]:
        return Layer._keras_weights(self)

    def _set_keras_weights(self, values: list[Tensor]) -> None:
        Layer._set_keras_weights(self, values)

    def takes_ids_from(self, embedding, ids: Tensor | None = None, table=None) -> bool:
        # a layer whose gradients are being read (rnnkit.lab) runs its own input projection
        built = getattr(self, "W_h", None) is not None
        return self.grad_hook is None and dispatch.lookup_applies(
            cell=self.family,
            impl=self.impl,
            input_dropout=self.training and self.dropout > 0,
            E=embedding.E,
            ids=ids,
            weights=(self.W_x, self.W_h, getattr(self, "b", None)) if built else None,
            native_ok=not embedding.mask_zero and not self.stochastic,
            sequences=self.return_sequences,
            table=table,
            precision=self.precision,
        )


def _as_input(x, floats: bool = True):
    """A NumPy array (or nested list) as a tensor, floats in the default dtype (as Keras casts
    to its compute dtype); tensors pass unchanged."""
    if isinstance(x, Tensor) or x is None:
        return x
    if isinstance(x, (np.ndarray, list, tuple, np.generic)):
        t = torch.as_tensor(np.asarray(x))
        if floats and t.dtype != torch.bool:  # Keras casts NumPy inputs to its float dtype
            t = t.to(torch.get_default_dtype())
        return t
    return x


def _state_shape(N, size):
    """The shape of a state of ``size`` (a list of shapes for a cell with several states)."""
    return [(N, s) for s in size] if isinstance(size, (list, tuple)) else (N, size)


def _map(fn, states):
    """``fn`` on every tensor of nested lists of states."""
    return [_map(fn, s) if isinstance(s, (list, tuple)) else fn(s) for s in states]


def _to(states, like: Tensor) -> list:
    return [
        list(_to(s, like)) if isinstance(s, (list, tuple)) else
        _as_input(s).to(dtype=like.dtype, device=like.device)
        for s in states
    ]  # fmt: skip


def _flatten(states) -> tuple[list[Tensor], list]:
    """Nested states (stacked cells hold one list per cell) as a flat list and a structure."""
    flat, structure = [], []
    for s in states:
        if isinstance(s, (list, tuple)):
            inner, inner_structure = _flatten(s)
            flat.extend(inner)
            structure.append(inner_structure)
        else:
            flat.append(s)
            structure.append(None)
    return flat, structure


def _unflatten(flat: list, structure: list) -> list:
    out, i = [], 0
    for item in structure:
        if item is None:
            out.append(flat[i])
            i += 1
        else:
            n = len(_flatten_structure(item))
            out.append(_unflatten(flat[i : i + n], item))
            i += n
    return out


def _flatten_structure(structure: list) -> list:
    return [
        leaf
        for item in structure
        for leaf in ([None] if item is None else _flatten_structure(item))
    ]


def _reset_masks(cell) -> None:
    """Forget a cell's dropout masks after a sequence (Keras's ``DropoutRNNCell``)."""
    for c in getattr(cell, "cells", [cell]):
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            fn = getattr(c, reset, None)
            if callable(fn):
                fn()


@contextlib.contextmanager
def _mode(layer: Layer, training: bool | None):
    """Run a call in ``training`` mode (True / False) when given, then restore the mode."""
    if training is None or bool(training) == layer.training:
        yield
        return
    before = layer.training
    layer.train(bool(training))
    try:
        yield
    finally:
        layer.train(before)


class SimpleRNN(_KernelRNN):
    """Fully connected recurrent layer: ``h_t = activation(x_t @ W_x + h_{t-1} @ W_h + b)``.

    Weights (default initializers): ``W_x`` (D, H) glorot-uniform, ``W_h`` (H, H) orthogonal, ``b`` (H,) zeros.
    Parameters: ``D*H + H*H + H``. See :class:`RNN` and ``_KernelRNN`` for the arguments.

    >>> from rnnkit.layers import SimpleRNN
    >>> SimpleRNN(units=32, input_shape=(None, 8)).count_params()
    1312
    """

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        impl: str = "auto",
        *,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        # Keras's options (the cell API's helper "recurrent")
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        implementation: int = 1,
        seed: int | None = None,
        precision: str | None = None,
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,  # the regularizers and constraints (see _KernelRNN)
    ):
        self._kernel_options(
            "SimpleRNN", units, use_bias, return_sequences, return_state, go_backwards,
            dropout, recurrent_dropout, impl, kernel_initializer, recurrent_initializer,
            bias_initializer, stateful, unroll, zero_output_for_mask, implementation, seed,
            name, input_shape, options, precision,
        )  # fmt: skip
        self.activation = V.choice(
            "SimpleRNN", "activation", activation, ("tanh", "relu", "sigmoid")
        )
        self._build_when_known(input_shape)


class LSTM(C.LSTMWeights, _KernelRNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997).

    .. math::
        z = x_t W_x + h_{t-1} W_h + b, \\quad [i | f | g | o] = z \\\\
        c_t = \\sigma(f) \\odot c_{t-1} + \\sigma(i) \\odot \\tanh(g), \\quad
        h_t = \\sigma(o) \\odot \\tanh(c_t)

    Weights, gates packed ``[i | f | g | o]`` on the last axis (Keras's ``kernel``,
    ``recurrent_kernel``, ``bias``; PyTorch's ``weight_ih_l0`` is ``W_x.T`` and its
    ``bias_ih_l0 + bias_hh_l0`` is ``b``): ``W_x`` (D, 4H) glorot-uniform, ``W_h`` (H, 4H)
    orthogonal, ``b`` (4H,) zeros with the forget-gate slice set to 1 when
    ``unit_forget_bias`` (Jozefowicz et al. 2015). Parameters: ``4 * (D*H + H*H + H)``.

    >>> from rnnkit.layers import LSTM
    >>> LSTM(units=128, input_shape=(None, 128)).count_params()
    131584
    """

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        unit_forget_bias: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        impl: str = "auto",
        *,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        # Keras's options (the cell API's helper "recurrent")
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        implementation: int = 1,
        use_cudnn="auto",
        seed: int | None = None,
        precision: str | None = None,
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,  # the regularizers and constraints (see _KernelRNN)
    ):
        self._kernel_options(
            "LSTM", units, use_bias, return_sequences, return_state, go_backwards,
            dropout, recurrent_dropout, impl, kernel_initializer, recurrent_initializer,
            bias_initializer, stateful, unroll, zero_output_for_mask, implementation, seed,
            name, input_shape, options, precision,
        )  # fmt: skip
        self.unit_forget_bias = V.boolean("LSTM", "unit_forget_bias", unit_forget_bias)
        self.use_cudnn = _use_cudnn("LSTM", use_cudnn)
        self._build_when_known(input_shape)

    def sequence_ids(
        self, embedding, ids, mask=None, initial_state=None, sequences=True, table=None
    ):
        """As :meth:`RNN.sequence` on ``embedding(ids)``, with ``x_t @ W_x + b`` looked up
        (:func:`rnnkit.kernels.dispatch.lstm_ids`) where :func:`~rnnkit.kernels.dispatch.
        lookup_applies` says so; ``table``: the vocabulary table of a predict / evaluate call
        (:class:`rnnkit.kernels.dispatch.VocabularyTable`)."""
        if not self.takes_ids_from(embedding, ids, table):
            return super().sequence_ids(embedding, ids, mask, initial_state, sequences)
        embedding.check_ids(ids)
        E = embedding.E
        shape = (*ids.shape, E.shape[1])
        mask, (h0, c0) = self._prepare(shape, E, mask, None, initial_state)
        recurrent_mask = self.recurrent_keep(E, ids.shape[0], self.training)
        shared = dispatch.shares_padding(
            mask_zero=embedding.mask_zero,
            go_backwards=self.go_backwards,
            recurrent_dropout=recurrent_mask is not None,
            states=() if initial_state is None and self.states is None else (h0, c0),
        )
        y, final = dispatch.lstm_ids(
            E,
            ids,
            h0,
            c0,
            self.W_x,
            self.W_h,
            self.b,
            mask=mask,
            go_backwards=self.go_backwards,
            recurrent_mask=recurrent_mask,
            shared_padding=shared,
            sequences=sequences,
            table=table,
        )
        return self._finish(y, final, mask)


class GRU(C.GRUWeights, _KernelRNN):
    """Gated recurrent unit (Cho et al. 2014), gates packed ``[z | r | n]`` as Keras.

    ``reset_after=True`` (default, Keras's and PyTorch's form) applies the reset gate after the
    recurrent product and has two biases, ``b_x`` and ``b_h`` (3H,) each; ``reset_after=False``
    applies it before, with one bias ``b_x``. See :func:`rnnkit.functional.gru_cell`.
    Weights (default initializers): ``W_x`` (D, 3H) glorot-uniform, ``W_h`` (H, 3H) orthogonal, biases zeros.
    PyTorch packs ``[r | z | n]``: converting swaps the first two blocks.

    >>> from rnnkit.layers import GRU
    >>> GRU(units=64, input_shape=(None, 32)).count_params()
    18816
    """

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        reset_after: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        impl: str = "auto",
        *,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        # Keras's options (the cell API's helper "recurrent")
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        implementation: int = 1,
        use_cudnn="auto",
        seed: int | None = None,
        precision: str | None = None,
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,  # the regularizers and constraints (see _KernelRNN)
    ):
        self._kernel_options(
            "GRU", units, use_bias, return_sequences, return_state, go_backwards,
            dropout, recurrent_dropout, impl, kernel_initializer, recurrent_initializer,
            bias_initializer, stateful, unroll, zero_output_for_mask, implementation, seed,
            name, input_shape, options, precision,
        )  # fmt: skip
        self.reset_after = V.boolean("GRU", "reset_after", reset_after)
        self.use_cudnn = _use_cudnn("GRU", use_cudnn)
        self._build_when_known(input_shape)


def _use_cudnn(owner: str, value):
    """Keras's ``use_cudnn``: 'auto', True or False (recorded; ``impl`` picks the path)."""
    if not (value == "auto" or isinstance(value, bool)):
        V.fail(owner, "use_cudnn", "one of 'auto', True, False", value)
    return value
