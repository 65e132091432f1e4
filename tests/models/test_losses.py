"""Every loss against torch.nn.functional, and against Keras's documented formulas by hand.

What rnnkit promises (Keras 3's formulas, ``keras.losses`` and its torch backend's ``nn.py``):

* probabilities are clipped to ``[eps, 1 - eps]``, ``eps = 1e-7`` rounded to ``y_pred``'s dtype,
  before the logarithm: a probability of exactly 0 or 1 costs ``-log(eps)`` / ``-log(1 - eps)``,
  never ``inf``, and its gradient is zero (the clip's);
* categorical probabilities are first divided by their row sum;
* ``from_logits=True`` is exact for any logit (no clipping, no overflow);
* the reduction is Keras's ``"sum_over_batch_size"``: the mean over every row (and time step);
  a binary / regression loss averages its last axis too;
* ``y_true`` must have ``y_pred``'s shape or as many values; anything else is an error.

The oracles: ``F.binary_cross_entropy`` (on clipped probabilities: exactly what Keras's torch
backend computes), ``F.binary_cross_entropy_with_logits``, ``F.cross_entropy`` (with class
probabilities as targets, and on ``log p``, which also checks the row normalisation),
``F.nll_loss``, ``F.mse_loss``, ``F.l1_loss``; and Python's ``math`` for the edge values.
All comparisons are in float64 unless a test is about float32.
"""

import math
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from rnnkit.layers import Dense
from rnnkit.models import Sequential
from rnnkit.models import losses as L

EPS = 1e-7
EXACT = dict(atol=1e-12, rtol=1e-12)
N, T, C = 6, 4, 5


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def probs(shape, seed=0, low=0.01, high=0.99):
    """Probabilities strictly inside the clip range, so the unclipped oracle is exact."""
    return low + (high - low) * torch.rand(shape, generator=gen(seed), dtype=torch.float64)


def value_and_grad(fn, y_true, y_pred):
    y_pred = y_pred.detach().clone().requires_grad_(True)
    loss = fn(y_true, y_pred)
    (grad,) = torch.autograd.grad(loss, y_pred)
    return loss.detach(), grad


def assert_same(ours, oracle, y_true, y_pred, **tol):
    """Equal values and equal gradients with respect to ``y_pred``."""
    tol = tol or EXACT
    v1, g1 = value_and_grad(ours, y_true, y_pred)
    v2, g2 = value_and_grad(oracle, y_true, y_pred)
    torch.testing.assert_close(v1, v2, **tol)
    torch.testing.assert_close(g1, g2, **tol)


def clip(p: float) -> float:
    return min(max(p, EPS), 1.0 - EPS)


# 1. The registry ---------------------------------------------------------------------------


def test_registered_losses_are_the_tested_ones():
    assert set(L.LOSSES) == {
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "mse",
        "mean_squared_error",
        "mae",
        "mean_absolute_error",
    }
    assert L.get("mse") == ("mse", L.mean_squared_error)
    assert L.get("mean_absolute_error") == ("mean_absolute_error", L.mean_absolute_error)
    assert L.get(F.l1_loss)[0] == "l1_loss"
    expected = "compile: `loss` expected one of 'binary_crossentropy', "
    with pytest.raises(ValueError, match=re.escape(expected)):
        L.get("hinge")


# 2. binary_crossentropy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "true_shape, pred_shape",
    [((N,), (N,)), ((N, 1), (N, 1)), ((N,), (N, 1)), ((N, 1), (N,)), ((N, T), (N, T))],
)
@pytest.mark.parametrize("soft", [False, True])
def test_binary_crossentropy_equals_torch(true_shape, pred_shape, soft):
    y_true = torch.rand(true_shape, generator=gen(1), dtype=torch.float64)
    y_true = y_true if soft else y_true.round()
    p = probs(pred_shape)
    oracle = lambda y, q: F.binary_cross_entropy(q, y.reshape(q.shape))
    assert_same(L.binary_crossentropy, oracle, y_true, p)


