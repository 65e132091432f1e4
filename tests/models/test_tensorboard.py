"""TensorBoard and ModelCheckpoint callbacks (issue #18 item 13).

Oracles: the History of the same fit (the values written must be the logged ones), tensorboard's
own ``EventAccumulator`` reading the files back, and Keras 3's layout (``train`` /
``validation`` folders, ``epoch_<name>`` tags with the ``val_`` prefix dropped, ``batch_<name>``
every ``update_freq`` batches at the global batch number counted from 1).
"""

import re

import numpy as np
import pytest
import torch

from rnnkit.callbacks import ModelCheckpoint, TensorBoard
from rnnkit.layers import Dense, Input
from rnnkit.models import Sequential
from rnnkit.models.optimizers import SGD
from rnnkit.utils import set_random_seed

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard is not installed (pip install tensorboard)",
)


def fitted(callbacks, epochs=3, **kwargs):
    set_random_seed(0)
    m = Sequential([Input((3,)), Dense(1)])
    m.compile(SGD(learning_rate=0.05), "mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    h = m.fit(
        x,
        y,
        batch_size=4,
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
        validation_data=(x[:8], y[:8]),
        shuffle=False,
        **kwargs,
    )
    return m, h


def read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"histograms": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_epoch_scalars_as_keras_lays_them_out(tmp_path):
    """Before: rnnkit had no TensorBoard callback (ImportError)."""
    _, h = fitted([TensorBoard(tmp_path)])
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_mae", "epoch_learning_rate"}
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_mae"}
    for name in ("loss", "mae"):
        got = scalars(train, f"epoch_{name}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], h.history[name], rtol=1e-6)
        got = scalars(val, f"epoch_{name}")
        np.testing.assert_allclose([v for _, v in got], h.history[f"val_{name}"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars(train, "epoch_learning_rate")], [0.05] * 3)
    assert train.Tags()["histograms"] == []


@pytest.mark.parametrize("update_freq, steps", [("batch", list(range(1, 16))), (4, [4, 8, 12])])
def test_batch_scalars_every_update_freq_batches(tmp_path, update_freq, steps):
    seen = []

    class Spy(TensorBoard):  # the running logs each batch, to compare with what was written
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])
            super().on_train_batch_end(batch, logs)

    fitted([Spy(tmp_path, update_freq=update_freq)])  # 5 batches x 3 epochs
    got = scalars(read(tmp_path / "train"), "batch_loss")
    assert [s for s, _ in got] == steps
    np.testing.assert_allclose([v for _, v in got], [seen[s - 1] for s in steps], rtol=1e-6)


def test_weight_histograms_every_histogram_freq_epochs(tmp_path):
    m, _ = fitted([TensorBoard(tmp_path, histogram_freq=2)])
    train = read(tmp_path / "train")
    tags = sorted(train.Tags()["histograms"])
    layer = m.layers[0]
    assert tags == sorted(f"{layer.name}/{w}/histogram" for w, _ in layer.named_parameters())
    events = train.Histograms(tags[0])
    assert [e.step for e in events] == [0, 2]


def test_tensorboard_arguments_are_checked(tmp_path):
    expected = "TensorBoard: `update_freq` expected 'epoch', 'batch' or a positive integer"
    with pytest.raises(ValueError, match=re.escape(expected)):
        TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match=re.escape("`histogram_freq` expected a non-negative")):
        TensorBoard(tmp_path, histogram_freq=-1)


def test_model_checkpoint_save_weights_only_keeps_the_best(tmp_path):
    """Before: ModelCheckpoint had no save_weights_only (TypeError)."""
    from safetensors.torch import load_file

    best = []

    class Track(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = self.best
            super().on_epoch_end(epoch, logs)
            if self.best != before:
                best.append({k: v.clone() for k, v in self.model.state_dict().items()})

    path = tmp_path / "best.safetensors"
    cb = Track(path, monitor="val_loss", save_best_only=True, save_weights_only=True)
    _, h = fitted([cb], epochs=4)
    assert cb.best == min(h.history["val_loss"])
    saved = load_file(path)
    for k, v in best[-1].items():
        torch.testing.assert_close(saved[k], v, rtol=0, atol=0)
