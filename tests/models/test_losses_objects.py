"""Loss and metric objects, and the names Keras writes in the history (issue #18 item 8).

Oracle: Keras 3.15.1 (torch backend), ``tests/models/fixtures/keras_fit.json`` made by
``scripts/make_keras_fit_fixtures.py``: each loss object's value on fixed arrays with and
without sample weights, and the sorted history keys of a one-epoch fit with validation for each
(loss, metrics) pair below.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import losses, metrics
from rnnkit.layers import Dense, Input
from rnnkit.models import Sequential

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_fit.json").read_text())

OBJECTS = {
    "MeanSquaredError": losses.MeanSquaredError(),
    "MeanAbsoluteError": losses.MeanAbsoluteError(),
    "Huber": losses.Huber(),
    "Huber(delta=0.5)": losses.Huber(delta=0.5),
    "BinaryCrossentropy": losses.BinaryCrossentropy(),
    "BinaryCrossentropy(from_logits)": losses.BinaryCrossentropy(from_logits=True),
    "CategoricalCrossentropy": losses.CategoricalCrossentropy(),
    "CategoricalCrossentropy(from_logits)": losses.CategoricalCrossentropy(from_logits=True),
    "SparseCategoricalCrossentropy": losses.SparseCategoricalCrossentropy(),
    "SparseCategoricalCrossentropy(from_logits)": losses.SparseCategoricalCrossentropy(
        from_logits=True
    ),
    "SparseCategoricalCrossentropy(ignore_class=2)": losses.SparseCategoricalCrossentropy(
        ignore_class=2
    ),
    "SparseCategoricalCrossentropy(ignore_class=0) on (N,T)": (
        losses.SparseCategoricalCrossentropy(ignore_class=0)
    ),
}


# 1. Values equal Keras's -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OBJECTS))
def test_loss_objects_equal_keras(name):
    """Before: rnnkit had no loss objects (AttributeError on rnnkit.losses.MeanSquaredError)."""
    case = KERAS["losses"][name]
    fn = OBJECTS[name]
    y_true = np.array(case["y_true"])
    y_pred = np.array(case["y_pred"], dtype="float32")
    w = np.array(case.get("sample_weight", KERAS["losses"]["weights"]), dtype="float32")
    assert float(fn(y_true, y_pred)) == pytest.approx(case["loss"], rel=1e-5)
    assert float(fn(y_true, y_pred, sample_weight=w)) == pytest.approx(case["weighted"], rel=1e-5)


def test_huber_by_hand():
    e = torch.tensor([[0.5, -2.0]])
    expected = (0.5 * 0.25 + (1.0 * 2.0 - 0.5)) / 2
    got = losses.Huber()(torch.zeros(1, 2), e)
    assert float(got) == pytest.approx(expected)


def test_sparse_ce_on_sequences_equals_torch_cross_entropy():
    """(N, T) targets against (N, T, V) logits, as a language model needs; ignore_class as
    torch's ignore_index."""
    z = torch.randn(3, 5, 7)
    y = torch.randint(0, 7, (3, 5))
    y[0, 3:] = 0
    expected = torch.nn.functional.cross_entropy(z.reshape(-1, 7), y.reshape(-1))
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(y, z)
    torch.testing.assert_close(got, expected)
    expected = torch.nn.functional.cross_entropy(z.reshape(-1, 7), y.reshape(-1), ignore_index=0)
    got = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)(y, z)
    torch.testing.assert_close(got, expected)


def test_loss_object_arguments_are_checked():
    with pytest.raises(
        ValueError, match=re.escape("Huber: `delta` expected a positive number, received 0")
    ):
        losses.Huber(delta=0)
    with pytest.raises(
        TypeError,
        match=re.escape("BinaryCrossentropy: `from_logits` expected True or False, received 1"),
    ):
        losses.BinaryCrossentropy(from_logits=1)


# 2. compile takes them; fit trains with them ------------------------------------------------


def fit_keys(loss, metric_list, y, units, activation):
    torch.manual_seed(0)
    m = Sequential([Input((3,)), Dense(units, activation=activation)])
    m.compile("sgd", loss, metrics=metric_list)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    h = m.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x, y))
    return sorted(h.history)


