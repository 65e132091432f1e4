"""rnnkit.functional.dense_cross_entropy (the output layer fused with its softmax
cross-entropy, padded rows skipped) against F.linear + F.cross_entropy(ignore_index) and
autograd, and gradcheck in float64."""

import re

import pytest
import torch
import torch.nn.functional as TF

from rnnkit.functional import dense_cross_entropy

N, T, D, C, PAD = 4, 7, 6, 11, 0


def _oracle(x, W, b, y, ignore_index=None, reduction="mean"):
    z = TF.linear(x, W.t(), b).reshape(-1, W.shape[1])  # (N*T, C)
    kw = {} if ignore_index is None else {"ignore_index": ignore_index}
    return TF.cross_entropy(z, y.reshape(-1), reduction=reduction, **kw)


def _inputs(dtype=torch.float32, seed=0, pad_tail=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, T, D, generator=g, dtype=dtype)
    W = torch.randn(D, C, generator=g, dtype=dtype)
    b = torch.randn(C, generator=g, dtype=dtype)
    y = torch.randint(1, C, (N, T), generator=g)
    if pad_tail:  # sequences of lengths 7, 5, 3, 1, padded with 0 at the end
        for n, length in enumerate((7, 5, 3, 1)):
            y[n, length:] = PAD
    return x, W, b, y


def _grads(fn, x, W, b, y, **kw):
    x, W = x.clone().requires_grad_(), W.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    loss = fn(x, W, b, y, **kw)
    loss.backward()
    return loss.detach(), x.grad, W.grad, None if b is None else b.grad


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("ignore_index", [None, PAD])
@pytest.mark.parametrize("bias", [True, False])
def test_01_value_and_gradients_equal_cross_entropy_and_autograd(reduction, ignore_index, bias):
    x, W, b, y = _inputs()
    b = b if bias else None
    ours = _grads(dense_cross_entropy, x, W, b, y, ignore_index=ignore_index, reduction=reduction)
    theirs = _grads(_oracle, x, W, b, y, ignore_index=ignore_index, reduction=reduction)
    for a, e in zip(ours, theirs):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, atol=1e-6, rtol=1e-6)


def test_02_padded_rows_get_zero_gradient_and_do_not_count_in_the_mean():
    x, W, b, y = _inputs()
    _, dx, _, _ = _grads(dense_cross_entropy, x, W, b, y, ignore_index=PAD)
    assert dx[y == PAD].abs().max() == 0
    assert dx[y != PAD].abs().min() > 0
    kept = y != PAD  # hand computation over the kept rows only
    z = x[kept] @ W + b
    expected = (z.logsumexp(1) - z.gather(1, y[kept][:, None])[:, 0]).mean()
    torch.testing.assert_close(dense_cross_entropy(x, W, b, y, PAD), expected)


@pytest.mark.parametrize("ignore_index", [None, PAD])
def test_03_gradcheck_float64(ignore_index):
    x, W, b, y = _inputs(torch.float64)
    x, W, b = (t.requires_grad_() for t in (x, W, b))
    fn = lambda x, W, b: dense_cross_entropy(x, W, b, y, ignore_index)
    assert torch.autograd.gradcheck(fn, (x, W, b))


def test_04_a_second_backward_through_the_graph_is_still_exact():
    x, W, b, y = _inputs(torch.float64)
    W.requires_grad_()
    loss = dense_cross_entropy(x, W, b, y, PAD)
    (g1,) = torch.autograd.grad(loss, W, retain_graph=True)
    (g2,) = torch.autograd.grad(loss, W)
    (expected,) = torch.autograd.grad(_oracle(x, W, b, y, PAD), W)
    torch.testing.assert_close(g1, expected)
    torch.testing.assert_close(g2, expected)


def test_05_a_tied_transposed_weight_gets_its_gradient():
    x, W, b, y = _inputs(pad_tail=False)
    E = W.t().contiguous().requires_grad_()  # (C, D) an embedding table, W = E.T
    dense_cross_entropy(x, E.T, b, y).backward()
    E2 = E.detach().clone().requires_grad_()
    _oracle(x, E2.T, b, y).backward()
    torch.testing.assert_close(E.grad, E2.grad, atol=1e-6, rtol=1e-6)


def test_06_all_rows_ignored_gives_cross_entropys_nan_mean_and_zero_sum():
    x, W, b, _ = _inputs()
    y = torch.zeros(N, T, dtype=torch.long)
    assert torch.isnan(dense_cross_entropy(x, W, b, y, PAD))
    assert float(dense_cross_entropy(x, W, b, y, PAD, reduction="sum")) == 0.0


def test_07_bad_arguments_name_what_was_wrong():
    x, W, b, y = _inputs()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dense_cross_entropy: `targets` expected class ids in [0, 11) (or ignore_index), "
            "received 11 (int)."
        ),
    ):
        dense_cross_entropy(x, W, b, torch.full((N, T), C), PAD)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dense_cross_entropy: `targets` expected integer class ids of shape (4, 7), "
            "received Tensor of shape (4, 6) and dtype torch.int64."
        ),
    ):
        dense_cross_entropy(x, W, b, y[:, :6])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dense_cross_entropy: `W` expected a weight of shape (6, V), "
            "received Tensor of shape (11, 6) and dtype torch.float32."
        ),
    ):
        dense_cross_entropy(x, W.t(), b, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dense_cross_entropy: `b` expected None or a bias of shape (11,), "
            "received Tensor of shape (6,) and dtype torch.float32."
        ),
    ):
        dense_cross_entropy(x, W, b[:6], y)
    with pytest.raises(ValueError, match=re.escape("`reduction` expected")):
        dense_cross_entropy(x, W, b, y, reduction="none")
