"""Layers: parameters and options; each is a ``torch.nn.Module`` (batch-first)."""

from .base import Layer
from .cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .core import Dense, Dropout, Embedding, Input
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .shaping import (
    Activation,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LeakyReLU,
    Masking,
    RepeatVector,
    Reshape,
)
from .wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    # the cell API (helper "recurrent")
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "Input",
    "LSTMCell",
    "Layer",
    "LeakyReLU",
    "Masking",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "TimeDistributed",
    "get",
]

_REGISTRY = {
    cls.__name__: cls
    for cls in (
        Input,
        Embedding,
        Dense,
        Dropout,
        SimpleRNN,
        LSTM,
        GRU,
        Bidirectional,
        TimeDistributed,
        Activation,
        Flatten,
        Reshape,
        RepeatVector,
        Masking,
        LeakyReLU,
        GlobalAveragePooling1D,
        GlobalMaxPooling1D,
        # the cell API (helper "recurrent")
        RNN,
        SimpleRNNCell,
        LSTMCell,
        GRUCell,
        StackedRNNCells,
    )
}


def get(class_name: str) -> type[Layer]:
    """The layer class called ``class_name`` (used when loading a saved model)."""
    if class_name not in _REGISTRY:
        listed = ", ".join(sorted(_REGISTRY))
        raise ValueError(
            f"rnnkit.layers: `class_name` expected one of {listed}, received {class_name!r}."
        )
    return _REGISTRY[class_name]
