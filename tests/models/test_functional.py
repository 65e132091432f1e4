"""The functional API: ``Input``, layers called on symbolic tensors, ``Model(inputs, outputs)``.

Oracles: the same layers called one after another on real tensors (hand composition), the
same model as a Sequential (outputs, gradients and the kernel path taken), torch.nn.LSTM, and
Keras 3.15.1's printed summary (pasted below, made by scripts/keras_functional_fixtures.py).
"""

import re

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import Input, Model, runtime
from rnnkit.kernels import dispatch
from rnnkit.layers import (
    GRU,
    LSTM,
    Add,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    InputLayer,
    KerasTensor,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.layers.base import clear_names
from rnnkit.models import Sequential, load_model


@pytest.fixture(autouse=True)
def fresh_names():
    clear_names()
    yield


# 1. Input gives a symbolic tensor; layers called on it give symbolic outputs of Keras's shapes.
def test_input_and_symbolic_shapes():
    x = Input(shape=(None, 5), name="x")
    assert isinstance(x, KerasTensor)
    assert (x.shape, x.dtype, x.name, x.ndim) == ((None, None, 5), "float32", "x", 3)
    assert Input(shape=(3,), batch_size=2, dtype="int32").shape == (2, 3)
    assert Input(batch_shape=(4, None)).shape == (4, None)
    out, h, c = LSTM(4, return_state=True)(x)
    assert (out.shape, h.shape, c.shape) == ((None, 4), (None, 4), (None, 4))
    seq = GRU(3, return_sequences=True)(x)
    assert seq.shape == (None, None, 3)
    assert Dense(2)(seq).shape == (None, None, 2)
    assert Bidirectional(SimpleRNN(2))(x).shape == (None, 4)
    ids = Input(shape=(7,), dtype="int64")
    assert Embedding(10, 6)(ids).shape == (None, 7, 6)
    assert Dropout(0.5)(x).shape == (None, None, 5)  # shape from a run on zeros
    assert TimeDistributed(Dense(8))(x).shape == (None, None, 8)
    with pytest.raises(TypeError, match=re.escape("A KerasTensor is symbolic")):
        bool(x)


# 2. A model runs its layers as the hand composition does; plain and NumPy inputs alike.
def test_model_equals_hand_composition():
    torch.manual_seed(0)
    a, b = Input(shape=(None, 5), name="a"), Input(shape=(3,), name="b")
    lstm, d1, d2 = LSTM(4), Dense(4), Dense(2, activation="softmax")
    out = d2(Concatenate()([lstm(a), d1(b)]))
    model = Model([a, b], out, name="two")
    xa, xb = torch.randn(6, 7, 5), torch.randn(6, 3)
    expected = d2(torch.cat([lstm(xa), d1(xb)], dim=-1))
    torch.testing.assert_close(model([xa, xb]), expected)
    torch.testing.assert_close(model({"a": xa, "b": xb}), expected)
    got = model([xa.numpy().astype("float64"), xb.numpy()])  # NumPy: float32 as Keras
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected)
    assert [layer.name for layer in model.layers] == [
        "a",
        "b",
        "lstm",
        "dense",
        "concatenate",
        "dense_1",
    ]
    assert isinstance(model.layers[0], InputLayer)
    assert model.get_layer("lstm") is lstm and model.get_layer(index=2) is lstm
    assert model.count_params() == sum(
        p.numel() for p in (*lstm.parameters(), *d1.parameters(), *d2.parameters())
    )


# 3. Shared layers: one layer called twice holds one set of weights; gradients add up.
def test_shared_layer_shares_weights():
    torch.manual_seed(0)
    a, b = Input(shape=(None, 3)), Input(shape=(None, 3))
    shared = LSTM(4)
    model = Model([a, b], Add()([shared(a), shared(b)]))
    assert len(list(model.parameters())) == 3
    xa, xb = torch.randn(2, 5, 3), torch.randn(2, 4, 3)
    y = model([xa, xb])
    torch.testing.assert_close(y, shared(xa) + shared(xb))
    y.sum().backward()
    g = shared.W_x.grad.clone()
    shared.zero_grad()
    (shared(xa).sum() + shared(xb).sum()).backward()
    torch.testing.assert_close(g, shared.W_x.grad)


