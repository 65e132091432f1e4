"""get_weights / set_weights / weights in Keras 3's layouts.

Layouts as Keras 3's layers create them (keras/src/layers/rnn/{lstm,gru,simple_rnn}.py,
core/{dense,embedding}.py, rnn/bidirectional.py): ``[kernel, recurrent_kernel, bias]``; the GRU's
bias is ``(2, 3H)`` (row 0 input, row 1 recurrent) with ``reset_after``; Bidirectional lists the
forward layer's weights then the backward layer's. Error texts are Keras's ``Layer.set_weights``.
"""

import re

import numpy as np
import pytest
import torch

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential

D, H = 3, 5


def built(layer, D=D):
    layer.build((None, None, D))
    return layer


# -- 1. layouts -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, shapes",
    [
        (lambda: LSTM(H), [(D, 4 * H), (H, 4 * H), (4 * H,)]),
        (lambda: LSTM(H, use_bias=False), [(D, 4 * H), (H, 4 * H)]),
        (lambda: SimpleRNN(H), [(D, H), (H, H), (H,)]),
        (lambda: SimpleRNN(H, use_bias=False), [(D, H), (H, H)]),
        (lambda: GRU(H), [(D, 3 * H), (H, 3 * H), (2, 3 * H)]),
        (lambda: GRU(H, reset_after=False), [(D, 3 * H), (H, 3 * H), (3 * H,)]),
        (lambda: GRU(H, use_bias=False), [(D, 3 * H), (H, 3 * H)]),
        (lambda: Dense(4), [(D, 4), (4,)]),
        (lambda: Dense(4, use_bias=False), [(D, 4)]),
        (lambda: Bidirectional(GRU(H)), [(D, 3 * H), (H, 3 * H), (2, 3 * H)] * 2),
        (lambda: Bidirectional(LSTM(H, use_bias=False)), [(D, 4 * H), (H, 4 * H)] * 2),
        (lambda: Dropout(0.5), []),
    ],
)
def test_get_weights_has_keras_shapes(make, shapes):
    weights = built(make()).get_weights()
    assert [w.shape for w in weights] == shapes
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float32 for w in weights)


def test_embedding_layout():
    layer = Embedding(10, 4)
    (E,) = layer.get_weights()
    assert E.shape == (10, 4) and np.array_equal(E, layer.E.detach().numpy())


# -- 2. values: which tensor is which ---------------------------------------------------------
def test_lstm_weights_are_w_x_w_h_b():
    layer = built(LSTM(H))
    kernel, recurrent_kernel, bias = layer.get_weights()
    assert np.array_equal(kernel, layer.W_x.detach().numpy())
    assert np.array_equal(recurrent_kernel, layer.W_h.detach().numpy())
    assert np.array_equal(bias, layer.b.detach().numpy())
    assert layer.weights == [layer.W_x, layer.W_h, layer.b]


def test_gru_bias_rows_are_b_x_then_b_h():
    layer = built(GRU(H))
    with torch.no_grad():
        layer.b_x.uniform_(-1, 1)
        layer.b_h.uniform_(-1, 1)
    bias = layer.get_weights()[2]
    assert np.array_equal(bias[0], layer.b_x.detach().numpy())
    assert np.array_equal(bias[1], layer.b_h.detach().numpy())
    # `weights` lists the four tensors rnnkit holds (Keras: three variables).
    assert layer.weights == [layer.W_x, layer.W_h, layer.b_x, layer.b_h]


def test_get_weights_returns_copies():
    layer = built(LSTM(H))
    weights = layer.get_weights()
    weights[0][:] = 7.0
    assert not torch.any(layer.W_x == 7.0)


def test_unbuilt_layer_has_no_weights_as_keras():
    layer = GRU(H)
    assert layer.weights == [] and layer.get_weights() == []
    layer.set_weights([])  # nothing to set
    assert Bidirectional(LSTM(H)).get_weights() == []


def test_trainable_and_non_trainable_weights():
    layer = built(LSTM(H))
    assert layer.trainable_weights == layer.weights and layer.non_trainable_weights == []
    layer.W_h.requires_grad_(False)
    assert layer.trainable_weights == [layer.W_x, layer.b]
    assert layer.non_trainable_weights == [layer.W_h]


