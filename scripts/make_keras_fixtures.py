"""Regenerate the Keras files that tests/models/test_keras_format.py reads.

Run with Keras 3 (any backend; the fixtures were made with the torch backend)::

    KERAS_BACKEND=torch /work/kvenv/bin/python scripts/make_keras_fixtures.py

For each small model below it writes into ``tests/fixtures/keras/``:

- ``<name>.keras``: ``model.save`` (Keras's own archive; its members recompressed with deflate,
  which Keras reads as well, so that the checked-in files stay a few KB each),
- ``<name>.weights.h5.gz``: ``model.save_weights``, gzipped (the test unzips it first),
- ``<name>.npz``: ``x`` (the inputs) and ``y`` (Keras's ``predict(x)``),
- for the models in :data:`LEGACY`, ``<name>.h5.gz``: ``model.save("<name>.h5")``, Keras's
  legacy (Keras 2) HDF5 format, gzipped.

``lstm`` is compiled and trained one step first (its files then hold the optimizer's state).
The weights are drawn from a seeded normal distribution (every bias non-zero), so the tests
compare every weight's placement, not just the default initialisation.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import layers as L

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "keras"
N, T, D = 4, 5, 3  # batch, time steps, features
LEGACY = ("embedding_mask", "gru_reset_before")
TRAINED = "lstm"
"""Compiled and trained for one step before saving: its files hold the optimizer's state and
a ``compile_config``."""


def float_input() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(N, T, D)).astype("float32")


def id_input() -> np.ndarray:
    ids = np.random.default_rng(2).integers(1, 20, size=(N, 6)).astype("int32")
    for row, length in enumerate([6, 4, 2, 5]):
        ids[row, length:] = 0  # padding at the end, as pad_sequences(padding='post')
    return ids


def models() -> dict:
    """``{name: (build, inputs)}``: ``build()`` makes the model (in a fresh Keras session, so
    that its layers are named ``lstm``, ``lstm_1``, ... from zero)."""
    floats, ids = float_input(), id_input()
    return {
        "lstm": (
            lambda: keras.Sequential(
                [keras.Input((T, D)), L.LSTM(4), L.Dense(1, activation="sigmoid")]
            ),
            floats,
        ),
        "gru_reset_after": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.GRU(4, reset_after=True, return_sequences=True),
                    L.GRU(3, reset_after=True),
                    L.Dense(2),
                ]
            ),
            floats,
        ),
        "gru_reset_before": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.GRU(4, reset_after=False, go_backwards=True),
                    L.Dense(3, activation="softmax"),
                ]
            ),
            floats,
        ),
        "simple_rnn": (
            lambda: keras.Sequential(
                [
                    keras.Input((None, D)),
                    L.SimpleRNN(4, return_sequences=True),
                    L.SimpleRNN(3, activation="relu", use_bias=False),
                    L.Dense(1),
                ]
            ),
            floats,
        ),
        "bidirectional": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.Bidirectional(L.LSTM(3, return_sequences=True)),
                    L.Bidirectional(L.GRU(2, reset_after=False), merge_mode="sum"),
                    L.Dense(1, activation="tanh"),
                ]
            ),
            floats,
        ),
        "embedding_mask": (
            lambda: keras.Sequential(
                [
                    keras.Input((None,), dtype="int32"),
                    L.Embedding(20, 4, mask_zero=True),
                    L.Bidirectional(L.LSTM(3, return_sequences=True)),
                    L.GRU(3),
                    L.Dense(1, activation="sigmoid"),
                ]
            ),
            ids,
        ),
        "stacked": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.LSTM(4, return_sequences=True),
                    L.Dropout(0.2),
                    L.LSTM(3, return_sequences=True, unit_forget_bias=False),
                    L.LSTM(2),
                    L.Dense(2),
                    L.Dense(1),
                ]
            ),
            floats,
        ),
        "time_distributed": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.LSTM(4, return_sequences=True),
                    L.TimeDistributed(L.Dense(3, activation="softmax")),
                ]
            ),
            floats,
        ),
        "shaping": (
            lambda: keras.Sequential(
                [
                    keras.Input((T, D)),
                    L.Masking(mask_value=0.0),
                    L.SimpleRNN(2, return_sequences=True),
                    L.Flatten(),
                    L.Dense(4),
                    L.LeakyReLU(negative_slope=0.2),
                    L.RepeatVector(3),
                    L.GRU(2, return_sequences=True),
                    L.GlobalMaxPooling1D(),
                    L.Reshape((2, 1)),
                    L.GlobalAveragePooling1D(),
                    L.Activation("sigmoid"),
                ]
            ),
            floats,
        ),
    }


def randomise(model: keras.Model, seed: int) -> None:
    """Every weight from N(0, 0.5^2): biases too, so that their placement is tested."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(0, 0.5, size=w.shape).astype("float32") for w in model.get_weights()]
    )


def deflate(path: Path) -> None:
    """Rewrite the zip archive ``path`` with its members deflated (Keras writes them stored)."""
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, (name, (build, x)) in enumerate(sorted(models().items())):
        keras.utils.clear_session()
        model = build()
        randomise(model, seed)
        if name == TRAINED:
            model.compile(
                keras.optimizers.Adam(0.01, clipnorm=1.0),
                "binary_crossentropy",
                metrics=["accuracy"],
            )
            labels = (np.arange(len(x)) % 2).astype("float32")
            model.fit(x, labels, batch_size=len(x), epochs=1, verbose=0)
        y = model.predict(x, verbose=0)
        model.save(OUT / f"{name}.keras")
        deflate(OUT / f"{name}.keras")
        weights = OUT / f"{name}.weights.h5"
        model.save_weights(weights)
        (OUT / f"{name}.weights.h5.gz").write_bytes(gzip.compress(weights.read_bytes(), 9, mtime=0))
        weights.unlink()
        np.savez(OUT / f"{name}.npz", x=x, y=y)
        if name in LEGACY:
            legacy = OUT / f"{name}.h5"
            model.save(legacy)
            (OUT / f"{name}.h5.gz").write_bytes(gzip.compress(legacy.read_bytes(), 9, mtime=0))
            legacy.unlink()
        print(f"{name}: keras {keras.__version__}, output {y.shape}")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{OUT}: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
