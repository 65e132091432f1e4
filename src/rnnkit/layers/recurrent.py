"""SimpleRNN, LSTM and GRU layers: parameters, options and state; the maths lives in
:mod:`rnnkit.functional` (reference loop) and :mod:`rnnkit.kernels` (fast paths)."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _validation as V
from .. import initializers as I
from ..kernels import IMPLS, dispatch
from ._options import WeightOptions
from .base import Layer, check_rank


class RNN(WeightOptions, Layer):
    """Base of the recurrent layers: owns time, masking, dropout, state and dispatch.

    Subclasses set ``gates`` (1 simple RNN, 4 LSTM, 3 GRU), ``n_states`` and implement
    :meth:`build` and :meth:`run`.

    Common arguments (as Keras):
        units: size H of the hidden state.
        use_bias: add a bias to the pre-activations.
        return_sequences: return the output of every step ``(N, T, H)`` instead of the last
            ``(N, H)``.
        return_state: also return the final state(s): ``[output, h]`` (``[output, h, c]`` for
            the LSTM).
        go_backwards: process the sequence from its end; with ``return_sequences`` the
            outputs come back in reversed order.
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

    Call: ``layer(x, mask=None, initial_state=None, lengths=None)`` with ``x`` of shape
    ``(N, T, D)``; ``mask`` boolean ``(N, T)`` (True = real step) or ``lengths`` ``(N,)``
    (the first ``lengths[n]`` steps of row n are real). A masked step carries the previous
    state forward.
    """

    supports_masking = True
    cell = "simple_rnn"  # the kernel family in rnnkit.kernels.dispatch
    gates = 1
    n_states = 1
    grad_hook = None  # the gradient readout, set by rnnkit.lab.record_gradients (kernel path)

    def __init__(
        self,
        units: int,
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
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        name: str | None = None,
        input_shape: tuple | None = None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        owner = type(self).__name__
        self.units = V.positive_int(owner, "units", units)
        self.use_bias = V.boolean(owner, "use_bias", use_bias)
        self.return_sequences = V.boolean(owner, "return_sequences", return_sequences)
        self.return_state = V.boolean(owner, "return_state", return_state)
        self.go_backwards = V.boolean(owner, "go_backwards", go_backwards)
        self.dropout = V.rate(owner, "dropout", dropout)
        self.recurrent_dropout = V.rate(owner, "recurrent_dropout", recurrent_dropout)
        self.impl = V.choice(owner, "impl", impl, IMPLS)
        self.kernel_initializer = I.argument(owner, "kernel_initializer", kernel_initializer)
        self.recurrent_initializer = I.argument(
            owner, "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = I.argument(owner, "bias_initializer", bias_initializer)
        self._init_options(
            owner,
            activity_regularizer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
        )

    INITIALIZERS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
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

    def get_config(self) -> dict:
        config = super().get_config()
        for key in self.INITIALIZERS:
            config[key] = I.config_of(getattr(self, key))
        for key in (*self.OPTIONS, "activity_regularizer"):  # subclasses take them as **options
            config[key] = getattr(self, key)
        return self._options_config(config)

    def keras_weight(self, name: str) -> Tensor | None:
        """Keras's ``kernel``, ``recurrent`` (kernel) or ``bias`` (:meth:`_keras_weights`)."""
        weights = self._keras_weights() if self.built else []
        index = [w for w, _ in self.KERAS_WEIGHTS].index(name)
        return weights[index] if index < len(weights) else None

    def _set_keras_weight(self, name: str, value: Tensor) -> None:
        weights = [w.detach().clone() for w in self._keras_weights()]
        weights[[w for w, _ in self.KERAS_WEIGHTS].index(name)] = value
        self._set_keras_weights(weights)

    def _build_when_known(self, input_shape):
        if input_shape is not None and input_shape[-1] is not None:
            self.build((None, *input_shape))

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

    @property
    def input_size(self) -> int | None:
        return self.W_x.shape[0] if self.built else None

    def compute_output_shape(self, input_shape: tuple) -> tuple | list:
        N, T = input_shape[0], input_shape[1]
        out = (N, T, self.units) if self.return_sequences else (N, self.units)
        if self.return_state:
            return [out] + [(N, self.units)] * self.n_states
        return out

    def compute_mask(self, inputs, mask):
        return mask if self.return_sequences else None

    # -- the call -----------------------------------------------------------------------------
    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
    ):
        y, final = self.sequence(x, mask, initial_state, lengths)
        output = y if self.return_sequences else final[0]
        if self.return_state:
            output = [output, *final]
        self._record_activity(output)
        return output

    def sequence(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state=None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The outputs of every step ``(N, T, H)`` and the final states, whatever
        ``return_sequences`` / ``return_state`` say (models use it to carry state)."""
        owner = type(self).__name__
        check_rank(owner, "inputs", x, (3,), "of shape (batch, time, features)")
        if not x.dtype.is_floating_point:
            V.fail(
                owner,
                "inputs",
                "a floating-point tensor (use an Embedding for token ids)",
                x,
                TypeError,
            )
        mask, states, recurrent_mask = self._prepare(x.shape, x, mask, lengths, initial_state)
        if self.training and self.dropout > 0:
            N, _, D = x.shape
            keep = x.new_empty(N, 1, D).bernoulli_(1.0 - self.dropout) / (1.0 - self.dropout)
            x = x * keep  # one mask for every step
        return self.run(x, states, mask, recurrent_mask)

    def _prepare(self, shape, like: Tensor, mask, lengths, initial_state):
        """For a call on inputs of ``shape`` (N, T, D): build if needed, check D, and return the
        mask (None when every step is real), the initial states and the recurrent dropout
        mask (None outside training). ``like`` gives the dtype and device."""
        self.maybe_build(shape, like.device)
        N, T, D = shape
        if D != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: `inputs` expected {self.input_size} "
                f"features on the last axis, received shape {tuple(shape)}."
            )
        mask = self._mask(mask, lengths, N, T, like.device)
        states = self._initial_state(initial_state, like.new_empty(N, 0))
        recurrent_mask = None
        if self.training and self.recurrent_dropout > 0:
            p = self.recurrent_dropout
            recurrent_mask = like.new_empty(N, self.units).bernoulli_(1.0 - p) / (1.0 - p)
        return mask, states, recurrent_mask

    # -- token ids straight from an Embedding ---------------------------------------------------
    def takes_ids_from(self, embedding, ids: Tensor | None = None) -> bool:
        """Whether :meth:`sequence_ids` looks this layer's input projection up in
        ``embedding`` (for the token ``ids``, if given) rather than run
        ``sequence(embedding(ids))``: :func:`rnnkit.kernels.dispatch.lookup_applies`."""
        return self.grad_hook is None and dispatch.lookup_applies(
            cell=self.cell,
            impl=self.impl,
            input_dropout=self.training and self.dropout > 0,
            E=embedding.E,
            ids=ids,
        )

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
        return self.training and (self.dropout > 0 or self.recurrent_dropout > 0)

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
        if not isinstance(mask, Tensor) or mask.shape != (N, T):
            V.fail(owner, "mask", f"a boolean tensor of shape ({N}, {T})", mask)
        if mask.dtype != torch.bool:
            mask = mask != 0
        return None if bool(mask.all()) else mask  # an all-True mask changes nothing

    def _initial_state(self, initial_state, x) -> tuple[Tensor, ...]:
        owner = type(self).__name__
        N, H = x.shape[0], self.units
        if initial_state is None:
            zeros = x.new_zeros(N, H)
            return (zeros,) * self.n_states
        if isinstance(initial_state, Tensor):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        if len(initial_state) != self.n_states:
            V.fail(
                owner,
                "initial_state",
                f"a list of {self.n_states} tensor(s) of shape ({N}, {H})",
                f"{len(initial_state)} tensor(s)",
            )
        for s in initial_state:
            if not isinstance(s, Tensor) or tuple(s.shape) != (N, H):
                V.fail(owner, "initial_state", f"tensors of shape ({N}, {H})", s)
        return tuple(s.to(x.dtype) for s in initial_state)

    def run(self, x, states, mask, recurrent_mask):  # pragma: no cover - abstract
        raise NotImplementedError


class SimpleRNN(RNN):
    """Fully connected recurrent layer: ``h_t = activation(x_t @ W_x + h_{t-1} @ W_h + b)``.

    Weights (default initializers): ``W_x`` (D, H) glorot-uniform, ``W_h`` (H, H) orthogonal, ``b`` (H,) zeros.
    Parameters: ``D*H + H*H + H``. See :class:`RNN` for the common arguments.

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
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,
    ):
        super().__init__(
            units,
            use_bias,
            return_sequences,
            return_state,
            go_backwards,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            **options,
        )
        self.activation = V.choice(
            "SimpleRNN", "activation", activation, ("tanh", "relu", "sigmoid")
        )
        self._build_when_known(input_shape)

    def run(self, x, states, mask, recurrent_mask):
        return dispatch.simple_rnn(
            x,
            states[0],
            self.W_x,
            self.W_h,
            self.b,
            activation=self.activation,
            mask=mask,
            go_backwards=self.go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner="SimpleRNN",
            grad_hook=self.grad_hook,
        )


