"""rnnkit.regularizers and the *_regularizer arguments: penalties against Keras 3's values
(fixtures made by scripts/make_keras_klayers_fixtures.py) and hand computation; names and
defaults; each layer's `losses`; fit / evaluate reporting data loss + penalties (a Keras run's
numbers, a hand computation, and a plain torch loop with the same penalty); the fast paths
kept."""

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnnkit import constraints, regularizers
from rnnkit.kernels import dispatch
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.models.optimizers import SGD

FIXTURES = json.loads((Path(__file__).parent / "keras_klayers_fixtures.json").read_text())


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 1. the penalties -----------------------------------------------------------------------------
KERAS_REGULARIZERS = {
    "l1": lambda: regularizers.get("l1"),
    "l2": lambda: regularizers.get("l2"),
    "L1L2(0.1, 0.2)": lambda: regularizers.L1L2(0.1, 0.2),
    "OrthogonalRegularizer(0.3, 'rows')": lambda: regularizers.OrthogonalRegularizer(0.3, "rows"),
    "OrthogonalRegularizer(0.3, 'columns')": lambda: regularizers.OrthogonalRegularizer(
        0.3, "columns"
    ),
}


@pytest.mark.parametrize("name", list(KERAS_REGULARIZERS))
def test_penalty_equals_keras(name):
    w = t(FIXTURES["penalties"]["w"])
    expected = FIXTURES["penalties"]["regularizers"][name]
    assert float(KERAS_REGULARIZERS[name]()(w)) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_penalties_by_hand():
    w = t([[1.0, -2.0], [0.0, 3.0]])
    assert float(regularizers.L1(0.5)(w)) == 0.5 * 6
    assert float(regularizers.L2(0.5)(w)) == 0.5 * 14
    assert float(regularizers.L1L2(l1=0.1, l2=0.2)(w)) == pytest.approx(0.1 * 6 + 0.2 * 14)
    # rows (1, -2)/sqrt5 and (0, 1): |cos| = 2/sqrt5, one pair
    got = float(regularizers.OrthogonalRegularizer(1.0)(w))
    assert got == pytest.approx(0.5 * 2 * (2 / 5**0.5) / 1)
    assert float(regularizers.Regularizer()(w)) == 0.0


