"""The one-step cells against torch.nn's cells with copied weights, and gradcheck in float64."""

import pytest
import torch
from torch import nn

from rnnkit import functional as F

N, D, H, T = 3, 5, 4, 6


def _steps(cell_fn, torch_cell, n_states, x, state):
    ours, theirs = state, tuple(s.clone() for s in state)
    for t in range(x.shape[1]):
        ours = cell_fn(x[:, t], *ours)
        theirs = torch_cell(x[:, t], theirs if n_states > 1 else theirs[0])
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    return ours


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_matches_torch_lstmcell(bias):
    cell = nn.LSTMCell(D, H, bias=bias)
    W_x, W_h = cell.weight_ih.detach().t(), cell.weight_hh.detach().t()  # (D, 4H), (H, 4H)
    b = (cell.bias_ih + cell.bias_hh).detach() if bias else None
    x, h0, c0 = torch.randn(N, T, D), torch.randn(N, H), torch.randn(N, H)
    _steps(lambda x_t, h, c: F.lstm_cell(x_t, h, c, W_x, W_h, b), cell, 2, x, (h0, c0))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_cell_matches_torch_rnncell(bias, activation):
    cell = nn.RNNCell(D, H, bias=bias, nonlinearity=activation)
    W_x, W_h = cell.weight_ih.detach().t(), cell.weight_hh.detach().t()
    b = (cell.bias_ih + cell.bias_hh).detach() if bias else None
    x, h0 = torch.randn(N, T, D), torch.randn(N, H)
    _steps(lambda x_t, h: F.rnn_cell(x_t, h, W_x, W_h, b, activation), cell, 1, x, (h0,))


def _rzn_to_zrn(w):
    """PyTorch packs GRU gates [r | z | n] (rows); rnnkit, like Keras, [z | r | n] (columns)."""
    r, z, n = w.chunk(3, dim=0)
    return torch.cat([z, r, n], dim=0)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_matches_torch_grucell(bias):
    cell = nn.GRUCell(D, H, bias=bias)
    W_x, W_h = _rzn_to_zrn(cell.weight_ih.detach()).t(), _rzn_to_zrn(cell.weight_hh.detach()).t()
    b_x = _rzn_to_zrn(cell.bias_ih.detach()) if bias else None
    b_h = _rzn_to_zrn(cell.bias_hh.detach()) if bias else None
    x, h0 = torch.randn(N, T, D), torch.randn(N, H)
    _steps(lambda x_t, h: F.gru_cell(x_t, h, W_x, W_h, b_x, b_h), cell, 1, x, (h0,))


def test_gru_cell_reset_before_matches_its_equation():
    """reset_after=False: n = tanh(x W_xn + b_xn + (r * h_prev) W_hn), written out by hand."""
    x_t, h = torch.randn(N, D), torch.randn(N, H)
    W_x, W_h, b = torch.randn(D, 3 * H), torch.randn(H, 3 * H), torch.randn(3 * H)
    z = torch.sigmoid(x_t @ W_x[:, :H] + b[:H] + h @ W_h[:, :H])
    r = torch.sigmoid(x_t @ W_x[:, H : 2 * H] + b[H : 2 * H] + h @ W_h[:, H : 2 * H])
    n = torch.tanh(x_t @ W_x[:, 2 * H :] + b[2 * H :] + (r * h) @ W_h[:, 2 * H :])
    expected = z * h + (1 - z) * n
    torch.testing.assert_close(F.gru_cell(x_t, h, W_x, W_h, b, None, reset_after=False), expected)


def _double(*shapes):
    return [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_gradcheck_lstm_cell():
    x, h, c, W_x, W_h, b = _double((2, 3), (2, 2), (2, 2), (3, 8), (2, 8), (8,))
    assert torch.autograd.gradcheck(F.lstm_cell, (x, h, c, W_x, W_h, b))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_gradcheck_rnn_cell(activation):
    x, h, W_x, W_h, b = _double((2, 3), (2, 2), (3, 2), (2, 2), (2,))
    assert torch.autograd.gradcheck(lambda *a: F.rnn_cell(*a, activation), (x, h, W_x, W_h, b))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradcheck_gru_cell(reset_after):
    x, h, W_x, W_h, b_x, b_h = _double((2, 3), (2, 2), (3, 6), (2, 6), (6,), (6,))
    if reset_after:
        fn = lambda *a: F.gru_cell(*a, reset_after=True)
        args = (x, h, W_x, W_h, b_x, b_h)
    else:
        fn = lambda x, h, W_x, W_h, b_x: F.gru_cell(x, h, W_x, W_h, b_x, None, reset_after=False)
        args = (x, h, W_x, W_h, b_x)
    assert torch.autograd.gradcheck(fn, args)


def test_gradcheck_reference_loop_with_mask():
    x, h, c, W_x, W_h, b = _double((2, 4, 3), (2, 2), (2, 2), (3, 8), (2, 8), (8,))
    mask = torch.tensor([[True, True, False, True], [False, True, True, True]])

    def fn(*args):
        y, (h_T, c_T) = F.lstm(*args, mask=mask)
        return y, h_T, c_T

    assert torch.autograd.gradcheck(fn, (x, h, c, W_x, W_h, b))


def test_masked_step_carries_state_and_output():
    x, h0, c0 = torch.randn(2, 3, D), torch.randn(2, H), torch.randn(2, H)
    W_x, W_h, b = torch.randn(D, 4 * H), torch.randn(H, 4 * H), torch.randn(4 * H)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    y, (h, c) = F.lstm(x, h0, c0, W_x, W_h, b, mask=mask)
    torch.testing.assert_close(y[0, 1], y[0, 0])  # masked step repeats the previous output
    torch.testing.assert_close(y[1], torch.zeros(3, H))  # nothing real yet: zeros
    torch.testing.assert_close(h[1], h0[1])  # all-masked row keeps its initial state
    torch.testing.assert_close(c[1], c0[1])
    # Removing the masked step entirely gives the same final state.
    _y2, (h2, _) = F.lstm(x[:1, [0, 2]], h0[:1], c0[:1], W_x, W_h, b)
    torch.testing.assert_close(h[0], h2[0])