class LSTM(RNN):
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

    cell = "lstm"
    gates = 4
    n_states = 2

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
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,
    ):
        super().__init__(
            units,
            use_bias,
            return_sequences,
            return_state,
            go_backwards,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            **options,
        )
        self.unit_forget_bias = V.boolean("LSTM", "unit_forget_bias", unit_forget_bias)
        self._build_when_known(input_shape)

    def _build_bias(self) -> None:
        if not (self.use_bias and self.unit_forget_bias):
            return super()._build_bias()
        # As Keras: the bias initializer fills the i slice and the g, o slices (two calls),
        # the forget slice is 1 (the gate starts open: remember by default).
        H, init = self.units, self.bias_initializer
        self.b = self._param(4 * H, device=self.W_x.device)
        if not self.b.is_meta:
            b = self.b
            i = I.values(init, (H,), b.dtype, b.device, "LSTM", "bias_initializer")
            go = I.values(init, (2 * H,), b.dtype, b.device, "LSTM", "bias_initializer")
            with torch.no_grad():
                b.copy_(torch.cat([i, torch.ones_like(i), go]))

    def sequence_ids(
        self, embedding, ids, mask=None, initial_state=None, sequences=True, table=None
    ):
        """As :meth:`RNN.sequence` on ``embedding(ids)``, with ``x_t @ W_x + b`` looked up
        (:func:`rnnkit.kernels.dispatch.lstm_ids`) where :func:`~rnnkit.kernels.dispatch.
        lookup_applies` says so; ``table``: the vocabulary table of a predict / evaluate call
        (:class:`rnnkit.kernels.dispatch.VocabularyTable`)."""
        if not self.takes_ids_from(embedding, ids):
            return super().sequence_ids(embedding, ids, mask, initial_state, sequences)
        embedding.check_ids(ids)
        E = embedding.E
        shape = (*ids.shape, E.shape[1])
        mask, (h0, c0), recurrent_mask = self._prepare(shape, E, mask, None, initial_state)
        shared = dispatch.shares_padding(
            mask_zero=embedding.mask_zero,
            go_backwards=self.go_backwards,
            recurrent_dropout=recurrent_mask is not None,
            states=() if initial_state is None else (h0, c0),
        )
        return dispatch.lstm_ids(
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

    def run(self, x, states, mask, recurrent_mask):
        h0, c0 = states
        return dispatch.lstm(
            x,
            h0,
            c0,
            self.W_x,
            self.W_h,
            self.b,
            mask=mask,
            go_backwards=self.go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner="LSTM",
            grad_hook=self.grad_hook,
        )


class GRU(RNN):
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

    cell = "gru"
    gates = 3

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
        name: str | None = None,
        input_shape: tuple | None = None,
        **options,
    ):
        super().__init__(
            units,
            use_bias,
            return_sequences,
            return_state,
            go_backwards,
            dropout,
            recurrent_dropout,
            impl,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            **options,
        )
        self.reset_after = V.boolean("GRU", "reset_after", reset_after)
        self._build_when_known(input_shape)

    def _build_bias(self) -> None:
        if not self.use_bias:
            self.register_parameter("b_x", None)
            self.register_parameter("b_h", None)
            return
        size = 3 * self.units
        self.b_x = self._param(size, device=self.W_x.device)
        if not self.reset_after:
            self.register_parameter("b_h", None)
            I.fill_(self.b_x, self.bias_initializer, "GRU", "bias_initializer")
            return
        # Keras holds the two biases as one (2, 3H) weight, initialised as one: same here.
        self.b_h = self._param(size, device=self.W_x.device)
        if not self.b_x.is_meta:
            b = self.b_x
            both = I.values(
                self.bias_initializer, (2, size), b.dtype, b.device, "GRU", "bias_initializer"
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

    def run(self, x, states, mask, recurrent_mask):
        return dispatch.gru(
            x,
            states[0],
            self.W_x,
            self.W_h,
            self.b_x,
            self.b_h,
            reset_after=self.reset_after,
            mask=mask,
            go_backwards=self.go_backwards,
            recurrent_mask=recurrent_mask,
            impl=self.impl,
            owner="GRU",
            grad_hook=self.grad_hook,
        )
