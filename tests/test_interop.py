"""rnnkit.interop: nn.LSTM / nn.GRU / nn.RNN weights to rnnkit and back, outputs equal to
PyTorch's for every cell, depth, direction, bias and batch layout tested."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from rnnkit import interop
from rnnkit.layers import GRU, LSTM, Bidirectional, Dropout, SimpleRNN
from rnnkit.models import Sequential

CASES = list(
    itertools.product(
        ["lstm", "gru", "rnn-tanh", "rnn-relu"],
        [1, 2],  # num_layers
        [False, True],  # bidirectional
        [True, False],  # bias
    )
)


def torch_module(kind, num_layers, bidirectional, bias, batch_first=True, dropout=0.0):
    torch.manual_seed(0)
    kwargs = dict(
        input_size=5,
        hidden_size=7,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dropout=dropout,
    )
    if kind == "lstm":
        module = nn.LSTM(**kwargs)
    elif kind == "gru":
        module = nn.GRU(**kwargs)
    else:
        module = nn.RNN(nonlinearity=kind.split("-")[1], **kwargs)
    with torch.no_grad():  # biases of both kinds non-zero, so that their sum is tested
        for p in module.parameters():
            p.uniform_(-0.5, 0.5)
    return module.eval()


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "bias"), CASES)
def test_1_from_torch_same_output(kind, num_layers, bidirectional, bias):
    module = torch_module(kind, num_layers, bidirectional, bias)
    model = interop.from_torch(module).eval()
    x = torch.randn(3, 6, 5)
    expected, _ = module(x)
    with torch.no_grad():
        got = model(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected.detach(), atol=2e-6, rtol=0)


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "bias"), CASES)
def test_2_to_torch_round_trip(kind, num_layers, bidirectional, bias):
    module = torch_module(kind, num_layers, bidirectional, bias)
    back = interop.to_torch(interop.from_torch(module)).eval()
    assert type(back) is type(module) and back.batch_first
    for name, p in module.named_parameters():
        q = getattr(back, name)
        if name.startswith("bias_hh") and kind != "gru":  # the bias sum moves to bias_ih
            continue
        if name.startswith("bias_ih") and kind != "gru":
            p = p + getattr(module, name.replace("_ih", "_hh"))
        torch.testing.assert_close(q, p.detach(), atol=1e-7, rtol=0)
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(back(x)[0], module(x)[0], atol=2e-6, rtol=0)


def test_3_rnnkit_layers_to_torch():
    torch.manual_seed(1)
    layer = GRU(4, return_sequences=True)
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        ours = layer(x)
        theirs, _ = interop.to_torch(layer)(x)
    torch.testing.assert_close(theirs, ours, atol=2e-6, rtol=0)
    stack = Sequential(
        [
            Bidirectional(LSTM(4, return_sequences=True)),
            Dropout(0.25),
            Bidirectional(LSTM(4, return_sequences=True)),
        ]
    )
    stack(x)  # built from the first call
    module = interop.to_torch(stack)
    assert module.num_layers == 2 and module.bidirectional and module.dropout == 0.25
    stack.eval()
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x)[0], stack(x), atol=2e-6, rtol=0)


def test_4_time_major_modules_convert_with_transposed_inputs():
    module = torch_module("lstm", 1, False, True, batch_first=False)
    x = torch.randn(6, 3, 5)  # (T, N, D)
    expected, _ = module(x)
    with torch.no_grad():
        got = interop.from_torch(module).eval()(x.transpose(0, 1))
    torch.testing.assert_close(got.transpose(0, 1), expected.detach(), atol=2e-6, rtol=0)


def test_5_dropout_between_layers_kept():
    model = interop.from_torch(torch_module("gru", 3, False, True, dropout=0.3))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["GRU", "Dropout", "GRU", "Dropout", "GRU"]
    assert model.layers[1].rate == 0.3


def test_6_what_cannot_convert_is_named():
    with pytest.raises(
        TypeError, match=r"from_torch: `module` expected a torch.nn.LSTM, GRU or RNN"
    ):
        interop.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="expected an LSTM without proj_size, received 3"):
        interop.from_torch(nn.LSTM(4, 5, proj_size=3))
    old_gru = GRU(3, reset_after=False, return_sequences=True)
    old_gru.build((None, None, 2))
    with pytest.raises(ValueError, match="expected a GRU with reset_after=True"):
        interop.to_torch(old_gru)
    sig = SimpleRNN(3, activation="sigmoid")
    sig.build((None, None, 2))
    with pytest.raises(ValueError, match="expected a SimpleRNN with tanh or relu"):
        interop.to_torch(sig)
    mixed = Sequential([LSTM(3, return_sequences=True), GRU(3)])
    mixed(torch.randn(1, 2, 2))
    with pytest.raises(ValueError, match=r"expected built LSTM\(3\) layers only"):
        interop.to_torch(mixed)
