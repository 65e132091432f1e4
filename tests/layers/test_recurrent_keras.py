"""Keras's recurrent surface: stateful layers, the cell API, the RNN(cell) layer, Bidirectional's
backward_layer and flat return, Dropout(noise_shape, seed), Embedding(weights=).

Oracles: the same layer run statelessly over the concatenated sequence, torch.nn.LSTM stepped
with carried state, torch.nn.LSTMCell, the LSTM layer itself for RNN(LSTMCell), hand values.
"""

import re

import numpy as np
import pytest
import torch

from rnnkit.functional import lstm_cell
from rnnkit.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
)
from rnnkit.models import Sequential

LAYERS = [(SimpleRNN, {}), (LSTM, {}), (GRU, {}), (GRU, {"reset_after": False})]


def _twins(cls, kw, **extra):
    """A stateful layer and a stateless one with the same weights."""
    a = cls(4, return_sequences=True, stateful=True, **kw, **extra)
    b = cls(4, return_sequences=True, **kw, **extra)
    a.build((None, None, 3))
    b.build((None, None, 3))
    b.set_weights(a.get_weights())
    return a, b


# 1. stateful: batch 2 continues batch 1 sample by sample, on the kernels -----------------------
@pytest.mark.parametrize("cls,kw", LAYERS)
def test_1_stateful_two_batches_equal_one_stateless_run(cls, kw):
    a, b = _twins(cls, kw)
    x = torch.randn(5, 7, 3)
    whole = b(x)
    first, second = a(x[:, :3]), a(x[:, 3:])
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-6, atol=1e-6)
    a.reset_state()  # back to zeros: the first half again
    torch.testing.assert_close(a(x[:, :3]), whole[:, :3], rtol=1e-6, atol=1e-6)


# 2. the carried state is detached (truncated BPTT) ---------------------------------------------
@pytest.mark.parametrize("cls,kw", LAYERS)
def test_2_gradients_of_batch_two_do_not_reach_batch_one(cls, kw):
    a, _ = _twins(cls, kw)
    x1 = torch.randn(2, 3, 3, requires_grad=True)
    x2 = torch.randn(2, 3, 3, requires_grad=True)
    a(x1)
    a(x2).sum().backward()
    assert x1.grad is None and x2.grad is not None
    assert all(not s.requires_grad for s in a.states)


# 3. equals torch.nn.LSTM stepping with its state carried ----------------------------------------
def test_3_stateful_lstm_equals_torch_lstm_with_carried_state():
    layer = LSTM(5, return_sequences=True, stateful=True)
    layer.build((None, None, 3))
    ref = torch.nn.LSTM(3, 5, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(layer.W_x.T)
        ref.weight_hh_l0.copy_(layer.W_h.T)
        ref.bias_ih_l0.copy_(layer.b)
        ref.bias_hh_l0.zero_()
    state = None
    for _ in range(3):
        x = torch.randn(4, 6, 3)
        want, state = ref(x, state)
        torch.testing.assert_close(layer(x), want, rtol=1e-5, atol=1e-6)


# 4. the embedding-lookup path carries state too -------------------------------------------------
def test_4_stateful_lstm_fed_token_ids_equals_stateless_run():
    torch.manual_seed(1)
    a = Sequential([Embedding(20, 6), LSTM(5, return_sequences=True, stateful=True)])
    b = Sequential([Embedding(20, 6), LSTM(5, return_sequences=True)])
    ids = torch.randint(1, 20, (8, 10))
    a(ids[:, :1])
    b(ids[:, :1])
    b.set_weights(a.get_weights())
    a.layers[1].reset_state()
    with torch.no_grad():
        assert a.layers[1].takes_ids_from(a.layers[0], ids)  # the lookup kernel runs
        got = torch.cat([a(ids[:, :4]), a(ids[:, 4:])], 1)
        torch.testing.assert_close(got, b(ids), rtol=1e-6, atol=1e-6)


# 5. Keras's checks and reset_states(states=) ---------------------------------------------------
def test_5_batch_size_change_is_refused_and_states_can_be_set():
    layer = GRU(3, stateful=True)
    layer(torch.randn(4, 2, 5))
    msg = (
        "If an RNN is stateful, the batch size of the input sequences must be the same as the "
        "batch size of the initial state. \n- Expected batch size: 4\n- Received batch size: 2"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        layer(torch.randn(2, 2, 5))
    layer.reset_states(states=[np.ones((4, 3), dtype="float32")])
    torch.testing.assert_close(layer.states[0], torch.ones(4, 3))
    layer.reset_states()
    assert float(layer.states[0].abs().sum()) == 0.0
    with pytest.raises(ValueError, match=re.escape("GRU: `initial_state` expected tensors")):
        layer.reset_states(states=[np.ones((2, 3))])


# 6. RNN(stock cell) runs the same kernel as the layer: the same numbers ------------------------
@pytest.mark.parametrize(
    "cell,layer",
    [
        (lambda: SimpleRNNCell(4), lambda: SimpleRNN(4, return_sequences=True)),
        (lambda: LSTMCell(4), lambda: LSTM(4, return_sequences=True)),
        (lambda: GRUCell(4), lambda: GRU(4, return_sequences=True)),
        (
            lambda: GRUCell(4, reset_after=False),
            lambda: GRU(4, reset_after=False, return_sequences=True),
        ),
    ],
)
def test_6_rnn_of_stock_cell_equals_the_layer(cell, layer):
    r, ref = RNN(cell(), return_sequences=True), layer()
    x = torch.randn(3, 5, 2)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]).bool()
    r(x), ref(x)
    ref.set_weights(r.get_weights())
    assert len(r.get_weights()) == len(ref.get_weights())
    torch.testing.assert_close(r(x, mask=mask), ref(x, mask=mask), rtol=0, atol=0)


