"""The language-model network: Embedding -> LSTM x layers (every step) -> Dense(vocabulary),
which takes and returns the LSTM states so that a caller carries them across batches
(truncated BPTT) or across generated tokens."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...functional import dense_cross_entropy
from ...kernels import dispatch
from ...layers import LSTM, Dense, Embedding
from .config import LanguageModelConfig

State = list[tuple[Tensor, Tensor]]
"""One ``(h, c)`` pair per LSTM layer, each ``(N, units)``."""


class LanguageModelNet(nn.Module):
    """``Embedding(V, D) -> LSTM(H, return_sequences=True) x layers -> Dense(V)`` (logits).

    ``forward(ids (N, T), state) -> (logits (N, T, V), state)``. Dropout as Zaremba et al.:
    on the embedding output, between layers and before the output layer (a fresh mask per
    element and step), never on the recurrent connections; ``recurrent_dropout`` is the
    LSTM's own (Keras's variational dropout on the state). With ``tie_weights`` the output
    layer's weight is the embedding's transpose, ``logits = h @ E.T + b``.

    Which path runs the LSTMs (:mod:`rnnkit.kernels.dispatch`): the first layer is fed token
    ids and takes rnnkit's embedding-lookup kernel (``x_t @ W_x + b`` a row of ``E @ W_x + b``)
    whenever :meth:`~rnnkit.layers.LSTM.takes_ids_from` allows it: no input dropout in this
    call (a dropped-out input is not a row of the table) and, when training, at least
    ``LOOKUP_MIN_ROWS`` rows. The other layers run ``dispatch.lstm`` with ``impl='auto'``:
    PyTorch's fused LSTM without recurrent dropout, rnnkit's kernel with it. Initial states
    are passed to both paths; neither falls back to the reference loop for them.
    """

    def __init__(self, config: LanguageModelConfig, vocab_size: int):
        super().__init__()
        D, H = config.embedding_dim, config.units
        self.embedding = Embedding(vocab_size, D, name="embedding")
        self.lstms = nn.ModuleList(
            LSTM(
                H,
                return_sequences=True,
                return_state=True,
                recurrent_dropout=config.recurrent_dropout,
                name="lstm" if k == 0 else f"lstm_{k}",
                input_shape=(None, D if k == 0 else H),
            )
            for k in range(config.layers)
        )
        self.tied = config.tie_weights
        if self.tied:
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
            self.dense = None
        else:
            self.dense = Dense(vocab_size, name="dense", input_shape=(H,))
        self.dropout = config.dropout

    def layers(self) -> list:
        return [self.embedding, *self.lstms] + ([self.dense] if self.dense is not None else [])

    def tensors(self) -> dict[str, Tensor]:
        """``{"<layer name>.<parameter>": tensor}`` as :mod:`rnnkit.models.saving` names them
        (``output.b`` for the tied output layer's bias)."""
        named = {
            f"{layer.name}.{p}": t for layer in self.layers() for p, t in layer.named_parameters()
        }
        if self.tied:
            named["output.b"] = self.output_bias
        return named

    def _drop(self, x: Tensor) -> Tensor:
        if self.training and self.dropout > 0:
            return nn.functional.dropout(x, self.dropout, training=True)
        return x

    def first_layer_looks_up(self, ids: Tensor) -> bool:
        """Whether this call's first LSTM takes rnnkit's embedding-lookup kernel."""
        dropped = self.training and self.dropout > 0
        return not dropped and self.lstms[0].takes_ids_from(self.embedding, ids)

    def output_weights(self) -> tuple[Tensor, Tensor]:
        """The output layer's ``(W (H, V), b (V,))``: the Dense's, or ``E.T`` when tied."""
        if self.tied:
            return self.embedding.E.T, self.output_bias
        return self.dense.W, self.dense.b

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        y, new_state = self._hidden(ids, state)  # (N, T, H)
        return self._logits(self._drop(y)), new_state  # (N, T, V)

    def loss(
        self, ids: Tensor, targets: Tensor, state: State | None = None
    ) -> tuple[Tensor, State]:
        """The training loss: mean cross-entropy of ``targets`` (N, T) under the logits
        :meth:`forward` gives, with the output layer fused into the softmax cross-entropy
        (:func:`rnnkit.functional.dense_cross_entropy`: no ``(N, T, V)`` logits kept, the
        gradient written over the softmax). Returns ``(loss, state)``."""
        y, new_state = self.features(ids, state)  # (N, T, H)
        W, b = self.output_weights()
        return dense_cross_entropy(y, W, b, targets), new_state

    def features(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """The output layer's input (N, T, H) (after dropout) and the final states."""
        y, new_state = self._hidden(ids, state)
        return self._drop(y), new_state

    def _hidden(self, ids: Tensor, state: State | None) -> tuple[Tensor, State]:
        """The last LSTM layer's outputs (N, T, H) and every layer's final state."""
        first = self.lstms[0]
        init = None if state is None else state[0]
        if self.first_layer_looks_up(ids):
            y, final = first.sequence_ids(self.embedding, ids, initial_state=init)
        else:
            y, final = first.sequence(self._drop(self.embedding(ids)), initial_state=init)
        new_state = [final]
        for k, lstm in enumerate(self.lstms[1:], start=1):
            init = None if state is None else state[k]
            y, final = lstm.sequence(self._drop(y), initial_state=init)
            new_state.append(final)
        return y, new_state

    def _logits(self, y: Tensor) -> Tensor:
        """The output layer on ``y`` (..., H): logits (..., V)."""
        if self.tied:
            return y @ self.embedding.E.T + self.output_bias
        return self.dense.logits(y)

    # -- generation: the lean path ----------------------------------------------------------------
    def last_logits(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Read ``ids`` (N, T) as :meth:`forward` does, and return only the last position's
        logits (N, V) with the state: what next-token prediction needs (the output layer,
        the costliest product at a 10k vocabulary, runs on one position, not T). Equal to
        ``forward(ids, state)[0][:, -1]`` to float rounding. Inference only (no dropout)."""
        _, new_state = self._hidden(ids, state)
        return self._last(new_state[-1][0]), new_state  # the last layer's h_T is y[:, -1]

    def step(self, ids: Tensor, state: State) -> tuple[Tensor, State]:
        """One token per row, the lean single-step path of generation: ``ids`` (N,) int64
        token ids (not checked: the caller draws them from the vocabulary), ``state`` from
        :meth:`last_logits` or an earlier step. Returns the next logits (N, V) and the new
        state. Each layer is one fused cell step
        (:func:`rnnkit.kernels.dispatch.lstm_step`: the reference cell's plain ops or
        rnnkit's compiled loop, whichever the autotuner measured faster), the input row read
        from the embedding table, nothing re-validated. Equal to
        ``forward(ids[:, None], state)`` to float rounding. Inference only (no dropout)."""
        x = self.embedding.E[ids]  # (N, D)
        new_state = []
        for lstm, (h, c) in zip(self.lstms, state):
            impl = lstm.impl if lstm.impl in ("auto", "kernel") else "ops"
            h, c = dispatch.lstm_step(x, h, c, lstm.W_x, lstm.W_h, lstm.b, impl=impl)
            new_state.append((h, c))
            x = h
        return self._last(x), new_state

    def _last(self, h: Tensor) -> Tensor:
        """The output layer on one position, ``h`` (N, H): logits (N, V) (as Dense.logits:
        one ``addmm``)."""
        if self.tied:
            return h @ self.embedding.E.T + self.output_bias
        return nn.functional.linear(h, self.dense.W.t(), getattr(self.dense, "b", None))


def detach(state: State) -> State:
    """The states without their history (truncated BPTT: gradients stop at the batch)."""
    return [(h.detach(), c.detach()) for h, c in state]
