"""Layers and models called on NumPy arrays work as on tensors and return tensors (Keras reads
float arrays as float32, integer arrays as token ids). Fails before this change: layers refused
anything but a torch.Tensor (``Dense: `inputs` expected a torch.Tensor ...``)."""

import numpy as np
import torch

from rnnkit.layers import LSTM, Concatenate, Dense, Embedding
from rnnkit.models import Sequential


# 1. Float arrays (float64 too) are float32 tensors; the result equals the tensor call.
def test_float_arrays():
    torch.manual_seed(0)
    x = np.random.rand(4, 5, 3)  # float64, as NumPy makes it
    dense, lstm = Dense(2), LSTM(3, return_sequences=True)
    for layer in (dense, lstm):
        y = layer(x)
        assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
        torch.testing.assert_close(y, layer(torch.tensor(x, dtype=torch.float32)))
    mask = np.array([[1, 1, 0, 0, 0]] * 4, dtype=bool)
    torch.testing.assert_close(
        lstm(x, mask=mask), lstm(torch.tensor(x, dtype=torch.float32), mask=torch.tensor(mask))
    )


# 2. Integer arrays are token ids for an Embedding; a model takes arrays too.
def test_int_arrays_and_models():
    torch.manual_seed(0)
    ids = np.array([[1, 2, 0], [3, 4, 5]], dtype=np.int32)
    emb = Embedding(10, 4)
    torch.testing.assert_close(emb(ids), emb(torch.tensor(ids)))
    model = Sequential([Embedding(10, 4), LSTM(3), Dense(1)])
    torch.testing.assert_close(model(ids), model(torch.tensor(ids, dtype=torch.long)))
    a, b = np.ones((2, 3)), np.zeros((2, 2))
    torch.testing.assert_close(
        Concatenate()([a, b]), torch.cat([torch.ones(2, 3), torch.zeros(2, 2)], 1)
    )
