"""kernel_initializer / recurrent_initializer / bias_initializer / embeddings_initializer on the
layers: exact tensors, Keras's shapes for each weight, defaults unchanged, configs and saving."""

import re

import pytest
import torch
from torch import nn

from rnnkit import initializers as I
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model


# 1. Exact tensors -----------------------------------------------------------------------------
def test_lstm_ones_kernel_zero_bias_with_unit_forget_bias():
    layer = LSTM(4, kernel_initializer="ones", bias_initializer="zeros", unit_forget_bias=True)
    layer.build((None, None, 3))
    assert torch.equal(layer.W_x.detach(), torch.ones(3, 16))
    expected_b = torch.cat([torch.zeros(4), torch.ones(4), torch.zeros(8)])
    assert torch.equal(layer.b.detach(), expected_b)


def test_lstm_unit_forget_bias_over_another_bias_initializer():
    # as Keras: the forget slice is 1 whatever the bias initializer fills elsewhere
    layer = LSTM(2, bias_initializer=I.Constant(0.5), input_shape=(None, 3))
    assert torch.equal(layer.b.detach(), torch.tensor([0.5, 0.5, 1, 1, 0.5, 0.5, 0.5, 0.5]))
    layer = LSTM(2, bias_initializer="ones", unit_forget_bias=False, input_shape=(None, 3))
    assert torch.equal(layer.b.detach(), torch.ones(8))


def test_each_initializer_fills_its_weight():
    layer = SimpleRNN(
        3,
        kernel_initializer=I.Constant(2.0),
        recurrent_initializer="identity",
        bias_initializer=I.Constant(-1.0),
        input_shape=(None, 5),
    )
    assert torch.equal(layer.W_x.detach(), torch.full((5, 3), 2.0))
    assert torch.equal(layer.W_h.detach(), torch.eye(3))
    assert torch.equal(layer.b.detach(), torch.full((3,), -1.0))


def test_recurrent_kernel_is_one_orthogonal_matrix_as_keras():
    W_h = LSTM(8, recurrent_initializer=I.Orthogonal(seed=0), input_shape=(None, 2)).W_h
    assert torch.equal(W_h.detach(), I.Orthogonal(seed=0)((8, 32)))  # (H, 4H), not 4 blocks


def test_kernel_seeded_initializer_gives_keras_shape_draw():
    layer = GRU(5, kernel_initializer=I.GlorotUniform(seed=3), input_shape=(None, 4))
    assert torch.equal(layer.W_x.detach(), I.GlorotUniform(seed=3)((4, 15)))  # (D, 3H)


def test_gru_biases_filled_as_one_keras_bias_of_shape_2_by_3h():
    init = I.RandomNormal(seed=4)
    layer = GRU(2, bias_initializer=init, input_shape=(None, 3))
    both = init((2, 6))
    assert torch.equal(layer.b_x.detach(), both[0]) and torch.equal(layer.b_h.detach(), both[1])
    layer = GRU(2, reset_after=False, bias_initializer=init, input_shape=(None, 3))
    assert torch.equal(layer.b_x.detach(), init((6,))) and layer.b_h is None


def test_dense_and_embedding_initializers():
    dense = Dense(3, kernel_initializer="zeros", bias_initializer="ones", input_shape=(4,))
    assert torch.equal(dense.W.detach(), torch.zeros(4, 3))
    assert torch.equal(dense.b.detach(), torch.ones(3))
    emb = Embedding(10, 4, embeddings_initializer=I.RandomNormal(stddev=1.0, seed=2))
    assert torch.equal(emb.E.detach(), I.RandomNormal(stddev=1.0, seed=2)((10, 4)))


def test_a_plain_callable_is_called_as_keras_calls_it():
    seen = []

    def init(shape, dtype=None):
        seen.append((shape, dtype))
        return torch.arange(shape[0] * shape[1], dtype=torch.float64).reshape(shape)

    dense = Dense(2, kernel_initializer=init, input_shape=(3,))
    assert seen == [((3, 2), torch.get_default_dtype())]
    assert torch.equal(dense.W.detach(), torch.arange(6.0).reshape(3, 2))


