"""The training loop (rnnkit.models.training): labels checked against the loss, a non-finite
loss stops training with the last good weights, input conversion."""

import re

import numpy as np
import pytest
import torch

from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.models.callbacks import Callback, TerminateOnNaN
from rnnkit.models.optimizers import SGD, Adam
from rnnkit.models.training import check_labels, to_tensor
from rnnkit.utils import set_random_seed


def ids(n=64, T=10, seed=0):
    return np.random.default_rng(seed).integers(1, 30, size=(n, T))


def model_with(last, loss):
    set_random_seed(0)
    model = Sequential([Embedding(30, 8), LSTM(6), last])
    model.compile("adam", loss)
    return model


# 1. Labels that do not suit the loss are refused before the first step, naming the first one.
#    (Before: binary labels 2 / -1, NaN or Inf, float class ids and rows that are not one-hot
#    trained silently; out-of-range ids failed inside the loss with "Target 5 is out of bounds".)
@pytest.mark.parametrize(
    "loss, last, y, message",
    [
        (
            "binary_crossentropy",
            Dense(1, activation="sigmoid"),
            np.r_[np.zeros(5), 2.0, np.zeros(58)],
            "fit: `y` expected labels in [0, 1] for binary_crossentropy, received 2.0 (sample 5).",
        ),
        (
            "binary_crossentropy",
            Dense(1, activation="sigmoid"),
            np.r_[-1, np.zeros(63, dtype=int)],
            "fit: `y` expected labels in [0, 1] for binary_crossentropy, received -1 (sample 0).",
        ),
        (
            "binary_crossentropy",
            Dense(1, activation="sigmoid"),
            np.r_[np.zeros(63), np.nan],
            "fit: `y` expected labels in [0, 1] for binary_crossentropy, received nan (sample 63).",
        ),
        (
            "binary_crossentropy",
            Dense(1, activation="sigmoid"),
            np.r_[np.inf, np.zeros(63)],
            "fit: `y` expected labels in [0, 1] for binary_crossentropy, received inf (sample 0).",
        ),
        (
            "sparse_categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.r_[0, 1, 3, np.zeros(61, dtype=int)],
            "fit: `y` expected integer class ids in [0, 3) for sparse_categorical_crossentropy, "
            "received 3 (sample 2).",
        ),
        (
            "sparse_categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.r_[0, -1, np.zeros(62, dtype=int)],
            "fit: `y` expected integer class ids in [0, 3) for sparse_categorical_crossentropy, "
            "received -1 (sample 1).",
        ),
        (
            "sparse_categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.r_[0.0, 1.5, np.zeros(62)],
            "fit: `y` expected integer class ids in [0, 3) for sparse_categorical_crossentropy, "
            "received 1.5 (sample 1).",
        ),
        (
            "categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.eye(4)[np.zeros(64, dtype=int)],
            "fit: `y` expected one-hot rows of shape (N, 3) for categorical_crossentropy, "
            "received shape (64, 4).",
        ),
        (
            "categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.r_[[[0, 2, 0]], np.eye(3)[np.zeros(63, dtype=int)]],
            "fit: `y` expected one-hot rows (values in [0, 1] summing to 1) for "
            "categorical_crossentropy, received 2.0 (sample 0).",
        ),
        (
            "categorical_crossentropy",
            Dense(3, activation="softmax"),
            np.r_[
                np.eye(3)[np.zeros(9, dtype=int)], [[1, 1, 0]], np.eye(3)[np.zeros(54, dtype=int)]
            ],
            "fit: `y` expected one-hot rows (values in [0, 1] summing to 1) for "
            "categorical_crossentropy, received a row summing to 2.0 (sample 9).",
        ),
        (
            "mse",
            Dense(1),
            np.r_[np.zeros(7), np.nan, np.zeros(56)],
            "fit: `y` expected finite labels for mse, received nan (sample 7).",
        ),
        (
            "mae",
            Dense(1),
            np.r_[np.zeros(7), -np.inf, np.zeros(56)],
            "fit: `y` expected finite labels for mae, received -inf (sample 7).",
        ),
    ],
)
def test_labels_are_checked_against_the_loss(loss, last, y, message):
    model = model_with(last, loss)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.fit(ids(), y, batch_size=16, verbose=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no step taken
    with pytest.raises(ValueError, match=f"^{re.escape(message.replace('fit:', 'evaluate:'))}$"):
        model.evaluate(ids(), y, verbose=0)


# 2. Labels that do suit: soft targets, integer ids stored as floats, a bool for binary.
def test_good_labels_pass():
    y3 = torch.tensor([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    check_labels("fit", "y", y3, "categorical_crossentropy", 3)
    check_labels("fit", "y", torch.tensor([0.0, 2.0, 1.0]), "sparse_categorical_crossentropy", 3)
    check_labels("fit", "y", torch.tensor([True, False]), "binary_crossentropy", 1)
    check_labels("fit", "y", torch.tensor([0.25, 1.0]), "binary_crossentropy", 1)
    check_labels("fit", "y", torch.tensor([np.nan]), lambda t, p: p.sum(), None)  # a callable


# 3. The validation labels are checked too, under their own name.
def test_validation_labels_are_checked():
    model = model_with(Dense(1, activation="sigmoid"), "binary_crossentropy")
    x = ids()
    y = np.zeros(64)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "fit: `validation_data` expected labels in [0, 1] for binary_crossentropy, "
            "received 3.0 (sample 1)."
        ),
    ):
        model.fit(x, y, validation_data=(x[:4], np.array([0, 3.0, 0, 0])), verbose=0)


class Count(Callback):
    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def diverging(terminate_on_nan=True, callbacks=()):
    """A regression whose second step overflows: Adam's first step moves every weight by about
    the learning rate, 1e19, so the next outputs (about 1e19 * 1e19) overflow float32."""
    set_random_seed(0)
    x = ids(n=64)
    y = np.ones(64, dtype="float32")
    model = Sequential([Embedding(30, 4), LSTM(3), Dense(1)])
    model.compile(Adam(learning_rate=1e19), "mse")
    weights = {}

    class Keep(Callback):
        def on_train_batch_end(self, batch, logs=None):
            weights[batch] = [p.detach().clone() for p in model.parameters()]

    count = Count()
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[count, Keep(), *callbacks],
        terminate_on_nan=terminate_on_nan,
    )
    return model, history, weights, count


