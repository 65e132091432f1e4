"""The sentiment network: Embedding -> recurrent layer(s) -> Dense(1, sigmoid), or with
``pooling='max_mean'`` Embedding -> recurrent layer(s) over every word -> [max, mean] over the
words -> Dense(1, sigmoid)."""

from __future__ import annotations

from ...layers import (
    GRU,
    LSTM,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    SimpleRNN,
)
from ...models import Model, Sequential
from .config import SentimentConfig

CELLS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


def _recurrent_layers(config: SentimentConfig, sequences: bool) -> list:
    """The recurrent layers (each Bidirectional when asked); the last returns every step's
    output when ``sequences``."""
    cell = CELLS[config.cell]
    out = []
    for k in range(config.layers):
        layer = cell(
            config.units,
            return_sequences=sequences or k < config.layers - 1,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
        )
        out.append(Bidirectional(layer) if config.bidirectional else layer)
    return out


def build_model(config: SentimentConfig) -> Sequential | Model:
    """The network for ``config``: a ``Sequential`` Embedding -> recurrent layer(s) ->
    Dense(1, sigmoid) for ``pooling='last'`` (the seed's), else a functional ``Model`` whose
    output layer reads the maximum and the mean over the words (the mean leaves padding out
    under ``mask_zero``; the maximum, as Keras's GlobalMaxPooling1D, does not) of the last
    recurrent layer's outputs."""
    embedding = Embedding(config.num_words, config.embedding_dim, mask_zero=config.mask_zero)
    word_dropout = Dropout(config.word_dropout, noise_shape=(None, None, 1))
    if config.pooling == "last":
        model = Sequential(name="sentiment")
        model.add(embedding)
        if config.word_dropout:
            model.add(word_dropout)
        for layer in _recurrent_layers(config, sequences=False):
            model.add(layer)
        if config.dropout:
            model.add(Dropout(config.dropout))
        model.add(Dense(1, activation="sigmoid"))
        return model
    ids = Input(shape=(None,), dtype="int64")
    x = embedding(ids)  # (N, T, D)
    if config.word_dropout:
        x = word_dropout(x)
    for layer in _recurrent_layers(config, sequences=True):
        x = layer(x)  # (N, T, H), or (N, T, 2H) both ways
    x = Concatenate()([GlobalMaxPooling1D()(x), GlobalAveragePooling1D()(x)])  # (N, 2H')
    if config.dropout:
        x = Dropout(config.dropout)(x)
    return Model(ids, Dense(1, activation="sigmoid")(x), name="sentiment")
