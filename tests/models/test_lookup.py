"""An Embedding feeding an LSTM: the input projection looked up per distinct token equals the
plain computation, outputs and gradients (rnnkit.runtime's ``embedding_lookup``)."""

import numpy as np
import pytest
import torch

from rnnkit import runtime
from rnnkit.kernels import dispatch
from rnnkit.layers import LSTM, Dense, Dropout, Embedding
from rnnkit.models import Sequential, execution

pytestmark = pytest.mark.skipif(not dispatch.compiled(), reason="compiled step loops unavailable")


@pytest.fixture
def settings():
    saved = (
        runtime.settings.embedding_lookup,
        runtime.settings.trim_padding,
        runtime.settings.lean_predict,
    )
    yield
    runtime.configure(embedding_lookup=saved[0], trim_padding=saved[1], lean_predict=saved[2])


def run(model, ids, lookup, trim):
    runtime.configure(embedding_lookup=lookup, trim_padding=trim)
    model.zero_grad()
    y = model(ids)
    y.pow(2).sum().backward()
    return y.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def ids_batch():
    ids = torch.randint(1, 30, (10, 15))  # at least LOOKUP_MIN_ROWS rows: the lookup runs
    ids[0, :9] = 0  # padding in front of some rows: the prefix shortcut applies
    ids[3, :4] = 0
    ids[:, :2] = 0
    return ids


@pytest.mark.parametrize(
    "make",
    [
        lambda: [Embedding(30, 8), LSTM(7), Dense(1, activation="sigmoid")],
        lambda: [Embedding(30, 8, mask_zero=True), LSTM(7), Dense(1, activation="sigmoid")],
        lambda: [Embedding(30, 8), LSTM(7, return_sequences=True), LSTM(5), Dense(2)],
        lambda: [Embedding(30, 8), LSTM(7, go_backwards=True, return_sequences=True)],
        lambda: [
            Embedding(30, 8, mask_zero=True),
            Dropout(0.0, noise_shape=(None, None, 1)),
            LSTM(7),
            Dropout(0.0),
            Dense(1),
        ],
    ],
    ids=["seed", "masked", "stacked", "backwards-sequences", "dropout-between"],
)
@pytest.mark.parametrize("trim", [False, True])
def test_lookup_equals_plain_computation(make, trim, settings, lookups):
    torch.manual_seed(0)
    model = Sequential(make())
    ids = ids_batch()
    model(ids)  # build
    calls, _ = lookups
    calls.clear()
    y_ref, g_ref = run(model, ids, lookup=False, trim=trim)
    assert not calls
    y, g = run(model, ids, lookup=True, trim=trim)
    assert calls, "the lookup path was not taken"
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    assert g.keys() == g_ref.keys()
    for name in g:
        torch.testing.assert_close(g[name], g_ref[name], rtol=1e-5, atol=1e-6, msg=name)


def test_lookup_is_used_and_not_with_input_dropout(settings):
    runtime.configure(embedding_lookup=True)
    embedding, lstm = Embedding(30, 8), LSTM(7)
    assert lstm.takes_ids_from(embedding)
    assert not LSTM(7, impl="native").takes_ids_from(embedding)
    dropping = LSTM(7, dropout=0.5)
    dropping.eval()
    assert dropping.takes_ids_from(embedding)  # no dropout at inference
    dropping.train()
    assert not dropping.takes_ids_from(embedding)  # x * keep is not a row of E @ W_x
    runtime.configure(embedding_lookup=False)
    assert not lstm.takes_ids_from(embedding)


def test_lookup_checks_ids(settings):
    runtime.configure(embedding_lookup=True)
    model = Sequential([Embedding(30, 8), LSTM(7)])
    with pytest.raises(ValueError, match=r"Embedding: `inputs` expected token ids in \[0, 30\)"):
        model(torch.tensor([[1, 2, 30]]))


@pytest.fixture
def lookups(monkeypatch):
    """Records each call of the lookup path (rnnkit's kernel on looked-up projections), with
    whether the LSTM held a vocabulary table at that moment."""
    from rnnkit.kernels import lstm as lstm_kernels

    calls = []
    real = lstm_kernels.lstm_lookup

    def spy(*args, **kwargs):
        calls.append(any(execution.active_table(m) is not None for m in spy.layers))
        return real(*args, **kwargs)

    spy.layers = []
    monkeypatch.setattr(lstm_kernels, "lstm_lookup", spy)
    return calls, spy.layers