# -- 3. round trips ---------------------------------------------------------------------------
def random_like(weights, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in weights]


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(H),
        lambda: SimpleRNN(H),
        lambda: GRU(H),
        lambda: GRU(H, reset_after=False),
        lambda: GRU(H, use_bias=False),
        lambda: Dense(4),
        lambda: Embedding(10, 4),
        lambda: Bidirectional(GRU(H)),
        lambda: Bidirectional(LSTM(H)),
    ],
)
def test_set_weights_then_get_weights_is_exact(make):
    layer = built(make())  # an Embedding is built already; build() leaves it
    new = random_like(layer.get_weights())
    layer.set_weights(new)
    got = layer.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(got, new, strict=True))


def test_set_weights_accepts_tensors_and_float64():
    layer = built(Dense(2))
    W = torch.arange(6, dtype=torch.float64).reshape(D, 2)
    layer.set_weights([W, np.array([1.0, -1.0])])
    assert layer.W.dtype == torch.float32
    assert torch.equal(layer.W.detach(), W.float())
    assert torch.equal(layer.b.detach(), torch.tensor([1.0, -1.0]))


def test_bidirectional_second_half_goes_to_the_backward_layer():
    layer = built(Bidirectional(LSTM(H)))
    new = random_like(layer.get_weights(), seed=1)
    layer.set_weights(new)
    assert np.array_equal(layer.forward_layer.W_x.detach().numpy(), new[0])
    assert np.array_equal(layer.backward_layer.W_x.detach().numpy(), new[3])
    assert np.array_equal(layer.backward_layer.b.detach().numpy(), new[5])


def make_model():
    return Sequential(
        [
            Embedding(20, 6),
            Bidirectional(GRU(4, return_sequences=True)),
            Dropout(0.3),
            LSTM(5),
            Dense(3, activation="softmax"),
        ]
    )


def test_model_weights_moved_to_a_new_model_give_the_same_predictions():
    torch.manual_seed(0)
    ids = torch.randint(1, 20, (4, 7))
    source, target = make_model(), make_model()
    source.build((None, 7))
    target.build((None, 7))
    weights = source.get_weights()
    assert len(weights) == 1 + 2 * 3 + 3 + 2  # Embedding, 2 GRUs, LSTM, Dense
    assert not np.allclose(source.predict(ids), target.predict(ids))
    target.set_weights(weights)
    np.testing.assert_array_equal(target.predict(ids), source.predict(ids))
    assert all(np.array_equal(a, b) for a, b in zip(target.get_weights(), weights, strict=True))


# -- 4. the GRU's Keras bias against Keras's formula and torch.nn.GRU ---------------------------
def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def keras_gru(x, kernel, recurrent_kernel, bias, reset_after):
    """Keras 3's GRUCell.call written out with NumPy (gates packed [z | r | h])."""
    N, T, _ = x.shape
    h = np.zeros((N, recurrent_kernel.shape[0]))
    Hn = recurrent_kernel.shape[0]
    if reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros(3 * Hn)
    for t in range(T):
        xz, xr, xh = np.split(x[:, t] @ kernel + input_bias, 3, axis=-1)
        if reset_after:
            rz, rr, rh = np.split(h @ recurrent_kernel + recurrent_bias, 3, axis=-1)
            z, r = sigmoid(xz + rz), sigmoid(xr + rr)
            hh = np.tanh(xh + r * rh)
        else:
            rz, rr = np.split(h @ recurrent_kernel[:, : 2 * Hn], 2, axis=-1)
            z, r = sigmoid(xz + rz), sigmoid(xr + rr)
            hh = np.tanh(xh + (r * h) @ recurrent_kernel[:, 2 * Hn :])
        h = z * h + (1 - z) * hh
    return h


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_with_keras_arrays_equals_keras_formula(reset_after):
    layer = built(GRU(H, reset_after=reset_after))
    kernel, recurrent_kernel, bias = random_like(layer.get_weights(), seed=2)
    layer.set_weights([kernel, recurrent_kernel, bias])
    x = np.random.default_rng(3).normal(size=(2, 6, D)).astype(np.float32)
    with torch.no_grad():
        got = layer.eval()(torch.from_numpy(x)).numpy()
    want = keras_gru(x.astype(np.float64), kernel, recurrent_kernel, bias, reset_after)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_gru_keras_arrays_against_torch_gru():
    """torch.nn.GRU packs [r | z | n] and stores weights transposed: row 0 of Keras's bias is
    ``bias_ih_l0`` and row 1 is ``bias_hh_l0``, each with the first two blocks swapped."""
    layer = built(GRU(H))
    kernel, recurrent_kernel, bias = random_like(layer.get_weights(), seed=4)
    layer.set_weights([kernel, recurrent_kernel, bias])

    def to_torch(a):  # (..., 3H) [z | r | n] -> [r | z | n]
        z, r, n = np.split(a, 3, axis=-1)
        return torch.from_numpy(np.concatenate([r, z, n], axis=-1))

    oracle = torch.nn.GRU(D, H, batch_first=True)
    with torch.no_grad():
        oracle.weight_ih_l0.copy_(to_torch(kernel).T)
        oracle.weight_hh_l0.copy_(to_torch(recurrent_kernel).T)
        oracle.bias_ih_l0.copy_(to_torch(bias[0]))
        oracle.bias_hh_l0.copy_(to_torch(bias[1]))
        x = torch.randn(3, 5, D)
        want = oracle(x)[1][0]
        got = layer.eval()(x)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


