"""Keras's ``training=`` semantics: a plain call ``layer(x)`` / ``model(x)`` is inference
(dropout off); ``training=True`` trains for that call only; ``fit`` trains with dropout.

Tests 1, 2 and 5 fail on the code before this change: layers and models were made in
PyTorch's training mode, so a plain call dropped units.
"""

import re

import numpy as np
import pytest
import torch

from rnnkit import Input, Model
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding
from rnnkit.models import Sequential


# 1. A plain call of Dropout is the identity; training=True drops, for that call only.
def test_dropout_plain_call_is_inference():
    torch.manual_seed(0)
    layer = Dropout(0.5)
    x = torch.ones(4, 10)
    assert not layer.training
    torch.testing.assert_close(layer(x), x)
    y = layer(x, training=True)
    assert ((y == 0) | (y == 2)).all() and (y == 0).any()
    assert not layer.training  # restored
    torch.testing.assert_close(layer(x, training=False), x)


# 2. An LSTM with dropout and recurrent dropout: the plain call equals the same weights without
#    dropout, and is deterministic; training=True is stochastic.
@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_recurrent_dropout_off_in_plain_call(cls):
    torch.manual_seed(0)
    dropping = cls(6, dropout=0.5, recurrent_dropout=0.3)
    plain = cls(6)
    x = torch.randn(3, 5, 4)
    dropping(x)
    plain(x)
    plain.set_weights(dropping.get_weights())
    torch.testing.assert_close(dropping(x), plain(x))
    torch.testing.assert_close(dropping(x), dropping(x))
    a, b = dropping(x, training=True), dropping(x, training=True)
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, plain(x))


# 3. training=False on a module in training mode (PyTorch's .train()): inference for the call,
#    the mode restored afterwards, also when the call raises; sublayers too.
def test_mode_restored_after_call_and_on_error():
    model = Sequential([Dense(4), Dropout(0.5), Dense(2)])
    model.build((None, 3))
    model.train()
    x = torch.ones(5, 3)
    torch.testing.assert_close(model(x, training=False), model(x, training=False))
    assert model.training and all(layer.training for layer in model.layers)
    with pytest.raises(ValueError):
        model(torch.ones(5, 7), training=False)
    assert model.training and all(layer.training for layer in model.layers)
    model.eval()
    with pytest.raises(ValueError):
        model(torch.ones(5, 7), training=True)
    assert not model.training and not any(layer.training for layer in model.layers)
    with pytest.raises(
        TypeError, match=re.escape("Sequential: `training` expected True, False or None")
    ):
        model(x, training="yes")


# 4. PyTorch users who call .train() get PyTorch's behaviour (training=None keeps the mode).
def test_pytorch_train_mode_is_kept():
    torch.manual_seed(0)
    layer = Dropout(0.5)
    layer.train()
    x = torch.ones(4, 10)
    assert (layer(x) == 0).any()


# 5. Models: Sequential and functional plain calls are inference; training=True drops.
def test_models_plain_call_is_inference():
    torch.manual_seed(0)
    seq = Sequential([Embedding(20, 4), LSTM(5, dropout=0.5), Dropout(0.5), Dense(1)])
    ids = torch.randint(1, 20, (6, 7))
    torch.testing.assert_close(seq(ids), seq(ids))
    assert not torch.allclose(seq(ids, training=True), seq(ids))
    x = Input(shape=(None,), dtype="int64")
    fun = Model(x, Dense(1)(Dropout(0.5)(Bidirectional(GRU(3, dropout=0.4))(Embedding(20, 4)(x)))))
    torch.testing.assert_close(fun(ids), fun(ids))
    assert not torch.allclose(fun(ids, training=True), fun(ids))
    assert not fun.training and not any(m.training for m in fun.modules())


# 6. fit trains with dropout on (each step sees the layers in training mode), evaluation and
#    predict without; one fit step equals a hand step drawn from the same generator state.
def test_fit_applies_dropout():
    torch.manual_seed(0)
    model = Sequential([Dense(8, activation="relu"), Dropout(0.5), Dense(1)])
    model.build((None, 3))
    seen = []
    model.layers[1].register_forward_pre_hook(lambda m, args: seen.append(m.training))
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    model.compile(optimizer="sgd", loss="mse")
    start = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(5)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_data=(x, y))
    assert seen[-2:] == [True, False] and seen.count(True) == 1  # the step trained, not the rest
    after = [p.detach().clone() for p in model.parameters()]

    with torch.no_grad():
        for p, s in zip(model.parameters(), start):
            p.copy_(s)
    torch.manual_seed(5)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.mse_loss(model(x, training=True), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for p, a in zip(model.parameters(), after):
        torch.testing.assert_close(p.detach(), a)
    assert not model.training
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


# 7. A node called with training=True while building the graph (Monte Carlo dropout) drops at
#    every call of the model, as in Keras.
def test_node_with_training_true_stays_stochastic():
    torch.manual_seed(0)
    x = Input(shape=(10,))
    model = Model(x, Dropout(0.5)(x, training=True))
    v = torch.ones(4, 10)
    assert (model(v) == 0).any()
    assert not torch.allclose(model(v), model(v))