def test_lookup_at_inference_past_a_dropout(settings, lookups):
    torch.manual_seed(0)
    model = Sequential(
        [Embedding(30, 8), Dropout(0.5, noise_shape=(None, None, 1)), LSTM(7), Dense(1)]
    )
    ids = ids_batch()
    model.eval()
    calls, _ = lookups
    runtime.configure(embedding_lookup=True)
    with torch.no_grad():
        y = model(ids)
    assert calls, "the lookup path was not taken"
    runtime.configure(embedding_lookup=False)
    with torch.no_grad():
        torch.testing.assert_close(y, model(ids), rtol=1e-5, atol=1e-6)


def test_small_batches_train_native_and_predict_uses_a_table_only_while_weights_match(
    settings, lookups
):
    """Training batches of fewer than LOOKUP_MIN_ROWS rows run PyTorch's fused LSTM (without
    gradients the lookup runs at every size); predict on many ids uses a table of the whole
    vocabulary during the call, and a later call only while the weights are unchanged (fused
    Adam changes them without a version bump, so they are compared, not versioned)."""
    from rnnkit.kernels.dispatch import LOOKUP_MIN_ROWS

    runtime.configure(embedding_lookup=True, trim_padding=False)
    model = Sequential([Embedding(30, 8), LSTM(7), Dense(1)])
    model.eval()
    lstm = model.layers[1]
    calls, watched = lookups
    watched.append(lstm)
    small = torch.randint(1, 30, (LOOKUP_MIN_ROWS - 1, 5))
    y_native = model(small)  # with gradients
    assert not calls
    with torch.no_grad():
        y_lookup = model(small)
    assert calls == [False]
    torch.testing.assert_close(y_lookup, y_native.detach(), rtol=1e-5, atol=1e-6)
    calls.clear()
    ids = (torch.arange(200) % 30)[torch.randperm(200)].reshape(40, 5)  # all 30 tokens
    y1 = model.predict(ids, batch_size=8)
    assert calls and all(calls) and execution.active_table(lstm) is None
    calls.clear()
    np.testing.assert_array_equal(model.predict(ids, batch_size=8), y1)
    assert calls and all(calls)  # the kept table, weights unchanged
    lstm.W_x.data.add_(0.1)  # in place, no version bump: as fused Adam does
    model.layers[0].E.data[3] += 0.5
    y2 = model.predict(ids, batch_size=8)
    runtime.configure(embedding_lookup=False)
    np.testing.assert_allclose(y2, model.predict(ids, batch_size=8), rtol=1e-5, atol=1e-6)
    assert not np.allclose(y1, y2)


def test_the_vocabulary_table_is_made_once_calls_have_computed_as_many_rows(settings, lookups):
    # the general path's accounting (the lean predict shares VocabularyTable.hold but passes
    # the table to the kernel itself, which this test's spy does not see)
    runtime.configure(embedding_lookup=True, trim_padding=False, lean_predict=False)
    model = Sequential([Embedding(30, 8), LSTM(7), Dense(1)])
    lstm = model.layers[1]
    calls, watched = lookups
    watched.append(lstm)
    ids = (torch.arange(50) % 10 + 1).reshape(10, 5)  # 10 distinct tokens a call; 30 rows
    first = model.predict(ids, batch_size=10)
    model.predict(ids, batch_size=10)
    assert calls == [False, False]
    third = model.predict(ids, batch_size=10)  # 30 rows computed with these weights: made now
    assert calls == [False, False, True]
    np.testing.assert_allclose(third, first, rtol=1e-5, atol=1e-6)
    # in batches of 2 rows, one call would compute its 10 tokens' rows 5 times: made at once
    model = Sequential([Embedding(30, 8), LSTM(7), Dense(1)])
    watched.append(model.layers[1])
    calls.clear()
    model.predict(ids, batch_size=2)
    assert calls and all(calls)