def test_names_and_keras_defaults():
    assert regularizers.get("l1") == regularizers.L1(0.01)
    assert regularizers.get("l2") == regularizers.L2(0.01)
    assert regularizers.get("l1l2") == regularizers.L1L2(0.0, 0.0)  # Keras 3: both 0
    assert regularizers.get("L1L2") == regularizers.L1L2()
    assert regularizers.get("l1_l2") == regularizers.L1L2(0.01, 0.01)  # Keras's docstring / Keras 2
    assert regularizers.get("orthogonal_regularizer") == regularizers.OrthogonalRegularizer(0.01)
    assert regularizers.get(None) is None
    assert regularizers.get(regularizers.L2) == regularizers.L2()
    assert regularizers.get({"class_name": "L1", "config": {"l1": 0.3}}) == regularizers.L1(0.3)
    assert regularizers.L1(None).l1 == 0.01 and regularizers.L1L2(None, None).l1 == 0.0

    def f(w):
        return w.sum()

    assert regularizers.get(f) is f
    reg = regularizers.L1L2(l1=0.1, l2=0.2)
    assert regularizers.deserialize(regularizers.serialize(reg)) == reg


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda: regularizers.get("typo"),
            ValueError,
            "regularizers.get: `identifier` expected a regularizer name (see "
            "rnnkit.regularizers.NAMES), received 'typo'.",
        ),
        (
            lambda: regularizers.L2(-1),
            ValueError,
            "regularizers: `l2` expected a non-negative float, received -1 (int).",
        ),
        (
            lambda: regularizers.OrthogonalRegularizer(mode="diagonal"),
            ValueError,
            "OrthogonalRegularizer: `mode` expected one of 'rows', 'columns', received 'diagonal'.",
        ),
        (
            lambda: regularizers.OrthogonalRegularizer()(torch.zeros(2, 2, 2)),
            ValueError,
            "OrthogonalRegularizer: `inputs` expected a tensor of rank 2, received Tensor of "
            "shape (2, 2, 2)",
        ),
        (
            lambda: Dense(2, kernel_regularizer=3),
            ValueError,
            "Dense: `kernel_regularizer` expected a regularizer name, config dict, Regularizer "
            "or callable, received 3 (int).",
        ),
    ],
)
def test_errors(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()


# 2. on the layers: `losses` ---------------------------------------------------------------------
def test_dense_losses_as_keras_docstring():
    # keras.regularizers.Regularizer's docstring: kernel term 0.25, activity term 5.0
    layer = Dense(
        5,
        kernel_initializer="ones",
        kernel_regularizer=regularizers.L1(0.01),
        activity_regularizer=regularizers.L2(0.01),
        input_shape=(5,),
    )
    layer(torch.ones(5, 5) * 2.0)
    assert float(sum(layer.losses).detach()) == pytest.approx(5.25)
    # activity first, as Keras
    assert [round(float(v.detach()), 6) for v in layer.losses] == [5.0, 0.25]


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_recurrent_penalties_on_keras_layout(cls):
    layer = cls(
        3,
        kernel_regularizer=regularizers.L2(0.1),
        recurrent_regularizer=regularizers.L1(0.2),
        bias_regularizer=regularizers.L2(0.3),
        bias_initializer="ones",
        input_shape=(None, 2),
    )
    kernel, recurrent, bias = (torch.from_numpy(w) for w in layer.get_weights())
    expected = [0.1 * kernel.square().sum(), 0.2 * recurrent.abs().sum(), 0.3 * bias.square().sum()]
    torch.testing.assert_close(torch.stack(layer.losses), torch.stack(expected))
    if cls is GRU:
        assert tuple(bias.shape) == (2, 9)  # Keras's (2, 3H) bias: b_x and b_h both count


def test_embedding_and_bidirectional_penalties_reach_the_model():
    model = Sequential(
        [
            Embedding(10, 4, embeddings_regularizer="l2"),
            Bidirectional(LSTM(3, kernel_regularizer="l1")),
            Dense(1),
        ]
    )
    model(torch.tensor([[1, 2, 3]]))
    E = model.layers[0].E.detach()
    bi = model.layers[1]
    expected = 0.01 * E.square().sum()
    expected += 0.01 * (bi.forward_layer.W_x.abs().sum() + bi.backward_layer.W_x.abs().sum())
    got = sum(regularizers.layer_losses(model))
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(sum(model.losses), expected)  # Keras's model.losses
    assert Sequential([Dense(2, input_shape=(3,))]).losses == []


def test_config_round_trip_and_save_load(tmp_path):
    model = Sequential(
        [
            Embedding(10, 4, embeddings_regularizer="l1", embeddings_constraint="unit_norm"),
            LSTM(3, recurrent_regularizer="l2", bias_constraint=constraints.MaxNorm(3.0)),
            Dense(1, kernel_regularizer=regularizers.L1L2(0.1, 0.2), activity_regularizer="l2"),
        ]
    )
    for layer in model.layers:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert model.layers[1].get_config()["recurrent_regularizer"] == {
        "class_name": "L2",
        "config": {"l2": 0.01},
    }
    ids = torch.tensor([[1, 2, 3]])
    model.eval()
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    torch.testing.assert_close(loaded(ids), model(ids))
    assert loaded.layers[2].kernel_regularizer == regularizers.L1L2(0.1, 0.2)
    assert loaded.layers[1].bias_constraint == constraints.MaxNorm(3.0)


# 3. fit and evaluate ------------------------------------------------------------------------------
def keras_fit_model():
    case = FIXTURES["fit"]
    model = Sequential(
        [
            Dense(
                2,
                kernel_regularizer=regularizers.L2(0.1),
                bias_regularizer=regularizers.L1(0.05),
                activity_regularizer=regularizers.L1(0.02),
                kernel_constraint=constraints.MaxNorm(0.8),
                input_shape=(3,),
            )
        ]
    )
    model.set_weights([t(w) for w in case["weights"]])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    return model, t(case["x"]), t(case["y"])


def test_fit_losses_weights_and_evaluate_equal_keras():
    case = FIXTURES["fit"]
    model, x, y = keras_fit_model()
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], case["loss"], rtol=1e-5)
    for got, want in zip(model.get_weights(), case["weights_after"], strict=True):
        np.testing.assert_allclose(got, np.array(want), rtol=1e-5, atol=1e-6)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(case["evaluate"], rel=1e-5)


