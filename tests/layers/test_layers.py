"""Layer behaviour: parameter counts and initialisation as Keras, options, masks, errors."""

import pytest
import torch

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN


@pytest.mark.parametrize(
    "layer, D, expected",
    [
        (LSTM(128), 128, 131_584),  # the seed's LSTM: 4 * (128*128 + 128*128 + 128)
        (SimpleRNN(32), 8, 8 * 32 + 32 * 32 + 32),
        (GRU(64), 32, 3 * (32 * 64 + 64 * 64 + 2 * 64)),  # reset_after: two biases
        (GRU(64, reset_after=False), 32, 3 * (32 * 64 + 64 * 64 + 64)),
        (LSTM(16, use_bias=False), 4, 4 * (4 * 16 + 16 * 16)),
        (Bidirectional(LSTM(64)), 32, 2 * 4 * (32 * 64 + 64 * 64 + 64)),
    ],
)
def test_parameter_counts_match_keras(layer, D, expected):
    layer.build((None, None, D))
    assert layer.count_params() == expected


def test_dense_and_embedding_counts():
    assert Embedding(input_dim=10000, output_dim=128).count_params() == 1_280_000
    assert Dense(units=1, activation="sigmoid", input_shape=(128,)).count_params() == 129


def test_lstm_initialisation_as_keras():
    layer = LSTM(32, input_shape=(None, 16))
    H = 32
    b = layer.b.detach()
    assert torch.equal(b[H : 2 * H], torch.ones(H))  # forget gate bias 1
    assert torch.equal(b[:H], torch.zeros(H)) and torch.equal(b[2 * H :], torch.zeros(2 * H))
    W_h = layer.W_h.detach()  # (H, 4H), orthogonal rows
    torch.testing.assert_close(W_h @ W_h.t(), torch.eye(H), atol=1e-5, rtol=0)
    limit = (6 / (16 + 4 * H)) ** 0.5  # glorot uniform
    assert layer.W_x.abs().max() <= limit and layer.W_x.abs().max() > 0.9 * limit
    assert LSTM(8, unit_forget_bias=False, input_shape=(None, 3)).b.abs().sum() == 0


def test_names_are_unique_and_keras_like():
    names = [LSTM(4).name, LSTM(4).name, SimpleRNN(4).name, GRU(4).name, Dense(1).name]
    assert names == ["lstm", "lstm_1", "simple_rnn", "gru", "dense"]


def test_lazy_build_infers_input_size():
    layer = GRU(5)
    assert not layer.built and layer.count_params() == 0
    y = layer(torch.randn(2, 3, 7))
    assert layer.built and layer.W_x.shape == (7, 15) and y.shape == (2, 5)


def test_return_state_shapes():
    x = torch.randn(2, 3, 4)
    out, h, c = LSTM(5, return_state=True)(x)
    assert out.shape == (2, 5) and torch.equal(out, h) and c.shape == (2, 5)
    seq, h = GRU(5, return_sequences=True, return_state=True)(x)
    assert seq.shape == (2, 3, 5) and torch.equal(seq[:, -1], h)


@pytest.mark.parametrize(
    "merge_mode, features", [("concat", 10), ("sum", 5), ("mul", 5), ("ave", 5)]
)
def test_bidirectional_merge_modes(merge_mode, features):
    layer = Bidirectional(LSTM(5, return_sequences=True), merge_mode=merge_mode)
    x = torch.randn(2, 3, 4)
    y = layer(x)
    assert y.shape == (2, 3, features)
    f = layer.forward_layer(x)
    b = layer.backward_layer(x).flip(1)
    expected = {"concat": torch.cat([f, b], -1), "sum": f + b, "mul": f * b, "ave": (f + b) / 2}[
        merge_mode
    ]
    torch.testing.assert_close(y, expected)


def test_bidirectional_none_merge_returns_both():
    f, b = Bidirectional(GRU(3), merge_mode=None)(torch.randn(2, 4, 3))
    assert f.shape == b.shape == (2, 3)


def test_embedding_mask_zero_masks_padding():
    emb = Embedding(10, 4, mask_zero=True)
    ids = torch.tensor([[3, 4, 0, 0], [5, 0, 0, 0]])
    assert torch.equal(emb.compute_mask(ids), ids != 0)
    lstm = LSTM(6)
    with_padding = lstm(emb(ids), mask=emb.compute_mask(ids))
    without = torch.stack([lstm(emb(ids[:1, :2]))[0], lstm(emb(ids[1:, :1]))[0]])
    torch.testing.assert_close(with_padding, without)


