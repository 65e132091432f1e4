"""The bfloat16 path (``precision='bf16'``, rnnkit.kernels.bf16) through dispatch: against an
oracle written here from the definition, against the float32 path, and how dispatch and the
autotuner choose it.

The oracle: the time loop of each cell in torch ops, every GEMM ``round(round(a) @ round(W))``
computed in float32 (``round``: to bfloat16 and back), the input projection one product over
all steps (as the definition says), the weight cast inside each step (its gradient added in
float32). A float32 product of two bfloat16 numbers is exact and torch's bf16 GEMM accumulates
in float32, so the oracle and the path agree to float32 rounding of the sums (tolerance
1e-5 relative to the largest value; measured: outputs bit-equal here). Both ways of the GEMM
run on every machine (the ``gemm`` fixture): torch's bf16 GEMM and rnnkit's float32
emulation of it (what runs on a CPU without bf16 hardware).

Against the float32 layer the tolerance is bfloat16's: an operand rounded to bfloat16 (8 bits
of mantissa) is off by up to 2^-9 = 0.2% of itself, a product's result by as much again; over
the 12 steps of these sequences the outputs (in [-1, 1]) move by a few 1e-3. We allow 3e-2
absolute on outputs and 5e-2 of the largest gradient, and require a difference above 1e-5
(a float32 run would be within 1e-6: the path really rounds).
"""

from __future__ import annotations

import re

import pytest
import torch

from rnnkit import runtime
from rnnkit.kernels import _ext, autotune, dispatch

N, T, D, H = 4, 12, 6, 8
CELLS = ["lstm", "gru", "gru_reset_before", "simple_rnn_tanh", "simple_rnn_relu"]


def rt(t):
    """Rounded to bfloat16, back in t's dtype."""
    return t.to(torch.bfloat16).to(t.dtype)


def mm(a, W):
    """The oracle's GEMM: bf16 operands, float32 sums, the result rounded to bf16."""
    return rt(rt(a) @ rt(W))


def oracle(cell, x, states, W_x, W_h, biases, mask=None, go_backwards=False, rmask=None):
    """(y, final states) of ``cell`` by the definition (module docstring)."""
    Nx, Tx, Dx = x.shape
    Hs = W_h.shape[0]
    xw = mm(x.reshape(-1, Dx), W_x).reshape(Nx, Tx, -1)  # one product over all steps
    if biases[0] is not None:
        xw = xw + biases[0]
    states = list(states)
    ys, y_prev = [], torch.zeros_like(states[0])
    for t in range(Tx - 1, -1, -1) if go_backwards else range(Tx):
        h = states[0]
        h_in = h if rmask is None else h * rmask
        if cell == "lstm":
            z = xw[:, t] + mm(h_in, W_h)
            i, f, g, o = z.chunk(4, 1)
            c = torch.sigmoid(f) * states[1] + torch.sigmoid(i) * torch.tanh(g)
            new = [torch.sigmoid(o) * torch.tanh(c), c]
        elif cell.startswith("gru"):
            x_z, x_r, x_n = xw[:, t].chunk(3, 1)
            if cell == "gru":
                hp = mm(h_in, W_h) + (biases[1] if biases[1] is not None else 0)
                h_z, h_r, h_n = hp.chunk(3, 1)
                zg, r = torch.sigmoid(x_z + h_z), torch.sigmoid(x_r + h_r)
                n = torch.tanh(x_n + r * h_n)
            else:
                h_z, h_r = mm(h_in, W_h[:, : 2 * Hs]).chunk(2, 1)
                zg, r = torch.sigmoid(x_z + h_z), torch.sigmoid(x_r + h_r)
                n = torch.tanh(x_n + mm(r * h_in, W_h[:, 2 * Hs :]))
            new = [zg * h + (1 - zg) * n]
        else:
            act = torch.tanh if cell.endswith("tanh") else torch.relu
            new = [act(xw[:, t] + mm(h_in, W_h))]
        if mask is not None:
            m = mask[:, t].unsqueeze(1)
            new = [torch.where(m, a, b) for a, b in zip(new, states)]
            y_prev = torch.where(m, new[0], y_prev)
        else:
            y_prev = new[0]
        ys.append(y_prev)
        states = new
    return torch.stack(ys, 1), tuple(states)


