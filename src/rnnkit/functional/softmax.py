"""The output layer and its softmax cross-entropy in one operation, over the rows that count.

A sequence model's last layer maps every step's features to a score per vocabulary entry, and
its loss is the softmax cross-entropy of the target ids. Written the obvious way
(``F.cross_entropy(x @ W + b, y, ignore_index=PAD)``), every padded step still pays for its row
of the vocabulary-sized product, and the logits, their log-softmax and the gradient of each are
separate ``(rows, V)`` buffers. :func:`dense_cross_entropy` computes the same value and the same
gradients with less work:

1. the rows whose target is ``ignore_index`` are dropped *before* the product (their loss and
   gradients are zero anyway), so the three ``(N, D) x (D, V)`` products run on the ``N`` valid
   rows only;
2. forward: one product, one log-softmax, the targets' entries gathered, then the log-softmax
   turned into the softmax in place; only that ``(N, V)`` buffer is kept for backward;
3. backward writes the gradient of the logits over the kept softmax in place,
   ``dz = softmax(z) - onehot(y)`` (the ``1/N`` of the mean applied to the small operands,
   not to ``dz``), then ``dx = dz W^T``, ``dW = x^T dz``, ``db = sum_rows dz``.

.. math::
    z = x W + b, \\qquad
    \\ell = \\frac{1}{N} \\sum_{n \\text{ valid}} \\big(\\log \\textstyle\\sum_v e^{z_{nv}}
        - z_{n y_n}\\big), \\qquad
    \\frac{\\partial \\ell}{\\partial z_n} = \\frac{1}{N} (\\mathrm{softmax}(z_n) - e_{y_n})

A second backward through the same graph (``retain_graph=True``, as ``gradcheck`` does)
recomputes the softmax from the saved inputs, so it stays exact; double backward
(``create_graph=True``) is not supported.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .. import _validation as V

OWNER = "dense_cross_entropy"
REDUCTIONS = ("mean", "sum")


def _log_softmax(x: Tensor, W: Tensor, b: Tensor | None) -> Tensor:
    z = torch.addmm(b, x, W) if b is not None else x @ W  # (N, V) logits
    return torch.log_softmax(z, dim=1)  # (N, V); the logits' buffer is freed on return


class _DenseSoftmaxCrossEntropy(torch.autograd.Function):
    """``(x (N, D), W (D, V), b (V,) or None, y (N,), scale)`` -> ``scale * sum_n nll_n``."""

    @staticmethod
    def forward(ctx, x: Tensor, W: Tensor, b: Tensor | None, y: Tensor, scale: float) -> Tensor:
        log_p = _log_softmax(x, W, b)  # (N, V)
        nll = -log_p.gather(1, y[:, None])  # (N, 1) -log softmax(z)[y]
        ctx.p = log_p.exp_()  # (N, V) softmax, in the log-softmax's buffer
        ctx.scale = scale
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, W, b, y)
        return nll.sum() * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        x, W, b, y = ctx.saved_tensors
        p = ctx.p
        if p is None:  # a second backward: the first one wrote over the softmax
            p = _log_softmax(x, W, b).exp_()  # (N, V), as forward computed it
        ctx.p = None  # frees the buffer once the gradients are out
        dz = p  # (N, V) softmax - onehot(y), in place
        dz.scatter_add_(1, y[:, None], torch.full_like(y[:, None], -1, dtype=dz.dtype))
        c = grad * ctx.scale  # d loss / d z = c * dz
        dx = dW = db = None
        if ctx.needs_input_grad[0]:
            dx = (dz @ W.t()).mul_(c)  # (N, D) backprop into the features
        if ctx.needs_input_grad[1]:
            dW = (x * c).t() @ dz  # (D, V) backprop into the weight
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dz.sum(0).mul_(c)  # (V,) backprop into the bias
        return dx, dW, db, None, None


def dense_cross_entropy(
    x: Tensor,
    W: Tensor,
    b: Tensor | None,
    targets: Tensor,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of ``x @ W + b`` against class ids, fused with the output layer.

    Equal to ``F.cross_entropy(F.linear(x, W.T, b).reshape(-1, V), targets.reshape(-1),
    ignore_index=..., reduction=...)`` in value and in gradients (see the module's notes), with
    the rows whose target is ``ignore_index`` never computed.

    Args:
        x: features ``(..., D)``, e.g. ``(N, T, D)`` for every step of a sequence.
        W: the output layer's weight ``(D, V)`` (rnnkit's / Keras's ``Dense`` layout; a
            transposed view such as a tied embedding's ``E.T`` works too).
        b: the bias ``(V,)`` or None.
        targets: class ids of shape ``x.shape[:-1]`` (or as many values), in ``[0, V)`` except
            where equal to ``ignore_index``.
        ignore_index: targets equal to it are left out (padding); None keeps every row.
        reduction: ``'mean'`` over the rows kept (F.cross_entropy's: NaN when none is kept) or
            ``'sum'``.

    Returns: the loss, a scalar tensor.

    >>> import torch
    >>> x, W, b = torch.zeros(2, 3, 4), torch.zeros(4, 5), torch.zeros(5)
    >>> round(float(dense_cross_entropy(x, W, b, torch.tensor([[1, 2, 0], [3, 0, 0]]), 0)), 4)
    1.6094
    """
    reduction = V.choice(OWNER, "reduction", reduction, REDUCTIONS)
    if not isinstance(x, Tensor) or x.dim() < 1 or not x.dtype.is_floating_point:
        V.fail(OWNER, "x", "a floating-point tensor of features (..., D)", x, TypeError)
    if not isinstance(W, Tensor) or W.dim() != 2 or W.shape[0] != x.shape[-1]:
        V.fail(OWNER, "W", f"a weight of shape ({x.shape[-1]}, V)", W)
    D, C = W.shape
    if b is not None and (not isinstance(b, Tensor) or tuple(b.shape) != (C,)):
        V.fail(OWNER, "b", f"None or a bias of shape ({C},)", b)
    rows = x.shape[:-1].numel()
    if (
        not isinstance(targets, Tensor)
        or targets.dtype.is_floating_point
        or targets.dtype == torch.bool
        or targets.numel() != rows
    ):
        V.fail(OWNER, "targets", f"integer class ids of shape {tuple(x.shape[:-1])}", targets)
    x = x.reshape(rows, D)  # (R, D)
    y = targets.reshape(rows).long()  # (R,)
    if ignore_index is not None:
        keep = (y != ignore_index).nonzero().squeeze(1)  # (N,) the valid rows
        if len(keep) < rows:
            x, y = x.index_select(0, keep), y.index_select(0, keep)  # (N, D), (N,)
    N = len(y)
    if N:
        lo, hi = (int(v) for v in torch.aminmax(y))
        if lo < 0 or hi >= C:
            bad = lo if lo < 0 else hi
            V.fail(OWNER, "targets", f"class ids in [0, {C}) (or ignore_index)", bad)
    if N == 0:  # nothing to learn from: F.cross_entropy's value (NaN for the mean, 0 for the sum)
        z = torch.nn.functional.linear(x, W.t(), b)
        return torch.nn.functional.cross_entropy(z, y, reduction=reduction)
    scale = 1.0 / N if reduction == "mean" else 1.0
    return _DenseSoftmaxCrossEntropy.apply(x, W, b, y, scale)
