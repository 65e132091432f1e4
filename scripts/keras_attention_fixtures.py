"""Print Keras 3's outputs of Attention / AdditiveAttention / Dot / merge layers on fixed
inputs, for the numbers pasted into tests/layers/test_attention.py and test_merging.py.

Run: KERAS_BACKEND=torch python scripts/keras_attention_fixtures.py > tests/layers/fixtures/keras_attention.json
(Keras 3 with the torch backend; rnnkit's CI does not need Keras: the values are pasted.)
"""

import json

import keras
import numpy as np


def inputs():
    rng = np.random.default_rng(7)
    q = rng.normal(size=(2, 3, 4)).round(3).astype("float32")
    v = rng.normal(size=(2, 5, 4)).round(3).astype("float32")
    k = rng.normal(size=(2, 5, 4)).round(3).astype("float32")
    q_mask = np.array([[1, 1, 0], [1, 1, 1]], dtype=bool)
    v_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    return q, v, k, q_mask, v_mask


def arr(x):
    return np.asarray(keras.ops.convert_to_numpy(x)).round(6).tolist()


def main():
    q, v, k, q_mask, v_mask = inputs()
    out = {"q": q.tolist(), "v": v.tolist(), "k": k.tolist()}
    layer = keras.layers.Attention(use_scale=True)
    layer.build([q.shape, v.shape])
    layer.set_weights([np.array(0.7, dtype="float32")])
    o, s = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True)
    out["dot_scale_masked"] = {"output": arr(o), "scores": arr(s)}
    layer = keras.layers.Attention(score_mode="concat", use_scale=True)
    layer.build([q.shape, v.shape])
    layer.set_weights([np.array(0.5, dtype="float32"), np.array(1.5, dtype="float32")])
    o = layer([q, v], use_causal_mask=True)
    out["concat_causal"] = {"output": arr(o), "weights": [w.name for w in layer.weights]}
    layer = keras.layers.AdditiveAttention()
    layer.build([q.shape, v.shape])
    scale = np.array([0.3, -0.2, 0.5, 1.0], dtype="float32")
    layer.set_weights([scale])
    o, s = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True)
    out["additive_masked"] = {
        "scale": scale.tolist(),
        "output": arr(o),
        "scores": arr(s),
        "weights": [(w.name, list(w.shape)) for w in layer.weights],
    }
    a = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype="float32")
    b = np.array([[2.0, 0.0, 1.0], [1.0, 1.0, -3.0]], dtype="float32")
    out["dot_normalize"] = arr(keras.layers.Dot(axes=1, normalize=True)([a, b]))
    out["dot_seq"] = arr(keras.layers.Dot(axes=(2, 2))([q, k]))
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
