"""The LSTM kernel's two step loops and its projected entry point.

* :func:`lstm_projected` equals :func:`lstm` (and so the reference loop) when given
  ``z_x = x @ W_x + b``: outputs and every gradient, the gradient flowing on through ``z_x``.
* The compiled loops (C++, :mod:`rnnkit.kernels._ext`) equal the Python loops and the reference
  loop, for both entry points, across masks, ``go_backwards`` and recurrent dropout.
* ``RNNKIT_CPP`` / ``_ext.enabled`` choose the loop; a missing toolchain warns once and falls
  back, or raises when the compiled loops were required.

The compiled loops are built on first use (once per machine, see :mod:`rnnkit.kernels._ext`).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings

import pytest
import torch
from kernel_helpers import (
    ATOL,
    LOOPS,
    MASKS,
    RTOL,
    H,
    N,
    T,
    assert_same,
    make_args,
    make_mask,
    make_recurrent_mask,
    run,
)

from rnnkit import functional as F
from rnnkit.kernels import _ext
from rnnkit.kernels.lstm import lstm, lstm_projected


def projected(x, h0, c0, W_x, W_h, b, **kwargs):
    """``lstm``'s signature on top of ``lstm_projected``: autograd carries dz_x to x, W_x, b."""
    z_x = x @ W_x if b is None else torch.addmm(b, x.flatten(0, 1), W_x).view(*x.shape[:2], -1)
    return lstm_projected(z_x, h0, c0, W_h, **kwargs)


def options(mask_kind, go_backwards, dropout, n=N, t=T, h=H):
    return dict(
        mask=make_mask(mask_kind, n, t),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask(n, h) if dropout else None,
    )


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("entry", ["lstm", "lstm_projected"])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_matches_reference(loop, entry, mask_kind, go_backwards, dropout):
    args = make_args("lstm", bias=True)
    kernel = lstm if entry == "lstm" else projected
    assert_same("lstm", args, options(mask_kind, go_backwards, dropout), kernel, F.lstm)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("entry", ["lstm", "lstm_projected"])
@pytest.mark.parametrize("mask_kind", [None, "holes"])
def test_without_bias_and_short_sequences(loop, entry, mask_kind):
    kernel = lstm if entry == "lstm" else projected
    for n, t, d, h in [(3, 1, 4, 5), (3, 2, 4, 5), (1, 4, 3, 2)]:
        args = make_args("lstm", bias=False, N=n, T=t, D=d, H=h)
        assert_same("lstm", args, options(mask_kind, True, True, n, t, h), kernel, F.lstm)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mask_kind", [None, "pad_start"])
def test_wide_batch_over_threads_float64(loop, threads, mask_kind):
    """More rows than one thread's share of a step; float64, so rounding is out of the way."""
    n, t, d, h = 40, 7, 3, 33
    args = make_args("lstm", bias=True, N=n, T=t, D=d, H=h, dtype=torch.float64)
    kwargs = options(mask_kind, False, True, n, t, h)
    kwargs["recurrent_mask"] = kwargs["recurrent_mask"].double()
    torch.set_num_threads(threads)
    try:
        assert_same("lstm", args, kwargs, projected, F.lstm)
    finally:
        torch.set_num_threads(1)