Y_SPARSE = np.array([0, 1, 2, 0, 1, 2, 0, 1])
Y_BIN = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype="float32")
Y_REG = np.linspace(0, 1, 8, dtype="float32")
CASES = {
    "sparse_ce+accuracy": ("sparse_categorical_crossentropy", ["accuracy"], Y_SPARSE, 3, "softmax"),
    "sparse_ce+acc": ("sparse_categorical_crossentropy", ["acc"], Y_SPARSE, 3, "softmax"),
    "sparse_ce+SparseCategoricalAccuracy()": (
        losses.SparseCategoricalCrossentropy(),
        [metrics.SparseCategoricalAccuracy()],
        Y_SPARSE,
        3,
        "softmax",
    ),
    "sparse_ce+sparse_categorical_accuracy": (
        "sparse_categorical_crossentropy",
        ["sparse_categorical_accuracy"],
        Y_SPARSE,
        3,
        "softmax",
    ),
    "bce+accuracy": ("binary_crossentropy", ["accuracy"], Y_BIN, 1, "sigmoid"),
    "BinaryCrossentropy()+BinaryAccuracy()": (
        losses.BinaryCrossentropy(),
        [metrics.BinaryAccuracy()],
        Y_BIN,
        1,
        "sigmoid",
    ),
    "mse+mae,mse": ("mse", ["mae", "mse"], Y_REG, 1, None),
    "MeanSquaredError()+mean_absolute_error": (
        losses.MeanSquaredError(),
        ["mean_absolute_error"],
        Y_REG,
        1,
        None,
    ),
    "mse+MeanAbsoluteError(),RootMeanSquaredError()": (
        "mse",
        [metrics.MeanAbsoluteError(), metrics.RootMeanSquaredError()],
        Y_REG,
        1,
        None,
    ),
    "Huber()+MeanSquaredError()": (losses.Huber(), [metrics.MeanSquaredError()], Y_REG, 1, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_history_keys_are_kerass(case):
    """Before: SparseCategoricalAccuracy() was logged as 'accuracy', MeanAbsoluteError() as
    'mae', and loss objects were refused by compile."""
    assert fit_keys(*CASES[case]) == KERAS["history_keys"][case]


def test_a_loss_object_trains_as_its_name():
    x = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
    y = (x.sum(1) > 0).astype("float32")
    results = []
    for loss in ("binary_crossentropy", losses.BinaryCrossentropy()):
        torch.manual_seed(0)
        m = Sequential([Input((3,)), Dense(1, activation="sigmoid")])
        m.compile("sgd", loss, metrics=["accuracy"])
        results.append(m.fit(x, y, batch_size=4, shuffle=False, verbose=0).history)
    assert results[0]["accuracy"] == results[1]["accuracy"]
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-6)


def test_from_logits_with_a_linear_output_equals_a_sigmoid_output():
    x = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
    y = (x.sum(1) > 0).astype("float32")
    losses_seen = []
    for activation, loss in (
        ("sigmoid", "binary_crossentropy"),
        (None, losses.BinaryCrossentropy(from_logits=True)),
    ):
        torch.manual_seed(0)
        m = Sequential([Input((3,)), Dense(1, activation=activation)])
        m.compile("sgd", loss)
        losses_seen.append(m.fit(x, y, batch_size=4, shuffle=False, verbose=0).history["loss"])
    assert losses_seen[0] == pytest.approx(losses_seen[1], rel=1e-6)


def test_sample_weight_with_a_loss_object():
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = np.random.default_rng(2).normal(size=(8, 1)).astype("float32")
    w = np.linspace(0, 1, 8).astype("float32")
    torch.manual_seed(0)
    m = Sequential([Input((3,)), Dense(1)])
    m.compile("sgd", losses.Huber())
    m.build((None, 3))
    p = torch.tensor(m.predict(x))
    expected = losses.Huber()(torch.tensor(y), p, sample_weight=torch.tensor(w))
    assert m.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0) == pytest.approx(
        float(expected), rel=1e-6
    )


def test_fit_on_sequences_with_ignore_class_outside_the_classes():
    """(N, T) targets with -1 where a step has no target: the labels check lets the ignored id
    pass, and the loss equals torch's cross_entropy with ignore_index=-1."""
    from rnnkit.layers import LSTM, Embedding

    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, size=(6, 5))
    y = rng.integers(0, 9, size=(6, 5))
    y[:, -2:] = -1
    torch.manual_seed(0)
    m = Sequential([Embedding(9, 4), LSTM(3, return_sequences=True), Dense(9)])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    m.compile("sgd", loss)
    got = m.evaluate(x, y, batch_size=6, verbose=0)
    m.eval()
    with torch.no_grad():
        z = m(torch.tensor(x))
    expected = torch.nn.functional.cross_entropy(
        z.reshape(-1, 9), torch.tensor(y).reshape(-1), ignore_index=-1
    )
    assert got == pytest.approx(float(expected), rel=1e-6)
    m.fit(x, y, batch_size=3, verbose=0)  # no labels error for the -1s
    with pytest.raises(ValueError, match=re.escape("received -1 (sample 0).")):
        m.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True))
        m.fit(x, y, verbose=0)
