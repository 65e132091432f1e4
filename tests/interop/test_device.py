"""``device=`` for fit / evaluate / predict: the model moves there and the data follows it.
Oracle: the same calls without ``device`` (CPU), and the CPU model for the GPU test."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnkit.layers import GRU, LSTM, Dense, Embedding
from rnnkit.models import Sequential


def model():
    torch.manual_seed(0)
    m = Sequential([Embedding(30, 4), LSTM(5, return_sequences=True), GRU(3), Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    return m


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 30, (16, 7), generator=g), torch.randn(16, 1, generator=g)


def test_1_device_cpu_is_the_plain_call():
    x, y = data()
    a, b = model(), model()
    torch.manual_seed(2)
    a.fit(x, y, epochs=2, batch_size=4, verbose=0)
    torch.manual_seed(2)
    b.fit(x, y, epochs=2, batch_size=4, verbose=0, device="cpu")
    np.testing.assert_array_equal(a.predict(x), b.predict(x, device=torch.device("cpu")))
    assert a.evaluate(x, y, verbose=0) == b.evaluate(x, y, verbose=0, device="cpu")


def test_2_errors():
    x, y = data()
    with pytest.raises(
        ValueError,
        match=re.escape("predict: `device` expected a torch device such as 'cpu' or 'cuda:0'"),
    ):
        model().predict(x, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(
            ValueError,
            match=re.escape(
                "fit: `device` expected an available device, received 'cuda' "
                "(torch.cuda.is_available() is False)."
            ),
        ):
            model().fit(x, y, device="cuda", verbose=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_3_cuda_equals_cpu():
    x, y = data()
    cpu, gpu = model(), model()
    torch.manual_seed(2)
    cpu.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    gpu.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False, device="cuda")
    assert next(gpu.parameters()).device.type == "cuda"
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=0, atol=1e-4)
