"""Regenerate tests/models/fixtures/keras_fit.json: Keras 3's own figures for rnnkit's
fit / evaluate tests (history key names, masked sequence loss and accuracy, loss objects).

Run with Keras 3 on the torch backend (not needed by the tests, which read the JSON):

    KERAS_BACKEND=torch /work/kvenv/bin/python scripts/make_keras_fit_fixtures.py
"""

import json
from pathlib import Path

import keras
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "models" / "fixtures" / "keras_fit.json"


def history_keys(loss, metrics, y, units, activation):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    model.compile("sgd", loss, metrics=metrics)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    h = model.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x, y))
    return sorted(h.history)


def names():
    y_sparse = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    y_bin = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype="float32")
    y_reg = np.linspace(0, 1, 8, dtype="float32")
    m = keras.metrics
    cases = {
        "sparse_ce+accuracy": (
            "sparse_categorical_crossentropy",
            ["accuracy"],
            y_sparse,
            3,
            "softmax",
        ),
        "sparse_ce+acc": ("sparse_categorical_crossentropy", ["acc"], y_sparse, 3, "softmax"),
        "sparse_ce+SparseCategoricalAccuracy()": (
            keras.losses.SparseCategoricalCrossentropy(),
            [m.SparseCategoricalAccuracy()],
            y_sparse,
            3,
            "softmax",
        ),
        "sparse_ce+sparse_categorical_accuracy": (
            "sparse_categorical_crossentropy",
            ["sparse_categorical_accuracy"],
            y_sparse,
            3,
            "softmax",
        ),
        "bce+accuracy": ("binary_crossentropy", ["accuracy"], y_bin, 1, "sigmoid"),
        "BinaryCrossentropy()+BinaryAccuracy()": (
            keras.losses.BinaryCrossentropy(),
            [m.BinaryAccuracy()],
            y_bin,
            1,
            "sigmoid",
        ),
        "mse+mae,mse": ("mse", ["mae", "mse"], y_reg, 1, None),
        "MeanSquaredError()+mean_absolute_error": (
            keras.losses.MeanSquaredError(),
            ["mean_absolute_error"],
            y_reg,
            1,
            None,
        ),
        "mse+MeanAbsoluteError(),RootMeanSquaredError()": (
            "mse",
            [m.MeanAbsoluteError(), m.RootMeanSquaredError()],
            y_reg,
            1,
            None,
        ),
        "Huber()+MeanSquaredError()": (
            keras.losses.Huber(),
            [m.MeanSquaredError()],
            y_reg,
            1,
            None,
        ),
    }
    return {k: history_keys(*v) for k, v in cases.items()}


def loss_values():
    """Loss objects on fixed arrays, with and without sample weights."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, size=(4, 3)).astype("float32")
    p = p / p.sum(-1, keepdims=True)
    logits = rng.normal(size=(4, 3)).astype("float32")
    y_ids = np.array([0, 2, 1, 2])
    y_onehot = np.eye(3, dtype="float32")[y_ids]
    y_bin = np.array([[1.0], [0.0], [1.0], [0.0]], dtype="float32")
    z_bin = rng.normal(size=(4, 1)).astype("float32")
    y_reg = rng.normal(size=(4, 2)).astype("float32")
    y_hat = rng.normal(size=(4, 2)).astype("float32") * 2
    w = np.array([1.0, 0.5, 0.0, 2.0], dtype="float32")
    L = keras.losses
    cases = {
        "MeanSquaredError": (L.MeanSquaredError(), y_reg, y_hat),
        "MeanAbsoluteError": (L.MeanAbsoluteError(), y_reg, y_hat),
        "Huber": (L.Huber(), y_reg, y_hat),
        "Huber(delta=0.5)": (L.Huber(delta=0.5), y_reg, y_hat),
        "BinaryCrossentropy": (L.BinaryCrossentropy(), y_bin, 1 / (1 + np.exp(-z_bin))),
        "BinaryCrossentropy(from_logits)": (L.BinaryCrossentropy(from_logits=True), y_bin, z_bin),
        "CategoricalCrossentropy": (L.CategoricalCrossentropy(), y_onehot, p),
        "CategoricalCrossentropy(from_logits)": (
            L.CategoricalCrossentropy(from_logits=True),
            y_onehot,
            logits,
        ),
        "SparseCategoricalCrossentropy": (L.SparseCategoricalCrossentropy(), y_ids, p),
        "SparseCategoricalCrossentropy(from_logits)": (
            L.SparseCategoricalCrossentropy(from_logits=True),
            y_ids,
            logits,
        ),
        "SparseCategoricalCrossentropy(ignore_class=2)": (
            L.SparseCategoricalCrossentropy(ignore_class=2),
            y_ids,
            p,
        ),
    }
    out = {}
    for name, (fn, yt, yp) in cases.items():
        out[name] = {
            "y_true": np.asarray(yt).tolist(),
            "y_pred": np.asarray(yp).tolist(),
            "loss": float(fn(yt, yp)),
            "weighted": float(fn(yt, yp, sample_weight=w)),
        }
    # (N, T) targets against (N, T, V) outputs, with ignore_class
    yt = np.array([[1, 2, 0], [2, 0, 0]])
    yp = rng.uniform(0.05, 0.95, size=(2, 3, 4)).astype("float32")
    yp = yp / yp.sum(-1, keepdims=True)
    w_steps = np.array([[1.0, 0.5, 2.0], [0.0, 1.0, 1.0]], dtype="float32")
    out["SparseCategoricalCrossentropy(ignore_class=0) on (N,T)"] = {
        "sample_weight": w_steps.tolist(),
        "y_true": yt.tolist(),
        "y_pred": yp.tolist(),
        "loss": float(L.SparseCategoricalCrossentropy(ignore_class=0)(yt, yp)),
        "weighted": float(
            L.SparseCategoricalCrossentropy(ignore_class=0)(yt, yp, sample_weight=w_steps)
        ),
    }
    out["weights"] = w.tolist()
    return out


def masked_sequence():
    """Embedding(mask_zero) -> LSTM(return_sequences) -> Dense softmax on 3-D: Keras leaves the
    masked steps out of the loss and the accuracy. Weights and figures for rnnkit to match."""
    keras.utils.set_random_seed(3)
    V, T = 6, 8
    model = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(V, 4, mask_zero=True),
            keras.layers.LSTM(5, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(V, activation="softmax")),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(3)
    x = rng.integers(1, V, size=(6, T))
    lengths = [8, 4, 6, 2, 8, 5]
    for i, n in enumerate(lengths):
        x[i, n:] = 0  # padded 'post'
    y = rng.integers(0, V, size=(6, T))
    weights = [w.tolist() for w in model.get_weights()]
    res = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    # the unmasked figure (same model, mask_zero=False), to show what masking changes
    plain = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(V, 4, mask_zero=False),
            keras.layers.LSTM(5, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(V, activation="softmax")),
        ]
    )
    plain.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    plain.set_weights(model.get_weights())
    res_plain = plain.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    h = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {
        "x": x.tolist(),
        "y": y.tolist(),
        "weights": weights,
        "evaluate": res,
        "evaluate_unmasked": res_plain,
        "fit_history": h.history,
        "weights_after_fit": [w.tolist() for w in model.get_weights()],
    }


if __name__ == "__main__":
    data = {
        "keras": keras.__version__,
        "history_keys": names(),
        "losses": loss_values(),
        "masked_sequence": masked_sequence(),
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data["history_keys"], indent=1))
    print(data["masked_sequence"]["evaluate"], data["masked_sequence"]["evaluate_unmasked"])
