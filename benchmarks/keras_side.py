"""The Keras 3 side of the benchmarks, run by ``benchmarks/.venv-keras/bin/python``.

    KERAS_BACKEND=tensorflow|torch .venv-keras/bin/python benchmarks/keras_side.py step '<json>'
    KERAS_BACKEND=tensorflow       .venv-keras/bin/python benchmarks/keras_side.py sentiment '<json>'

It is started by bench_step.py and bench_sentiment.py, not by hand: they pass the spec (sequence
length, threads, steps, ...) as JSON and read back one ``RESULT {json}`` line. The model is the
seed's, written as Keras's own documentation writes it: ``Sequential([Embedding(10000, 128),
LSTM(128), Dense(1, activation='sigmoid')])``, ``Adam(1e-3)``, binary cross-entropy, accuracy.
Nothing from rnnkit is imported here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers as P

VOCAB, EMBED, UNITS, BATCH, LR = 10000, 128, 128, 64, 1e-3


def setup(threads: int):
    """Import Keras with the backend from $KERAS_BACKEND and pin its thread pools."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    versions = {"backend": backend}
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        versions["tensorflow"] = tf.__version__
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass
        versions["torch"] = torch.__version__
    import keras

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    versions["keras"] = keras.__version__
    keras.utils.set_random_seed(0)
    return keras, versions


def seed_model(keras):
    model = keras.Sequential(
        [
            keras.layers.Embedding(input_dim=VOCAB, output_dim=EMBED),
            keras.layers.LSTM(UNITS),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LR),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def epoch_timer(keras):
    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self._start = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def step(spec: dict) -> dict:
    """Training step (fit, first epoch excluded) and inference (predict_on_batch) times."""
    import numpy as np

    keras, versions = setup(spec["threads"])
    steps, chunks = spec["steps"], spec["chunks"]
    data = np.load(spec["tokens"])  # the ids and labels every peer of the run trains on
    x, y = data["x"].astype("int32"), data["y"].astype("float32")
    model = seed_model(keras)
    timer = epoch_timer(keras)
    model.fit(x, y, batch_size=BATCH, epochs=1 + chunks, verbose=0, callbacks=[timer], shuffle=True)
    epochs = [t / steps for t in timer.times[1:]]
    out = {
        "train_s": P.median(epochs),
        "train_chunks_s": epochs,
        "steps": steps,
        "train_rss_mib": P.max_rss_mib(),
    }
    for mode, n in (("infer64", BATCH), ("infer1", 1)):
        xb = x[:n].copy()
        r = P.time_calls(lambda: model.predict_on_batch(xb), chunks + 1, spec["infer_seconds"])
        out[f"{mode}_s"], out[f"{mode}_chunks_s"] = r["s"], r["chunks_s"]
    out["versions"] = versions
    return out


def sentiment(spec: dict) -> dict:
    """The seed recipe on the arrays in ``spec['data']`` (an .npz): per epoch, training wall
    time and test accuracy; then predict throughput on the test set."""
    import numpy as np

    keras, versions = setup(spec["threads"])
    data = np.load(spec["data"])
    x_train, y_train = data["x_train"].astype("int32"), data["y_train"].astype("float32")
    x_test, y_test = data["x_test"].astype("int32"), data["y_test"].astype("float32")
    model = seed_model(keras)
    epochs = []
    for epoch in range(spec["epochs"]):
        start = time.perf_counter()
        hist = model.fit(
            x_train,
            y_train,
            batch_size=spec["batch_size"],
            epochs=epoch + 1,
            initial_epoch=epoch,
            verbose=0,
            shuffle=True,
        )
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        loss, acc = model.evaluate(x_test, y_test, batch_size=spec["eval_batch_size"], verbose=0)
        eval_s = time.perf_counter() - start
        epochs.append(
            {
                "epoch": epoch + 1,
                "train_s": train_s,
                "eval_s": eval_s,
                "train_loss": float(hist.history["loss"][-1]),
                "train_accuracy": float(hist.history["accuracy"][-1]),
                "test_loss": float(loss),
                "test_accuracy": float(acc),
            }
        )
        print(
            f"keras epoch {epoch + 1}: {train_s:.1f} s, test accuracy {acc:.4f}",
            file=sys.stderr,
            flush=True,
        )
    train_rss = P.max_rss_mib()
    batch = spec["predict_batch_size"]
    model.predict(x_test[:batch], batch_size=batch, verbose=0)  # warm-up: trace the function
    start = time.perf_counter()
    model.predict(x_test, batch_size=batch, verbose=0)
    predict_s = time.perf_counter() - start
    return {
        "epochs": epochs,
        "train_rss_mib": train_rss,
        "predict": {
            "batch_size": batch,
            "n": len(x_test),
            "s": predict_s,
            "reviews_per_s": len(x_test) / predict_s,
        },
        "versions": versions,
    }


def main() -> int:
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    result = {"step": step, "sentiment": sentiment}[mode](spec)
    P.emit_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
