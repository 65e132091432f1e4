"""Every kernel gives the reference loop's result on NaN / infinities and on empty inputs.

1. NaN, +Inf or -Inf in x, W_x, W_h, the bias, h0 or c0: outputs, final
   states and every gradient have NaN exactly where the reference loop (rnnkit.functional and
   autograd) has them, and equal finite values elsewhere (infinities included); for the LSTM,
   GRU and simple RNN kernels, the LSTM's lookup entry, float32 and float64, compiled and
   Python loops. (Before: the AVX2 exp clamped NaN to a finite number, so an all-NaN
   embedding gave ordinary-looking probabilities.)
2. The sigmoid and tanh of the compiled float32 loops at +-inf: exactly 0 / 1 and -1 / 1.
3. N = 0 and T = 0: the reference's shapes, the initial states as final states, and the
   reference's gradients (zeros for the weights), for every kernel entry and both loops.
"""

from __future__ import annotations

import pytest
import torch
from kernel_helpers import LOOPS, make_args

from rnnkit import functional as F
from rnnkit.functional.recurrent import scan
from rnnkit.kernels import _ext
from rnnkit.kernels.gru import gru
from rnnkit.kernels.lstm import lstm, lstm_lookup, lstm_projected
from rnnkit.kernels.simple_rnn import simple_rnn

N, T, D, H = 3, 5, 4, 8  # H = 8: the float32 LSTM runs the fused AVX2 step where built
DTYPES = [torch.float32, torch.float64]
VALUES = [float("nan"), float("inf"), float("-inf")]


def _poison(args, where: str, value: float, cell: str):
    """A copy of the kernel's tensor arguments with ``value`` put into one place."""
    args = [None if a is None else a.clone() for a in args]
    W_x_at = 3 if cell == "lstm" else 2  # (x, h0, [c0], W_x, W_h, b...)
    if where == "x":  # one step of one row
        args[0][1, 2, 0] = value
    elif where == "W_x":
        args[W_x_at][0, 1] = value
    elif where == "W_h":
        args[W_x_at + 1][0, 1] = value
    elif where == "b":
        args[W_x_at + 2][1] = value
    elif where == "h0":  # one unit of one row's initial state
        args[1][2, 3] = value
    elif where == "c0":
        args[2][2, 3] = value
    return args


def _run(fn, args, kwargs, upstream):
    leaves = [None if a is None else a.detach().clone().requires_grad_() for a in args]
    y, states = fn(*leaves, **kwargs)
    outputs = [y, *states]
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream))
    grads = torch.autograd.grad(loss, [a for a in leaves if a is not None], allow_unused=True)
    return [o.detach() for o in outputs], list(grads)


def _assert_same_nonfinite(got, expected, what):
    assert got.shape == expected.shape, what
    assert torch.equal(torch.isnan(got), torch.isnan(expected)), (
        f"{what}: NaN at {torch.isnan(got).nonzero().tolist()[:5]}, "
        f"the reference at {torch.isnan(expected).nonzero().tolist()[:5]}"
    )
    keep = ~torch.isnan(expected)
    torch.testing.assert_close(got[keep], expected[keep], rtol=1e-4, atol=1e-5, msg=what)


CELLS = {
    "lstm": (lstm, F.lstm, {}),
    "gru": (gru, F.gru, {}),
    "gru_before": (gru, F.gru, {"reset_after": False}),
    "simple_rnn": (simple_rnn, F.simple_rnn, {}),
}


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    ("cell", "where"),
    [
        (cell, where)
        for cell in sorted(CELLS)
        for where in ("x", "W_x", "W_h", "b", "h0", "c0")
        if where != "c0" or cell == "lstm"  # only the LSTM has a cell state
    ],
)
@pytest.mark.parametrize("value", VALUES, ids=["nan", "inf", "-inf"])
def test_nonfinite_values_propagate_as_in_the_reference(loop, dtype, cell, where, value):
    kernel, reference, kwargs = CELLS[cell]
    torch.manual_seed(0)
    args = make_args(cell.split("_before")[0], True, N=N, T=T, D=D, H=H, dtype=dtype)
    if cell == "gru_before":
        args[5] = None  # the reset-before GRU has no recurrent bias
    args = _poison(args, where, value, cell.split("_before")[0])
    n_states = 2 if cell == "lstm" else 1
    upstream = [torch.randn(N, T, H, dtype=dtype)] + [
        torch.randn(N, H, dtype=dtype) for _ in range(n_states)
    ]
    out_k, grads_k = _run(kernel, args, kwargs, upstream)
    out_r, grads_r = _run(reference, args, kwargs, upstream)
    for name, k, r in zip(["y", "h_T", "c_T"], out_k, out_r):
        _assert_same_nonfinite(k, r, name)
    for i, (k, r) in enumerate(zip(grads_k, grads_r)):
        if r is None:
            continue
        _assert_same_nonfinite(k, r, f"gradient {i}")


