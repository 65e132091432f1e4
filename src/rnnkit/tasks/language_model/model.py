"""The language-model network: Embedding -> LSTM x layers (every step) -> Dense(vocabulary),
which takes and returns the LSTM states so that a caller carries them across batches
(truncated BPTT) or across generated tokens."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...functional import dense_cross_entropy
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
        y, new_state = self.features(ids, state)  # (N, T, H)
        if self.tied:
            logits = y @ self.embedding.E.T + self.output_bias  # (N, T, V)
        else:
            logits = self.dense.logits(y)  # (N, T, V)
        return logits, new_state

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
        return self._drop(y), new_state  # (N, T, H)


def detach(state: State) -> State:
    """The states without their history (truncated BPTT: gradients stop at the batch)."""
    return [(h.detach(), c.detach()) for h, c in state]
