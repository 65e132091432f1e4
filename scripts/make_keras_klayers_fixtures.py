"""Write the Keras 3 oracle values that tests/layers/test_conv.py, test_normalization.py,
tests/test_regularizers.py and tests/test_constraints.py compare rnnkit against.

Runs in a separate environment with Keras 3 (torch backend) installed, not rnnkit's::

    KERAS_BACKEND=torch /work/kvenv/bin/python scripts/make_keras_klayers_fixtures.py

It writes ``tests/keras_klayers_fixtures.json``: for each case the inputs, the weights in Keras's
layout, the layer's arguments and Keras's outputs (small arrays as nested lists of floats), plus
the Keras version. Inputs are drawn from a NumPy generator with a fixed seed, so a re-run with
the same Keras gives the same file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "keras_klayers_fixtures.json"
rng = np.random.default_rng(18)


def arr(x) -> list:
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64").round(7).tolist()


def normal(*shape) -> np.ndarray:
    return rng.normal(size=shape).astype("float32")


def conv_cases() -> list[dict]:
    cases = []
    for kwargs in (
        {"filters": 3, "kernel_size": 2},
        {"filters": 4, "kernel_size": 3, "padding": "same"},
        {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2},
        {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        {"filters": 6, "kernel_size": 2, "padding": "same", "dilation_rate": 2, "groups": 2},
        {"filters": 2, "kernel_size": 3, "strides": 3, "use_bias": False, "activation": "tanh"},
        {"filters": 4, "kernel_size": 2, "data_format": "channels_first", "groups": 2},
    ):
        layer = keras.layers.Conv1D(**kwargs)
        x = normal(2, 7, 4) if kwargs.get("data_format") != "channels_first" else normal(2, 4, 7)
        layer.build(x.shape)
        weights = [normal(*w.shape) for w in layer.get_weights()]
        layer.set_weights(weights)
        cases.append(
            {
                "kwargs": kwargs,
                "x": arr(x),
                "weights": [arr(w) for w in weights],
                "y": arr(layer(x)),
            }
        )
    return cases


def pooling_cases() -> list[dict]:
    cases = []
    x = normal(2, 7, 3)
    for cls in ("MaxPooling1D", "AveragePooling1D"):
        for pool_size, strides, padding in (
            (2, None, "valid"),
            (3, 2, "valid"),
            (2, 1, "same"),
            (3, 1, "same"),
            (3, 2, "same"),
            (2, 3, "same"),
            (4, 1, "same"),
        ):
            kwargs = {"pool_size": pool_size, "strides": strides, "padding": padding}
            layer = getattr(keras.layers, cls)(**kwargs)
            cases.append({"class": cls, "kwargs": kwargs, "x": arr(x), "y": arr(layer(x))})
    return cases


def batch_norm_cases() -> list[dict]:
    cases = []
    for kwargs, masked in (
        ({"momentum": 0.9}, False),
        ({"momentum": 0.8, "epsilon": 1e-2}, True),
        ({"momentum": 0.5, "center": False}, False),
        ({"axis": 1, "momentum": 0.7}, False),
    ):
        layer = keras.layers.BatchNormalization(**kwargs)
        x = normal(4, 5, 3) * 3.0 + 1.0
        mask = (rng.random((4, 5)) > 0.3) if masked else None
        layer.build(x.shape)
        weights = [w + normal(*w.shape) * 0.1 for w in layer.get_weights()]
        weights[-1] = np.abs(weights[-1]) + 0.5  # a positive moving variance
        layer.set_weights(weights)
        y_train = layer(x, training=True, mask=mask)
        after = layer.get_weights()
        y_infer = layer(x, training=False)
        cases.append(
            {
                "kwargs": kwargs,
                "x": arr(x),
                "mask": None if mask is None else mask.tolist(),
                "weights": [arr(w) for w in weights],
                "y_train": arr(y_train),
                "weights_after": [arr(w) for w in after],
                "y_infer": arr(y_infer),
            }
        )
    return cases


def layer_norm_cases() -> list[dict]:
    cases = []
    for kwargs in (
        {},
        {"epsilon": 1e-5},
        {"axis": [1, 2]},
        # (axis=1, not last, is left out: Keras 3.15's torch backend hands it to
        # torch.nn.functional.layer_norm, which normalises trailing axes only, and fails)
        {"center": False},
        {"rms_scaling": True},
    ):
        layer = keras.layers.LayerNormalization(**kwargs)
        x = normal(2, 3, 4) * 2.0 + 0.5
        layer.build(x.shape)
        weights = [w + normal(*w.shape) * 0.2 for w in layer.get_weights()]
        layer.set_weights(weights)
        cases.append(
            {
                "kwargs": kwargs,
                "x": arr(x),
                "weights": [arr(w) for w in weights],
                "y": arr(layer(x)),
            }
        )
    return cases


def penalty_cases() -> dict:
    w = normal(4, 3)
    regs = {
        "l1": keras.regularizers.get("l1"),
        "l2": keras.regularizers.get("l2"),
        "L1L2(0.1, 0.2)": keras.regularizers.L1L2(0.1, 0.2),
        "OrthogonalRegularizer(0.3, 'rows')": keras.regularizers.OrthogonalRegularizer(0.3, "rows"),
        "OrthogonalRegularizer(0.3, 'columns')": keras.regularizers.OrthogonalRegularizer(
            0.3, "columns"
        ),
    }
    cons = {
        "MaxNorm(1.5)": keras.constraints.MaxNorm(1.5),
        "MaxNorm(1.0, axis=1)": keras.constraints.MaxNorm(1.0, axis=1),
        "UnitNorm()": keras.constraints.UnitNorm(),
        "MinMaxNorm(1.2, 1.6, rate=0.5)": keras.constraints.MinMaxNorm(1.2, 1.6, rate=0.5),
        "NonNeg()": keras.constraints.NonNeg(),
    }
    return {
        "w": arr(w),
        "regularizers": {
            k: float(keras.ops.convert_to_numpy(r(keras.ops.convert_to_tensor(w))))
            for k, r in regs.items()
        },
        "constraints": {k: arr(c(keras.ops.convert_to_tensor(w))) for k, c in cons.items()},
    }


def fit_case() -> dict:
    """A Dense model trained by SGD with an L2 kernel penalty, an L1 bias penalty, an L1
    activity penalty and a MaxNorm kernel constraint: Keras's reported losses and final
    weights."""
    x = normal(8, 3)
    y = normal(8, 2)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(
                2,
                kernel_regularizer=keras.regularizers.L2(0.1),
                bias_regularizer=keras.regularizers.L1(0.05),
                activity_regularizer=keras.regularizers.L1(0.02),
                kernel_constraint=keras.constraints.MaxNorm(0.8),
            ),
        ]
    )
    weights = [normal(3, 2), normal(2) * 0.5]
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    return {
        "x": arr(x),
        "y": arr(y),
        "weights": [arr(w) for w in weights],
        "loss": [float(v) for v in history.history["loss"]],
        "weights_after": [arr(w) for w in model.get_weights()],
        "evaluate": float(model.evaluate(x, y, verbose=0)),
    }


def main() -> None:
    fixtures = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "conv1d": conv_cases(),
        "pooling1d": pooling_cases(),
        "batch_normalization": batch_norm_cases(),
        "layer_normalization": layer_norm_cases(),
        "penalties": penalty_cases(),
        "fit": fit_case(),
    }
    OUT.write_text(json.dumps(fixtures, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), Keras {keras.__version__}")


if __name__ == "__main__":
    main()
