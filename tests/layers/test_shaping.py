"""Activation, LeakyReLU, Flatten, Reshape, RepeatVector, Masking, GlobalAveragePooling1D,
GlobalMaxPooling1D: outputs against torch ops or hand computation, shapes, masks, summary,
save / load, bad arguments."""

import re

import pytest
import torch

from rnnkit.layers import (
    LSTM,
    Activation,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    LeakyReLU,
    Masking,
    RepeatVector,
    Reshape,
)
from rnnkit.layers import get as get_layer
from rnnkit.models import Sequential, load_model


def rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


# 1. Outputs against torch / hand computation -----------------------------------------------------
@pytest.mark.parametrize(
    "name, oracle",
    [
        ("relu", torch.relu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("softmax", lambda x: torch.softmax(x, dim=-1)),
        (None, lambda x: x),
    ],
)
def test_activation_matches_torch(name, oracle):
    x = rand(2, 3, 4)
    torch.testing.assert_close(Activation(name)(x), oracle(x), rtol=0, atol=0)


def test_leaky_relu_matches_torch_and_keras_default_slope():
    x = rand(3, 5)
    assert LeakyReLU().negative_slope == 0.3
    torch.testing.assert_close(LeakyReLU()(x), torch.where(x >= 0, x, 0.3 * x))
    torch.testing.assert_close(LeakyReLU(0.1)(x), torch.nn.functional.leaky_relu(x, 0.1))


def test_flatten_and_channels_first():
    x = rand(2, 3, 4, 5)
    torch.testing.assert_close(Flatten()(x), x.reshape(2, 60))
    torch.testing.assert_close(
        Flatten(data_format="channels_first")(x), x.permute(0, 2, 3, 1).reshape(2, 60)
    )
    assert Flatten()(torch.arange(3.0)).shape == (3, 1)


@pytest.mark.parametrize(
    "target, expected",
    [((8, 1), (3, 8, 1)), ((-1,), (3, 8)), ((2, -1), (3, 2, 4)), ((1, -1), (3, 1, 8))],
)
def test_reshape_shapes_and_values(target, expected):
    x = rand(3, 2, 4)
    y = Reshape(target)(x)
    assert tuple(y.shape) == expected
    torch.testing.assert_close(y, x.reshape(expected))
    assert Reshape(target).compute_output_shape((None, 2, 4)) == (None, *expected[1:])


def test_repeat_vector_copies_each_row():
    x = rand(2, 5)
    y = RepeatVector(3)(x)
    assert y.shape == (2, 3, 5)
    for t in range(3):
        torch.testing.assert_close(y[:, t], x)


def test_masking_zeroes_masked_steps_and_makes_the_mask():
    x = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]]])
    layer = Masking(0.0)
    assert layer.compute_mask(x, None).tolist() == [[False, True, False], [True, False, True]]
    x2 = x + 0.0
    x2[0, 0] = torch.tensor([5.0, 0.0])  # one feature differs: not masked
    y = Masking(5.0)(torch.full((1, 2, 2), 5.0))
    assert y.tolist() == [[[0.0, 0.0], [0.0, 0.0]]]  # masked steps are zeroed, as Keras
    assert Masking(0.0).compute_mask(x2, None)[0].tolist() == [True, True, False]


def test_global_pooling_against_torch_with_and_without_mask():
    x = rand(2, 4, 3)
    torch.testing.assert_close(GlobalAveragePooling1D()(x), x.mean(1))
    torch.testing.assert_close(GlobalMaxPooling1D()(x), x.amax(1))
    assert GlobalAveragePooling1D(keepdims=True)(x).shape == (2, 1, 3)
    mask = torch.tensor([[True, True, False, False], [True, False, True, True]])
    expected = torch.stack([x[0, :2].mean(0), x[1, [0, 2, 3]].mean(0)])
    torch.testing.assert_close(GlobalAveragePooling1D()(x, mask=mask), expected)
    # channels_first reads (N, D, T)
    torch.testing.assert_close(
        GlobalAveragePooling1D(data_format="channels_first")(x.transpose(1, 2)), x.mean(1)
    )


