"""The pieces of the Keras surface the keras-io examples needed (helper "keras"): Keras's
import paths on ``import rnnkit as keras``, ``layers.ReLU``, ``utils.pad_sequences`` /
``to_categorical`` / ``plot_model``, ``dataset.take``, and ``Layer.trainable``.
Oracles: hand computation and torch."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import rnnkit as keras
from rnnkit import layers


# 1. Keras's submodules are reachable as attributes, as `import keras` makes them.
def test_keras_import_paths_on_the_package():
    assert keras.optimizers.RMSprop(learning_rate=0.01).learning_rate == 0.01
    assert keras.optimizers.Adam is keras.models.optimizers.Adam
    assert keras.callbacks.EarlyStopping is keras.models.callbacks.EarlyStopping
    assert keras.losses.BinaryCrossentropy is keras.models.losses.BinaryCrossentropy
    assert keras.preprocessing.timeseries_dataset_from_array is (
        keras.utils.timeseries_dataset_from_array
    )
    assert keras.utils.pad_sequences is keras.text.pad_sequences
    assert callable(keras.metrics.BinaryAccuracy)


# 2. ReLU: max(x, 0); with max_value, negative_slope and threshold as Keras defines them.
@pytest.mark.parametrize(
    "kwargs, slope, cap, threshold",
    [
        ({}, 0.0, None, 0.0),
        ({"max_value": 1.5, "negative_slope": 0.2, "threshold": 0.5}, 0.2, 1.5, 0.5),
    ],
)
def test_relu_layer_matches_hand_computation(kwargs, slope, cap, threshold):
    x = torch.tensor([[-2.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0]])
    want = [[v if v >= threshold else slope * (v - threshold) for v in row] for row in x.tolist()]
    if cap is not None:
        want = [[min(v, cap) for v in row] for row in want]
    layer = layers.ReLU(**kwargs)
    torch.testing.assert_close(layer(x), torch.tensor(want))
    again = layers.ReLU.from_config(layer.get_config())
    torch.testing.assert_close(again(x), torch.tensor(want))
    assert layers.get("ReLU") is layers.ReLU


# 3. ReLU refuses negative arguments with Keras's ValueError, and non-numbers with TypeError.
def test_relu_arguments_are_validated():
    with pytest.raises(
        ValueError,
        match=re.escape("ReLU: `max_value` expected a non-negative number, received -1 (int)."),
    ):
        layers.ReLU(max_value=-1)
    with pytest.raises(TypeError, match=re.escape("ReLU: `threshold` expected a non-negative")):
        layers.ReLU(threshold="0")


# 4. to_categorical: one-hot rows; a trailing axis of 1 dropped; ids out of range refused.
def test_to_categorical():
    y = keras.utils.to_categorical(np.array([[2], [0], [1]]))
    np.testing.assert_array_equal(y, np.eye(3, dtype="float32")[[2, 0, 1]])
    assert y.dtype == np.float32
    assert keras.utils.to_categorical([1, 0], num_classes=4).shape == (2, 4)
    with pytest.raises(ValueError, match=re.escape("expected class ids in [0, 2), received")):
        keras.utils.to_categorical([0, 2], num_classes=2)


# 5. dataset.take(n): the first n batches of a pass, as tf.data's take.
def test_timeseries_dataset_take():
    ds = keras.utils.timeseries_dataset_from_array(
        np.arange(20.0), np.arange(20.0), sequence_length=3, batch_size=4
    )
    every = list(ds)
    taken = list(ds.take(2))
    assert len(every) == 5 and len(taken) == 2 and len(ds.take(2)) == 2
    for (x, y), (x2, y2) in zip(taken, every):
        torch.testing.assert_close(x, x2)
        torch.testing.assert_close(y, y2)
    assert len(list(ds.take(-1))) == 5
    with pytest.raises(ValueError, match=re.escape("`count` expected an integer >= -1")):
        ds.take(-2)


# 6. plot_model: the graph as DOT text (every layer a box, every call an arrow); without
#    Graphviz a .png request writes the .dot beside it with a warning.
def test_plot_model_writes_the_graph(tmp_path, monkeypatch):
    a = keras.Input(shape=(None,), name="a")
    b = keras.Input(shape=(3,), name="b")
    h = layers.LSTM(4, name="lstm")(layers.Embedding(10, 2, name="emb")(a))
    out = layers.Dense(1, name="out")(layers.concatenate([h, b], name="cat"))
    model = keras.Model([a, b], out)
    keras.utils.plot_model(model, str(tmp_path / "m.dot"), show_shapes=True)
    text = (tmp_path / "m.dot").read_text()
    for name in ("a (InputLayer)", "emb (Embedding)", "lstm (LSTM)", "cat (Concatenate)"):
        assert name in text
    assert "(None, 4)" in text  # the LSTM's output shape
    assert len(re.findall(r"n\d+ -> n\d+;", text)) == 5  # a->emb->lstm->cat, b->cat, cat->out
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.warns(UserWarning, match="Graphviz's `dot` program was not found"):
        keras.utils.plot_model(model, str(tmp_path / "m.png"))
    assert (tmp_path / "m.dot").read_text().startswith("digraph")
    assert not (tmp_path / "m.png").exists()


# 7. Layer.trainable: False freezes the layer's weights (fit leaves them unchanged), True
#    unfreezes them but not a batch norm's moving statistics.
def test_layer_trainable_freezes_weights_in_fit():
    model = keras.Sequential([keras.Input(shape=(5, 3)), layers.LSTM(4), layers.Dense(1)])
    lstm = model.layers[0]
    lstm.trainable = False
    assert lstm.trainable is False and lstm.trainable_weights == []
    before = [w.copy() for w in lstm.get_weights()]
    dense_before = model.layers[1].get_weights()[0].copy()
    model.compile("adam", "mse")
    x, y = np.random.rand(16, 5, 3), np.random.rand(16, 1)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert model.history is history and len(history.history["loss"]) == 2  # Keras's model.history
    for w, w0 in zip(lstm.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    assert not np.array_equal(model.layers[1].get_weights()[0], dense_before)
    lstm.trainable = True
    assert len(lstm.trainable_weights) == 3
    bn = layers.BatchNormalization()
    bn.build((None, 3))
    bn.trainable = False
    bn.trainable = True
    assert [p.requires_grad for p in bn.weights] == [True, True, False, False]
    with pytest.raises(TypeError, match=re.escape("LSTM: `trainable` expected True or False")):
        lstm.trainable = 1


# 8. predict on a model with named outputs returns a dict of arrays (Keras's structure), in
#    several batches too; the same numbers as calling the model.
def test_predict_with_dict_outputs():
    inp = keras.Input(shape=(4, 2))
    h = layers.LSTM(3)(inp)
    model = keras.Model(inp, {"a": layers.Dense(1, name="a")(h), "b": layers.Dense(2, name="b")(h)})
    x = np.random.rand(5, 4, 2).astype("float32")
    out = model.predict(x, batch_size=2, verbose=0)
    assert isinstance(out, dict) and set(out) == {"a", "b"}
    direct = model(x)
    np.testing.assert_allclose(out["a"], direct["a"].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(out["b"], direct["b"].detach().numpy(), atol=1e-6)
    assert out["b"].shape == (5, 2)
