"""Conv1D, MaxPooling1D, AveragePooling1D: against Keras 3's outputs (fixtures made by
scripts/make_keras_klayers_fixtures.py), torch.nn.Conv1d / max_pool1d / avg_pool1d and hand
computation; shapes, padding modes, masks, configs, saving, bad arguments."""

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnnkit import constraints, regularizers
from rnnkit.layers import (
    LSTM,
    AveragePooling1D,
    Conv1D,
    Dense,
    Embedding,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from rnnkit.layers import get as get_layer
from rnnkit.layers.conv import same_padding
from rnnkit.models import Sequential, load_model

FIXTURES = json.loads((Path(__file__).parents[1] / "keras_klayers_fixtures.json").read_text())


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 1. Keras's outputs ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", FIXTURES["conv1d"], ids=lambda c: str(c["kwargs"]))
def test_conv1d_equals_keras(case):
    layer = Conv1D(**case["kwargs"])
    x = t(case["x"])
    layer.build(tuple(x.shape))
    layer.set_weights([t(w) for w in case["weights"]])
    torch.testing.assert_close(layer(x), t(case["y"]), atol=1e-5, rtol=1e-5)
    assert [tuple(w.shape) for w in layer.get_weights()] == [
        tuple(t(w).shape) for w in case["weights"]
    ]


@pytest.mark.parametrize("case", FIXTURES["pooling1d"], ids=lambda c: f"{c['class']}-{c['kwargs']}")
def test_pooling1d_equals_keras(case):
    layer = get_layer(case["class"])(**case["kwargs"])
    x = t(case["x"])
    kw = case["kwargs"]
    front, back = same_padding(7, kw["pool_size"], kw["strides"] or kw["pool_size"])
    uneven = kw["padding"] == "same" and front != back
    if case["class"] == "AveragePooling1D" and uneven and kw["pool_size"] > 2:
        # Keras 3's torch backend repeats the edge steps into uneven padding and counts them;
        # rnnkit averages the real steps only (Keras's definition, TensorFlow's numbers):
        # see test_average_pooling_same_counts_real_steps_only.
        assert not torch.allclose(layer(x), t(case["y"]), atol=1e-5)
        return
    torch.testing.assert_close(layer(x), t(case["y"]), atol=1e-6, rtol=1e-6)


# 2. torch.nn.Conv1d and hand computation ---------------------------------------------------------
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("strides, dilation", [(1, 1), (2, 1), (1, 3)])
def test_conv1d_valid_equals_torch_conv1d(groups, strides, dilation):
    layer = Conv1D(6, 3, strides=strides, dilation_rate=dilation, groups=groups)
    x = rand(3, 12, 4)
    y = layer(x)
    conv = nn.Conv1d(4, 6, 3, stride=strides, dilation=dilation, groups=groups)
    with torch.no_grad():
        conv.weight.copy_(layer.W.permute(2, 1, 0))  # Keras (K, C/g, F) -> torch (F, C/g, K)
        conv.bias.copy_(layer.b)
    torch.testing.assert_close(y, conv(x.transpose(1, 2)).transpose(1, 2))


@pytest.mark.parametrize("kernel_size, dilation", [(3, 1), (5, 1), (3, 2)])
def test_conv1d_same_equals_torch_same_padding(kernel_size, dilation):
    layer = Conv1D(2, kernel_size, padding="same", dilation_rate=dilation, use_bias=False)
    x = rand(2, 9, 3)
    layer.build((None, 9, 3))
    weight = layer.W.detach().permute(2, 1, 0)
    expected = F.conv1d(x.transpose(1, 2), weight, padding="same", dilation=dilation)
    torch.testing.assert_close(layer(x), expected.transpose(1, 2))


def test_conv1d_causal_by_hand_and_sees_no_future():
    layer = Conv1D(1, 2, padding="causal", dilation_rate=2, kernel_initializer="ones")
    x = torch.arange(1.0, 6.0).reshape(1, 5, 1)
    # y_t = x_{t-2} + x_t with zeros before the start
    assert layer(x).flatten().tolist() == [1.0, 2.0, 4.0, 6.0, 8.0]
    x = rand(1, 8, 3).requires_grad_()
    Conv1D(4, 3, padding="causal")(x)[0, 4].sum().backward()
    assert x.grad[0, 5:].abs().sum() == 0 and x.grad[0, :5].abs().sum() > 0


def test_conv1d_activation_and_no_bias():
    layer = Conv1D(3, 2, activation="relu", use_bias=False, input_shape=(None, 4))
    x = rand(2, 5, 4)
    assert layer.b is None and len(layer.get_weights()) == 1
    expected = torch.relu(F.conv1d(x.transpose(1, 2), layer.W.permute(2, 1, 0))).transpose(1, 2)
    torch.testing.assert_close(layer(x), expected)


def test_conv1d_channels_first_equals_channels_last_transposed():
    x = rand(2, 7, 4)
    last = Conv1D(3, 2, padding="same")
    first = Conv1D(3, 2, padding="same", data_format="channels_first")
    first.build((None, 4, 7))
    last(x)  # build
    first.set_weights(last.get_weights())
    torch.testing.assert_close(first(x.transpose(1, 2)), last(x).transpose(1, 2))


def test_max_pooling_same_padding_never_wins():
    x = -torch.arange(1.0, 6.0).reshape(1, 5, 1)  # all negative: zero padding would win
    y = MaxPooling1D(pool_size=3, strides=1, padding="same")(x).flatten()
    assert y.tolist() == [-1.0, -1.0, -2.0, -3.0, -4.0]


def test_average_pooling_same_counts_real_steps_only():
    x = torch.tensor([[[1.0], [2.0], [4.0], [8.0], [16.0]]])
    # pool 4, stride 1, same: padding 3 = 1 in front, 2 behind
    y = AveragePooling1D(pool_size=4, strides=1, padding="same")(x).flatten()
    expected = [(1 + 2 + 4) / 3, (1 + 2 + 4 + 8) / 4, (2 + 4 + 8 + 16) / 4, 28 / 3, 24 / 2]
    torch.testing.assert_close(y, torch.tensor(expected))


@pytest.mark.parametrize("pool, strides", [(2, None), (3, 1), (3, 2)])
def test_pooling_valid_equals_torch(pool, strides):
    x = rand(2, 9, 3)
    s = strides or pool
    expected_max = F.max_pool1d(x.transpose(1, 2), pool, s).transpose(1, 2)
    expected_avg = F.avg_pool1d(x.transpose(1, 2), pool, s).transpose(1, 2)
    torch.testing.assert_close(MaxPooling1D(pool, strides)(x), expected_max)
    torch.testing.assert_close(AveragePooling1D(pool, strides)(x), expected_avg)


# 3. shapes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, T, T_out",
    [
        ({"kernel_size": 3}, 10, 8),
        ({"kernel_size": 3, "strides": 2}, 10, 4),
        ({"kernel_size": 3, "padding": "same", "strides": 3}, 10, 4),
        ({"kernel_size": 3, "padding": "causal", "dilation_rate": 4}, 10, 10),
        ({"kernel_size": 2, "dilation_rate": 3}, 10, 7),
    ],
)
def test_conv1d_output_shape(kwargs, T, T_out):
    layer = Conv1D(5, **kwargs)
    assert tuple(layer(rand(2, T, 3)).shape) == (2, T_out, 5)
    assert layer.compute_output_shape((None, T, 3)) == (None, T_out, 5)
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 5)


