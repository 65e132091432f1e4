"""Dispatch: which path runs, and the per-step gradient readout through it."""

import pytest
import torch

from rnnkit.kernels import dispatch


def lstm_args(N=2, T=5, D=3, H=4):
    x = torch.randn(N, T, D, requires_grad=True)
    return x, torch.zeros(N, H), torch.zeros(N, H), torch.randn(D, 4 * H), \
        torch.randn(H, 4 * H), torch.zeros(4 * H)


def test_grad_hook_reads_every_step_from_the_kernel():
    seen = []
    x, *rest = lstm_args()
    y, _ = dispatch.lstm(x, *rest, grad_hook=lambda t, dh: seen.append((t, dh.norm().item())))
    y.sum().backward()
    assert [t for t, _ in seen] == [4, 3, 2, 1, 0]
    assert all(norm > 0 for _, norm in seen)


def test_grad_hook_refuses_paths_that_cannot_serve_it():
    with pytest.raises(ValueError) as info:
        dispatch.gru(torch.randn(1, 2, 3), torch.zeros(1, 2), torch.randn(3, 6),
                     torch.randn(2, 6), None, None, impl="native", grad_hook=print)
    assert str(info.value) == ("GRU: `grad_hook` is read from rnnkit's kernel only, received "
                               "impl='native'. Use impl='auto' or 'kernel'.")


@pytest.mark.parametrize("mask, expected", [(None, "native"),
                                            (torch.tensor([[True, False]]), "kernel")])
def test_auto_prefers_native_then_kernel(mask, expected):
    assert dispatch._resolve("lstm", "auto", "LSTM", mask=mask) == expected


def test_auto_runs_the_gru_on_the_compiled_kernel_when_built(monkeypatch):
    from rnnkit.kernels import _ext

    expected = "kernel" if _ext.load() is not None else "native"
    assert dispatch._resolve("gru", "auto", "GRU") == expected
    monkeypatch.setattr(_ext, "enabled", False)
    assert dispatch._resolve("gru", "auto", "GRU") == "native"


def test_auto_runs_the_simple_rnn_on_rnnkit_kernel():
    assert dispatch._resolve("simple_rnn", "auto", "SimpleRNN") == "kernel"
    assert dispatch._resolve("simple_rnn", "native", "SimpleRNN") == "native"