# 4. Masks pass along the graph as Keras passes them: Embedding(mask_zero) -> LSTM.
def test_masks_propagate_in_a_graph():
    torch.manual_seed(0)
    ids_in, feats = Input(shape=(None,), dtype="int64"), Input(shape=(2,))
    emb, lstm, dense = Embedding(20, 4, mask_zero=True), LSTM(3), Dense(1)
    out = dense(Concatenate()([lstm(emb(ids_in)), feats]))
    model = Model([ids_in, feats], out)
    ids = torch.tensor([[0, 0, 3, 4], [5, 6, 7, 0]])
    f = torch.randn(2, 2)
    expected = dense(torch.cat([lstm(emb(ids), mask=ids != 0), f], -1))
    unmasked = dense(torch.cat([lstm(emb(ids)), f], -1))
    runtime_saved = runtime.settings.embedding_lookup
    try:
        for lookup in (False, True):
            runtime.configure(embedding_lookup=lookup)
            torch.testing.assert_close(model([ids, f]), expected)
    finally:
        runtime.configure(embedding_lookup=runtime_saved)
    assert not torch.allclose(expected, unmasked)


# 5. return_state / initial_state: an encoder-decoder equals torch.nn.LSTM with the same weights.
def test_initial_state_from_another_layer_matches_torch():
    torch.manual_seed(0)
    enc_in, dec_in = Input(shape=(None, 3)), Input(shape=(None, 4))
    enc = LSTM(5, return_state=True)
    _, h, c = enc(enc_in)
    dec = LSTM(5, return_sequences=True)
    model = Model([enc_in, dec_in], dec(dec_in, initial_state=[h, c]))

    def torch_lstm(layer):
        m = torch.nn.LSTM(layer.W_x.shape[0], 5, batch_first=True)
        with torch.no_grad():
            m.weight_ih_l0.copy_(layer.W_x.T)
            m.weight_hh_l0.copy_(layer.W_h.T)
            m.bias_ih_l0.copy_(layer.b)
            m.bias_hh_l0.zero_()
        return m

    xe, xd = torch.randn(2, 6, 3), torch.randn(2, 4, 4)
    _, state = torch_lstm(enc)(xe)
    expected, _ = torch_lstm(dec)(xd, state)
    torch.testing.assert_close(model([xe, xd]), expected, rtol=1e-5, atol=1e-6)


# 6. A model is a layer: nested in another model, called on symbolic tensors.
def test_nested_model():
    torch.manual_seed(0)
    inner_in = Input(shape=(4,))
    inner = Model(inner_in, Dense(3, activation="tanh")(inner_in), name="inner")
    x = Input(shape=(4,))
    y = Dense(2)(inner(x))
    assert y.shape == (None, 2)
    outer = Model(x, y)
    v = torch.randn(5, 4)
    torch.testing.assert_close(outer(v), outer.layers[2](inner(v)))
    assert outer.layers[1] is inner
    assert outer.count_params() == 4 * 3 + 3 + 3 * 2 + 2