# 4. The first non-finite loss stops training at once, keeping the weights of the last step
#    whose loss was finite, with a warning that names the epoch and the step. (Before: the
#    run went on to the end, every loss after it NaN and the weights NaN; predict returned NaN.)
def test_non_finite_loss_stops_training_with_the_last_good_weights():
    with pytest.warns(RuntimeWarning) as caught:
        model, history, weights, count = diverging()
    messages = [str(w.message) for w in caught if "the loss is" in str(w.message)]
    assert messages == [
        "fit: the loss is inf at epoch 1, step 2 of 4; training stopped there, keeping the "
        "weights from before that step. Lower the learning rate or clip the gradients "
        "(e.g. Adam(clipnorm=1.0)), and check the inputs."
    ]
    assert count.batches == 2  # stopped at the second step, not at the end of the epoch
    assert history.epoch == [0] and history.history["loss"][0] == float("inf")
    # the weights after step 1 (the last finite loss), not changed by step 2
    for a, b in zip(weights[0], model.parameters()):
        assert torch.equal(a, b)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert np.isfinite(model.predict(ids(n=4))).all()


# 5. terminate_on_nan=False trains on as before (Keras without the callback); an explicit
#    TerminateOnNaN does what the default does and is not added twice.
def test_terminate_on_nan_can_be_switched_off_or_given():
    _, history, _, count = diverging(terminate_on_nan=False)
    assert count.batches == 12 and len(history.epoch) == 3
    stop = TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="at epoch 1, step 2 of 4"):
        model, _, _, count = diverging(terminate_on_nan=False, callbacks=[stop])
    assert (stop.stopped_epoch, stop.stopped_step) == (0, 1) and count.batches == 2
    with pytest.raises(TypeError, match=r"fit: `terminate_on_nan` expected True or False"):
        model.fit(ids(), np.ones(64), terminate_on_nan="yes", verbose=0)


# 6. The default check changes nothing for a healthy run: same weights as without it.
def test_the_check_changes_nothing_on_a_finite_run():
    runs = []
    for flag in (True, False):
        set_random_seed(3)
        model = Sequential([Embedding(30, 4), LSTM(3), Dense(1, activation="sigmoid")])
        model.compile(SGD(learning_rate=0.1), "binary_crossentropy")
        y = (ids()[:, 0] > 15).astype("float32")
        model.fit(ids(), y, epochs=2, verbose=0, terminate_on_nan=flag)
        runs.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


# 7. Input conversion: dtypes, and arrays that are not numbers.
def test_to_tensor():
    assert to_tensor(np.zeros((2, 3), dtype=np.int32), "x", "fit").dtype == torch.int64
    assert to_tensor([[0.5, 1.0]], "x", "fit").dtype == torch.float32
    assert to_tensor(np.array([True]), "y", "fit").dtype == torch.float32  # as Keras casts bools
    t = torch.zeros(3, dtype=torch.float32)
    assert to_tensor(t, "x", "fit") is t
    with pytest.raises(TypeError) as info:
        to_tensor(np.array(["a", "b"]), "y", "fit")
    assert str(info.value) == (
        "fit: `y` expected an array of numbers, received ndarray of shape (2,) and dtype <U1."
    )
    with pytest.raises(
        ValueError, match=r"^predict: `x` expected an array or tensor, received None"
    ):
        to_tensor(None, "x", "predict")


def test_a_metric_given_twice_is_logged_twice_as_keras():
    """Two metrics of one name used to write one key of the logs (the second hid the first)."""
    from rnnkit.models.metrics import BinaryAccuracy

    torch.manual_seed(0)
    x, y = torch.randn(16, 3), (torch.rand(16) > 0.5).float()
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    # (a BinaryAccuracy object is 'binary_accuracy' in Keras: named 'accuracy' here to collide)
    given = [BinaryAccuracy(threshold=0.9, name="accuracy"), "accuracy"]
    model.compile("sgd", "binary_crossentropy", metrics=given)
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert {"accuracy", "accuracy_1"} <= logs.keys()
    p = model.predict(x)[:, 0]
    expected = [
        float(((p > 0.9) == (y.numpy() > 0.5)).mean()),
        float(((p > 0.5) == (y.numpy() > 0.5)).mean()),
    ]
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert [result["accuracy"], result["accuracy_1"]] == pytest.approx(expected)


def test_non_finite_outputs_are_never_silent():
    """With NaN weights the default path used to answer 0.5859 for every review and evaluate
    reported accuracy 0.5; the outputs are NaN now, and predict / evaluate say so."""
    torch.manual_seed(0)
    model = Sequential([Embedding(100, 8), LSTM(8), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    ids = np.random.default_rng(0).integers(1, 100, (16, 12))
    with torch.no_grad():
        model.layers[0].E.fill_(float("nan"))
    with pytest.warns(RuntimeWarning, match=r"predict: 16 of 16 outputs are NaN or infinite"):
        assert np.isnan(model.predict(ids)).all()
    with pytest.warns(RuntimeWarning, match=r"evaluate: the loss is nan"):
        loss, _ = model.evaluate(ids, np.ones(16), verbose=0)
    assert np.isnan(loss)