def test_sequential_summary_shapes_and_params():
    model = Sequential(
        [
            Conv1D(8, 3, padding="same", input_shape=(20, 4)),
            MaxPooling1D(2),
            Conv1D(4, 3, groups=2),
            AveragePooling1D(2, padding="same"),
            GlobalMaxPooling1D(),
            Dense(1),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 20, 8)" in text and "(None, 10, 8)" in text and "(None, 4, 4)" in text
    assert model.count_params() == (3 * 4 * 8 + 8) + (3 * 4 * 4 + 4) + (4 + 1)


# 4. masks: dropped with Keras's warning ---------------------------------------------------------
def test_conv1d_drops_the_mask_with_keras_warning():
    ids = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0]])
    torch.manual_seed(1)
    model = Sequential([Embedding(10, 3, mask_zero=True), Conv1D(4, 2, padding="same"), LSTM(2)])
    model.eval()
    message = "was passed an input with a mask attached to it. However, this layer does not"
    with pytest.warns(UserWarning, match=re.escape(message)):
        y = model(ids)
    # the LSTM saw no mask: the same as running the layers without one
    unmasked = model.layers[2](model.layers[1](model.layers[0](ids)))
    torch.testing.assert_close(y, unmasked)
    assert not Conv1D.supports_masking and not MaxPooling1D.supports_masking
    assert MaxPooling1D().compute_mask(None, None) is None


# 5. options, config, saving -----------------------------------------------------------------------
def test_conv1d_regularizers_and_constraint():
    layer = Conv1D(
        2,
        3,
        kernel_regularizer="l2",
        bias_regularizer=regularizers.L1(0.5),
        activity_regularizer="l1",
        kernel_constraint=constraints.NonNeg(),
        bias_initializer="ones",
    )
    x = rand(4, 6, 3)
    y = layer(x)
    W, b = layer.W.detach(), layer.b.detach()
    expected = [0.01 * y.abs().sum() / 4, 0.01 * W.square().sum(), 0.5 * b.abs().sum()]
    torch.testing.assert_close(torch.stack(layer.losses), torch.stack(expected))
    layer.apply_constraints()
    assert float(layer.W.detach().min()) >= 0 and torch.equal(layer.W.detach(), W.clamp(min=0))