def make(cell, seed=0, bias=True):
    g = torch.Generator().manual_seed(seed)
    G = 4 if cell == "lstm" else 3 if cell.startswith("gru") else 1

    def r(*shape, s=1.0):
        return (torch.randn(*shape, generator=g) * s).requires_grad_()

    x = r(N, T, D)
    states = [r(N, H, s=0.5)] + ([r(N, H, s=0.5)] if cell == "lstm" else [])
    W_x, W_h = r(D, G * H, s=0.4), r(H, G * H, s=0.4)
    b_x = r(G * H, s=0.2) if bias else None
    b_h = r(G * H, s=0.2) if bias and cell == "gru" else None
    return x, states, W_x, W_h, [b_x, b_h]


def run(cell, x, states, W_x, W_h, biases, **kw):
    """dispatch's entry point of ``cell``."""
    if cell == "lstm":
        return dispatch.lstm(x, *states, W_x, W_h, biases[0], **kw)
    if cell.startswith("gru"):
        reset_after = cell == "gru"
        return dispatch.gru(
            x, states[0], W_x, W_h, biases[0], biases[1], reset_after=reset_after, **kw
        )
    act = "tanh" if cell.endswith("tanh") else "relu"
    return dispatch.simple_rnn(x, states[0], W_x, W_h, biases[0], activation=act, **kw)


def outputs_and_grads(fn, x, states, W_x, W_h, biases):
    y, final = fn()
    g = torch.Generator().manual_seed(9)
    loss = (y * torch.randn(y.shape, generator=g)).sum() + sum(s.sum() for s in final)
    leaves = [x, *states, W_x, W_h, *(b for b in biases if b is not None)]
    return y, final, torch.autograd.grad(loss, leaves)


def close(a, b, rtol):
    """|a - b| <= rtol * max|b| (elementwise, relative to the largest value)."""
    a, b = a.detach(), b.detach()
    scale = max(float(b.abs().max()), 1e-12)
    return float((a - b).abs().max()) <= rtol * scale


@pytest.fixture(params=["torch_bf16_gemm", "emulated"])
def gemm(request, monkeypatch):
    """Both ways of the bf16 GEMM on every machine: torch's bf16 GEMM (in hardware where the
    CPU has it, torch's slow emulation elsewhere) and rnnkit's float32 emulation."""
    from rnnkit.kernels import bf16

    monkeypatch.setattr(bf16, "EMULATE", request.param == "emulated")
    return request.param


# -- 1. the oracle -------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", ["plain", "mask", "backwards", "recurrent_dropout", "no_bias"])
def test_1_bf16_path_equals_the_bf16_oracle_forward_and_gradients(gemm, cell, variant):
    args = make(cell, seed=CELLS.index(cell), bias=variant != "no_bias")
    kw = {}
    if variant == "mask":
        kw["mask"] = torch.rand(N, T, generator=torch.Generator().manual_seed(3)) > 0.3
        kw["mask"][0] = True
    if variant == "backwards":
        kw["go_backwards"] = True
    if variant == "recurrent_dropout":
        kw["recurrent_mask"] = (torch.rand(N, H) < 0.7).float() / 0.7
    y, final, grads = outputs_and_grads(lambda: run(cell, *args, precision="bf16", **kw), *args)
    rmask = kw.pop("recurrent_mask", None)
    y_o, final_o, grads_o = outputs_and_grads(lambda: oracle(cell, *args, rmask=rmask, **kw), *args)
    assert close(y, y_o, 1e-5)
    for s, s_o in zip(final, final_o):
        assert close(s, s_o, 1e-5)
    for g, g_o in zip(grads, grads_o):
        assert close(g, g_o, 1e-5)


# -- 2. against float32 --------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_2_bf16_is_float32_within_bfloat16_tolerance_and_not_equal_to_it(gemm, cell):
    args = make(cell, seed=10 + CELLS.index(cell))
    y, final, grads = outputs_and_grads(lambda: run(cell, *args, precision="bf16"), *args)
    y32, final32, grads32 = outputs_and_grads(lambda: run(cell, *args, impl="reference"), *args)
    y, y32 = y.detach(), y32.detach()
    assert (y - y32).abs().max() <= 3e-2
    assert (y - y32).abs().max() > 1e-5  # the GEMMs were rounded
    for s, s32 in zip(final, final32):
        assert (s - s32).abs().max() <= 3e-2
    for g, g32 in zip(grads, grads32):
        assert close(g, g32, 5e-2)