def test_binary_crossentropy_clips_exact_zeros_and_ones_as_keras():
    """Keras: ``output = clip(output, eps, 1 - eps)`` then the cross-entropy; checked against
    the same formula by hand and against F.binary_cross_entropy on the clipped input."""
    p = [0.0, 1.0, 0.0, 1.0, 1e-9, 1 - 1e-9, 0.3, 0.5]
    y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    y_true, y_pred = torch.tensor(y, dtype=torch.float64), torch.tensor(p, dtype=torch.float64)
    by_hand = [-(t * math.log(clip(q)) + (1 - t) * math.log(1 - clip(q))) for t, q in zip(y, p)]
    loss, grad = value_and_grad(L.binary_crossentropy, y_true, y_pred)
    assert loss.item() == pytest.approx(sum(by_hand) / len(p), rel=1e-12)
    # The worst a single probability can cost: -log(1e-7) = 16.118..., not inf.
    worst = L.binary_crossentropy(torch.ones(1, dtype=torch.float64), torch.zeros(1).double())
    assert worst.item() == pytest.approx(-math.log(EPS), rel=1e-12)
    # Gradient: zero where clipped; d/dp of the mean elsewhere.
    expected = [0.0 if clip(q) != q else (q - t) / (q * (1 - q)) / len(p) for t, q in zip(y, p)]
    torch.testing.assert_close(grad, torch.tensor(expected, dtype=torch.float64), **EXACT)
    # And Keras's torch backend, literally: F.binary_cross_entropy on the clipped input.
    oracle = lambda t, q: F.binary_cross_entropy(q.clamp(EPS, 1 - EPS), t)
    assert_same(L.binary_crossentropy, oracle, y_true, y_pred)


def test_binary_crossentropy_clip_bounds_round_to_float32():
    """In float32 the bounds are float32(1e-7) and float32(1 - 1e-7) = 1 - 2**-23, as Keras."""
    hi = float(torch.tensor(1 - EPS, dtype=torch.float32))
    assert hi == 1 - 2**-23
    loss = L.binary_crossentropy(torch.zeros(1), torch.ones(1))  # y = 0, p = 1
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(-math.log(1 - hi), rel=1e-6)  # 23 log 2 = 15.94
    lo = float(torch.tensor(EPS, dtype=torch.float32))
    loss = L.binary_crossentropy(torch.ones(1), torch.zeros(1))  # y = 1, p = 0
    assert loss.item() == pytest.approx(-math.log(lo), rel=1e-6)


@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 1.0),
            st.sampled_from([0.0, 1.0, 0.0 + 1e-12, 1.0 - 1e-12, 0.5]) | st.floats(0.0, 1.0),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_binary_crossentropy_any_probability_is_keras_clipped(pairs):
    y_true = torch.tensor([t for t, _ in pairs], dtype=torch.float64)
    y_pred = torch.tensor([p for _, p in pairs], dtype=torch.float64)
    oracle = lambda t, q: F.binary_cross_entropy(q.clamp(EPS, 1 - EPS), t)
    assert_same(L.binary_crossentropy, oracle, y_true, y_pred)