def test_dropout_only_in_training_and_one_mask_across_time():
    layer = LSTM(8, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = torch.randn(3, 5, 4)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))
    drop = Dropout(0.5, noise_shape=(None, 1, None))
    drop.train()
    y = drop(torch.ones(2, 6, 3))
    assert torch.equal(y, y[:, :1].expand_as(y))  # same features dropped at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    drop.eval()
    assert torch.equal(drop(torch.ones(2, 3)), torch.ones(2, 3))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: LSTM(0),
            ValueError,
            "LSTM: `units` expected a positive integer, received 0 (int).",
        ),
        (
            lambda: GRU(2.5),
            TypeError,
            "GRU: `units` expected a positive integer, received 2.5 (float).",
        ),
        (
            lambda: LSTM(4, dropout=1.0),
            ValueError,
            "LSTM: `dropout` expected a number in [0, 1), received 1.0 (float).",
        ),
        (
            lambda: SimpleRNN(4, recurrent_dropout=-0.1),
            ValueError,
            "SimpleRNN: `recurrent_dropout` expected a number in [0, 1), received -0.1 (float).",
        ),
        (
            lambda: SimpleRNN(4, activation="swish"),
            ValueError,
            "SimpleRNN: `activation` expected one of 'tanh', 'relu', 'sigmoid', received 'swish'.",
        ),
        (
            lambda: Dense(3, activation="gelu"),
            ValueError,
            "Dense: `activation` expected one of 'tanh', 'relu', 'sigmoid', 'linear', 'softmax', "
            "received 'gelu'.",
        ),
        (
            lambda: LSTM(4, impl="cuda"),
            ValueError,
            "LSTM: `impl` expected one of 'auto', 'native', 'kernel', 'reference', received 'cuda'.",
        ),
        (
            lambda: Embedding(0, 4),
            ValueError,
            "Embedding: `input_dim` expected a positive integer, received 0 (int).",
        ),
        (
            lambda: Dropout(1.5),
            ValueError,
            "Dropout: `rate` expected a number in [0, 1), received 1.5 (float).",
        ),
        (
            lambda: Bidirectional(Dense(3)),
            TypeError,
            "Bidirectional: `layer` expected a recurrent layer (SimpleRNN, LSTM, GRU or RNN(cell)), received Dense.",
        ),
        (
            lambda: Bidirectional(LSTM(3), merge_mode="max"),
            ValueError,
            "Bidirectional: `merge_mode` expected one of 'concat', 'sum', 'mul', 'ave', None, "
            "received 'max'.",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


def test_bad_inputs_raise_clear_errors():
    emb = Embedding(10, 4)
    with pytest.raises(
        TypeError,
        match=r"^Embedding: `inputs` expected integer token ids "
        r"\(torch.long or torch.int\), received Tensor of shape \(1, 2\) and "
        r"dtype torch.float32.$",
    ):
        emb(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError) as info:
        emb(torch.tensor([[1, 10]]))
    assert str(info.value) == (
        "Embedding: `inputs` expected token ids in [0, 10) (input_dim=10), received id 10."
    )
    lstm = LSTM(3)
    with pytest.raises(ValueError) as info:
        lstm(torch.randn(2, 5))
    assert str(info.value) == (
        "LSTM: `inputs` expected a tensor of rank 3 of shape (batch, time, "
        "features), received Tensor of shape (2, 5) and dtype "
        "torch.float32."
    )
    with pytest.raises(TypeError, match="use an Embedding for token ids"):
        lstm(torch.ones(2, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError) as info:
        lstm(torch.randn(2, 5, 3), lengths=torch.tensor([3, -1]))
    assert str(info.value) == (
        "LSTM: `lengths` expected values in [0, 5] (the number of time steps), received -1."
    )
    lstm(torch.randn(2, 5, 3))
    with pytest.raises(
        ValueError,
        match=r"LSTM: `inputs` expected 3 features on the last axis, "
        r"received shape \(2, 5, 4\).",
    ):
        lstm(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"LSTM: `initial_state` expected a list of 2 tensor\(s\)"):
        lstm(torch.randn(2, 5, 3), initial_state=[torch.zeros(2, 3)])


def test_native_refuses_what_it_cannot_compute():
    layer = SimpleRNN(3, activation="sigmoid", impl="native")
    with pytest.raises(ValueError) as info:
        layer(torch.randn(2, 4, 3))
    assert str(info.value) == (
        "SimpleRNN: `impl` 'native' cannot run this layer: PyTorch's fused operator has no "
        "'sigmoid' activation (only 'tanh', 'relu'). Use impl='auto' (or 'kernel') to let "
        "rnnkit's own kernel run it."
    )
    masked = LSTM(3, impl="native")
    with pytest.raises(ValueError, match="takes no mask"):
        masked(torch.randn(2, 4, 3), lengths=torch.tensor([4, 2]))


def test_impls_agree_with_recurrent_dropout_and_mask():
    """Same seed, same dropout masks: the reference loop and auto path compute the same thing."""
    x = torch.randn(3, 6, 4)
    lengths = torch.tensor([6, 2, 4])
    outs = []
    for impl in ("reference", "auto"):
        torch.manual_seed(1)
        layer = GRU(5, recurrent_dropout=0.3, dropout=0.2, return_sequences=True, impl=impl)
        layer.train()
        outs.append(layer(x, lengths=lengths))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