# 2. Defaults: the same numbers as before ------------------------------------------------------
def test_default_initialisation_draws_the_same_numbers_as_torch_nn_init():
    torch.manual_seed(0)
    layer = LSTM(6, input_shape=(None, 4))
    dense = Dense(2, input_shape=(6,))
    emb = Embedding(7, 4)
    torch.manual_seed(0)  # what the layers drew before initializers existed
    W_x = nn.init.xavier_uniform_(torch.empty(4, 24))
    W_h = nn.init.orthogonal_(torch.empty(6, 24))
    W = nn.init.xavier_uniform_(torch.empty(6, 2))
    E = nn.init.uniform_(torch.empty(7, 4), -0.05, 0.05)
    assert torch.equal(layer.W_x.detach(), W_x) and torch.equal(layer.W_h.detach(), W_h)
    assert torch.equal(dense.W.detach(), W) and torch.equal(emb.E.detach(), E)
    H = 6
    assert torch.equal(
        layer.b.detach(), torch.cat([torch.zeros(H), torch.ones(H), torch.zeros(2 * H)])
    )


def test_defaults_are_keras_defaults():
    layer = GRU(2)
    assert layer.kernel_initializer == "glorot_uniform"
    assert layer.recurrent_initializer == "orthogonal"
    assert layer.bias_initializer == "zeros"
    assert Embedding(3, 2).embeddings_initializer == I.RandomUniform(-0.05, 0.05)
    assert repr(GRU(2)) == "GRU(units=2)"  # defaults stay out of the repr
    shown = repr(Dense(2, activation="relu", kernel_initializer="ones"))
    assert shown == "Dense(units=2, activation='relu', kernel_initializer=Ones())"


# 3. Configs, cloning, saving ------------------------------------------------------------------
def test_get_config_holds_serialised_initializers_and_round_trips():
    layer = LSTM(
        3, kernel_initializer=I.HeNormal(seed=1), recurrent_initializer="identity", name="l"
    )
    config = layer.get_config()
    assert config["kernel_initializer"] == {"class_name": "HeNormal", "config": {"seed": 1}}
    assert config["recurrent_initializer"] == {"class_name": "Identity", "config": {"gain": 1.0}}
    assert config["bias_initializer"] == {"class_name": "Zeros", "config": {}}
    clone = LSTM.from_config(config)
    assert clone.get_config() == config
    clone.build((None, None, 2))
    layer.build((None, None, 2))
    assert torch.equal(clone.W_x, layer.W_x) and torch.equal(clone.W_h, torch.eye(3, 12))


def test_bidirectional_copies_the_initializers():
    bi = Bidirectional(SimpleRNN(2, kernel_initializer="ones"), input_shape=(None, 3))
    assert torch.equal(bi.backward_layer.W_x.detach(), torch.ones(3, 2))


def test_save_and_load_keep_the_initializers(tmp_path):
    model = Sequential(
        [
            Embedding(20, 4, embeddings_initializer="he_uniform", input_shape=(None,)),
            GRU(3, kernel_initializer=I.LecunNormal(seed=2)),
            Dense(1, bias_initializer=I.Constant(0.25)),
        ]
    )
    model.build((None, 5))
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    for a, b in zip(model.layers, loaded.layers, strict=True):
        assert a.get_config() == b.get_config()
    assert loaded.layers[1].kernel_initializer == I.LecunNormal(seed=2)


def test_config_without_initializers_loads_with_the_defaults():
    # configs written before the initializer arguments existed
    layer = Dense.from_config({"units": 2, "activation": "linear", "use_bias": True, "name": "d"})
    assert layer.kernel_initializer == "glorot_uniform" and layer.bias_initializer == "zeros"


# 4. Errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: LSTM(2, kernel_initializer="glorot"),
            "LSTM: `kernel_initializer` expected an initializer name (see "
            "rnnkit.initializers.NAMES), received 'glorot'.",
        ),
        (
            lambda: Dense(2, bias_initializer=None),
            "Dense: `bias_initializer` expected an initializer name, config dict, Initializer "
            "or callable, received None (NoneType).",
        ),
        (
            lambda: Embedding(3, 2, embeddings_initializer=5),
            "Embedding: `embeddings_initializer` expected an initializer name, config dict, "
            "Initializer or callable, received 5 (int).",
        ),
        (
            lambda: Dense(
                2, kernel_initializer=lambda shape, dtype=None: torch.zeros(2), input_shape=(3,)
            ),
            "Dense: `kernel_initializer` expected an initializer returning a tensor of shape "
            "(3, 2), received Tensor of shape (2,) and dtype torch.float32.",
        ),
    ],
)
def test_errors(make, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        make()


def test_identity_on_a_rectangular_recurrent_kernel_is_allowed_as_keras():
    layer = GRU(2, recurrent_initializer="identity", input_shape=(None, 3))
    assert torch.equal(layer.W_h.detach(), torch.eye(2, 6))
