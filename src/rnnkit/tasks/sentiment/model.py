"""The sentiment network: Embedding -> recurrent layer(s) -> Dense(1, sigmoid)."""

from __future__ import annotations

from ...layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from ...models import Sequential
from .config import SentimentConfig

CELLS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


def build_model(config: SentimentConfig) -> Sequential:
    """The network for ``config``: Embedding -> recurrent layer(s) -> Dense(1, sigmoid)."""
    cell = CELLS[config.cell]
    model = Sequential(name="sentiment")
    model.add(Embedding(config.num_words, config.embedding_dim, mask_zero=config.mask_zero))
    if config.word_dropout:
        model.add(Dropout(config.word_dropout, noise_shape=(None, None, 1)))
    for k in range(config.layers):
        layer = cell(
            config.units,
            return_sequences=k < config.layers - 1,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
        )
        model.add(Bidirectional(layer) if config.bidirectional else layer)
    if config.dropout:
        model.add(Dropout(config.dropout))
    model.add(Dense(1, activation="sigmoid"))
    return model