# -- 5. errors, as Keras words them -----------------------------------------------------------
def test_wrong_length_message():
    layer = built(LSTM(H, name="lstm_w"))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "You called `set_weights(weights)` on layer 'lstm_w' with a weight list of "
            "length 2, but the layer was expecting 3 weights."
        ),
    ):
        layer.set_weights(layer.get_weights()[:2])


def test_wrong_shape_message_and_nothing_written():
    layer = built(GRU(H, name="gru_w"))
    before = layer.get_weights()
    new = random_like(before)
    new[2] = np.zeros((3 * H,), np.float32)  # reset_after=False's bias on a reset_after GRU
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Layer gru_w weight shape (2, 15) is not compatible with provided weight shape (15,)."
        ),
    ):
        layer.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before, strict=True))


def test_not_a_list_and_complex_values_are_refused():
    layer = built(Dense(2))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Dense.set_weights: `weights` expected a list of arrays, received ndarray of "
            "shape (3, 2) and dtype float32."
        ),
    ):
        layer.set_weights(layer.get_weights()[0])
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Dense.set_weights: `weights[1]` expected a real-valued array, received ndarray of "
            "shape (2,) and dtype complex128."
        ),
    ):
        layer.set_weights([layer.get_weights()[0], np.zeros(2, complex)])


def test_sequential_errors_and_nothing_written():
    model = Sequential([Embedding(10, 4, name="emb"), LSTM(3, name="lstm_s"), Dense(1)])
    model.name = "seq"
    weights = model.get_weights()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "You called `set_weights(weights)` on layer 'seq' with a weight list of "
            "length 5, but the layer was expecting 6 weights."
        ),
    ):
        model.set_weights(weights[:5])
    new = random_like(weights)
    new[2] = np.zeros((4, 3), np.float32)  # recurrent_kernel must be (3, 12)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Layer lstm_s weight shape (3, 12) is not compatible with provided weight shape (4, 3)."
        ),
    ):
        model.set_weights(new)
    # the Embedding before the bad array was not written either
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights, strict=True))
    with pytest.raises(TypeError, match=re.escape("Sequential.set_weights: `weights` expected")):
        model.set_weights(None)


# -- 6. weight counts of Keras's run_layer_test (expected_num_trainable_weights) ---------------
@pytest.mark.parametrize(
    "make, keras_count, rnnkit_count",
    [
        (lambda: Embedding(4, 3), 1, 1),
        (lambda: Dense(4), 2, 2),
        (lambda: SimpleRNN(H), 3, 3),
        (lambda: LSTM(H), 3, 3),
        (lambda: GRU(H, reset_after=False), 3, 3),
        (lambda: GRU(H), 3, 4),  # Keras's (2, 3H) bias is rnnkit's b_x and b_h
        (lambda: Bidirectional(LSTM(H)), 6, 6),
    ],
)
def test_weight_counts_as_keras_run_layer_test(make, keras_count, rnnkit_count):
    layer = built(make())
    assert len(layer.get_weights()) == keras_count
    assert len(layer.trainable_weights) == rnnkit_count
    assert layer.non_trainable_weights == []


def test_set_weights_accepts_reversed_numpy_views():
    layer = built(Dense(2))
    W = np.arange(6, dtype=np.float32).reshape(D, 2)[:, ::-1]  # negative strides
    layer.set_weights([W, np.zeros(2, np.float32)])
    assert np.array_equal(layer.get_weights()[0], W)
