"""rnnkit's whole-sequence kernels equal the reference loop: outputs, final states, gradients.

Every kernel is compared with its reference in :mod:`rnnkit.functional` (autograd through the
plain time loop) with random upstream gradients on ``y`` and on the final states, across masks,
``go_backwards``, recurrent dropout, missing biases and short sequences; then checked by
``torch.autograd.gradcheck`` in float64, and its ``grad_hook`` against the reference's state
gradients.
"""

from __future__ import annotations

import pytest
import torch
from kernel_helpers import (
    ATOL,
    KERNELS,
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
from rnnkit.functional.cells import gru_cell, lstm_cell, rnn_cell
from rnnkit.kernels.gru import gru as gru_kernel
from rnnkit.kernels.lstm import lstm as lstm_kernel
from rnnkit.kernels.simple_rnn import simple_rnn as simple_rnn_kernel


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_matches_reference(mask_kind, go_backwards, dropout, bias):
    args = make_args("lstm", bias)
    kwargs = dict(
        mask=make_mask(mask_kind, N, T),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask() if dropout else None,
    )
    assert_same("lstm", args, kwargs, lstm_kernel, F.lstm)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_matches_reference(reset_after, mask_kind, go_backwards, dropout, bias):
    args = make_args("gru", bias)
    kwargs = dict(
        reset_after=reset_after,
        mask=make_mask(mask_kind, N, T),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask() if dropout else None,
    )
    assert_same("gru", args, kwargs, gru_kernel, F.gru)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear", "softmax"])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_simple_rnn_matches_reference(activation, mask_kind, go_backwards, dropout):
    args = make_args("simple_rnn", bias=True)
    kwargs = dict(
        activation=activation,
        mask=make_mask(mask_kind, N, T),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask() if dropout else None,
    )
    assert_same("simple_rnn", args, kwargs, simple_rnn_kernel, F.simple_rnn)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear", "softmax"])
def test_simple_rnn_without_bias(activation):
    args = make_args("simple_rnn", bias=False)
    kwargs = dict(activation=activation, mask=make_mask("holes", N, T))
    assert_same("simple_rnn", args, kwargs, simple_rnn_kernel, F.simple_rnn)


@pytest.mark.parametrize("cell", sorted(KERNELS))
@pytest.mark.parametrize("seq_len", [1, 2])
@pytest.mark.parametrize("mask_kind", [None, "holes"])
def test_short_sequences(cell, seq_len, mask_kind):
    args = make_args(cell, bias=True, T=seq_len)
    kwargs = dict(mask=make_mask(mask_kind, N, seq_len), go_backwards=True)
    assert_same(cell, args, kwargs, *KERNELS[cell])


@pytest.mark.parametrize("cell", sorted(KERNELS))
def test_empty_sequence_returns_initial_states(cell):
    args = make_args(cell, bias=True, T=0)
    kernel, reference = KERNELS[cell]
    y, states = kernel(*args)
    y_ref, states_ref = reference(*args)
    assert y.shape == y_ref.shape == (N, 0, H)
    assert all(s is r for s, r in zip(states, states_ref))  # the inputs themselves, as the loop


def test_lstm_fully_padded_row_and_large_batch():
    """A row with no real step keeps h0, c0 and outputs zeros; more rows than features."""
    args = make_args("lstm", bias=True, N=9, T=5, D=2, H=3)
    mask = make_mask("holes", 9, 5)
    mask[4] = False
    kwargs = dict(mask=mask, recurrent_mask=make_recurrent_mask(9, 3))
    assert_same("lstm", args, kwargs, lstm_kernel, F.lstm)
    y, (h_T, c_T) = lstm_kernel(*args, **kwargs)
    assert torch.equal(y[4], torch.zeros(5, 3))
    assert torch.equal(h_T[4], args[1][4]) and torch.equal(c_T[4], args[2][4])


@pytest.mark.parametrize("which", ["b_x", "b_h"])
def test_gru_with_one_bias(which):
    args = make_args("gru", bias=True)
    args[4 if which == "b_h" else 5] = None  # keep only `which`
    assert_same("gru", args, dict(mask=make_mask("holes", N, T)), gru_kernel, F.gru)


def test_gru_reset_before_ignores_recurrent_bias_as_the_reference():
    args = make_args("gru", bias=True)
    assert_same("gru", args, dict(reset_after=False), gru_kernel, F.gru)


def test_inputs_without_grad_and_no_grad_mode():
    x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True)
    W_h.requires_grad_()
    y, (_h_T, _c_T) = lstm_kernel(x, h0, c0, W_x, W_h, b)
    y.sum().backward()
    assert W_h.grad is not None and x.grad is None
    with torch.no_grad():
        y2, _ = lstm_kernel(x, h0, c0, W_x, W_h, b)
    assert not y2.requires_grad
    torch.testing.assert_close(y2, y.detach())


def test_outputs_are_independent_of_saved_buffers():
    """Changing h_T or c_T in place does not change the gradients; y is a view into the saved
    states, and changing it in place is caught by autograd rather than silently wrong."""
    args = [a.requires_grad_() for a in make_args("lstm", bias=True)]
    y, (h_T, c_T) = lstm_kernel(*args)
    weights = [torch.randn_like(t) for t in (y, h_T, c_T)]  # linear: the loss saves no output
    loss = sum((t * w).sum() for t, w in zip((y, h_T, c_T), weights))
    expected = torch.autograd.grad(loss, args[3], retain_graph=True)[0]
    with torch.no_grad():
        h_T.add_(1.0)  # copies, not views into the kernel's buffers
        c_T.add_(1.0)
    torch.testing.assert_close(torch.autograd.grad(loss, args[3], retain_graph=True)[0], expected)
    with torch.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(loss, args[3])


