"""The gradient readout (rnnkit.lab.record_gradients) against autograd's gradients with respect
to the retained hidden states of the reference cells (rnnkit.functional), for every cell and
both step loops (compiled and Python), with and without a mask."""

from __future__ import annotations

import re

import pytest
import torch

from rnnkit import functional as F
from rnnkit.kernels import _ext, dispatch
from rnnkit.lab import record_gradients
from rnnkit.layers import GRU, LSTM, SimpleRNN

N, T, D, H = 3, 7, 4, 5
TOL = dict(rtol=1e-9, atol=1e-12)  # float64

CELLS = [
    ("rnn-tanh", lambda: SimpleRNN(H, activation="tanh")),
    ("rnn-relu", lambda: SimpleRNN(H, activation="relu")),
    ("rnn-sigmoid", lambda: SimpleRNN(H, activation="sigmoid")),
    ("lstm", lambda: LSTM(H)),
    ("gru", lambda: GRU(H)),
    ("gru-reset-before", lambda: GRU(H, reset_after=False)),
]


def reference(layer, x, mask, upstream):
    """dLoss/dh_t (dLoss/dc_t) of every step and dLoss/dx, from autograd through the reference
    cells with the layer's weights, each step's state retained."""
    x = x.detach().clone().requires_grad_()
    seen_h, seen_c = [], []  # the state each step reads: the one after the previous step
    cell_c = []  # the cell's own c of every step

    if isinstance(layer, LSTM):

        def step(x_t, state):
            seen_h.append(state[0])
            seen_c.append(state[1])
            h, c = F.lstm_cell(x_t, state[0], state[1], layer.W_x, layer.W_h, layer.b)
            cell_c.append(c)  # with a mask, h = o * tanh(c) reads this c, not the state kept
            return h, c

        state0 = (x.new_zeros(N, H), x.new_zeros(N, H))
    elif isinstance(layer, GRU):
        b_h = layer.b_h if layer.reset_after else None

        def step(x_t, state):
            seen_h.append(state[0])
            cell = F.gru_cell(
                x_t, state[0], layer.W_x, layer.W_h, layer.b_x, b_h, layer.reset_after
            )
            return (cell,)

        state0 = (x.new_zeros(N, H),)
    else:

        def step(x_t, state):
            seen_h.append(state[0])
            return (F.rnn_cell(x_t, state[0], layer.W_x, layer.W_h, layer.b, layer.activation),)

        state0 = (x.new_zeros(N, H),)
    y, states = F.scan(step, x, state0, mask)
    after_h = seen_h[1:] + [states[0]]  # the state after step t, t = 0 .. T-1
    after_c = seen_c[1:] + [states[1]] if seen_c else []
    for s in after_h + after_c + cell_c:
        s.retain_grad()
    (y * upstream).sum().backward()
    # a state nothing read after it (the final c behind a padded last step) took no gradient
    dh = torch.stack([torch.zeros_like(s) if s.grad is None else s.grad for s in after_h])
    dc = None
    if after_c:  # dLoss/dc_t through both h_t and c_{t+1}: the cell's c on real steps
        dc = [torch.zeros_like(s) if s.grad is None else s.grad for s in after_c]
        dc = torch.stack(dc)  # (T, N, H)
        if mask is not None:
            dc_cell = torch.stack([c.grad for c in cell_c])
            dc = torch.where(mask.t().unsqueeze(2), dc_cell, dc)
    return dh, dc, x.grad.transpose(0, 1)  # dx (T, N, D)


# the SimpleRNN kernel has only its Python loop; the LSTM and GRU also their compiled one
PATHS = [(n, m, "python") for n, m in CELLS] + [
    (n, m, "compiled") for n, m in CELLS if not n.startswith("rnn")
]