@pytest.mark.parametrize("shape", [(N,), (N, 1), (N, T)])
def test_binary_crossentropy_from_logits_equals_torch_and_hand_formula(shape):
    z = 3 * torch.randn(shape, generator=gen(2), dtype=torch.float64)
    y = torch.rand(shape, generator=gen(3), dtype=torch.float64).round()
    ours = lambda t, q: L.binary_crossentropy(t, q, from_logits=True)
    assert_same(ours, lambda t, q: F.binary_cross_entropy_with_logits(q, t), y, z)
    # By hand: max(z, 0) - z y + log(1 + exp(-|z|)); gradient (sigmoid(z) - y) / n.
    hand = (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()
    loss, grad = value_and_grad(ours, y, z)
    torch.testing.assert_close(loss, hand, **EXACT)
    torch.testing.assert_close(grad, (torch.sigmoid(z) - y) / z.numel(), **EXACT)
    # Where nothing is clipped, the logits path equals the probability path.
    torch.testing.assert_close(L.binary_crossentropy(y, torch.sigmoid(z)), hand, **EXACT)


def test_binary_crossentropy_from_logits_is_exact_for_huge_logits_in_float32():
    z = torch.tensor([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4])
    y = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    ours = lambda t, q: L.binary_crossentropy(t, q, from_logits=True)
    loss, grad = value_and_grad(ours, y, z)
    z64, y64 = z.double(), y.double()
    hand = (z64.clamp(min=0) - z64 * y64 + torch.log1p(torch.exp(-z64.abs()))).mean()
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(hand.item(), rel=1e-6)
    torch.testing.assert_close(grad.double(), (torch.sigmoid(z64) - y64) / 6, atol=1e-7, rtol=0)
    # The probability path cannot do this: sigmoid saturates and the clip caps each term.
    capped = L.binary_crossentropy(y, torch.sigmoid(z))
    assert capped.item() < loss.item() / 10


# 3. categorical_crossentropy -----------------------------------------------------------------


def soft_labels(shape, seed=4):
    return torch.softmax(torch.randn(shape, generator=gen(seed), dtype=torch.float64), dim=-1)


def one_hot(shape, seed=5):
    labels = torch.randint(0, shape[-1], shape[:-1], generator=gen(seed))
    return F.one_hot(labels, shape[-1]).double()


def to_channels_second(t):
    """(N, T, C) -> (N, C, T), the layout F.cross_entropy takes for sequences."""
    return t.movedim(-1, 1) if t.dim() == 3 else t


@pytest.mark.parametrize("shape", [(N, C), (N, T, C)])
@pytest.mark.parametrize("labels", [one_hot, soft_labels])
def test_categorical_crossentropy_equals_torch(shape, labels):
    y = labels(shape)
    # Rows that do not sum to 1: rnnkit divides by the row sum first, as Keras. F.cross_entropy
    # of log p takes log_softmax(log p) = log(p / sum p): the same normalisation, done by torch.
    p = probs(shape) * torch.rand(shape[:-1] + (1,), generator=gen(6), dtype=torch.float64)
    oracle = lambda t, q: F.cross_entropy(to_channels_second(q.log()), to_channels_second(t))
    assert_same(L.categorical_crossentropy, oracle, y, p)


def test_categorical_crossentropy_clips_exact_zeros_and_ones_as_keras():
    p = torch.tensor([[0.0, 0.4, 0.6], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    # By hand: p / row sum, clipped to [eps, 1 - eps], -sum y log p, mean over rows.
    by_hand = (-math.log(EPS) - math.log(1 - EPS) - math.log(1 - EPS)) / 3
    loss, grad = value_and_grad(L.categorical_crossentropy, y, p)
    assert loss.item() == pytest.approx(by_hand, rel=1e-12)
    assert torch.isfinite(grad).all()
    # Keras's torch backend, literally.
    oracle = lambda t, q: (
        -(t * (q / q.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS).log()).sum(-1).mean()
    )
    assert_same(L.categorical_crossentropy, oracle, y, p)


@pytest.mark.parametrize("shape", [(N, C), (N, T, C)])
def test_categorical_crossentropy_from_logits_equals_torch(shape):
    z = 3 * torch.randn(shape, generator=gen(7), dtype=torch.float64)
    y = soft_labels(shape)
    ours = lambda t, q: L.categorical_crossentropy(t, q, from_logits=True)
    oracle = lambda t, q: F.cross_entropy(to_channels_second(q), to_channels_second(t))
    assert_same(ours, oracle, y, z)


def test_categorical_crossentropy_from_logits_is_exact_for_huge_logits():
    z = torch.tensor([[1e4, 0.0, -1e4], [0.0, 200.0, 100.0]])
    y = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    loss = L.categorical_crossentropy(y, z, from_logits=True)
    # By hand: logsumexp(z) - z[label] per row, mean: (2e4 + 200) / 2.
    assert loss.item() == pytest.approx((2e4 + 200.0) / 2, rel=1e-6)


# 4. sparse_categorical_crossentropy ----------------------------------------------------------


@pytest.mark.parametrize(
    "label_shape, pred_shape",
    [((N,), (N, C)), ((N, 1), (N, C)), ((N, T), (N, T, C)), ((N, T, 1), (N, T, C))],
)
def test_sparse_categorical_crossentropy_equals_torch(label_shape, pred_shape):
    labels = torch.randint(0, C, label_shape, generator=gen(8))
    p = probs(pred_shape) * 3.0  # unnormalised rows
    z = 3 * torch.randn(pred_shape, generator=gen(9), dtype=torch.float64)
    rows = pred_shape[:-1]
    oracle = lambda t, q: F.cross_entropy(to_channels_second(q), t.reshape(rows))
    ours = lambda t, q: L.sparse_categorical_crossentropy(t, q, from_logits=True)
    assert_same(ours, oracle, labels, z)
    oracle = lambda t, q: F.nll_loss(
        to_channels_second((q / q.sum(-1, keepdim=True)).log()), t.reshape(rows)
    )
    assert_same(L.sparse_categorical_crossentropy, oracle, labels, p)
    # The same as categorical_crossentropy on one-hot labels, and float ids are accepted.
    hot = F.one_hot(labels.reshape(rows), C).double()
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(labels.double(), p),
        L.categorical_crossentropy(hot, p),
        **EXACT,
    )


def test_sparse_categorical_crossentropy_clips_a_zero_probability_as_keras():
    p = torch.tensor([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]], dtype=torch.float64)
    labels = torch.tensor([0, 2])
    loss = L.sparse_categorical_crossentropy(labels, p)
    assert loss.item() == pytest.approx((-math.log(EPS) - math.log(0.5)) / 2, rel=1e-12)


# 5. mean_squared_error, mean_absolute_error -------------------------------------------------


@pytest.mark.parametrize(
    "true_shape, pred_shape",
    [((N,), (N,)), ((N, 1), (N, 1)), ((N,), (N, 1)), ((N, T), (N, T)), ((N, T, 3), (N, T, 3))],
)
@pytest.mark.parametrize(
    "name, oracle", [("mse", F.mse_loss), ("mae", F.l1_loss)], ids=["mse", "mae"]
)
def test_regression_losses_equal_torch(true_shape, pred_shape, name, oracle):
    _, fn = L.get(name)
    y = torch.randn(true_shape, generator=gen(10), dtype=torch.float64)
    y_pred = torch.randn(pred_shape, generator=gen(11), dtype=torch.float64)
    y_pred.view(-1)[:2] = y.view(-1)[:2]  # ties: |d|' at 0 is 0 in both
    assert_same(fn, lambda t, q: oracle(q, t.reshape(q.shape)), y, y_pred)


# 6. The reduction: the mean over the batch --------------------------------------------------


@pytest.mark.parametrize(
    "name, y_true, y_pred",
    [
        ("binary_crossentropy", torch.tensor([[1.0], [0.0], [1.0]]), torch.tensor([[0.9], [0.2], [0.4]])),
        ("categorical_crossentropy", torch.eye(3), torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])),
        ("sparse_categorical_crossentropy", torch.tensor([0, 1, 2]), torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])),
        ("mse", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.5, 0.0, 3.0])),
        ("mae", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.5, 0.0, 3.0])),
    ],
)  # fmt: skip
def test_a_batch_loss_is_the_mean_of_its_rows(name, y_true, y_pred):
    """Keras's "sum_over_batch_size": the batch's loss is the mean of each row's own loss."""
    _, fn = L.get(name)
    rows = [fn(y_true[i : i + 1], y_pred[i : i + 1]).item() for i in range(3)]
    assert fn(y_true, y_pred).item() == pytest.approx(sum(rows) / 3, rel=1e-6)


