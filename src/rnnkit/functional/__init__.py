"""The maths: one-step cells and the reference time loop, on raw tensors."""

from .cells import ACTIVATIONS, gru_cell, lstm_cell, rnn_cell
from .recurrent import gru, lstm, scan, simple_rnn
from .softmax import dense_cross_entropy

__all__ = [
    "ACTIVATIONS",
    "dense_cross_entropy",
    "gru",
    "gru_cell",
    "lstm",
    "lstm_cell",
    "rnn_cell",
    "scan",
    "simple_rnn",
]
