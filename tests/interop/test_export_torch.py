"""Export mode under PyTorch's own tools: ``torch.export.export``, ``torch.jit.trace`` and
``torch.compile`` on every cell (masks on and off), and :func:`rnnkit.export.exporting`.
Oracle: the same model called normally (rnnkit's fast paths), to 1e-5."""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnkit import export
from rnnkit.kernels import dispatch
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN
from rnnkit.models import Sequential

CELLS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}
ATOL = 1e-5


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # trace notes (shapes read as Python numbers)
        warnings.simplefilter("ignore")
        yield


def model_of(cell: str, masked: bool, seed: int = 0) -> Sequential:
    """Embedding (mask_zero as asked) -> cell -> Dense, in inference mode."""
    torch.manual_seed(seed)
    layer = CELLS[cell](6)
    return Sequential([Embedding(30, 4, mask_zero=masked), layer, Dense(2)]).eval()


def ids(N, T, seed=0):
    g = torch.Generator().manual_seed(seed + 31 * N + T)
    x = torch.randint(1, 30, (N, T), generator=g)
    x[::2, : T // 2] = 0  # 'pre' padding on every other row
    return x


def expected(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_1_torch_export_every_cell(cell, masked):
    """``torch.export.export`` with a dynamic batch (the old code: GuardOnDataDependentSymNode
    from the padding trim, or the kernel's data on fake tensors). The length is the
    example's: PyTorch decomposes its fused recurrent operators step by step under
    torch.export (ONNX and torch.jit.trace keep the length dynamic)."""
    model = model_of(cell, masked)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (ids(3, 7),), dynamic_shapes=({0: batch},))
    for N in (1, 3, 5):
        x = ids(N, 7, seed=1)
        torch.testing.assert_close(program.module()(x), expected(model, x), rtol=0, atol=ATOL)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_2_jit_trace_every_cell(cell, masked):
    """``torch.jit.trace`` passes its own check (old code: the Embedding -> LSTM trace failed
    it) and the traced module follows other lengths and batch sizes (a masked layer keeps a
    TorchScript loop over the length)."""
    model = model_of(cell, masked)
    traced = torch.jit.trace(model, (ids(3, 7),))
    for N, T in ((1, 3), (4, 7), (2, 12)):
        x = ids(N, T, seed=2)
        torch.testing.assert_close(traced(x), expected(model, x), rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(lambda: Sequential([Input((None, 3)), GRU(5)]), id="input-gru"),
        pytest.param(lambda: model_of("lstm", masked=True), id="masked-lstm"),
        pytest.param(
            lambda: Sequential([Input((None, 3)), Bidirectional(SimpleRNN(4)), Dense(1)]),
            id="bidirectional-simple-rnn",
        ),
    ],
)
def test_3_torch_compile(model):
    """``torch.compile`` (the aot_eager backend: the whole graph captured through AOTAutograd,
    no C++ compiler needed) equals the eager model, forward and gradients (old code:
    Input -> GRU failed on the kernel's fake tensors)."""
    torch.manual_seed(3)
    model = model()
    x = ids(3, 6) if isinstance(model.layers[0], Embedding) else torch.randn(3, 6, 3)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=False)
    y = compiled(x)
    torch.testing.assert_close(y, expected(model, x), rtol=0, atol=ATOL)
    y.sum().backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(got, model.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=ATOL)


def test_4_exporting_skips_every_fast_path(monkeypatch):
    """Inside ``export.exporting()`` no compiled loop, lookup or padding trim runs: each is
    replaced by a function that fails, and the model still gives its numbers."""
    model = Sequential([Embedding(30, 4), LSTM(6), Dense(1)]).eval()
    x = ids(9, 8)
    y = expected(model, x)

    def refuse(*args, **kwargs):
        raise AssertionError("a fast path ran in export mode")

    for module, name in (
        (dispatch.lstm_kernel, "lstm"),
        (dispatch.lstm_kernel, "lstm_lookup"),
        (dispatch.gru_kernel, "gru"),
        (dispatch, "lstm_ids"),
    ):
        monkeypatch.setattr(module, name, refuse)
    from rnnkit.models import execution

    monkeypatch.setattr(execution, "forward_without_padding", refuse)
    assert not export.is_exporting()
    with export.exporting():
        assert export.is_exporting()
        assert not dispatch.lookup_applies(
            cell="lstm", impl="auto", input_dropout=False, E=model.layers[0].E
        )
        torch.testing.assert_close(model(x), y, rtol=0, atol=ATOL)
        gru = GRU(5, impl="kernel")  # even an explicit impl='kernel'
        gru(torch.randn(2, 4, 3))
    assert not export.is_exporting()
