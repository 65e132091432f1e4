"""rnnkit.constraints and the *_constraint arguments: projections against Keras 3's values
(fixtures made by scripts/make_keras_klayers_fixtures.py) and hand computation; names; applied
after every optimizer step of fit / train_on_batch, on Keras's weight layout."""

import json
import re
from pathlib import Path

import pytest
import torch

from rnnkit import constraints
from rnnkit.layers import GRU, LSTM, Conv1D, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.models.callbacks import Callback
from rnnkit.models.optimizers import SGD

FIXTURES = json.loads((Path(__file__).parent / "keras_klayers_fixtures.json").read_text())


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


KERAS_CONSTRAINTS = {
    "MaxNorm(1.5)": constraints.MaxNorm(1.5),
    "MaxNorm(1.0, axis=1)": constraints.MaxNorm(1.0, axis=1),
    "UnitNorm()": constraints.UnitNorm(),
    "MinMaxNorm(1.2, 1.6, rate=0.5)": constraints.MinMaxNorm(1.2, 1.6, rate=0.5),
    "NonNeg()": constraints.NonNeg(),
}


# 1. the projections ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(KERAS_CONSTRAINTS))
def test_projection_equals_keras(name):
    w = t(FIXTURES["penalties"]["w"])
    expected = t(FIXTURES["penalties"]["constraints"][name])
    torch.testing.assert_close(KERAS_CONSTRAINTS[name](w), expected, atol=1e-6, rtol=1e-6)


def test_projections_by_hand():
    w = t([[3.0, 0.0, -1.0], [4.0, 0.5, 0.0]])  # column norms 5, 0.5, 1
    torch.testing.assert_close(
        constraints.MaxNorm(2.0)(w), w * t([2 / (5 + 1e-7), 0.5 / (0.5 + 1e-7), 1 / (1 + 1e-7)])
    )
    norms = constraints.UnitNorm()(w).norm(dim=0)
    torch.testing.assert_close(norms, torch.ones(3))
    # MinMaxNorm(1, 2, rate=0.5): new norms 0.5*2 + 0.5*5 = 3.5, 0.5*1 + 0.5*0.5 = 0.75, 1
    torch.testing.assert_close(
        constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w).norm(dim=0), t([3.5, 0.75, 1.0])
    )
    assert constraints.NonNeg()(w).min() == 0
    assert torch.equal(constraints.Constraint()(w), w)


def test_names():
    assert constraints.get("max_norm") == constraints.MaxNorm(2, 0)
    assert constraints.get("MinMaxNorm") == constraints.MinMaxNorm(0.0, 1.0, 1.0, 0)
    assert constraints.get("non_neg") == constraints.NonNeg()
    assert constraints.get("unit_norm") == constraints.UnitNorm(0)
    assert constraints.get(None) is None
    c = constraints.MinMaxNorm(0.5, 2.0, rate=0.7, axis=1)
    assert constraints.get(constraints.serialize(c)) == c
    with pytest.raises(
        ValueError,
        match=re.escape(
            "constraints.get: `identifier` expected a constraint name (see "
            "rnnkit.constraints.NAMES), received 'typo'."
        ),
    ):
        constraints.get("typo")
    with pytest.raises(
        TypeError,
        match=re.escape("MaxNorm: `axis` expected an integer or a list of integers, received"),
    ):
        constraints.MaxNorm(axis="rows")


# 2. in training ---------------------------------------------------------------------------------
def test_max_norm_holds_after_every_fit_step():
    model = Sequential(
        [Dense(4, kernel_constraint=constraints.MaxNorm(0.3), input_shape=(5,)), Dense(1)]
    )
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    norms = []

    class WatchCb(Callback):
        def on_train_batch_end(self, batch, logs=None):
            norms.append(model.layers[0].W.detach().norm(dim=0).max().item())

    model.fit(
        rand(32, 5) * 3, rand(32, 1) * 3, batch_size=8, epochs=2, verbose=0, callbacks=[WatchCb()]
    )
    assert len(norms) == 8
    assert max(norms) <= 0.3 + 1e-6
    assert max(norms) > 0.29  # the steps are large: the constraint is what holds the norm


def test_train_on_batch_applies_constraints():
    model = Sequential(
        [Dense(3, kernel_constraint="non_neg", bias_constraint="non_neg", input_shape=(2,))]
    )
    model.compile(optimizer=SGD(learning_rate=10.0), loss="mse")
    model.train_on_batch(rand(4, 2), rand(4, 3) - 5)
    assert float(model.layers[0].W.detach().min()) >= 0.0
    assert float(model.layers[0].b.detach().min()) >= 0.0


def test_constraints_on_every_layer_weight():
    layers = [
        Embedding(6, 4, embeddings_constraint=constraints.MaxNorm(0.01, axis=1)),
        LSTM(3, return_sequences=True, recurrent_constraint="unit_norm"),
        GRU(2, return_sequences=True, bias_constraint="non_neg", kernel_constraint="non_neg"),
        Conv1D(2, 2, kernel_constraint=constraints.MaxNorm(0.5, axis=[0, 1])),
    ]
    model = Sequential(layers)
    model(torch.tensor([[1, 2, 3]]))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(rand(*p.shape) * 3)
    constraints.apply(model)
    emb, lstm, gru, conv = layers
    assert emb.E.detach().norm(dim=1).max() <= 0.01 + 1e-6
    torch.testing.assert_close(lstm.W_h.detach().norm(dim=0), torch.ones(12))
    assert (
        gru.W_x.detach().min() >= 0 and gru.b_x.detach().min() >= 0 and gru.b_h.detach().min() >= 0
    )
    assert conv.W.detach().norm(dim=(0, 1)).max() <= 0.5 + 1e-6


def test_no_constraint_changes_nothing():
    model = Sequential([Dense(3, input_shape=(2,))])
    before = [w.copy() for w in model.get_weights()]
    constraints.apply(model)
    assert all((a == b).all() for a, b in zip(before, model.get_weights(), strict=True))