def test_compiled_equals_python_loop_on_a_larger_case(monkeypatch):
    """Both loops on the same inputs, bigger than the reference tests, every output/gradient."""
    if os.environ.get(_ext.ENV) == "0":
        pytest.skip(f"{_ext.ENV}=0")
    args = make_args("lstm", bias=True, N=16, T=30, D=12, H=24)
    kwargs = options("holes", True, True, 16, 30, 24)
    upstream = [torch.randn(16, 30, 24), torch.randn(16, 24), torch.randn(16, 24)]
    results = {}
    for enabled in (False, True):
        monkeypatch.setattr(_ext, "enabled", enabled)
        results[enabled] = run(lstm, args, kwargs, upstream)
    for python, compiled in zip(itertools.chain(*results[False]), itertools.chain(*results[True])):
        torch.testing.assert_close(compiled, python, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("entry", ["lstm", "lstm_projected"])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_float64(loop, entry, masked):
    n, t, d, h = 2, 3, 3, 2
    x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True, N=n, T=t, D=d, H=h, dtype=torch.float64)
    mask = torch.tensor([[True, False, True], [False, True, True]]) if masked else None
    rec = make_recurrent_mask(n, h, torch.float64) if masked else None
    kwargs = dict(mask=mask, go_backwards=masked, recurrent_mask=rec)
    if entry == "lstm":
        inputs, fn = (x, h0, c0, W_x, W_h, b), lambda *a: lstm(*a, **kwargs)
    else:
        z_x = torch.randn(n, t, 4 * h, dtype=torch.float64)
        inputs, fn = (z_x, h0, c0, W_h), lambda *a: lstm_projected(*a, **kwargs)

    def flat(*tensors):
        y, (h_T, c_T) = fn(*tensors)
        return y, h_T, c_T

    inputs = tuple(a.requires_grad_() for a in inputs)
    assert torch.autograd.gradcheck(flat, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("shape", [(1, 5), (4, 1), (3, 4)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_projected_leaves_z_x_unchanged(loop, shape, go_backwards):
    """The loops work in place on a copy of z_x, even where its transpose is contiguous."""
    n, t = shape
    z_x = torch.randn(n, t, 4 * H)
    before = z_x.clone()
    lstm_projected(
        z_x, torch.zeros(n, H), torch.zeros(n, H), torch.randn(H, 4 * H), go_backwards=go_backwards
    )
    assert torch.equal(z_x, before)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
def test_projected_from_an_embedding_table(loop):
    """The caller's use: project the distinct tokens once, gather per step, train the table."""
    vocab, d = 11, 4
    E = torch.randn(vocab, d, requires_grad=True)
    _, h0, c0, W_x, W_h, b = (a.requires_grad_() for a in make_args("lstm", bias=True, D=d))
    tokens = torch.randint(0, vocab, (N, T))
    mask = make_mask("pad_end", N, T)
    upstream = torch.randn(N, T, H)

    uniq, inverse = torch.unique(tokens, return_inverse=True)
    P = E[uniq] @ W_x + b  # (U, 4H)
    y, _ = lstm_projected(P[inverse], h0, c0, W_h, mask=mask)
    grads = torch.autograd.grad((y * upstream).sum(), (E, W_x, W_h, b))

    y_ref, _ = F.lstm(E[tokens], h0, c0, W_x, W_h, b, mask=mask)
    expected = torch.autograd.grad((y_ref * upstream).sum(), (E, W_x, W_h, b))
    torch.testing.assert_close(y, y_ref, rtol=RTOL, atol=ATOL)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("loss", ["sum", "transposed", "only_states"])
def test_any_layout_of_the_incoming_gradient(loop, loss):
    """dy may be expanded (y.sum()), strided (a transposed use) or zeros (y unused)."""
    args = [a.requires_grad_() for a in make_args("lstm", bias=True)]
    mask = make_mask("holes", N, T)
    weights = torch.randn(T, N, H)
    results = []
    for kernel in (lstm, F.lstm):
        y, (h_T, c_T) = kernel(*args, mask=mask)
        if loss == "sum":
            value = y.sum() + c_T.sum()
        elif loss == "transposed":
            value = (y.transpose(0, 1) * weights).sum()
        else:
            value = (h_T * c_T).sum()
        results.append(torch.autograd.grad(value, args))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
def test_no_grad_inference(loop):
    x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True)
    with torch.no_grad():
        y, (h_T, c_T) = lstm_projected(x @ W_x + b, h0, c0, W_h)
    y_ref, (h_ref, c_ref) = F.lstm(x, h0, c0, W_x, W_h, b)
    assert not y.requires_grad
    for got, want in [(y, y_ref), (h_T, h_ref), (c_T, c_ref)]:
        torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)


def test_grad_hook_is_served_by_either_loop(monkeypatch):
    """The hook reads the same dLoss/dh_t of every step from the compiled backward loop (which
    writes it into a buffer; before, a hook forced the Python loop) and from the Python one."""
    args = [a.requires_grad_() for a in make_args("lstm", bias=True)]
    seen = {}
    for enabled in (True, False):
        monkeypatch.setattr(_ext, "enabled", enabled)
        calls = []
        y, _ = lstm(*args, grad_hook=lambda t, dh: calls.append((t, dh)))
        assert (_ext.loops_for(args[0]) is not None) == (enabled and _ext.load() is not None)
        y.sum().backward()
        assert [t for t, _ in calls] == list(reversed(range(T)))
        seen[enabled] = torch.stack([dh for _, dh in calls])
    torch.testing.assert_close(seen[True], seen[False], rtol=RTOL, atol=ATOL)


def test_projected_bad_arguments_name_the_argument():
    with pytest.raises(ValueError) as info:
        lstm_projected(
            torch.zeros(N, T, 4 * H + 1),
            torch.zeros(N, H),
            torch.zeros(N, H),
            torch.zeros(H, 4 * H),
        )
    assert str(info.value) == (
        "lstm_projected: `z_x` expected shape (N, T, 4H) = (3, 6, 20), "
        "received Tensor of shape (3, 6, 21) and dtype torch.float32."
    )
    with pytest.raises(ValueError) as info:
        lstm_projected(
            torch.zeros(N, 4 * H), torch.zeros(N, H), torch.zeros(N, H), torch.zeros(H, 4 * H)
        )
    assert str(info.value) == (
        "lstm_projected: `z_x` expected a 3-D tensor (N, T, 4H), "
        "received Tensor of shape (3, 20) and dtype torch.float32."
    )


# ---------------------------------------------------------------- choosing the loop


def _fresh_state(monkeypatch, reason=None):
    """Forget any earlier load; make the toolchain check report ``reason`` (None: fine)."""
    monkeypatch.setattr(_ext, "_ops", None)
    monkeypatch.setattr(_ext, "_error", None)
    monkeypatch.setattr(_ext, "enabled", True)
    monkeypatch.setattr(_ext, "_find_tools", lambda: reason)


def test_missing_toolchain_warns_once_and_falls_back(monkeypatch):
    _fresh_state(monkeypatch, "ninja was not found (pip install ninja)")
    monkeypatch.setenv(_ext.ENV, "auto")
    args = make_args("lstm", bias=True)
    with pytest.warns(RuntimeWarning) as record:
        _y, _ = lstm(*args)
    assert len(record) == 1
    assert str(record[0].message) == (
        "rnnkit: the compiled step loops of the LSTM and GRU kernels are unavailable, ninja "
        "was not found (pip install ninja). The kernels use their Python loops (same results, slower). "
        "Set RNNKIT_CPP=0 to choose them without this warning."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y2, _ = lstm(*args)  # no second warning
    torch.testing.assert_close(y2, F.lstm(*args)[0], rtol=RTOL, atol=ATOL)


def test_required_compiled_loops_raise_with_the_fix(monkeypatch):
    _fresh_state(monkeypatch, "no C++ compiler 'c++' was found (install g++ or set CXX)")
    monkeypatch.setenv(_ext.ENV, "1")
    with pytest.raises(_ext.ExtensionUnavailableError) as info:
        lstm(*make_args("lstm", bias=True))
    assert str(info.value) == (
        "rnnkit: RNNKIT_CPP=1 requires the compiled step loops, but no C++ compiler 'c++' was "
        "found (install g++ or set CXX). Install a C++ compiler and ninja, or set "
        "RNNKIT_CPP=auto to fall back to the Python loops."
    )


def test_a_failing_build_falls_back(monkeypatch, tmp_path):
    _fresh_state(monkeypatch)
    monkeypatch.setenv(_ext.ENV, "auto")

    def broken_build():
        raise RuntimeError("Error building extension 'rnnkit_ext'")

    monkeypatch.setattr(_ext, "_build", broken_build)
    monkeypatch.setattr(_ext, "CACHE_DIR", tmp_path)
    with pytest.warns(RuntimeWarning) as record:
        assert _ext.load() is None
    assert (
        f"the build failed (RuntimeError: Error building extension 'rnnkit_ext'; the "
        f"compiler's output is in {tmp_path / 'build-error.log'})"
    ) in str(record[0].message)
    assert (tmp_path / "build-error.log").read_text().startswith("RuntimeError: Error building")


@pytest.mark.parametrize("value,enabled", [("0", False), ("auto", True), ("1", True)])
def test_environment_switch(value, enabled):
    """``RNNKIT_CPP`` is read at import: 0 selects the Python loops without building."""
    code = (
        "from rnnkit.kernels import _ext, lstm as L; import torch\n"
        "print(_ext.enabled, _ext._ops is None)\n"
        "x = torch.randn(2, 3, 4)\n"
        "print(_ext.loops_for(x) is not None)\n"
    )
    env = dict(os.environ, **{_ext.ENV: value})
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(enabled), "True", str(enabled)]


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(_ext.ENV, "yes")
    with pytest.raises(ValueError) as info:
        _ext._mode()
    assert str(info.value) == (
        "rnnkit: `RNNKIT_CPP` expected one of 'auto', '0', '1', received 'yes'."
    )


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("entry", ["lstm", "lstm_projected"])
def test_strided_weights_and_states(loop, entry):
    """W_h as the transpose of PyTorch's (4H, H) weight_hh, states that are expanded views."""
    x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True)
    W_h = W_h.t().contiguous().t()  # (H, 4H) with strides (1, H)
    h0 = h0[:1].expand(N, H)  # stride 0 over the batch
    args = [x, h0, c0, W_x, W_h, b]
    kernel = lstm if entry == "lstm" else projected
    assert_same("lstm", args, options("holes", True, True), kernel, F.lstm)
