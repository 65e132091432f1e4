"""Every metric against scikit-learn, streamed over batches, and the names that reach History.

What rnnkit promises (Keras 3's metrics, ``keras.metrics``):

* ``update`` per batch then ``result`` equals one pass over everything (Keras's running
  ``total / count`` and confusion counts), whatever the batch sizes;
* binary predictions are ``y_pred > threshold`` (strictly: 0.5 itself is negative), labels are
  positive when ``y_true > 0.5`` (Keras casts 0/1 labels to bool: the same for 0/1 labels);
* precision with no positive prediction and recall with no positive label are 0.0 (Keras's
  ``divide_no_nan``; scikit-learn's ``zero_division=0``), and any metric before its first
  update is 0.0;
* a metric is logged under the name given to ``compile`` ('acc' as 'acc', as Keras's
  ``compile_utils.get_metric``), validation ones with ``val_``.

Oracles: ``sklearn.metrics.accuracy_score``, ``precision_score``, ``recall_score``,
``mean_absolute_error``, ``mean_squared_error``.
"""

import re

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from rnnkit.layers import Dense
from rnnkit.models import Sequential
from rnnkit.models import metrics as M

rng = np.random.default_rng(0)


def batches(*arrays, sizes=(7, 1, 12, 5)):
    """Uneven batches covering every row once (torch tensors, as fit passes them)."""
    start = 0
    n = len(arrays[0])
    while start < n:
        for size in sizes:
            stop = min(start + size, n)
            yield tuple(torch.as_tensor(a[start:stop]) for a in arrays)
            start = stop
            if start >= n:
                return


def streamed(metric, y_true, y_pred):
    metric.reset()
    for yt, yp in batches(y_true, y_pred):
        metric.update(yt, yp)
    streamed_result = metric.result()
    metric.reset()
    metric.update(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    assert metric.result() == pytest.approx(streamed_result, rel=1e-12, abs=1e-12)
    return streamed_result


def binary_data(shape, n_ties=3):
    y = rng.integers(0, 2, size=shape).astype("float32")
    p = rng.random(size=shape).astype("float32")
    p.reshape(-1)[:n_ties] = 0.5  # on the threshold: negative, as Keras
    return y, p


# 1. Accuracies --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(40,), (40, 1), (40, 6)])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
def test_binary_accuracy_equals_sklearn(shape, threshold):
    y, p = binary_data(shape)
    p.reshape(-1)[3:5] = threshold
    oracle = skm.accuracy_score(y.reshape(-1), (p > threshold).reshape(-1))
    assert streamed(M.BinaryAccuracy(threshold), y, p) == pytest.approx(oracle, rel=1e-12)


def test_binary_accuracy_takes_labels_of_shape_n_against_predictions_n_by_1():
    y, p = binary_data((30,))
    oracle = skm.accuracy_score(y, p > 0.5)
    assert streamed(M.BinaryAccuracy(), y, p[:, None]) == pytest.approx(oracle, rel=1e-12)


@pytest.mark.parametrize("shape", [(40, 4), (40, 3, 4)])
def test_categorical_accuracy_equals_sklearn(shape):
    y = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], size=shape[:-1])]
    p = rng.random(size=shape).astype("float32")
    p[..., :2][:5] = 0.9  # tied maxima: the first one wins, as np.argmax and Keras
    oracle = skm.accuracy_score(y.argmax(-1).reshape(-1), p.argmax(-1).reshape(-1))
    assert streamed(M.CategoricalAccuracy(), y, p) == pytest.approx(oracle, rel=1e-12)


@pytest.mark.parametrize(
    "label_shape, pred_shape", [((40,), (40, 4)), ((40, 1), (40, 4)), ((40, 3), (40, 3, 4))]
)
def test_sparse_categorical_accuracy_equals_sklearn(label_shape, pred_shape):
    y = rng.integers(0, pred_shape[-1], size=label_shape)
    p = rng.random(size=pred_shape).astype("float32")
    oracle = skm.accuracy_score(y.reshape(-1), p.argmax(-1).reshape(-1))
    assert streamed(M.SparseCategoricalAccuracy(), y, p) == pytest.approx(oracle, rel=1e-12)
    # Float class ids (as a float y array gives) are read the same way.
    assert streamed(M.SparseCategoricalAccuracy(), y.astype("float32"), p) == pytest.approx(
        oracle, rel=1e-12
    )


# 2. Precision and recall ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(50,), (50, 1), (50, 3)])
@pytest.mark.parametrize(
    "cls, oracle", [(M.Precision, skm.precision_score), (M.Recall, skm.recall_score)]
)
def test_precision_and_recall_equal_sklearn(shape, cls, oracle):
    y, p = binary_data(shape)
    expected = oracle(y.reshape(-1), (p > 0.5).reshape(-1), zero_division=0)
    assert streamed(cls(), y, p) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "y, p, precision, recall",
    [
        ([1, 1, 0], [0.1, 0.5, 0.2], 0.0, 0.0),  # no positive prediction
        ([0, 0, 0], [0.9, 0.2, 0.7], 0.0, 0.0),  # no positive label
        ([0, 0, 0], [0.1, 0.2, 0.3], 0.0, 0.0),  # neither
        ([1, 0, 1], [0.9, 0.1, 0.6], 1.0, 1.0),  # all right
    ],
)
def test_precision_and_recall_degenerate_cases_are_zero_as_keras(y, p, precision, recall):
    y, p = np.array(y, dtype="float32"), np.array(p, dtype="float32")
    for cls, value, oracle in [
        (M.Precision, precision, skm.precision_score),
        (M.Recall, recall, skm.recall_score),
    ]:
        assert oracle(y, p > 0.5, zero_division=0) == value  # the oracle agrees
        assert streamed(cls(), y, p) == value


