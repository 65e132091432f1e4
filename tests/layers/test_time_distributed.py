"""TimeDistributed: one layer applied to every time step, as Keras's wrapper."""

import re

import numpy as np
import pytest
import torch

from rnnkit.layers import LSTM, Dense, Embedding, TimeDistributed
from rnnkit.models import Sequential, load_model


def test_each_step_gets_the_same_dense_layer():
    torch.manual_seed(0)
    layer = TimeDistributed(Dense(3, activation="tanh"))
    x = torch.randn(2, 5, 4)
    y = layer(x)
    dense = layer.layer
    by_hand = torch.stack([torch.tanh(x[:, t] @ dense.W + dense.b) for t in range(5)], dim=1)
    assert y.shape == (2, 5, 3)
    torch.testing.assert_close(y, by_hand)
    assert layer.count_params() == 4 * 3 + 3  # one set of weights for every step


def test_shapes_summary_and_keras_parameter_count():
    model = Sequential([TimeDistributed(Dense(8), input_shape=(10, 16))])
    assert model.output_shape == (None, 10, 8)
    lines = []
    model.summary(print_fn=lines.append)
    assert any(
        "time_distributed (TimeDistributed)" in line and "(None, 10, 8)" in line and "136" in line
        for line in lines
    )


def test_a_language_model_head_passes_the_mask_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = Sequential(
        [
            Embedding(20, 6, mask_zero=True),
            LSTM(5, return_sequences=True),
            TimeDistributed(Dense(20, activation="softmax")),
        ]
    )
    ids = torch.tensor([[3, 4, 5, 0], [7, 8, 0, 0]])
    y = model(ids)
    assert y.shape == (2, 4, 20)
    torch.testing.assert_close(y.sum(-1), torch.ones(2, 4))
    assert torch.equal(model.layers[2].compute_mask(None, ids != 0), ids != 0)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


def test_bad_arguments_and_inputs():
    with pytest.raises(
        TypeError,
        match=re.escape("TimeDistributed: `layer` expected an rnnkit layer, received Linear."),
    ):
        TimeDistributed(torch.nn.Linear(2, 2))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "TimeDistributed: `inputs` expected at least 3 axes (batch, time, features), "
            "received input shape (4, 3)."
        ),
    ):
        TimeDistributed(Dense(2))(torch.randn(4, 3))