def test_config_round_trip_and_save_load(tmp_path):
    model = Sequential(
        [
            Conv1D(
                4,
                (3,),
                strides=1,
                padding="causal",
                dilation_rate=2,
                kernel_regularizer="l1",
                kernel_constraint=constraints.MaxNorm(1.0, axis=[0, 1]),
                input_shape=(None, 3),
            ),
            MaxPooling1D(pool_size=(2,), strides=1, padding="same"),
            AveragePooling1D(3, padding="same"),
            Dense(1),
        ]
    )
    config = model.layers[0].get_config()
    assert config["kernel_size"] == [3] and config["dilation_rate"] == [2]
    assert config["kernel_regularizer"] == {"class_name": "L1", "config": {"l1": 0.01}}
    again = Conv1D.from_config(config)
    assert again.get_config() == config
    x = rand(2, 9, 3)
    model.eval()
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.layers[0].kernel_constraint == constraints.MaxNorm(1.0, axis=[0, 1])


# 6. bad arguments and inputs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (
            {"filters": 0, "kernel_size": 1},
            ValueError,
            "Conv1D: `filters` expected a positive integer, received 0 (int).",
        ),
        (
            {"filters": 2, "kernel_size": (1, 2)},
            TypeError,
            "Conv1D: `kernel_size` expected a positive integer or a tuple of one, received tuple.",
        ),
        (
            {"filters": 2, "kernel_size": 2, "strides": 0},
            ValueError,
            "Conv1D: `strides` expected a positive integer or a tuple of one, received 0 (int).",
        ),
        (
            {"filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": 2},
            ValueError,
            "Conv1D: `strides` expected 1 when dilation_rate > 1 (as Keras), received 2 (int).",
        ),
        (
            {"filters": 5, "kernel_size": 2, "groups": 2},
            ValueError,
            "Conv1D: `filters` expected a multiple of groups (2), received 5 (int).",
        ),
        (
            {"filters": 2, "kernel_size": 2, "padding": "full"},
            ValueError,
            "Conv1D: `padding` expected one of 'valid', 'same', 'causal', received 'full'.",
        ),
        (
            {"filters": 2, "kernel_size": 2, "kernel_regularizer": "l3"},
            ValueError,
            "Conv1D: `kernel_regularizer` expected a regularizer name (see "
            "rnnkit.regularizers.NAMES), received 'l3'.",
        ),
    ],
)
def test_conv1d_bad_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        Conv1D(**kwargs)


def test_pooling_bad_arguments():
    with pytest.raises(ValueError, match=re.escape("`padding` expected one of 'valid', 'same'")):
        MaxPooling1D(padding="causal")
    with pytest.raises(TypeError, match=re.escape("AveragePooling1D: `pool_size` expected")):
        AveragePooling1D(pool_size=2.0)


def test_conv1d_bad_inputs():
    layer = Conv1D(4, 3, groups=2)
    with pytest.raises(ValueError, match=re.escape("divisible by groups (2), received input")):
        layer(rand(2, 5, 3))
    layer = Conv1D(4, 3)
    layer(rand(2, 5, 3))
    with pytest.raises(ValueError, match=re.escape("Conv1D: `inputs` expected 3 channels")):
        layer(rand(2, 5, 4))
    with pytest.raises(ValueError, match=re.escape("Conv1D: `inputs` expected at least 3 steps")):
        layer(rand(2, 2, 3))
    with pytest.raises(ValueError, match=re.escape("`inputs` expected at least 11 steps")):
        Conv1D(1, 2, dilation_rate=10).compute_output_shape((None, 10, 3))
    with pytest.raises(TypeError, match=re.escape("`inputs` expected a floating-point tensor")):
        layer(torch.zeros(2, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=re.escape("MaxPooling1D: `inputs` expected at least 4")):
        MaxPooling1D(4)(rand(1, 3, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_equals_cpu():
    x = rand(2, 9, 4)
    for layer in (
        Conv1D(
            4, 3, padding="same", groups=2, kernel_regularizer="l2", kernel_constraint="max_norm"
        ),
        MaxPooling1D(3, 1, padding="same"),
        AveragePooling1D(4, 1, padding="same"),
    ):
        y_cpu = layer(x)
        penalties = [float(p.detach()) for p in getattr(layer, "losses", [])]
        layer.cuda()
        torch.testing.assert_close(layer(x.cuda()).cpu(), y_cpu, atol=1e-5, rtol=1e-5)
        assert [float(p.detach()) for p in getattr(layer, "losses", [])] == pytest.approx(penalties)
        if isinstance(layer, Conv1D):
            layer.apply_constraints()
            assert layer.W.device.type == "cuda"
