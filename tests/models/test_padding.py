"""Skipping all-padding columns gives the padded computation's outputs and gradients."""

import pytest
import torch

from rnnkit import runtime
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential, execution, padding


@pytest.fixture
def trim_setting():
    saved = runtime.settings.trim_padding
    yield
    runtime.configure(trim_padding=saved)


def padded_batch(padding_side="pre", T=12):
    lengths = [5, 3, 7, 4]  # the longest is 7: 5 columns are padding in every row
    ids = torch.zeros(len(lengths), T, dtype=torch.long)
    for n, length in enumerate(lengths):
        tokens = torch.randint(1, 20, (length,))
        if padding_side == "pre":
            ids[n, T - length :] = tokens
        else:
            ids[n, :length] = tokens
    return ids


def outputs_and_grads(model, ids, trim):
    runtime.configure(trim_padding=trim)
    model.zero_grad()
    y = model(ids)
    y.pow(2).sum().backward()
    return y.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize(
    "make, side, trims",
    [
        (lambda: [Embedding(20, 6), LSTM(5), Dense(1, activation="sigmoid")], "pre", True),
        (
            lambda: [
                Embedding(20, 6),
                GRU(5, return_sequences=True),
                SimpleRNN(4),
                Dropout(0.0),
                Dense(2, activation="softmax"),
            ],
            "pre",
            True,
        ),
        (
            lambda: [Embedding(20, 6, mask_zero=True), Bidirectional(LSTM(5)), Dense(1)],
            "post",
            True,
        ),
        (lambda: [Embedding(20, 6, mask_zero=True), LSTM(5), Dense(1)], "pre", True),
        # Not exact without a mask: post-padding is processed after the words; must not trim.
        (lambda: [Embedding(20, 6), LSTM(5), Dense(1)], "post", False),
        (lambda: [Embedding(20, 6), Bidirectional(GRU(3)), Dense(1)], "pre", False),
    ],
)
def test_trimmed_equals_padded(make, side, trims, trim_setting):
    model = Sequential(make())
    ids = padded_batch(side)
    runtime.configure(trim_padding=True)
    assert (execution.forward_without_padding(model, ids, logits=False) is not None) == trims
    y_full, g_full = outputs_and_grads(model, ids, trim=False)
    y_trim, g_trim = outputs_and_grads(model, ids, trim=True)
    torch.testing.assert_close(y_trim, y_full, atol=1e-6, rtol=1e-5)
    for name in g_full:
        torch.testing.assert_close(g_trim[name], g_full[name], atol=1e-6, rtol=1e-5, msg=name)


def test_padding_counts():
    ids = torch.tensor([[0, 0, 3, 4, 0], [0, 0, 0, 5, 0]])
    assert padding.leading_padding(ids) == 2 and padding.trailing_padding(ids) == 1
    assert padding.leading_padding(torch.zeros(2, 4, dtype=torch.long)) == 4


def test_dropout_in_training_runs_the_full_batch(trim_setting):
    model = Sequential([Embedding(20, 6), LSTM(5, dropout=0.5), Dense(1)])
    model.train()
    assert execution.forward_without_padding(model, padded_batch(), logits=False) is None
    model.eval()  # at inference dropout is off, so the shortcut is exact again
    assert execution.forward_without_padding(model, padded_batch(), logits=False) is not None


def test_spans_of_pre_post_and_empty_rows():
    ids = torch.tensor([[0, 0, 3, 4], [5, 6, 0, 0], [0, 0, 0, 0], [0, 7, 0, 8]])
    assert padding.spans(ids).tolist() == [2, 2, 0, 3]


def test_length_batches_cover_every_row_once_and_group_lengths():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 50, (1000,), generator=g)
    ids = torch.zeros(1000, 50, dtype=torch.long)
    for n, length in enumerate(lengths.tolist()):
        ids[n, 50 - length :] = 1
    batches = padding.length_batches(ids, batch_size=32, pool=10, generator=g)
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
    assert sorted(len(b) for b in batches)[1:] == [32] * (len(batches) - 1)  # one partial batch
    # grouped: the width each batch runs at (its longest row) is far below that of random
    # batches, where almost every batch holds a row close to 50
    bucketed = sum(int(lengths[b].max()) * len(b) for b in batches)
    random_ = sum(int(lengths[b].max()) * len(b) for b in torch.randperm(1000).split(32))
    assert bucketed < 0.7 * random_


def test_fit_with_bucketing_trains_and_refuses_float_inputs():
    torch.manual_seed(0)
    ids = padded_batch("pre", T=12).repeat(8, 1)
    y = (ids.count_nonzero(dim=1) > 4).float()
    model = Sequential([Embedding(20, 6), LSTM(5), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(ids, y, batch_size=4, epochs=2, verbose=0, bucketing=True)
    assert len(history.history["loss"]) == 2
    with pytest.raises(
        ValueError,
        match=r"fit: `bucketing` expected token ids `x` of shape "
        r"\(N, T\), received torch.float32",
    ):
        model2 = Sequential([LSTM(3), Dense(1)])
        model2.compile(loss="mse")
        model2.fit(torch.randn(4, 5, 2), torch.randn(4, 1), bucketing=True, verbose=0)


def test_predict_in_length_order_returns_rows_in_input_order(trim_setting):
    torch.manual_seed(0)
    ids = torch.cat([padded_batch("pre", T=12) for _ in range(10)])
    model = Sequential([Embedding(20, 6), LSTM(5), Dense(1, activation="sigmoid")])
    runtime.configure(trim_padding=True)
    sorted_run = model.predict(ids, batch_size=8)
    runtime.configure(trim_padding=False)
    plain_run = model.predict(ids, batch_size=8)
    assert sorted_run.shape == (40, 1)
    torch.testing.assert_close(
        torch.from_numpy(sorted_run), torch.from_numpy(plain_run), rtol=1e-5, atol=1e-6
    )