@pytest.mark.parametrize("cell", CELLS)
def test_3_states_outputs_and_gradients_stay_float32(gemm, cell):
    args = make(cell, seed=20)
    y, final, grads = outputs_and_grads(lambda: run(cell, *args, precision="bf16"), *args)
    assert y.dtype == torch.float32 and all(s.dtype == torch.float32 for s in final)
    assert all(g.dtype == torch.float32 for g in grads)


def test_4_an_empty_sequence_returns_the_initial_states(gemm):
    x, states, W_x, W_h, biases = make("lstm")
    y, (h, c) = dispatch.lstm(x[:, :0], *states, W_x, W_h, biases[0], precision="bf16")
    assert y.shape == (N, 0, H) and torch.equal(h, states[0]) and torch.equal(c, states[1])


# -- 5. which path runs --------------------------------------------------------------------------
def spy(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def wrapped(*a, **k):
        calls.append(name)
        return real(*a, **k)

    monkeypatch.setattr(module, name, wrapped)
    return calls


def test_5_precision_none_follows_set_precision_and_explicit_impl_keeps_float32(monkeypatch):
    from rnnkit.kernels import bf16

    calls = spy(monkeypatch, bf16, "lstm")
    x, states, W_x, W_h, biases = make("lstm")
    explicit, _ = dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="bf16")
    monkeypatch.setattr(runtime, "_precision", "bf16")
    followed, _ = dispatch.lstm(x, *states, W_x, W_h, biases[0])
    assert torch.equal(followed, explicit) and len(calls) == 2
    y32, _ = dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="float32")
    kernel, _ = dispatch.lstm(x, *states, W_x, W_h, biases[0], impl="kernel")
    assert len(calls) == 2  # neither ran bf16
    assert (y32 - explicit).abs().max() > 1e-5 and torch.allclose(kernel, y32, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(precision="fp16"),
            "LSTM: `precision` expected one of None, 'float32', 'bf16', received 'fp16'.",
        ),
        (
            dict(precision="bf16", impl="kernel"),
            "LSTM: `impl` 'kernel' runs float32 GEMMs only, received precision='bf16'. "
            "Use impl='auto' (or 'reference') for bf16, or precision='float32'.",
        ),
        (
            dict(precision="bf16", impl="native"),
            "LSTM: `impl` 'native' runs float32 GEMMs only, received precision='bf16'. "
            "Use impl='auto' (or 'reference') for bf16, or precision='float32'.",
        ),
        (
            dict(precision="bf16", grad_hook=lambda t, dh: None),
            "LSTM: `grad_hook` is read from rnnkit's float32 kernel only, received "
            "precision='bf16'. Use precision='float32' to record gradients.",
        ),
    ],
)
def test_6_impossible_precisions_are_refused_with_the_fix(kwargs, message):
    x, states, W_x, W_h, biases = make("lstm")
    with pytest.raises(ValueError, match=re.escape(message)):
        dispatch.lstm(x, *states, W_x, W_h, biases[0], **kwargs)


def test_7_set_precision_checks_its_argument(monkeypatch):
    monkeypatch.setattr(runtime, "_precision", "float32")
    message = "set_precision: `precision` expected one of 'float32', 'bf16', received 'bfloat16'."
    with pytest.raises(ValueError, match=re.escape(message)):
        runtime.set_precision("bfloat16")
    with pytest.raises(ValueError, match=re.escape("received 16 (int).")):
        runtime.set_precision(16)
    runtime.set_precision("bf16")
    assert runtime.get_precision() == "bf16"


