"""Attention (Luong) and AdditiveAttention (Bahdanau) against hand computation, PyTorch's
scaled_dot_product_attention, and Keras 3.15.1's outputs on the same inputs and weights
(tests/layers/fixtures/keras_attention.json, made by scripts/keras_attention_fixtures.py)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import Input, Model
from rnnkit.layers import LSTM, AdditiveAttention, Attention, Concatenate, Dense, Dot, Embedding

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_attention.json").read_text())
q, v, k = (torch.tensor(KERAS[n]) for n in ("q", "v", "k"))
q_mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
v_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)


# 1. Dot scores equal torch's scaled_dot_product_attention (scale given as the weight).
def test_dot_attention_equals_sdpa():
    layer = Attention(use_scale=True)
    layer([q, v])
    with torch.no_grad():
        layer.scale.fill_(0.5)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=0.5)
    torch.testing.assert_close(layer([q, v, k]), expected, rtol=1e-5, atol=1e-6)
    causal = torch.nn.functional.scaled_dot_product_attention(
        q, k[:, :3], v[:, :3], is_causal=True, scale=0.5
    )
    torch.testing.assert_close(
        layer([q, v[:, :3], k[:, :3]], use_causal_mask=True), causal, rtol=1e-5, atol=1e-6
    )


# 2. Keras's numbers: masks, scores, the concat score mode, additive attention.
def test_attention_matches_keras():
    layer = Attention(use_scale=True)
    layer.build([tuple(q.shape), tuple(v.shape)])
    layer.set_weights([np.array(0.7, dtype="float32")])
    out, scores = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True)
    np.testing.assert_allclose(out.detach(), KERAS["dot_scale_masked"]["output"], atol=1e-5)
    np.testing.assert_allclose(scores.detach(), KERAS["dot_scale_masked"]["scores"], atol=1e-5)

    layer = Attention(score_mode="concat", use_scale=True)
    layer.build([tuple(q.shape), tuple(v.shape)])
    assert [n for n, _ in layer.named_parameters()] == KERAS["concat_causal"]["weights"]
    layer.set_weights([np.array(0.5, dtype="float32"), np.array(1.5, dtype="float32")])
    out = layer([q, v], use_causal_mask=True)
    np.testing.assert_allclose(out.detach(), KERAS["concat_causal"]["output"], atol=1e-5)

    layer = AdditiveAttention()
    layer.build([tuple(q.shape), tuple(v.shape)])
    names = [[n, list(p.shape)] for n, p in layer.named_parameters()]
    assert names == KERAS["additive_masked"]["weights"]
    layer.set_weights([np.array(KERAS["additive_masked"]["scale"], dtype="float32")])
    out, scores = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True)
    np.testing.assert_allclose(out.detach(), KERAS["additive_masked"]["output"], atol=1e-5)
    np.testing.assert_allclose(scores.detach(), KERAS["additive_masked"]["scores"], atol=1e-5)


# 3. Additive scores by hand: sum_d scale_d * tanh(q_id + k_jd).
def test_additive_scores_by_hand():
    layer = AdditiveAttention()
    out, weights = layer([q, v, k], return_attention_scores=True)
    s = torch.zeros(2, 3, 5)
    for n in range(2):
        for i in range(3):
            for j in range(5):
                s[n, i, j] = (layer.scale * torch.tanh(q[n, i] + k[n, j])).sum()
    torch.testing.assert_close(weights, torch.softmax(s, -1))
    torch.testing.assert_close(out, torch.softmax(s, -1) @ v)


# 4. Dropout on the attention weights only in training; the plain call is inference.
def test_attention_dropout_training_only():
    layer = Attention(dropout=0.5)
    torch.testing.assert_close(layer([q, v]), layer([q, v]))
    torch.manual_seed(0)
    a = layer([q, v], training=True)
    b = layer([q, v], training=True)
    assert not torch.allclose(a, b)


# 5. Symbolic calls: shapes, the scores as a second output, a Luong decoder in a Model whose
#    masks come from the Embeddings.
def test_attention_in_a_functional_model():
    query, value = Input(shape=(3, 4)), Input(shape=(5, 4))
    assert Attention()([query, value]).shape == (None, 3, 4)
    out, scores = AdditiveAttention()([query, value], return_attention_scores=True)
    assert (out.shape, scores.shape) == ((None, 3, 4), (None, 3, 5))

    torch.manual_seed(0)
    src, tgt = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    enc_emb, dec_emb = Embedding(20, 6, mask_zero=True), Embedding(20, 6, mask_zero=True)
    enc_lstm, dec_lstm = LSTM(6, return_sequences=True), LSTM(6, return_sequences=True)
    attention, dense = Attention(), Dense(20)
    enc, dec = enc_lstm(enc_emb(src)), dec_lstm(dec_emb(tgt))
    model = Model([src, tgt], dense(Concatenate()([dec, attention([dec, enc])])))
    s = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    t = torch.tensor([[1, 2, 0], [3, 4, 5]])
    e = enc_lstm(enc_emb(s), mask=s != 0)
    d = dec_lstm(dec_emb(t), mask=t != 0)
    ctx = attention([d, e], mask=[t != 0, s != 0])
    torch.testing.assert_close(model([s, t]), dense(torch.cat([d, ctx], -1)))


# 6. Errors with Keras's messages.
def test_attention_errors():
    with pytest.raises(ValueError, match=re.escape("Attention layer must be called on a list")):
        Attention()(q)
    with pytest.raises(ValueError, match=re.escape("accepts inputs list of length 2 or 3")):
        Attention()([q])
    with pytest.raises(ValueError, match=re.escape("mask must be a list")):
        Attention()([q, v], mask=q_mask)
    with pytest.raises(ValueError, match=re.escape("`score_mode` expected one of")):
        Attention(score_mode="add")


# 7. Config round trip and save / load inside a model.
def test_attention_config_and_save(tmp_path):
    for layer in (Attention(use_scale=True, score_mode="concat", dropout=0.1), AdditiveAttention()):
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
    query, value = Input(shape=(3, 4)), Input(shape=(5, 4))
    model = Model([query, value], AdditiveAttention()([query, value]))
    model.save(tmp_path / "m")
    from rnnkit.models import load_model

    loaded = load_model(tmp_path / "m")
    torch.testing.assert_close(loaded([q, v]), model([q, v]))


# 8. Dot with normalize (cosine similarity) and along chosen axes, as Keras.
def test_dot_matches_keras():
    a = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    b = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, -3.0]])
    np.testing.assert_allclose(
        Dot(axes=1, normalize=True)([a, b]), KERAS["dot_normalize"], atol=1e-6
    )
    np.testing.assert_allclose(Dot(axes=(2, 2))([q, k]), KERAS["dot_seq"], atol=1e-5)
