"""Layers: parameters and options; each is a ``torch.nn.Module`` (batch-first), called as
Keras calls a layer (``training=``, NumPy arrays, symbolic tensors from ``Input``:
:mod:`rnnkit.layers.symbolic`)."""

# -- the functional API, merge and attention layers (branch functional) --
from .attention import AdditiveAttention, Attention
from .base import Layer
from .cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .conv import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    Conv1D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from .core import Dense, Dropout, Embedding
from .input_layer import Input, InputLayer
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .shaping import (
    Activation,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    LeakyReLU,
    Masking,
    ReLU,
    RepeatVector,
    Reshape,
)
from .symbolic import KerasTensor
from .wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "AveragePooling1D",
    "BatchNormalization",
    "Bidirectional",
    "Conv1D",
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
    "LayerNormalization",
    "LeakyReLU",
    "Masking",
    "MaxPooling1D",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "TimeDistributed",
    "get",
]
__all__ += [  # keras-io examples and the ported Keras tests (helper "keras")
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "MaxPooling2D",
    "MaxPooling3D",
    "ReLU",
]
__all__ += [  # the functional API, merge and attention layers (branch functional)
    "Add",
    "AdditiveAttention",
    "Attention",
    "Average",
    "Concatenate",
    "Dot",
    "InputLayer",
    "KerasTensor",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]

_REGISTRY = {
    cls.__name__: cls
    for cls in (
        InputLayer,
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
        # the functional API (branch functional)
        Add,
        Subtract,
        Multiply,
        Average,
        Maximum,
        Minimum,
        Concatenate,
        Dot,
        Attention,
        AdditiveAttention,
        Conv1D,
        MaxPooling1D,
        AveragePooling1D,
        BatchNormalization,
        LayerNormalization,
        # the cell API (helper "recurrent")
        RNN,
        SimpleRNNCell,
        LSTMCell,
        GRUCell,
        StackedRNNCells,
        ReLU,  # keras-io examples and the ported Keras tests (helper "keras")
        GlobalAveragePooling2D,
        GlobalAveragePooling3D,
        GlobalMaxPooling2D,
        GlobalMaxPooling3D,
        AveragePooling2D,
        AveragePooling3D,
        MaxPooling2D,
        MaxPooling3D,
    )
}
_REGISTRY["Input"] = InputLayer  # the class name rnnkit's Input layer had


def get(class_name: str) -> type[Layer]:
    """The layer class called ``class_name`` (used when loading a saved model)."""
    if class_name not in _REGISTRY:
        listed = ", ".join(sorted(_REGISTRY))
        raise ValueError(
            f"rnnkit.layers: `class_name` expected one of {listed}, received {class_name!r}."
        )
    return _REGISTRY[class_name]