# 7. Fast path: Input -> Embedding -> LSTM -> Dense runs exactly as the same Sequential: same
#    outputs, same gradients, the same lookup kernel calls on the same (trimmed) shapes.
@pytest.mark.skipif(not dispatch.compiled(), reason="compiled step loops unavailable")
@pytest.mark.parametrize("mask_zero", [False, True])
def test_chain_takes_the_sequential_fast_path(monkeypatch, mask_zero):
    from rnnkit.kernels import lstm as lstm_kernels

    calls = []
    real = lstm_kernels.lstm_lookup

    def spy(table, where, *args, **kwargs):
        calls.append((tuple(where.shape), kwargs.get("pad_row")))
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(lstm_kernels, "lstm_lookup", spy)
    torch.manual_seed(0)
    seq = Sequential(
        [Embedding(30, 8, mask_zero=mask_zero), LSTM(7), Dense(1, activation="sigmoid")]
    )
    x = Input(shape=(None,), dtype="int64")
    emb, lstm, dense = (
        Embedding(30, 8, mask_zero=mask_zero),
        LSTM(7),
        Dense(1, activation="sigmoid"),
    )
    fun = Model(x, dense(lstm(emb(x))))
    ids = torch.randint(1, 30, (10, 15))
    ids[:, :3] = 0  # padding in front of every row: trimmed (masked) or shared (unmasked)
    ids[0, :9] = 0
    seq(ids)
    fun.set_weights(seq.get_weights())
    results = []
    for model in (seq, fun):
        calls.clear()
        model.zero_grad()
        y = model(ids)
        y.pow(2).sum().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        results.append((y.detach(), grads, list(calls)))
    (y_s, g_s, c_s), (y_f, g_f, c_f) = results
    assert c_s and c_f == c_s, "the functional model took another path"
    torch.testing.assert_close(y_f, y_s, rtol=0, atol=0)
    for a, b in zip(g_f, g_s):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # fit trains both the same way: one epoch, no shuffle, same batches
    for model in (seq, fun):
        model.compile(optimizer="adam", loss="binary_crossentropy")
    labels = (ids[:, -1] % 2).float().unsqueeze(1)
    hs = seq.fit(ids, labels, batch_size=5, epochs=1, shuffle=False, verbose=0)
    hf = fun.fit(ids, labels, batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert hs.history["loss"] == hf.history["loss"]
    # predict: the same vocabulary-table path (predict / evaluate's table of E @ W_x + b)
    many = torch.randint(0, 30, (96, 15))
    calls.clear()
    p_s = seq.predict(many, batch_size=16, verbose=0)
    c_s = list(calls)
    calls.clear()
    p_f = fun.predict(many, batch_size=16, verbose=0)
    assert calls == c_s
    np.testing.assert_array_equal(p_f, p_s)


# 8. In a graph that is not a chain, an Embedding feeding an LSTM with initial_state (a decoder)
#    runs as one lookup call, with the numbers of the plain computation.
@pytest.mark.skipif(not dispatch.compiled(), reason="compiled step loops unavailable")
def test_graph_fuses_embedding_into_decoder(monkeypatch):
    from rnnkit.kernels import lstm as lstm_kernels

    calls = []
    real = lstm_kernels.lstm_lookup

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(lstm_kernels, "lstm_lookup", spy)
    torch.manual_seed(0)
    src, tgt = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    _, h, c = LSTM(6, return_state=True)(Embedding(20, 5)(src))
    dec = LSTM(6, return_sequences=True)(Embedding(25, 5)(tgt), initial_state=[h, c])
    model = Model([src, tgt], Dense(25, activation="softmax")(dec))
    s, t = torch.randint(1, 20, (9, 7)), torch.randint(1, 25, (9, 5))
    saved = runtime.settings.embedding_lookup
    try:
        runtime.configure(embedding_lookup=False)
        expected = model([s, t])
        assert not calls
        runtime.configure(embedding_lookup=True)
        got = model([s, t])
    finally:
        runtime.configure(embedding_lookup=saved)
    assert len(calls) == 2, "encoder and decoder should both look their projections up"
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


# 9. fit / evaluate / predict with several inputs (list or dict) and outputs; save / load.
def test_fit_predict_save_load_multi_io(tmp_path):
    torch.manual_seed(0)
    a, b = Input(shape=(4,), name="a"), Input(shape=(None, 3), name="b")
    z = Concatenate()([Dense(5, activation="relu")(a), LSTM(5)(b)])
    model = Model({"a": a, "b": b}, Dense(3, activation="softmax")(z))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    xa, xb = np.random.rand(20, 4), np.random.rand(20, 6, 3)
    y = np.random.randint(0, 3, 20)
    h = model.fit({"a": xa, "b": xb}, y, epochs=3, batch_size=4, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    p = model.predict({"a": xa, "b": xb}, verbose=0)
    assert p.shape == (20, 3)
    np.testing.assert_allclose(p.sum(-1), 1, atol=1e-5)
    assert isinstance(model.evaluate({"b": xb, "a": xa}, y, verbose=0), list)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Model) and loaded.compiled
    np.testing.assert_allclose(loaded.predict({"a": xa, "b": xb}, verbose=0), p, atol=1e-6)
    assert loaded.get_config() == model.get_config()

    x = Input(shape=(3,))
    d = Dense(4)(x)
    two = Model(x, [Dense(2)(d), Dense(1)(d)])
    outs = two.predict(np.random.rand(70, 3), batch_size=32, verbose=0)
    assert [o.shape for o in outs] == [(70, 2), (70, 1)]


# 10. get_config / from_config rebuild the graph (shared layers, kwargs, nested models).
def test_config_round_trip():
    torch.manual_seed(0)
    enc_in, dec_in = Input(shape=(None, 3), name="e"), Input(shape=(None, 3), name="d")
    _, h = GRU(4, return_state=True)(enc_in)
    shared = Dense(4)
    y = shared(GRU(4, return_sequences=True)(dec_in, initial_state=[h]))
    model = Model([enc_in, dec_in], shared(y))
    config = model.get_config()
    again = Model.from_config(config)
    assert again.get_config() == config
    again.set_weights(model.get_weights())
    xe, xd = torch.randn(2, 5, 3), torch.randn(2, 4, 3)
    torch.testing.assert_close(again([xe, xd]), model([xe, xd]))
    layer = config["layers"][-1]
    assert layer["name"] == "dense" and len(layer["inbound_nodes"]) == 2
    assert config["input_layers"] == [["e", 0, 0], ["d", 0, 0]]
    assert config["output_layers"] == ["dense", 1, 0]


# 11. Errors, as Keras words them.
def test_errors():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    y = Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, y)
    with pytest.raises(ValueError, match=re.escape("All `inputs` values must be KerasTensors")):
        Model({"a": "input_a", "b": b}, y)
    with pytest.raises(ValueError, match=re.escape("All `outputs` values must be KerasTensors")):
        Model([a, b], "outputs")
    x = Input(shape=(3,))
    d = Dense(2, name="same")(x)
    with pytest.raises(ValueError, match='The name "same" is used 2 times in the model'):
        Model(x, Dense(2, name="same")(d))
    model = Model([a, b], y)
    with pytest.raises(ValueError, match=re.escape("expects 2 input(s), but it received 1 input")):
        model(torch.ones(2, 3))
    with pytest.raises(ValueError, match=re.escape("No such layer: nope.")):
        model.get_layer("nope")