# 2. Masks through a model ------------------------------------------------------------------------
def test_masking_then_lstm_equals_lstm_given_the_mask():
    torch.manual_seed(0)
    x = rand(3, 5, 4)
    x[0, 3:] = 0.0  # trailing padding
    x[2, :2] = 0.0  # leading padding
    model = Sequential([Masking(0.0, input_shape=(5, 4)), LSTM(6)])
    lstm = model.layers[1]
    mask = torch.any(x != 0.0, dim=-1)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), lstm(x, mask=mask))
        unmasked = lstm(x)
    assert not torch.allclose(model(x).detach(), unmasked)  # the mask changed the result


def test_average_pooling_after_embedding_mask_zero_averages_real_steps():
    torch.manual_seed(0)
    ids = torch.tensor([[3, 1, 0, 0], [2, 4, 4, 0]])
    model = Sequential([Embedding(5, 3, mask_zero=True), GlobalAveragePooling1D()])
    E = model.layers[0].E.detach()
    expected = torch.stack([E[[3, 1]].mean(0), E[[2, 4, 4]].mean(0)])
    with torch.no_grad():
        torch.testing.assert_close(model(ids), expected)
    assert model.output_shape == (None, 3)


def test_activation_passes_the_mask_and_shape_layers_drop_it():
    x = rand(2, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    assert Activation("relu").compute_mask(x, mask) is mask
    assert LeakyReLU().compute_mask(x, mask) is mask
    for layer in (Flatten(), Reshape((12,)), GlobalAveragePooling1D(), GlobalMaxPooling1D()):
        assert layer.compute_mask(x, mask) is None


# 3. Summary and output shapes --------------------------------------------------------------------
def test_summary_lines():
    model = Sequential(
        [
            Input(shape=(6, 4)),
            Masking(name="masking"),
            LSTM(8, return_sequences=True, name="lstm"),
            LeakyReLU(name="leaky_re_lu"),
            GlobalMaxPooling1D(name="global_max_pooling1d"),
            RepeatVector(2, name="repeat_vector"),
            Flatten(name="flatten"),
            Reshape((4, -1), name="reshape"),
            Activation("tanh", name="activation"),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert cells == [
        ["masking (Masking)", "(None, 6, 4)", "0"],
        ["lstm (LSTM)", "(None, 6, 8)", "416"],
        ["leaky_re_lu (LeakyReLU)", "(None, 6, 8)", "0"],
        ["global_max_pooling1d (GlobalMaxPooling1D)", "(None, 8)", "0"],
        ["repeat_vector (RepeatVector)", "(None, 2, 8)", "0"],
        ["flatten (Flatten)", "(None, 16)", "0"],
        ["reshape (Reshape)", "(None, 4, 4)", "0"],
        ["activation (Activation)", "(None, 4, 4)", "0"],
    ]
    y = model(rand(2, 6, 4))
    assert y.shape == (2, 4, 4)


# 4. Save / load ----------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Sequential(
        [
            Masking(-1.0, input_shape=(5, 3)),
            LSTM(4, return_sequences=True),
            LeakyReLU(0.2),
            GlobalAveragePooling1D(),
            RepeatVector(2),
            Reshape((-1,)),
            Dense(6),
            Reshape((3, 2)),
            GlobalMaxPooling1D(),
            Activation("sigmoid"),
        ]
    )
    x = rand(4, 5, 3)
    x[1, 3:] = -1.0
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.layers[0].mask_value == -1.0
    assert loaded.layers[2].negative_slope == 0.2
    assert loaded.layers[5].target_shape == (-1,)
    torch.testing.assert_close(
        torch.as_tensor(loaded.predict(x)), torch.as_tensor(model.predict(x)), rtol=0, atol=0
    )


def test_registry_knows_the_new_layers():
    for name in ("Activation", "Flatten", "Reshape", "RepeatVector", "Masking", "LeakyReLU"):
        assert get_layer(name).__name__ == name
    assert get_layer("GlobalAveragePooling1D") is GlobalAveragePooling1D
    assert get_layer("GlobalMaxPooling1D") is GlobalMaxPooling1D


# 5. Bad arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Activation("gelu"), ValueError, "Activation: `activation` expected one of "),
        (lambda: Activation(3), TypeError, "Activation: `activation` expected an activation name"),
        (
            lambda: LeakyReLU(None),
            ValueError,
            "LeakyReLU: `negative_slope` expected a non-negative number, received None (NoneType).",
        ),
        (
            lambda: LeakyReLU(-0.1),
            ValueError,
            "LeakyReLU: `negative_slope` expected a non-negative number, received -0.1 (float).",
        ),
        (
            lambda: LeakyReLU("0.3"),
            TypeError,
            "LeakyReLU: `negative_slope` expected a non-negative number, received '0.3'.",
        ),
        (
            lambda: RepeatVector(0),
            ValueError,
            "RepeatVector: `n` expected a positive integer, received 0 (int).",
        ),
        (
            lambda: RepeatVector(3.5),
            TypeError,
            "RepeatVector: `n` expected a positive integer, received 3.5 (float).",
        ),
        (
            lambda: Reshape((-1, -1)),
            ValueError,
            "Reshape: `target_shape` expected a tuple of positive integers with at most one -1, "
            "received tuple.",
        ),
        (
            lambda: Reshape(8),
            TypeError,
            "Reshape: `target_shape` expected a tuple of positive integers with at most one -1, "
            "received 8 (int).",
        ),
        (
            lambda: Masking("0"),
            TypeError,
            "Masking: `mask_value` expected a number, received '0'.",
        ),
        (
            lambda: Flatten("nchw"),
            ValueError,
            "Flatten: `data_format` expected one of 'channels_last', 'channels_first', "
            "received 'nchw'.",
        ),
        (
            lambda: GlobalAveragePooling1D(keepdims=1),
            TypeError,
            "GlobalAveragePooling1D: `keepdims` expected True or False, received 1 (int).",
        ),
    ],
)
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_bad_inputs():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Reshape: `inputs` expected 9 elements per sample to reshape to (3, 3), received 8."
        ),
    ):
        Reshape((3, 3))(torch.zeros(2, 8))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Reshape: `inputs` expected a number of elements per sample divisible by 3 to "
            "reshape to (3, -1), received 8."
        ),
    ):
        Reshape((3, -1))(torch.zeros(2, 8))
    with pytest.raises(
        ValueError,
        match=re.escape("RepeatVector: `inputs` expected a tensor of rank 2 of shape (batch, "),
    ):
        RepeatVector(2)(torch.zeros(2, 3, 4))
    with pytest.raises(
        TypeError,
        match=re.escape("GlobalMaxPooling1D: `inputs` expected a floating-point tensor"),
    ):
        GlobalMaxPooling1D()(torch.zeros(2, 3, 4, dtype=torch.long))


# 6. Known gap outside this module ----------------------------------------------------------------
@pytest.mark.parametrize("layer", [GlobalMaxPooling1D, Flatten])
def test_padding_columns_are_not_cut_before_layers_that_ignore_the_mask(layer):
    from rnnkit.models.execution import run_layers

    torch.manual_seed(0)
    ids = torch.tensor([[3, 1, 0, 0], [2, 4, 4, 0]])  # the last column is padding in every row
    model = Sequential([Embedding(5, 3, mask_zero=True), layer()])
    with torch.no_grad():
        full = run_layers(model, ids)  # every column, as Keras computes it
        y = model(ids)
    assert y.shape == full.shape
    torch.testing.assert_close(y, full)