# 7. Shapes that do not match are errors, not broadcasts ------------------------------------


def test_mismatched_shapes_raise_instead_of_broadcasting():
    """Before: categorical_crossentropy of class ids (3,) against (3, 3) probabilities broadcast
    to a wrong number, and mse of (4, 1) against (4, 3) trained every column to y."""
    p = torch.softmax(torch.randn(3, 3), dim=-1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "categorical_crossentropy: `y_true` expected the shape of `y_pred` (3, 3), "
            "received Tensor of shape (3,) and dtype torch.int64."
        ),
    ):
        L.categorical_crossentropy(torch.tensor([0, 1, 2]), p)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "mean_squared_error: `y_true` expected the shape of `y_pred` (4, 3), "
            "received Tensor of shape (4, 1) and dtype torch.float32."
        ),
    ):
        L.mean_squared_error(torch.zeros(4, 1), torch.ones(4, 3))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_crossentropy: `y_true` expected the shape of `y_pred` (4, 1), "
            "received Tensor of shape (4, 2) and dtype torch.float32."
        ),
    ):
        L.binary_crossentropy(torch.zeros(4, 2), torch.full((4, 1), 0.5))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "sparse_categorical_crossentropy: `y_true` expected class ids of shape (4,), "
            "received Tensor of shape (4, 3) and dtype torch.float32."
        ),
    ):
        L.sparse_categorical_crossentropy(torch.eye(4, 3), torch.full((4, 3), 1 / 3))


# 8. The stable logits path in a model -------------------------------------------------------


def test_sequential_takes_the_logits_path_for_a_saturated_sigmoid():
    """A final sigmoid Dense whose logit is 40: the loss is softplus(40) = 40, the exact value,
    not the 15.94 that clipped probabilities would give."""
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
    with torch.no_grad():
        model.layers[0].W.zero_()
        model.layers[0].b.fill_(40.0)
    model.compile("sgd", "binary_crossentropy")
    x, y = torch.randn(8, 2), torch.zeros(8)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(40.0, rel=1e-6)
    assert L.binary_crossentropy(y, model(x)).item() == pytest.approx(15.942385, rel=1e-6)
