"""``precision=`` of SimpleRNN / LSTM / GRU and :func:`rnnkit.set_precision`: the layers run
the bf16 path (rnnkit.kernels.bf16, checked against its oracle in tests/kernels/test_bf16.py)
when asked, keep float32 parameters, refuse what cannot run, and save the setting.

Tolerance against float32: bfloat16 keeps 8 bits of mantissa (an operand off by up to 2^-9,
about 0.2%); over these short sequences outputs in [-1, 1] move by a few 1e-3: 3e-2 allowed.
"""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import runtime
from rnnkit.kernels import bf16, dispatch
from rnnkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model

LAYERS = [
    (LSTM, {}),
    (GRU, {}),
    (GRU, {"reset_after": False}),
    (SimpleRNN, {}),
    (SimpleRNN, {"activation": "sigmoid"}),
]


@pytest.fixture(autouse=True)
def float32_process(monkeypatch):
    """Every test starts (and ends) with the process's precision float32."""
    monkeypatch.setattr(runtime, "_precision", "float32")


def pair(cls, kw, seed=0):
    """A float32 layer and a bf16 layer with the same weights, built for 5 features."""
    torch.manual_seed(seed)
    a = cls(8, return_sequences=True, input_shape=(None, 5), **kw)
    b = cls(8, return_sequences=True, input_shape=(None, 5), precision="bf16", **kw)
    b.load_state_dict(a.state_dict())
    return a, b


# -- 1. the layers -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kw", LAYERS)
def test_1_a_bf16_layer_runs_the_bf16_path_within_bfloat16_tolerance(monkeypatch, cls, kw):
    calls = []
    for name in ("lstm", "gru", "simple_rnn"):
        real = getattr(bf16, name)
        monkeypatch.setattr(bf16, name, lambda *a, _r=real, **k: calls.append(1) or _r(*a, **k))
    a, b = pair(cls, kw)
    x = torch.randn(3, 10, 5)
    y32, y = a(x), b(x)
    assert calls == [1]  # the bf16 layer, and only it, ran the bf16 path
    assert 1e-5 < float((y - y32).detach().abs().max()) <= 3e-2
    y.sum().backward()
    y32.sum().backward()
    for p, q in zip(b.parameters(), a.parameters()):
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32
        assert float((p.grad - q.grad).abs().max()) <= 5e-2 * float(q.grad.abs().max())


def test_2_training_keeps_float32_master_weights_and_states():
    model = Sequential(
        [
            Embedding(20, 6, input_shape=(None,)),
            LSTM(5, precision="bf16", return_state=False),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = torch.randint(1, 20, (16, 7))
    before = model.layers[1].W_h.detach().clone()
    model.fit(x, (x[:, 0] % 2).float(), epochs=1, batch_size=8, verbose=0)
    lstm = model.layers[1]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not torch.equal(lstm.W_h.detach(), before)  # it trained
    assert not lstm.takes_ids_from(model.layers[0], x)  # bf16: no float32 lookup
    assert model.predict(x).dtype == np.float32


# -- 3. arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_3_precision_is_checked_where_it_enters(cls):
    name = cls.__name__
    message = f"{name}: `precision` expected one of None, 'float32', 'bf16', received 'fp16'."
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(4, precision="fp16")
    message = (
        f"{name}: `impl` 'kernel' runs float32 GEMMs only, received precision='bf16'. "
        "Use impl='auto' (or 'reference') for bf16, or precision='float32'."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(4, impl="kernel", precision="bf16")
    assert cls(4, impl="reference", precision="bf16").precision == "bf16"


def test_4_repr_shows_precision_only_when_set():
    assert "precision" not in repr(LSTM(4))
    assert "precision='bf16'" in repr(LSTM(4, precision="bf16"))


# -- 5. the process's precision ------------------------------------------------------------------
@pytest.mark.parametrize("cls, kw", LAYERS[:1] + LAYERS[3:4])
def test_5_set_precision_makes_default_layers_bf16_and_own_settings_win(cls, kw):
    a, b = pair(cls, kw)
    x = torch.randn(3, 10, 5)
    with torch.no_grad():
        y32, y16 = a(x), b(x)
        rnnkit.set_precision("bf16")
        assert rnnkit.get_precision() == "bf16"
        assert torch.equal(a(x), y16)  # precision=None follows the process
        c = cls(8, return_sequences=True, input_shape=(None, 5), precision="float32", **kw)
        c.load_state_dict(a.state_dict())
        assert torch.equal(c(x), y32)  # its own 'float32' wins
        a.impl = "kernel"  # an explicit float32-only impl keeps float32
        assert float((a(x) - y32).abs().max()) < 1e-5
        rnnkit.set_precision("float32")
        a.impl = "auto"
        assert torch.equal(a(x), y32)


def test_6_predict_under_bf16_leaves_the_lean_path_and_the_lookup():
    torch.manual_seed(1)
    model = Sequential([Embedding(30, 6, input_shape=(None,)), LSTM(5), Dense(1)])
    ids = torch.randint(1, 30, (4, 9))
    y32 = model.predict(ids, verbose=0)
    rnnkit.set_precision("bf16")
    y16 = model.predict(ids, verbose=0)
    lstm = model.layers[1]
    with torch.no_grad():
        x = model.layers[0](ids)
        _, (h, _) = dispatch.lstm(x, *(torch.zeros(4, 5),) * 2, lstm.W_x, lstm.W_h, lstm.b)
        expected = model.layers[2](h).numpy()
    np.testing.assert_allclose(y16, expected, rtol=1e-6, atol=1e-6)
    assert 1e-6 < np.abs(y16 - y32).max() <= 3e-2


# -- 7. saving -----------------------------------------------------------------------------------
def test_7_save_and_load_keep_the_precision(tmp_path):
    torch.manual_seed(2)
    model = Sequential(
        [
            Embedding(30, 6, input_shape=(None,)),
            LSTM(5, return_sequences=True, precision="bf16"),
            GRU(4, precision="float32", return_sequences=True),
            SimpleRNN(3),
            Dense(1),
        ]
    )
    ids = torch.randint(1, 30, (4, 9))
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert [getattr(la, "precision", "-") for la in loaded.layers] == [
        "-",
        "bf16",
        "float32",
        None,
        "-",
    ]
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    assert LSTM.from_config(model.layers[1].get_config()).precision == "bf16"


def test_8_a_keras_archive_leaves_precision_out(tmp_path):
    model = Sequential([Embedding(30, 6, input_shape=(None,)), LSTM(5, precision="bf16")])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        config = json.loads(z.read("config.json"))
    lstm = config["config"]["layers"][2]["config"]
    assert "precision" not in lstm and "impl" not in lstm