# -- 8. the hardware and the autotuner -----------------------------------------------------------
@pytest.mark.parametrize(
    "extensions, expected",
    [(["avx2", "fma"], False), (["avx2", "avx512_bf16"], True), (["amx_tile", "amx_bf16"], True)],
)
def test_8_bf16_native_reads_the_cpu_extensions_and_cuda_always_has_it(
    monkeypatch, extensions, expected
):
    from rnnkit.kernels import bf16

    monkeypatch.setattr(bf16, "cpu_info", lambda: {"extensions": extensions})
    monkeypatch.setattr(bf16, "_cpu_has_bf16", [])
    assert dispatch.bf16_native("cpu") is expected
    assert dispatch.bf16_native("cuda") is True


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def tuned(monkeypatch, tmp_path):
    monkeypatch.setenv(autotune.ENV, "1")
    clock = FakeClock()
    tuner = autotune.Tuner(tmp_path / "autotune.json", clock=clock)
    old = autotune.set_tuner(tuner)
    yield tuner, clock
    autotune.set_tuner(old)


def slow(monkeypatch, module, name, clock, seconds=1.0):
    real = getattr(module, name)

    def wrapped(*a, **k):
        clock.now += seconds
        return real(*a, **k)

    monkeypatch.setattr(module, name, wrapped)


@pytest.mark.skipif(_ext.load() is None, reason="rnnkit's compiled loops are not built here")
@pytest.mark.parametrize("winner", ["bf16", "native", "kernel"])
def test_9_with_bf16_hardware_the_autotuner_weighs_bf16_against_float32(monkeypatch, tuned, winner):
    from rnnkit.kernels import bf16, native
    from rnnkit.kernels import lstm as lstm_kernel

    tuner, clock = tuned
    monkeypatch.setattr(dispatch, "bf16_native", lambda device="cpu": True)
    for label, module in (("bf16", bf16), ("native", native), ("kernel", lstm_kernel)):
        if label != winner:
            slow(monkeypatch, module, "lstm", clock)
    x, states, W_x, W_h, biases = make("lstm")
    y, _ = dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="bf16")
    [decision] = tuner.report()
    assert decision["choice"] == winner and decision["key"].endswith("float32+bf16")
    assert set(decision["times_ms"]) == {"bf16", "native", "kernel"}
    y_bf16, _ = bf16.lstm(x, *states, W_x, W_h, biases[0])
    assert torch.equal(y, y_bf16) is (winner == "bf16")


def test_10_without_bf16_hardware_or_autotuning_bf16_runs_untimed(monkeypatch, tuned):
    from rnnkit.kernels import bf16

    tuner, _ = tuned
    calls = spy(monkeypatch, bf16, "lstm")
    monkeypatch.setattr(dispatch, "bf16_native", lambda device="cpu": False)
    x, states, W_x, W_h, biases = make("lstm")
    dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="bf16")
    monkeypatch.setattr(dispatch, "bf16_native", lambda device="cpu": True)
    monkeypatch.setenv(autotune.ENV, "0")
    dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="bf16")
    monkeypatch.setenv(autotune.ENV, "1")
    dispatch.lstm(x, *states, W_x, W_h, biases[0], precision="bf16", impl="reference")
    assert len(calls) == 3 and tuner.report() == []


def test_11_a_float32_layer_never_times_bf16(monkeypatch, tuned):
    from rnnkit.kernels import bf16

    tuner, _ = tuned
    calls = spy(monkeypatch, bf16, "lstm")
    monkeypatch.setattr(dispatch, "bf16_native", lambda device="cpu": True)
    x, states, W_x, W_h, biases = make("lstm")
    dispatch.lstm(x, *states, W_x, W_h, biases[0])
    assert calls == [] and all("bf16" not in d["times_ms"] for d in tuner.report())


def test_12_the_emulation_runs_where_the_cpu_lacks_bf16_and_torch_gemm_where_it_has_it(
    monkeypatch,
):
    from rnnkit.kernels import bf16

    seen = []
    real = bf16._gemm
    monkeypatch.setattr(bf16, "_gemm", lambda *a: seen.append(a[0].dtype) or real(*a))
    args = make("lstm")
    for has in (False, True):
        monkeypatch.setattr(bf16, "hardware", lambda device="cpu", has=has: has)
        run("lstm", *args, precision="bf16")
    assert set(seen[: T + 1]) == {torch.float32} and set(seen[T + 1 :]) == {torch.bfloat16}
