"""Masked time steps left out of the loss and the metrics (issue #18 item 13).

Oracle: Keras 3.15.1 (torch backend) on the same model and weights,
``tests/models/fixtures/keras_fit.json`` made by ``scripts/make_keras_fit_fixtures.py``:
``Embedding(6, 4, mask_zero=True) -> LSTM(5, return_sequences=True) ->
TimeDistributed(Dense(6, softmax))`` on 6 sequences padded 'post' (15 of 48 steps padding).
Keras's figures: accuracy 4/33 = 0.1212 with the mask, 6/48 = 0.125 on every step; the loss per
batch is the mean over the batch's real steps, batches weighed by their size.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.layers import LSTM, Dense, Embedding, Input, TimeDistributed
from rnnkit.models import Sequential, losses
from rnnkit.models.optimizers import SGD

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_fit.json").read_text())
CASE = KERAS["masked_sequence"]
X, Y = np.array(CASE["x"]), np.array(CASE["y"])


def keras_model(mask_zero=True, wrap=True):
    head = Dense(6, activation="softmax")
    m = Sequential(
        [
            Input((8,)),
            Embedding(6, 4, mask_zero=mask_zero),
            LSTM(5, return_sequences=True),
            TimeDistributed(head) if wrap else head,
        ]
    )
    m.compile(SGD(learning_rate=0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.set_weights([np.array(w, dtype="float32") for w in CASE["weights"]])
    return m


@pytest.mark.parametrize("wrap", [True, False], ids=["TimeDistributed(Dense)", "Dense-on-3D"])
def test_evaluate_leaves_masked_steps_out_as_keras(wrap):
    """Before: accuracy 0.125 and the loss over every step (padding included) with the mask."""
    got = keras_model(wrap=wrap).evaluate(X, Y, batch_size=4, verbose=0, return_dict=True)
    assert got["accuracy"] == pytest.approx(4 / 33, abs=1e-7)
    assert got["accuracy"] == pytest.approx(CASE["evaluate"]["accuracy"], abs=1e-6)
    assert got["loss"] == pytest.approx(CASE["evaluate"]["loss"], abs=1e-5)


def test_without_a_mask_every_step_counts():
    got = keras_model(mask_zero=False).evaluate(X, Y, batch_size=4, verbose=0, return_dict=True)
    assert got["accuracy"] == pytest.approx(CASE["evaluate_unmasked"]["accuracy"], abs=1e-7)
    assert got["loss"] == pytest.approx(CASE["evaluate_unmasked"]["loss"], abs=1e-5)


def test_fit_leaves_masked_steps_out_of_the_gradient_and_the_history():
    m = keras_model()
    h = m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert h.history["loss"][0] == pytest.approx(CASE["fit_history"]["loss"][0], abs=1e-5)
    assert h.history["accuracy"][0] == pytest.approx(CASE["fit_history"]["accuracy"][0], abs=1e-6)
    for got, want in zip(m.get_weights(), CASE["weights_after_fit"]):
        np.testing.assert_allclose(got, np.array(want), atol=1e-6)


def test_the_masked_loss_by_hand():
    """The batch loss is sum(loss over real steps) / count(real steps) (torch oracle)."""
    m = keras_model()
    m.eval()
    x, y = torch.tensor(X[:4]), torch.tensor(Y[:4])
    with torch.no_grad():
        p = m(x)
    assert torch.equal(p._keras_mask, x != 0)  # the model exposes its output mask
    nll = -torch.log(p.gather(-1, y[..., None]).squeeze(-1))  # (4, 8)
    kept = x != 0
    expected = float((nll * kept).sum() / kept.sum())
    got = m.test_on_batch(X[:4], Y[:4])
    assert got[0] == pytest.approx(expected, rel=1e-5)
    assert got[1] == pytest.approx(float((p.argmax(-1) == y)[kept].float().mean()), abs=1e-7)


def test_a_loss_object_reads_the_mask_of_y_pred():
    p = torch.softmax(torch.randn(2, 3, 4), -1)
    y = torch.tensor([[1, 2, 0], [3, 0, 0]])
    p._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    nll = -torch.log(p.gather(-1, y[..., None]).squeeze(-1))
    expected = (nll[0, 0] + nll[0, 1] + nll[1, 0]) / 3
    got = losses.SparseCategoricalCrossentropy()(y, p)
    torch.testing.assert_close(got, expected)