def test_fit_reports_data_loss_plus_hand_computed_penalty():
    model = Sequential([Dense(2, kernel_regularizer=regularizers.L2(0.5), input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rand(4, 3), rand(4, 2, seed=1)
    W, b = (w.detach().clone() for w in (model.layers[0].W, model.layers[0].b))
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    data = F.mse_loss(x @ W + b, y)
    expected = float(data + 0.5 * W.square().sum())
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-6)
    W1, b1 = (w.detach().clone() for w in (model.layers[0].W, model.layers[0].b))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        float(F.mse_loss(model(x), y).detach() + 0.5 * W1.square().sum()), rel=1e-6
    )
    assert model.train_on_batch(x, y) == pytest.approx(
        float(F.mse_loss(x @ W1 + b1, y) + 0.5 * W1.square().sum()),
        rel=1e-6,
    )


def test_l2_fit_matches_a_torch_loop_with_the_same_penalty():
    torch.manual_seed(3)
    model = Sequential(
        [
            Embedding(20, 4),
            LSTM(5, kernel_regularizer=regularizers.L2(0.05)),
            Dense(1, activation="sigmoid"),
        ]
    )
    model(torch.zeros(1, 6, dtype=torch.long))
    twin = copy.deepcopy(model)
    model.compile(optimizer=SGD(learning_rate=0.5), loss="binary_crossentropy")
    ids = torch.randint(1, 20, (16, 6), generator=torch.Generator().manual_seed(4))
    labels = (ids[:, 0] > 10).float()
    model.fit(ids, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)

    # the same steps, written with torch: SGD on BCE + 0.05 * sum(W_x ** 2)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.5)
    twin.train()
    for _ in range(2):
        for rows in torch.arange(16).split(8):
            optimizer.zero_grad()
            p = twin(ids[rows]).squeeze(-1)
            loss = F.binary_cross_entropy(p, labels[rows])
            loss = loss + 0.05 * twin.layers[1].W_x.square().sum()
            loss.backward()
            optimizer.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)
    # Keras's L2 has no 1/2: the same as torch's weight_decay = 2 * l2 on that weight


def test_regularizers_keep_the_fast_paths(monkeypatch):
    """Weight penalties act on the weights, not on the step loop: an Embedding -> LSTM still
    runs the lookup kernel in fit and skips padding in predict."""
    calls = []
    lookup = dispatch.lstm_ids

    def spy(*args, **kwargs):
        calls.append(kwargs.get("table") is not None)
        return lookup(*args, **kwargs)

    monkeypatch.setattr(dispatch, "lstm_ids", spy)
    model = Sequential(
        [
            Embedding(30, 8, embeddings_regularizer="l2", embeddings_constraint="max_norm"),
            LSTM(6, kernel_regularizer="l2", recurrent_regularizer="l1", bias_constraint="non_neg"),
            Dense(1, activation="sigmoid", kernel_regularizer="l2"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    ids = torch.randint(1, 30, (16, 5))
    model.fit(ids, torch.ones(16), batch_size=8, epochs=1, verbose=0)
    if not model.layers[1].takes_ids_from(model.layers[0], ids):
        pytest.skip("the lookup kernel does not apply on this machine (no compiled kernels)")
    assert len(calls) == 2  # one per training batch


def test_activity_regularizer_uses_the_plain_path_and_counts():
    model = Sequential(
        [Embedding(10, 3, activity_regularizer="l2"), LSTM(2, activity_regularizer="l1")]
    )
    ids = torch.tensor([[0, 0, 1, 2], [0, 3, 4, 5]])  # leading padding: not trimmed now
    model.eval()
    y = model(ids)
    emb, lstm = model.layers
    e = emb.E.detach()[ids]
    expected = [0.01 * e.square().sum() / 2, 0.01 * y.abs().sum() / 2]
    torch.testing.assert_close(torch.stack(regularizers.layer_losses(model)), torch.stack(expected))
    torch.testing.assert_close(y, lstm(emb(ids)))


def test_old_code_refused_the_arguments():
    # before: TypeError (unexpected keyword); now accepted and stored, as Keras
    layer = LSTM(2, kernel_regularizer="l2", kernel_constraint="non_neg", activity_regularizer="l1")
    assert layer.kernel_regularizer == regularizers.L2(0.01)
    assert layer.kernel_constraint == constraints.NonNeg()
    assert layer.activity_regularizer == regularizers.L1(0.01)