# ---------------------------------------------------------------- gradcheck in float64

GRADCHECK_CASES = [
    ("lstm", {}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("simple_rnn", {"activation": "tanh"}),
    ("simple_rnn", {"activation": "sigmoid"}),
    ("simple_rnn", {"activation": "relu"}),
    ("simple_rnn", {"activation": "softmax"}),
]


@pytest.mark.parametrize(
    "cell,options",
    GRADCHECK_CASES,
    ids=[f"{c}-{'-'.join(map(str, o.values()))}" for c, o in GRADCHECK_CASES],
)
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_float64(cell, options, masked):
    n, t, d, h = 2, 3, 3, 2
    args = [
        a.requires_grad_() if a is not None else None
        for a in make_args(cell, bias=True, N=n, T=t, D=d, H=h, dtype=torch.float64)
    ]
    mask = torch.tensor([[True, False, True], [False, True, True]]) if masked else None
    rec = make_recurrent_mask(n, h, torch.float64) if masked else None
    kernel = KERNELS[cell][0]

    def fn(*tensors):
        y, states = kernel(*tensors, **options, mask=mask, go_backwards=masked, recurrent_mask=rec)
        return (y, *states)

    assert torch.autograd.gradcheck(fn, tuple(args), eps=1e-6, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------- grad_hook


def reference_state_grads(cell, args, kwargs, upstream):
    """dLoss/dh_t of every step from autograd through the reference loop (``scan``)."""
    options = dict(kwargs)
    mask = options.pop("mask", None)
    go_backwards = options.pop("go_backwards", False)
    leaves = [a.detach().clone().requires_grad_() if a is not None else None for a in args]
    seen = []  # the state each step reads: h after the previous step

    if cell == "lstm":
        x, h0, c0, W_x, W_h, b = leaves

        def step(x_t, state):
            seen.append(state[0])
            return lstm_cell(x_t, state[0], state[1], W_x, W_h, b)

        state0 = (h0, c0)
    elif cell == "gru":
        x, h0, W_x, W_h, b_x, b_h = leaves

        def step(x_t, state):
            seen.append(state[0])
            return (gru_cell(x_t, state[0], W_x, W_h, b_x, b_h, **options),)

        state0 = (h0,)
    else:
        x, h0, W_x, W_h, b = leaves

        def step(x_t, state):
            seen.append(state[0])
            return (rnn_cell(x_t, state[0], W_x, W_h, b, **options),)

        state0 = (h0,)
    y, states = F.scan(step, x, state0, mask, go_backwards)
    after = seen[1:] + [states[0]]  # h after step t, t = 0 .. T-1
    for h in after:
        h.retain_grad()
    loss = sum((o * u).sum() for o, u in zip([y, *states], upstream))
    loss.backward()
    return [h.grad for h in after]


@pytest.mark.parametrize(
    "cell,options",
    [
        ("lstm", {}),
        ("gru", {"reset_after": True}),
        ("gru", {"reset_after": False}),
        ("simple_rnn", {"activation": "tanh"}),
    ],
)
@pytest.mark.parametrize("mask_kind", [None, "holes"])
def test_grad_hook_reads_dloss_dh_of_every_step(cell, options, mask_kind):
    args = make_args(cell, bias=True)
    kwargs = dict(options, mask=make_mask(mask_kind, N, T), go_backwards=True)
    n_states = 2 if cell == "lstm" else 1
    upstream = [torch.randn(N, T, H)] + [torch.randn(N, H) for _ in range(n_states)]
    expected = reference_state_grads(cell, args, kwargs, upstream)

    calls = []
    hooked = dict(kwargs, grad_hook=lambda t, dh_t: calls.append((t, dh_t)))
    run(KERNELS[cell][0], args, hooked, upstream)
    assert [t for t, _ in calls] == list(reversed(range(T)))
    for t, dh_t in calls:  # kept tensors stay valid: the hook receives fresh ones
        torch.testing.assert_close(
            dh_t, expected[t], rtol=RTOL, atol=ATOL, msg=lambda m: f"step {t}: {m}"
        )


# ---------------------------------------------------------------- argument checks


def test_bad_arguments_name_the_argument_expected_and_received():
    x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True)
    with pytest.raises(ValueError) as info:
        lstm_kernel(x, h0, c0, W_x, W_h[:, :8], b)
    assert str(info.value) == (
        "lstm: `W_h` expected shape (H, 4H) = (5, 20), received Tensor "
        "of shape (5, 8) and dtype torch.float32."
    )
    with pytest.raises(TypeError) as info:
        lstm_kernel(x, h0, c0, W_x, W_h, b, mask=torch.ones(N, T))
    assert str(info.value) == (
        "lstm: `mask` expected a bool tensor (True = real step), "
        "received Tensor of shape (3, 6) and dtype torch.float32."
    )
    with pytest.raises(ValueError) as info:
        simple_rnn_kernel(*make_args("simple_rnn", bias=True), activation="gelu")
    assert str(info.value) == (
        "simple_rnn: `activation` expected one of 'tanh', 'relu', "
        "'sigmoid', 'linear', 'softmax', received 'gelu'."
    )