EMPTY = {  # an empty batch of each kind: (y_true, y_pred)
    "categorical_accuracy": (torch.zeros(0, 3), torch.zeros(0, 3)),
    "sparse_categorical_accuracy": (torch.zeros(0), torch.zeros(0, 3)),
}


def test_every_metric_is_zero_before_any_update_and_after_empty_batches():
    for name in M._BY_NAME:
        metric = M.get(name, "binary_crossentropy")
        assert metric.result() == 0.0
        metric.update(*EMPTY.get(name, (torch.zeros(0), torch.zeros(0, 1))))
        assert metric.result() == 0.0, name


# 3. Regression metrics -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "true_shape, pred_shape",
    [((40,), (40,)), ((40,), (40, 1)), ((40, 1), (40, 1)), ((40, 5), (40, 5))],
)
@pytest.mark.parametrize(
    "cls, oracle",
    [(M.MeanAbsoluteError, skm.mean_absolute_error), (M.MeanSquaredError, skm.mean_squared_error)],
)
def test_regression_metrics_equal_sklearn(true_shape, pred_shape, cls, oracle):
    y = rng.normal(size=true_shape).astype("float32")
    p = rng.normal(size=pred_shape).astype("float32")
    # sklearn's uniform average over columns is the mean over every element.
    expected = oracle(y.reshape(len(y), -1), p.reshape(len(p), -1))
    assert streamed(cls(), y, p) == pytest.approx(expected, rel=1e-6)


# 4. Names and kinds from compile -------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, kind",
    [
        ("binary_crossentropy", M.BinaryAccuracy),
        ("categorical_crossentropy", M.CategoricalAccuracy),
        ("sparse_categorical_crossentropy", M.SparseCategoricalAccuracy),
        ("mse", M.BinaryAccuracy),
    ],
)
def test_accuracy_suits_the_loss_and_keeps_the_name_it_was_given(loss, kind):
    for name in ("accuracy", "acc"):
        metric = M.get(name, loss)
        assert type(metric) is kind and metric.name == name


def test_metric_names_are_the_names_given_as_keras():
    """Before: 'acc' was logged as 'accuracy' and 'mean_absolute_error' as 'mae'."""
    for name in ["binary_accuracy", "mae", "mean_absolute_error", "mse", "mean_squared_error"]:
        assert M.get(name, "mse").name == name
    assert M.get("precision", "mse").name == "precision"
    expected = "compile: `metrics` expected one of 'accuracy', 'acc', 'binary_accuracy', "
    with pytest.raises(ValueError, match=re.escape(expected)):
        M.get("auc", "binary_crossentropy")
    with pytest.raises(
        TypeError,
        match=re.escape(
            "compile: `metrics` expected metric names or Metric objects, received 3 (int)."
        ),
    ):
        M.get(3, "binary_crossentropy")


def frozen_model():
    """A sigmoid Dense that SGD with learning rate 0 never changes: every batch of an epoch
    sees the same model, so the epoch's streamed metrics equal one pass of sklearn."""
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    model.build((None, 3))
    return model


def test_history_has_each_metric_under_its_name_and_equals_sklearn():
    x = rng.normal(size=(60, 3)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=60) > 0).astype("float32")
    model = frozen_model()
    names = ["acc", "binary_accuracy", "precision", "recall", "mae", "mean_squared_error"]
    model.compile(torch.optim.SGD(model.parameters(), lr=0.0), "binary_crossentropy", names)
    history = model.fit(x, y, batch_size=7, epochs=2, validation_split=0.25, verbose=0)
    assert list(history.history) == ["loss", *names, "val_loss", *(f"val_{n}" for n in names)]
    p = model.predict(x)[:, 0]
    for prefix, rows in [("", slice(0, 45)), ("val_", slice(45, 60))]:
        yt, pp = y[rows], p[rows]
        oracle = {
            "acc": skm.accuracy_score(yt, pp > 0.5),
            "binary_accuracy": skm.accuracy_score(yt, pp > 0.5),
            "precision": skm.precision_score(yt, pp > 0.5, zero_division=0),
            "recall": skm.recall_score(yt, pp > 0.5, zero_division=0),
            "mae": skm.mean_absolute_error(yt, pp),
            "mean_squared_error": skm.mean_squared_error(yt, pp),
            "loss": skm.log_loss(yt, pp, labels=[0, 1]),
        }
        for name, value in oracle.items():
            logged = history.history[prefix + name]
            assert logged == pytest.approx([value, value], rel=1e-5), prefix + name


def test_a_metric_object_starts_from_zero_each_epoch_and_each_evaluation():
    """Before: the object given to compile kept counting across epochs and validation added
    to it (accuracy 0.70, 0.66, 0.65 for a model that never changed; val_accuracy 0.625 for
    0.4)."""
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = frozen_model()
    given = M.BinaryAccuracy(threshold=0.4)
    model.compile(torch.optim.SGD(model.parameters(), lr=0.0), "binary_crossentropy", [given])
    history = model.fit(x, y, batch_size=7, epochs=3, validation_split=0.25, verbose=0)
    p = model.predict(x)[:, 0]
    train = skm.accuracy_score(y[:30], p[:30] > 0.4)
    val = skm.accuracy_score(y[30:], p[30:] > 0.4)
    assert history.history["binary_accuracy"] == pytest.approx([train] * 3, rel=1e-12)
    assert history.history["val_binary_accuracy"] == pytest.approx([val] * 3, rel=1e-12)
    assert given.count == 0  # the user's object is left as it was
    _, acc = model.evaluate(x, y, batch_size=9, verbose=0)
    assert acc == pytest.approx(skm.accuracy_score(y, p > 0.4), rel=1e-12)