# 12. The summary of a graph that is not a chain has Keras's "Connected to" column
#     (Keras 3.15.1's output for the same model, pasted).
KERAS_SUMMARY = """\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ enc (InputLayer)    │ (None, None, 5)   │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dec (InputLayer)    │ (None, None, 6)   │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ lstm (LSTM)         │ [(None, 4),       │        160 │ enc[0][0]         │
│                     │ (None, 4), (None, │            │                   │
│                     │ 4)]               │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ lstm_1 (LSTM)       │ (None, None, 4)   │        176 │ dec[0][0],        │
│                     │                   │            │ lstm[0][1],       │
│                     │                   │            │ lstm[0][2]        │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense (Dense)       │ (None, None, 3)   │         15 │ lstm_1[0][0]      │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 351 (1.37 KB)
 Trainable params: 351 (1.37 KB)
 Non-trainable params: 0 (0.00 B)
"""

KERAS_CHAIN_SUMMARY = """\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ x (InputLayer)                  │ (None, 7)              │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 2)              │            16 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 16 (64.00 B)
 Trainable params: 16 (64.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def test_summary_as_keras_prints_it():
    a, b = Input(shape=(None, 5), name="enc"), Input(shape=(None, 6), name="dec")
    _, h, c = LSTM(4, return_state=True)(a)
    y = LSTM(4, return_sequences=True)(b, initial_state=[h, c])
    model = Model([a, b], Dense(3, activation="softmax")(y))
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) + "\n" == KERAS_SUMMARY
    clear_names()
    x = Input(shape=(7,), name="x")
    lines = []
    Model(x, Dense(2)(x)).summary(print_fn=lines.append)
    assert "\n".join(lines) + "\n" == KERAS_CHAIN_SUMMARY


# 13. Keras's top-level names: rnnkit.Input / rnnkit.Model / rnnkit.layers.Input, and the
#     Sequential with an Input first still works (the old Input layer's use).
def test_top_level_names_and_sequential_input():
    assert rnnkit.Input is Input and rnnkit.Model is Model
    assert rnnkit.layers.Input is Input and rnnkit.models.Functional is Model
    model = Sequential([Input(shape=(None, 8)), LSTM(4)])
    assert model.built and model.output_shape == (None, 4)
    model = Sequential([InputLayer(shape=(None, 8)), LSTM(4)])
    assert model.built


# 14. Several outputs, one loss each: the loss trained is sum_k w_k * loss_k (Keras's total),
#     targets as a list or a dict keyed by output name; one SGD step equals a hand step.
def test_fit_several_outputs_with_a_loss_each():
    torch.manual_seed(0)
    x = Input(shape=(3,))
    h = Dense(4, activation="tanh")(x)
    out_a, out_b = Dense(2, name="a")(h), Dense(1, activation="sigmoid", name="b")(h)
    model = Model(x, [out_a, out_b])
    model.compile(
        optimizer="sgd", loss={"a": "mse", "b": "binary_crossentropy"}, loss_weights=[0.5, 2.0]
    )
    xs = torch.randn(8, 3)
    ya, yb = torch.randn(8, 2), torch.randint(0, 2, (8, 1)).float()
    start = [p.detach().clone() for p in model.parameters()]
    h1 = model.fit(xs, {"a": ya, "b": yb}, batch_size=8, epochs=1, shuffle=False, verbose=0)
    after = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p, s in zip(model.parameters(), start):
            p.copy_(s)
    pa, pb = model(xs)
    loss = 0.5 * torch.nn.functional.mse_loss(
        pa, ya
    ) + 2.0 * torch.nn.functional.binary_cross_entropy(pb, yb)
    assert h1.history["loss"][0] == pytest.approx(loss.item(), rel=1e-5)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.01 * p.grad
    for p, a in zip(model.parameters(), after):
        torch.testing.assert_close(p.detach(), a, rtol=1e-5, atol=1e-6)
    assert model.evaluate(xs, [ya, yb], verbose=0) == pytest.approx(
        model.evaluate(xs, {"b": yb, "a": ya}, verbose=0)
    )
    with pytest.raises(ValueError, match=re.escape("`loss` expected one entry per output (2")):
        model.compile(loss=["mse"])


# 15. Keras's default float32 Input feeding token ids: an Embedding (or a Sequential starting
#     with one) reads them as ids, in a chain, in a graph and nested.
def test_float_input_of_token_ids():
    torch.manual_seed(0)
    ids = np.random.randint(0, 50, (6, 10))
    x = Input(shape=(None,))
    emb, lstm = Embedding(50, 4, mask_zero=True), LSTM(3)
    chain = Model(x, lstm(emb(x)))
    expected = lstm(emb(torch.tensor(ids)), mask=torch.tensor(ids) != 0)
    torch.testing.assert_close(chain(ids), expected)
    seq = Sequential([Embedding(50, 4), LSTM(3)])
    nested = Model(x, Dense(1)(seq(x)))
    torch.testing.assert_close(nested(ids), nested.layers[-1](seq(torch.tensor(ids))))