def _projected_reference(z_x, h0, c0, W_h):
    """The reference time loop on input pre-activations ``z_x`` (N, T, 4H): the LSTM cell's
    equations by hand (``x @ I`` would turn an infinity into NaN, 0 * inf)."""

    def step(z_t, state):
        h_prev, c_prev = state
        z_i, z_f, z_g, z_o = (z_t + h_prev @ W_h).chunk(4, dim=1)
        c = torch.sigmoid(z_f) * c_prev + torch.sigmoid(z_i) * torch.tanh(z_g)
        return torch.sigmoid(z_o) * torch.tanh(c), c

    return scan(step, z_x, (h0, c0))


def _lookup_reference(table, where, h0, c0, W_h):
    return _projected_reference(table[where], h0, c0, W_h)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("value", VALUES, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("grad", [True, False])
def test_lookup_with_a_nonfinite_table_row(loop, dtype, value, grad):
    """The default path of an Embedding feeding an LSTM: a NaN (or infinite) row of the table,
    with the shared padding in front (pad_row), in training and in inference."""
    torch.manual_seed(0)
    U = 6
    table = torch.randn(U, 4 * H, dtype=dtype)
    table[3] = value  # every step reading token 3
    where = torch.tensor([[0, 0, 3, 1, 2], [0, 1, 2, 4, 5], [0, 0, 0, 0, 3], [1, 2, 4, 5, 1]])
    h0 = torch.zeros(4, H, dtype=dtype)
    c0 = torch.zeros(4, H, dtype=dtype)
    W_h = torch.randn(H, 4 * H, dtype=dtype) * 0.5
    expected_y, (expected_h, expected_c) = _lookup_reference(table, where, h0, c0, W_h)
    if not grad:
        with torch.no_grad():
            for sequences in (True, False):
                y, (h_T, c_T) = lstm_lookup(
                    table, where, h0, c0, W_h, sequences=sequences, pad_row=0
                )
                if sequences:
                    _assert_same_nonfinite(y, expected_y, "y")
                _assert_same_nonfinite(h_T, expected_h, "h_T")
                _assert_same_nonfinite(c_T, expected_c, "c_T")
        return
    upstream = [torch.randn(4, T, H, dtype=dtype), torch.randn(4, H, dtype=dtype)]
    leaves = [t.clone().requires_grad_() for t in (table, W_h)]
    y, (h_T, _) = lstm_lookup(leaves[0], where, h0, c0, leaves[1], pad_row=0)
    loss = (y * upstream[0]).sum() + (h_T * upstream[1]).sum()
    got = torch.autograd.grad(loss, leaves)
    ref_leaves = [t.clone().requires_grad_() for t in (table, W_h)]
    y_r, (h_r, _) = _lookup_reference(ref_leaves[0], where, h0, c0, ref_leaves[1])
    loss_r = (y_r * upstream[0]).sum() + (h_r * upstream[1]).sum()
    expected = torch.autograd.grad(loss_r, ref_leaves)
    _assert_same_nonfinite(y.detach(), y_r.detach(), "y")
    for name, k, r in zip(["dtable", "dW_h"], got, expected):
        _assert_same_nonfinite(k, r, name)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gates_saturate_exactly_at_infinity(loop, dtype):
    """z = +-inf in a gate: i, f, o are exactly 0 or 1 and g exactly -1 or 1, so c and h are
    what torch computes, exactly (before: sigmoid(-inf) was about 6e-39 in float32)."""
    signs = torch.tensor([1.0, -1.0], dtype=dtype)
    z_x = torch.zeros(16, 1, 4 * 8, dtype=dtype)  # (N, T, 4H), H = 8
    for n in range(16):  # every combination of signs over the four gates
        for k in range(4):
            z_x[n, 0, k * 8 : (k + 1) * 8] = signs[(n >> k) & 1] * float("inf")
    h0 = torch.zeros(16, 8, dtype=dtype)
    c0 = torch.full((16, 8), 0.5, dtype=dtype)
    W_h = torch.zeros(8, 32, dtype=dtype)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            y, (h_T, c_T) = lstm_projected(z_x, h0, c0, W_h.requires_grad_(grad))
        y_r, (h_r, c_r) = _projected_reference(z_x, h0, c0, W_h.detach())
        assert torch.equal(c_T.detach(), c_r) and torch.equal(h_T.detach(), h_r), grad
        assert torch.equal(y.detach(), y_r), grad


# ---------------------------------------------------------------- empty batches and sequences


def _empty_cases():
    for cell in ("lstm", "lstm_projected", "lstm_lookup", "gru", "simple_rnn"):
        for n, t in ((0, 4), (3, 0), (0, 0)):
            yield cell, n, t


def _entry(cell):
    """(kernel, reference, make args) of an entry point, each taking (N, T)."""
    if cell == "lstm_projected":

        def args(n, t):
            x, h0, c0, W_x, W_h, b = make_args("lstm", True, N=n, T=t, D=D, H=H)
            return [x @ W_x + b, h0, c0, W_h]

        return lstm_projected, _projected_reference, args
    if cell == "lstm_lookup":

        def args(n, t):
            return (
                [torch.randn(5, 4 * H), torch.randint(0, 5, (n, t))]
                + [torch.randn(n, H) for _ in range(2)]
                + [torch.randn(H, 4 * H)]
            )

        return lstm_lookup, _lookup_reference, args
    kernel, reference, _ = CELLS[cell]
    return kernel, reference, lambda n, t: make_args(cell, True, N=n, T=t, D=D, H=H)


@pytest.mark.parametrize("compiled", [False, True], ids=["python", "compiled"])
@pytest.mark.parametrize(("cell", "n", "t"), list(_empty_cases()))
@pytest.mark.parametrize("grad", [True, False])
def test_empty_batch_or_sequence_gives_the_reference_result(
    compiled, cell, n, t, grad, monkeypatch
):
    """(Before: the compiled loops failed on N = 0, IndexError.)"""
    monkeypatch.setattr(_ext, "enabled", compiled)
    kernel, reference, make = _entry(cell)
    torch.manual_seed(0)
    args = make(n, t)
    float_at = [i for i, a in enumerate(args) if a is not None and a.is_floating_point()]
    leaves = [a.clone().requires_grad_(grad) if i in float_at else a for i, a in enumerate(args)]
    ref_leaves = [
        a.clone().requires_grad_(grad) if i in float_at else a for i, a in enumerate(args)
    ]
    y, states = kernel(*leaves)
    y_r, states_r = reference(*ref_leaves)
    assert tuple(y.shape) == tuple(y_r.shape) == (n, t, H)
    initial = (args[2], args[3]) if cell == "lstm_lookup" else (args[1], args[2])
    for s, s_r, s0 in zip(states, states_r, initial):
        assert s.shape == s_r.shape
        torch.testing.assert_close(s.detach(), s_r.detach())
        if t == 0:
            torch.testing.assert_close(s.detach(), s0)  # final states = initial states
    if not grad:
        return
    loss = sum(o.sum() for o in (y, *states))
    loss_r = sum(o.sum() for o in (y_r, *states_r))
    got = torch.autograd.grad(loss, [leaves[i] for i in float_at], allow_unused=True)
    expected = torch.autograd.grad(loss_r, [ref_leaves[i] for i in float_at], allow_unused=True)
    for i, (k, r) in enumerate(zip(got, expected)):
        if r is None:
            assert k is None or torch.count_nonzero(k) == 0, f"gradient {i}"
            continue
        assert k is not None, f"gradient {i} missing"
        torch.testing.assert_close(k, r, msg=f"gradient {i}")
