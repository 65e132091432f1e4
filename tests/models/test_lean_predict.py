"""The lean path of predict (rnnkit.models.lean): the general path's numbers bit for bit, where
it applies; the general path everywhere else; the same errors; never a stale table."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnkit import runtime
from rnnkit.kernels import autotune, dispatch
from rnnkit.layers import LSTM, Dense, Dropout, Embedding
from rnnkit.models import Sequential, execution, lean


@pytest.fixture(autouse=True)
def _restore_lean():
    yield
    runtime.configure(lean_predict=True)


def seed_like(impl="auto", extra=(), mask_zero=False, return_sequences=False):
    torch.manual_seed(0)
    layers = [Embedding(50, 8, mask_zero=mask_zero), *extra]
    layers += [
        LSTM(6, impl=impl, return_sequences=return_sequences),
        Dense(1, activation="sigmoid"),
    ]
    model = Sequential(layers)
    model.build((None, 12))
    return model


def ids(rows, pad=0, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, 50, (rows, 12), generator=g)
    x[:, :pad] = 0
    return x


def both(model, x, batch_size=32):
    runtime.configure(lean_predict=True)
    a = model.predict(x, batch_size=batch_size)
    runtime.configure(lean_predict=False)
    b = model.predict(x, batch_size=batch_size)
    runtime.configure(lean_predict=True)
    return a, b


@pytest.mark.parametrize("impl", ["auto", "kernel"])
@pytest.mark.parametrize("rows,pad", [(1, 0), (1, 5), (3, 0), (3, 4)])
def test_1_lean_equals_the_general_path_bit_for_bit(impl, rows, pad):
    # before and after predict keeps its vocabulary table (made after ~50 rows of 50 ids)
    model = seed_like(impl)
    x = ids(rows, pad)
    for _ in range(30):
        a, b = both(model, x)
        assert np.array_equal(a, b) and a.shape == (rows, 1)
    assert dispatch.VocabularyTable._kept.get(model.layers[1]) is not None


def test_2_lean_path_runs_without_the_layers_plumbing(monkeypatch):
    # fails on the code before the lean path: predict went through run_layers
    model = seed_like(extra=[Dropout(0.5)])
    expected = model.predict(ids(1))

    def refuse(*args, **kwargs):
        raise AssertionError("the general path ran")

    monkeypatch.setattr(execution, "run_layers", refuse)
    np.testing.assert_array_equal(model.predict(ids(1)), expected)
    np.testing.assert_array_equal(model.predict(ids(1).numpy(), batch_size=4), expected)


@pytest.mark.parametrize(
    "case",
    [
        "mask_zero",
        "sequences",
        "several batches",
        "floats",
        "hooked",
        "verbose",
        "training dropout",
    ],
)
def test_3_general_path_where_the_lean_one_does_not_apply(case):
    model = seed_like(mask_zero=case == "mask_zero", return_sequences=case == "sequences")
    x, kwargs = ids(3, 2), {}
    if case == "several batches":
        kwargs["batch_size"] = 2
    if case == "floats":
        x = x.float()
    if case == "hooked":
        model.register_forward_hook(lambda *a: None)
    if case == "training dropout":
        model.layers[1].recurrent_dropout = 0.3
    assert lean.predict(model, x, kwargs.get("batch_size", 32)) is None or case in (
        "verbose",
        "training dropout",
    )
    if case == "floats":
        return  # the general path takes (and embeds) float ids; not the lean path's business
    runtime.configure(lean_predict=False)
    b = model.predict(x, **kwargs)
    runtime.configure(lean_predict=True)
    a = model.predict(x, verbose=1 if case == "verbose" else 0, **kwargs)
    np.testing.assert_array_equal(a, b)


def test_4_bad_ids_get_the_general_paths_message():
    model = seed_like()
    x = ids(1)
    x[0, 3] = 50
    message = "Embedding: `inputs` expected token ids in [0, 50) (input_dim=50), received id 50."
    with pytest.raises(ValueError, match=re.escape(message)):
        model.predict(x)


def test_5_weights_changed_in_place_are_seen():
    # the vocabulary table is made, then the weights change behind the optimizer's back
    model = seed_like()
    x = ids(1)
    for _ in range(60):
        model.predict(x)
    before = model.predict(x)
    with torch.no_grad():
        model.layers[1].W_x.data.mul_(0.5)  # .data: no version-counter bump
        model.layers[0].E.data[x[0, 0]] += 1.0
    after, general = both(model, x)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, general)


def test_6_training_mode_is_left_as_the_general_path_leaves_it():
    model = seed_like(extra=[Dropout(0.5)])
    model.train()
    a = model.predict(ids(1))
    assert not any(m.training for m in model.modules())
    runtime.configure(lean_predict=False)
    np.testing.assert_array_equal(a, model.predict(ids(1)))


def test_7_a_changed_stack_gets_a_new_plan():
    model = seed_like()
    x = ids(2)
    model.predict(x)
    model.add(Dense(3))
    a, b = both(model, x)
    assert a.shape == (2, 3) and np.array_equal(a, b)
    model.layers[1].return_sequences = True  # the plan no longer applies
    assert lean.plan(model) is None


def test_8_forgotten_autotune_decisions_are_asked_again():
    state = dispatch.tuning_state()
    autotune.tuner().clear()
    assert dispatch.tuning_state() != state


def test_9_table_final_equals_lstm_ids():
    torch.manual_seed(3)
    E, W_x, W_h, b = torch.randn(20, 4), torch.randn(4, 12), torch.randn(3, 12), torch.randn(12)
    x = torch.randint(0, 20, (1, 9))
    x[0, :3] = 0
    table = E @ W_x + b
    zeros = torch.zeros(1, 3)
    with torch.no_grad():
        _, (h, _) = dispatch.lstm_ids(
            E, x, zeros, zeros, W_x, W_h, b, shared_padding=True, sequences=False, table=table
        )
        h2 = dispatch.lstm_table_final(table, x, W_h)
    torch.testing.assert_close(h2, h, rtol=0, atol=0)


@pytest.mark.parametrize("rows,pad", [(1, 0), (1, 5), (3, 4)])
def test_10_lean_equals_the_general_path_with_autotuning_on(monkeypatch, rows, pad):
    # the lean path remembers the autotuner's lookup-or-fused decision per class: the same one
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    old = autotune.set_tuner(autotune.Tuner(None))  # in memory: nothing written
    try:
        model = seed_like()
        x = ids(rows, pad)
        for _ in range(25):
            a, b = both(model, x)
            assert np.array_equal(a, b)
        assert autotune.tuner().report()  # decisions were made
    finally:
        autotune.set_tuner(old)