# 7. a cell called alone: Keras's signature and equations ---------------------------------------
def test_7_lstm_cell_step_equals_torch_lstm_cell():
    cell = LSTMCell(4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    out, (h1, c1) = cell(x, [h, c])
    ref = torch.nn.LSTMCell(3, 4)
    with torch.no_grad():
        ref.weight_ih.copy_(cell.kernel.T)
        ref.weight_hh.copy_(cell.recurrent_kernel.T)
        ref.bias_ih.copy_(cell.b)
        ref.bias_hh.zero_()
    want_h, want_c = ref(x, (h, c))
    torch.testing.assert_close(out, want_h)
    torch.testing.assert_close(c1, want_c)
    torch.testing.assert_close(h1, lstm_cell(x, h, c, cell.W_x, cell.W_h, cell.b)[0])
    assert cell.state_size == [4, 4] and cell.output_size == 4
    assert [tuple(s.shape) for s in cell.get_initial_state(batch_size=2)] == [(2, 4), (2, 4)]


def test_8_stacked_cells_equal_two_layers():
    stack = RNN(StackedRNNCells([LSTMCell(4), GRUCell(3)]), return_sequences=True)
    first, second = LSTM(4, return_sequences=True), GRU(3, return_sequences=True)
    x = torch.randn(2, 5, 6)
    stack(x), second(first(x))
    weights = stack.get_weights()
    first.set_weights(weights[:3])
    second.set_weights(weights[3:])
    torch.testing.assert_close(stack(x), second(first(x)), rtol=1e-6, atol=1e-6)


# 9. options: unroll / implementation / use_cudnn / seed -----------------------------------------
def test_9_keras_options_accepted_and_configured():
    layer = LSTM(3, unroll=True, implementation=2, use_cudnn=False, seed=7, stateful=True)
    config = layer.get_config()
    for key, value in [
        ("unroll", True),
        ("implementation", 2),
        ("use_cudnn", False),
        ("seed", 7),
        ("stateful", True),
        ("zero_output_for_mask", False),
    ]:
        assert config[key] == value
    assert LSTM.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=re.escape("LSTM: `use_cudnn` expected one of")):
        LSTM(3, use_cudnn="yes")
    a = GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=11)
    b = GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=11)
    x = torch.ones(2, 4, 3)
    a(x), b(x)
    b.set_weights(a.get_weights())
    torch.testing.assert_close(a(x, training=True), b(x, training=True))  # the same masks


@pytest.mark.parametrize("bad", [0, -3, 2.5, None, "64", True])
def test_10_bad_units_raise_value_error_as_keras(bad):
    with pytest.raises(ValueError, match=re.escape("LSTM: `units` expected a positive integer")):
        LSTM(bad)
    if not isinstance(bad, int) or isinstance(bad, bool):
        with pytest.raises(TypeError):  # rnnkit's type for a non-integer, kept
            SimpleRNN(bad)


# 11. Bidirectional -------------------------------------------------------------------------------
def test_11_bidirectional_backward_layer_checks_and_flat_return():
    with pytest.raises(ValueError, match="should have different `go_backwards` value"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    msg = 'the same value for attribute "return_sequences"'
    with pytest.raises(ValueError, match=re.escape(msg)):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))
    back = LSTM(3, return_state=True, go_backwards=True)
    layer = Bidirectional(LSTM(2, return_state=True), merge_mode=None, backward_layer=back)
    assert layer.backward_layer is back
    x = torch.randn(2, 4, 5)
    out = layer(x)
    assert [tuple(o.shape) for o in out] == [(2, 2), (2, 3), (2, 2), (2, 2), (2, 3), (2, 3)]
    assert layer.compute_output_shape((2, 4, 5)) == [(2, 2), (2, 3), (2, 2), (2, 2), (2, 3), (2, 3)]
    torch.testing.assert_close(out[1], back(x)[0])
    again = Bidirectional.from_config(layer.get_config())
    assert again.backward_layer.units == 3


