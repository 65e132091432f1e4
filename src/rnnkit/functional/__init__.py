"""The maths: one-step cells and the reference time loop, on raw tensors."""

from .cells import ACTIVATIONS, gru_cell, lstm_cell, rnn_cell
from .recurrent import gru, lstm, scan, simple_rnn

__all__ = ["ACTIVATIONS", "rnn_cell", "lstm_cell", "gru_cell", "scan", "simple_rnn", "lstm", "gru"]