@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("name,make,path", PATHS, ids=[f"{n}-{p}" for n, _, p in PATHS])
def test_01_readout_equals_autograd_of_retained_states(name, make, path, masked, monkeypatch):
    if path == "compiled":
        if not dispatch.compiled(torch.float64):
            pytest.skip("the compiled step loops are not built here")
        monkeypatch.setattr(_ext, "enabled", True)
    else:
        monkeypatch.setattr(_ext, "enabled", False)
    layer = make().double()
    x = torch.randn(N, T, D, dtype=torch.float64)
    layer.build((None, T, D))
    layer.double()
    mask = None
    if masked:  # holes inside and padding at the end, so padded steps pass states through
        mask = torch.ones(N, T, dtype=torch.bool)
        mask[0, 2] = mask[1, 5:] = mask[2, 0] = False
    upstream = torch.randn(N, T, H, dtype=torch.float64)
    layer.return_sequences = True

    with record_gradients(layer) as rec:
        y = layer(x, mask=mask)
        (y * upstream).sum().backward()

    dh, dc, dx = reference(layer, x, mask, upstream)
    torch.testing.assert_close(rec.dh, dh, **TOL)
    torch.testing.assert_close(rec.dx, dx, **TOL)
    if isinstance(layer, LSTM):
        torch.testing.assert_close(rec.dc, dc, **TOL)
    else:
        assert rec.dc is None


def test_02_loss_at_the_last_step_and_norms(monkeypatch):
    """A loss on the final state only: dh at the last step is the upstream gradient itself,
    and norms() averages the rows' L2 norms per step."""
    layer = LSTM(H, input_shape=(None, D))
    x = torch.randn(N, T, D)
    with record_gradients(layer) as rec:
        h = layer(x)  # (N, H): the last step's output
        h.sum().backward()
    torch.testing.assert_close(rec.dh[-1], torch.ones(N, H))
    norms = rec.norms()
    assert sorted(norms) == ["dc", "dh", "dx"]
    assert norms["dh"][-1] == pytest.approx(H**0.5)
    expected = rec.dh[3].double().norm(dim=1).mean().item()
    assert norms["dh"][3] == pytest.approx(expected)
    assert len(norms["dx"]) == T


def test_03_the_hook_is_removed_and_paths_restored():
    layer = GRU(H, input_shape=(None, D))
    with record_gradients(layer):
        assert layer.grad_hook is not None
    assert layer.grad_hook is None
    assert "sequence" not in vars(layer)
    y = layer(torch.randn(N, T, D))  # runs as before
    assert y.shape == (N, H)


def test_04_refuses_what_it_cannot_read():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "record_gradients: `layer` expected impl 'auto' or 'kernel' (the readout is read from "
            "rnnkit's kernel), received a LSTM with impl='native'."
        ),
    ):
        with record_gradients(LSTM(H, impl="native")):
            pass
    with pytest.raises(
        TypeError,
        match=re.escape(
            "record_gradients: `layer` expected a SimpleRNN, LSTM or GRU layer, received"
        ),
    ):
        with record_gradients(torch.nn.Linear(2, 2)):
            pass
    with pytest.raises(RuntimeError, match="nothing was recorded"):
        with record_gradients(LSTM(H)) as rec:
            pass
        _ = rec.dh


def test_05_in_a_model_fed_by_an_embedding():
    """A model fit step records too (the LSTM's lookup path is left for the kernel path)."""
    from rnnkit.layers import Dense, Embedding
    from rnnkit.models import Sequential

    model = Sequential([Embedding(20, D), LSTM(H), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    ids = torch.randint(1, 20, (16, T))
    model.build((None, T))
    lstm = model.layers[1]
    with record_gradients(lstm) as rec:
        model.fit(ids, torch.randn(16, 1), epochs=1, batch_size=16, verbose=0)
    assert rec.dh.shape == (T, 16, H)
    assert rec.dx.shape == (T, 16, D)
    assert rec.dh.abs().sum() > 0


class Spy:
    """The compiled loops' op namespace, noting which ops a call used."""

    def __init__(self, ops):
        self.ops, self.used = ops, []

    def __getattr__(self, name):
        self.used.append(name)
        return getattr(self.ops, name)


@pytest.mark.parametrize("make,op", [(LSTM, "lstm_backward"), (GRU, "gru_backward")])
def test_06_the_compiled_backward_serves_the_readout(make, op, monkeypatch):
    """With a readout asked for, the LSTM and GRU still run their compiled backward loop, and
    the record comes from it (before, a hook sent the call to the Python loops)."""
    if not dispatch.compiled(torch.float32):
        pytest.skip("the compiled step loops are not built here")
    spy = Spy(_ext.load())
    monkeypatch.setattr(_ext, "loops_for", lambda *args: spy)
    layer = make(H, input_shape=(None, D))
    with record_gradients(layer) as rec:
        layer(torch.randn(N, T, D)).sum().backward()
    assert op in spy.used
    assert rec.dh.shape == (T, N, H) and rec.dh.abs().sum() > 0