def test_12_bidirectional_stateful_reset():
    layer = Bidirectional(GRU(2, stateful=True))
    x = torch.randn(3, 4, 2)
    first = layer(x)
    assert not torch.allclose(layer(x), first)  # the state was carried
    layer.reset_state()
    torch.testing.assert_close(layer(x), first)
    with pytest.raises(AttributeError, match=re.escape("Layer must be stateful.")):
        Bidirectional(GRU(2)).reset_state()


# 13. Dropout(noise_shape, seed) ------------------------------------------------------------------
def test_13_dropout_noise_shape_broadcasts_and_seed_repeats():
    x = torch.ones(4, 5, 6)
    y = Dropout(0.5, noise_shape=(None, 1, None), seed=3)(x, training=True)
    assert torch.equal(y[:, 0], y[:, 3])  # one mask for every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    again = Dropout(0.5, noise_shape=(None, 1, None), seed=3)(x, training=True)
    assert torch.equal(y, again)
    msg = "Dropout: `noise_shape` expected None, 1 or 5 on axis 1 (inputs of shape (4, 5, 6))"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Dropout(0.5, noise_shape=(4, 2, 6))(x, training=True)
    assert torch.equal(Dropout(0.5, seed=3)(x, training=False), x)


# 14. Embedding(weights=) --------------------------------------------------------------------------
def test_14_embedding_weights_argument():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    for weights in ([table], table):
        layer = Embedding(4, 3, weights=weights)
        torch.testing.assert_close(layer.embeddings.detach(), torch.as_tensor(table))
    assert "weights" not in Embedding(4, 3, weights=[table]).get_config()
    with pytest.warns(UserWarning, match="`input_length` is deprecated"):
        layer = Embedding(4, 3, weights=[table], input_length=10)  # a Keras 2 line
    assert "input_length" not in layer.get_config()
    with pytest.raises(ValueError, match=re.escape("is not compatible with provided weight")):
        Embedding(4, 3, weights=[np.ones((3, 3))])


# 15. a user's cell, masked, in the Python loop; zero_output_for_mask ------------------------------
def test_15_custom_cell_and_zero_output_for_mask():
    from rnnkit.layers import Layer

    class Sum(Layer):
        state_size = 1

        def call(self, inputs, states):
            h = states[0] + inputs.sum(-1, keepdim=True)
            return h, [h]

    x = torch.ones(1, 3, 2)
    mask = torch.tensor([[True, False, True]])
    layer = RNN(Sum(), return_sequences=True)
    torch.testing.assert_close(layer(x, mask=mask), torch.tensor([[[2.0], [2.0], [4.0]]]))
    zero = RNN(Sum(), return_sequences=True, zero_output_for_mask=True)
    torch.testing.assert_close(zero(x, mask=mask), torch.tensor([[[2.0], [0.0], [4.0]]]))
    lstm = LSTM(2, return_sequences=True, zero_output_for_mask=True)
    y = lstm(torch.randn(1, 3, 2), mask=mask)
    y = y.detach()
    assert float(y[0, 1].abs().sum()) == 0.0 and float(y[0, 2].abs().sum()) > 0


# 16. models: the padding shortcut and predict's row order respect a stateful layer --------------
def _stateful_pair(cls=LSTM):
    torch.manual_seed(2)
    a = Sequential([Embedding(20, 6), cls(5, stateful=True), Dense(1)])
    b = Sequential([Embedding(20, 6), cls(5), Dense(1)])
    a(torch.ones(4, 1, dtype=torch.long))
    b(torch.ones(4, 1, dtype=torch.long))
    b.set_weights(a.get_weights())
    a.layers[1].reset_state()
    return a, b


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_16_padding_in_front_of_a_later_batch_is_not_skipped(cls):
    a, b = _stateful_pair(cls)
    ids = torch.randint(1, 20, (4, 8))
    ids[:, 4:6] = 0  # padding at the front of the second window, in every row
    with torch.no_grad():
        a(ids[:, :4])
        torch.testing.assert_close(a(ids[:, 4:]), b(ids), rtol=1e-6, atol=1e-6)


def test_17_predict_keeps_row_order_for_a_stateful_model():
    a, _ = _stateful_pair()
    ids = torch.randint(1, 20, (8, 6))
    ids[0:4:2, :3] = 0  # rows of different lengths: predict would sort them
    got = a.predict(ids, batch_size=4, verbose=0)
    a.layers[1].reset_state()
    with torch.no_grad():
        want = torch.cat([a(ids[:4]), a(ids[4:])])
    torch.testing.assert_close(torch.as_tensor(got), want, rtol=1e-6, atol=1e-6)


def test_18_bidirectional_weights_argument():
    source = Bidirectional(GRU(2), input_shape=(None, 3))
    weights = source.get_weights()
    copy = Bidirectional(GRU(2), weights=weights)  # applied once built
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(copy(x), source(x))
    built = Bidirectional(GRU(2), weights=weights, input_shape=(None, 3))
    torch.testing.assert_close(built(x), source(x))
