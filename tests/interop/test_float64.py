"""float64 end to end on the CPU: a model built under ``torch.set_default_dtype(torch.float64)``
predicts and trains in float64 on every path (old code: ``predict`` cast the inputs to float32,
and the LSTM failed with ``get_mkldnn_dtype: unsupported data type``, the GRU and SimpleRNN
with mixed dtypes). Oracle: the same model on the float64 reference loop (``impl='reference'``,
rnnkit.functional), to 1e-12."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.layers import GRU, LSTM, Dense, Embedding, Input, SimpleRNN
from rnnkit.models import Sequential

CELLS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def pair(cell: str, ids: bool):
    """The model on its fast paths and a copy on the reference loop (same weights)."""
    models = []
    for impl in ("auto", "reference"):
        torch.manual_seed(0)
        first = [Embedding(20, 3)] if ids else [Input((None, 3))]
        model = Sequential(
            [*first, CELLS[cell](5, impl=impl, return_sequences=True), LSTM(4, impl=impl), Dense(1)]
        )
        model.compile(optimizer="sgd", loss="mse")
        models.append(model)
    return models


def data(ids: bool):
    g = torch.Generator().manual_seed(1)
    if ids:
        x = torch.randint(0, 20, (12, 6), generator=g)
    else:
        x = np.random.default_rng(1).normal(size=(12, 6, 3))  # float64 NumPy, as users pass it
    y = np.random.default_rng(2).normal(size=(12, 1))
    return x, y


@pytest.mark.parametrize("ids", [False, True], ids=["floats", "token-ids"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_1_predict_and_fit_in_float64(float64, cell, ids):
    fast, reference = pair(cell, ids)
    x, y = data(ids)
    p_fast, p_ref = fast.predict(x, verbose=0), reference.predict(x, verbose=0)
    assert p_fast.dtype == np.float64
    np.testing.assert_allclose(p_fast, p_ref, rtol=0, atol=1e-12)
    fast.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    reference.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for (name, a), b in zip(fast.named_parameters(), reference.parameters()):
        assert a.dtype == torch.float64, name
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=name)
    loss_fast = fast.evaluate(x, y, verbose=0)
    loss_ref = reference.evaluate(x, y, verbose=0)
    assert loss_fast == pytest.approx(loss_ref, abs=1e-12)
